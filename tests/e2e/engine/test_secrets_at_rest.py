"""What a local user who is not Neutrino's could read of a running `neutrino up`: nothing in its data
directories (0700), no database, key or token file (0600), and, in the databases themselves, neither the
Keystone signing key nor a live SSO token (only its hash). Started with umask 022, the usual default."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from neutrino.engine.store.repository import token_hash
from tests.support.servers import free_port, neutrino_process, wait_ready

PASSWORD = "at-rest-secret"


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _certificate_only(path: Path) -> bool:
    """A PEM file of certificates and nothing else: public (the engine serves its CA over plain HTTP), so it
    may be readable by others; what guards it is its 0700 directory."""
    if path.suffix != ".pem" or not path.is_file():
        return False
    text = path.read_text()
    return "-----BEGIN CERTIFICATE-----" in text and "PRIVATE KEY" not in text


def _readable_by_others(root: Path) -> list[str]:
    found = []
    for path in [root, *root.rglob("*")]:
        if path.is_socket() or path.is_symlink():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077 and not _certificate_only(path):
            found.append(f"{path.relative_to(root.parent)} {mode:o}")
    return found


def test_neutrino_up_keeps_its_data_to_its_owner(tmp_path: Path) -> None:
    engine_port, provider_port, agent_port = free_port(), free_port(), free_port()
    data = tmp_path / "data"
    args = [
        "up",
        "--data-dir",
        str(data),
        "--engine-listen",
        f"127.0.0.1:{engine_port}",
        "--provider-listen",
        f"127.0.0.1:{provider_port}",
        "--agent-listen",
        f"127.0.0.1:{agent_port}",
        "--datapath",
        "memory",
    ]
    env = {"NEUTRINO_ADMIN_PASSWORD": PASSWORD}
    engine = f"http://127.0.0.1:{engine_port}"
    with (
        _umask(0o022),
        neutrino_process(args, f"{engine}/ovirt-engine/api", tmp_path / "up.log", env=env) as proc,
    ):
        wait_ready(proc, f"http://127.0.0.1:{provider_port}/", tmp_path / "up.log", 30.0)
        sso = httpx.post(
            f"{engine}/ovirt-engine/sso/oauth/token",
            data={
                "grant_type": "password",
                "username": "admin@internal",
                "password": PASSWORD,
                "scope": "ovirt-app-api",
            },
        )
        assert sso.status_code == 200, sso.text
        token = sso.json()["access_token"]
        assert (
            httpx.get(f"{engine}/ovirt-engine/api", headers={"Authorization": f"Bearer {token}"}).status_code
            == 200
        )

        assert {p.name for p in data.iterdir()} >= {"engine", "provider", "agent"}
        assert (data / "provider" / "keystone-signing.key").exists()
        assert _readable_by_others(data) == []

        with sqlite3.connect(data / "engine" / "engine.db") as db:
            stored = {row[0] for row in db.execute("SELECT token_hash FROM sessions")}
        assert token_hash(token) in stored and token not in stored
        with sqlite3.connect(data / "provider" / "provider.db") as db:
            keys = {row[0] for row in db.execute("SELECT key FROM provider_meta")}
        assert "token_secret" not in keys
