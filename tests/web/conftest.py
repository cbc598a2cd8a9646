"""Fixtures for the hardening suite: apps with and without sign-in, users, forged callback bodies."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.loadtest import callback_outputs
from web import passwords

PASSWORDS = {"ana": "ana-pw", "luis": "luis-pw", "mia": "mia-pw", "tito": "tito-pw"}
ROLES = {"ana": "executive", "luis": "logistics", "mia": "marketing", "tito": "traceability-admin"}


def basic(user: str, password: str | None = None) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password or PASSWORDS[user]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture(scope="session")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("auth") / "users"
    lines = ["# Chasqui users (test)"]
    for name, role in ROLES.items():
        # cheap scrypt parameters keep the suite fast; the format and the check are the real ones
        enc = (passwords.hash_password(PASSWORDS[name], n=2**10) if name != "mia"
               else passwords.hash_password_pbkdf2(PASSWORDS[name], iterations=100_000))
        lines.append(f"{name}:{role}:{enc}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def open_app(settings):
    import app as appmod

    return appmod.create_app(settings.replace(max_request_mb=8.0, upload_max_mb=1.0), start_live=False)


@pytest.fixture(scope="module")
def auth_app(settings, users_file):
    import app as appmod

    return appmod.create_app(settings.replace(auth_file=users_file), start_live=False)


def forged_body(dep: dict[str, Any], value: Any) -> dict[str, Any]:
    """A callback request as the renderer would send it, with ``value`` in every input and state."""
    outs = callback_outputs(dep["output"])
    inputs = [{"id": i["id"], "property": i["property"], "value": value} for i in dep["inputs"]]
    state = [{"id": s["id"], "property": s["property"], "value": value} for s in dep["state"]]
    changed = []
    if inputs:
        first = inputs[0]["id"]
        changed = [f"{json.dumps(first, sort_keys=True) if isinstance(first, dict) else first}"
                   f".{inputs[0]['property']}"]
    return {"output": dep["output"], "outputs": outs if dep["output"].startswith("..") else outs[0],
            "inputs": inputs, "state": state, "changedPropIds": changed}
