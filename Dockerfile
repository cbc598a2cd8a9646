# Chasqui image: multi-stage, slim, non-root. Build: docker build -t chasqui .
# Run:   docker run -p 8050:8050 -v chasqui-data:/data chasqui   (then `prepare` once, see deploy/compose.yaml)
# Not built on the development machines (no Docker there); tests/web/test_deploy.py runs its steps as
# plain shell steps where possible.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: resolve and install the pinned requirements into a virtualenv --------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /build
COPY requirements.txt ./
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --upgrade pip \
 && /opt/venv/bin/pip install -r requirements.txt \
 && find /opt/venv -name '__pycache__' -type d -prune -exec rm -rf {} +

# ---- runtime: the venv, the code, a Java runtime for the Spark engine, an unprivileged user ----------------
FROM ${PYTHON_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 chasqui \
 && useradd --system --uid 10001 --gid chasqui --home-dir /app --shell /usr/sbin/nologin chasqui \
 && mkdir -p /data /app \
 && chown chasqui:chasqui /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY app.py pyproject.toml ./
COPY analytics ./analytics
COPY callbacks ./callbacks
COPY web ./web
COPY components ./components
COPY pages ./pages
COPY assets ./assets
COPY ledger_client ./ledger_client
COPY benchmarks ./benchmarks
COPY deploy/gunicorn.conf.py ./deploy/gunicorn.conf.py
COPY data/README.md ./data/README.md
COPY data/fixtures ./data/fixtures
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CHASQUI_HOST=0.0.0.0 \
    CHASQUI_PORT=8050 \
    CHASQUI_DATA_DIR=/data \
    CHASQUI_CACHE_DIR=/tmp/chasqui-cache \
    METRICS_PORT=9150 \
    WEB_CONCURRENCY=4
USER 10001:10001
EXPOSE 8050 9150
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8050/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "app:server"]
