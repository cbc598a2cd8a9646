"""promtool on the Prometheus files: the rule file, the unit tests of its alerts (and that they notice a changed
threshold), the compose config and the loopback config the stack generates."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from deploy import stack
from tests.deploy.conftest import PROMETHEUS_MISSING, prometheus_installed

yaml = pytest.importorskip("yaml")

pytestmark = pytest.mark.skipif(not prometheus_installed(), reason=PROMETHEUS_MISSING)

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "alerts.yml"
RULE_TESTS = DEPLOY / "alerts.test.yml"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=120)


def _alerts(path: Path = RULES) -> dict[str, dict]:
    return {r["alert"]: r for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"]}


def test_rule_file_checks():
    r = _promtool("check", "rules", str(RULES))
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"SUCCESS: {len(_alerts())} rules found" in r.stdout
    assert len(_alerts()) == 5


def test_alert_unit_tests_pass():
    r = _promtool("test", "rules", str(RULE_TESTS))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


def test_every_alert_is_tested_firing_and_not_firing():
    tests = yaml.safe_load(RULE_TESTS.read_text())
    assert tests["rule_files"] == ["alerts.yml"]
    fires, quiet = set(), set()
    for case in tests["tests"]:
        for check in case["alert_rule_test"]:
            (fires if check["exp_alerts"] else quiet).add(check["alertname"])
    assert fires == quiet == set(_alerts())


# Each change must make `promtool test rules` fail: the unit tests pin the thresholds and for: durations.
MUTATIONS = [
    ("ChasquiDown", "up{job=\"chasqui\"} == 0", "up == 0"),
    ("ChasquiDown", "for: 2m", "for: 5m"),
    ("ChasquiDown", "for: 2m", "for: 1m"),
    ("ChasquiConsumerLagHigh", "> 1000", "> 2000"),
    ("ChasquiConsumerLagHigh", "> 1000", ">= 1000"),
    ("ChasquiConsumerLagHigh", "for: 5m", "for: 2m"),
    ("ChasquiDeadLetterRateHigh", "> 0.02", "> 0.03"),
    ("ChasquiDeadLetterRateHigh", "> 0.02", "> 0.015"),
    ("ChasquiDeadLetterRateHigh", " or vector(0)", ""),
    ("ChasquiCallbackLatencyHigh", "> 2.5", "> 5"),
    ("ChasquiCallbackLatencyHigh", "> 2.5", "> 2.4"),
    ("ChasquiModelStale", "> 30 * 86400", "> 32 * 86400"),
    ("ChasquiModelStale", "> 30 * 86400", "> 28 * 86400"),
]


def _mutate(text: str, alert: str, old: str, new: str) -> str:
    """Replace ``old`` by ``new`` inside one alert's block only."""
    start = text.index(f"- alert: {alert}\n")
    end = text.find("- alert: ", start + 1)
    end = len(text) if end < 0 else end
    block = text[start:end]
    assert block.count(old) == 1, (alert, old)
    return text[:start] + block.replace(old, new) + text[end:]


@pytest.mark.parametrize(("alert", "old", "new"), MUTATIONS, ids=[f"{a}:{o}->{n}" for a, o, n in MUTATIONS])
def test_unit_tests_notice_a_changed_rule(tmp_path, alert, old, new):
    (tmp_path / "alerts.yml").write_text(_mutate(RULES.read_text(), alert, old, new))
    shutil.copy(RULE_TESTS, tmp_path / "alerts.test.yml")
    r = _promtool("test", "rules", str(tmp_path / "alerts.test.yml"))
    assert r.returncode != 0, f"promtool test rules still passes with {alert}: {old!r} -> {new!r}"
    assert f"alertname: {alert}" in r.stdout + r.stderr


def test_compose_prometheus_config_checks(tmp_path):
    """deploy/prometheus.yml as compose mounts it: the syntax as is, then in full with its rule file at the path
    the container sees (/etc/prometheus/alerts.yml) replaced by the repository's file."""
    r = _promtool("check", "config", "--syntax-only", str(DEPLOY / "prometheus.yml"))
    assert r.returncode == 0, r.stdout + r.stderr
    cfg = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    assert cfg["rule_files"] == ["/etc/prometheus/alerts.yml"]
    cfg["rule_files"] = [str(RULES)]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(cfg))
    r = _promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 1 rule files found" in r.stdout and f"SUCCESS: {len(_alerts())} rules found" in r.stdout


@pytest.mark.parametrize("spark", [False, True], ids=["polars", "spark"])
def test_generated_loopback_config_checks(tmp_path, spark):
    compose = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    cfg = stack.prometheus_config(compose, {"chasqui:9150": "127.0.0.1:19150"}, RULES, scrape_interval="2s",
                                  evaluation_interval="1s", self_target="127.0.0.1:19090",
                                  spark_master_ui="127.0.0.1:18080" if spark else None)
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(cfg))
    r = _promtool("check", "config", str(path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert cfg["rule_files"] == [str(RULES.resolve())]  # the real rule file, not a copy
    assert cfg["global"] == {"scrape_interval": "2s", "evaluation_interval": "1s", "scrape_timeout": "2s"}
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    assert list(jobs) == ["chasqui", "prometheus"] + (["spark-master"] if spark else [])
    assert jobs["chasqui"]["metrics_path"] == compose["scrape_configs"][0]["metrics_path"]
    assert jobs["chasqui"]["static_configs"] == [{"targets": ["127.0.0.1:19150"]}]
    if spark:
        assert jobs["spark-master"]["metrics_path"] == "/metrics/master/prometheus/"
    targets = [t for j in jobs.values() for sc in j["static_configs"] for t in sc["targets"]]
    assert all(t.startswith("127.0.0.1:") for t in targets)
    # without interval overrides the compose file's stand
    plain = stack.prometheus_config(compose, {"chasqui:9150": "127.0.0.1:19150"}, RULES)
    assert plain["global"] == compose["global"]


def test_smoke_rule_copy_changes_only_for(tmp_path):
    dst = tmp_path / "alerts.smoke.yml"
    replaced = stack.rules_with_for(RULES, dst, "10s")
    original, copy = _alerts(), _alerts(dst)
    assert replaced == {name: rule["for"] for name, rule in original.items()}
    assert set(copy) == set(original)
    for name, rule in original.items():
        assert copy[name]["for"] == "10s"
        assert {k: v for k, v in copy[name].items() if k != "for"} == {k: v for k, v in rule.items() if k != "for"}
    r = _promtool("check", "rules", str(dst))
    assert r.returncode == 0, r.stdout + r.stderr
