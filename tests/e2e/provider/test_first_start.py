"""`neutrino provider` on a fresh data directory: the admin password is printed once, and works."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.support.servers import free_port, neutrino_process


def _token(base: str, password: str) -> httpx.Response:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": password}},
            },  # fmt: skip
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }
    }
    return httpx.post(f"{base}/v3/auth/tokens", json=body)


def test_generated_admin_password_is_printed_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = ["provider", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir)]
    env = {"NEUTRINO_ADMIN_PASSWORD": ""}
    with neutrino_process(args, f"{base}/", tmp_path / "first.log", env=env):
        printed = re.findall(r"password: (\S+)", (tmp_path / "first.log").read_text())
        assert len(printed) == 1
        assert _token(base, printed[0]).status_code == 201
    assert (data_dir / "provider.db").exists()
    with neutrino_process(args, f"{base}/", tmp_path / "second.log", env=env):
        assert "password" not in (tmp_path / "second.log").read_text()
        assert _token(base, printed[0]).status_code == 201


def test_no_auth_flag(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = ["provider", "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path), "--no-auth"]
    with neutrino_process(args, f"{base}/", tmp_path / "noauth.log"):
        created = httpx.post(f"{base}/v2.0/networks", json={"network": {"name": "n", "project_id": "p1"}})
        assert created.status_code == 201 and created.json()["network"]["project_id"] == "p1"
        assert (
            httpx.get(f"{base}/v2.0/networks").json()["networks"][0]["id"] == created.json()["network"]["id"]
        )
