"""Real processes for the external network provider e2e tests: `neutrino provider` (on SQLite; also over
HTTPS behind uvicorn) and `neutrino engine` (one per module and backend, SQLite and PostgreSQL), with a
non-admin Keystone project user for the engine to connect as."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.databases import backend_database, sqlite_url
from tests.support.pki import Pki, make_pki
from tests.support.servers import free_port, neutrino_process, stop

ENGINE_PASSWORD = "engine-e2e-secret"
PROVIDER_ADMIN_PASSWORD = "provider-e2e-secret"
MAC_POOL = "56:6f:aa:cc:00:00-56:6f:aa:cc:03:ff"


@dataclass(frozen=True)
class Member:
    """A Keystone user with role ``member`` on its own project: what the engine connects as."""

    project: str
    username: str
    password: str


@dataclass
class Provider:
    url: str  # http(s)://127.0.0.1:PORT
    verify: Any = True  # for the test's own HTTP calls: an ssl.SSLContext over https

    def admin_token(self) -> str:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": "admin",
                            "password": PROVIDER_ADMIN_PASSWORD,
                            "domain": {"name": "Default"},
                        }
                    },
                },
                "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
            }
        }
        resp = httpx.post(f"{self.url}/v3/auth/tokens", json=body, verify=self.verify)
        resp.raise_for_status()
        return resp.headers["X-Subject-Token"]

    def new_member(self) -> Member:
        """A new project and a user with role member on it (not admin anywhere)."""
        suffix = uuid.uuid4().hex[:8]
        member = Member(f"proj-{suffix}", f"user-{suffix}", f"pw-{suffix}")
        with httpx.Client(
            base_url=self.url, headers={"X-Auth-Token": self.admin_token()}, verify=self.verify
        ) as c:
            project = c.post("/v3/projects", json={"project": {"name": member.project}})
            project.raise_for_status()
            user = c.post("/v3/users", json={"user": {"name": member.username, "password": member.password}})
            user.raise_for_status()
            project_id, user_id = project.json()["project"]["id"], user.json()["user"]["id"]
            c.put(f"/v3/projects/{project_id}/users/{user_id}/roles/member").raise_for_status()
        return member

    def neutron(self, member: Member) -> httpx.Client:
        """A raw Neutron client scoped to the member's project (to change things behind the engine's back)."""
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": member.username,
                            "password": member.password,
                            "domain": {"name": "Default"},
                        }
                    },
                },
                "scope": {"project": {"name": member.project, "domain": {"name": "Default"}}},
            }
        }
        resp = httpx.post(f"{self.url}/v3/auth/tokens", json=body, verify=self.verify)
        resp.raise_for_status()
        return httpx.Client(
            base_url=f"{self.url}/v2.0",
            verify=self.verify,
            headers={"X-Auth-Token": resp.headers["X-Subject-Token"]},
        )


@dataclass
class Engine:
    url: str  # http://127.0.0.1:PORT/ovirt-engine/api
    backend: str

    def connection(self) -> Any:
        import ovirtsdk4 as sdk

        return sdk.Connection(url=self.url, username="admin@internal", password=ENGINE_PASSWORD)


def _env() -> dict[str, str]:
    return {"NEUTRINO_ADMIN_PASSWORD": PROVIDER_ADMIN_PASSWORD}


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    """`neutrino provider` over plain HTTP, on SQLite, shared by the module."""
    data_dir = tmp_path_factory.mktemp("provider")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [
        "provider",
        "--listen",
        f"127.0.0.1:{port}",
        "--data-dir",
        str(data_dir),
        "--db",
        sqlite_url(data_dir),
    ]
    with neutrino_process(args, f"{base}/", data_dir / "provider.log", env=_env()):
        yield Provider(base)


@contextmanager
def database(backend: str, directory: Path) -> Iterator[str]:
    with backend_database(backend, directory) as url:
        yield url


@contextmanager
def run_engine(backend: str, directory: Path, sync_interval: float | None = None) -> Iterator[Engine]:
    with (
        database(backend, directory) as db_url,
        start_engine(backend, db_url, directory, sync_interval) as running,
    ):
        yield running


@contextmanager
def start_engine(
    backend: str, db_url: str, directory: Path, sync_interval: float | None = None
) -> Iterator[Engine]:
    """`neutrino engine` on this database with its data directory under ``directory`` (kept between runs)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/ovirt-engine/api"
    args = [
        "engine",
        "--listen",
        f"127.0.0.1:{port}",
        "--data-dir",
        str(directory / "engine"),
        "--db",
        db_url,
        "--mac-pool-range",
        MAC_POOL,
    ]
    if sync_interval is not None:
        args += ["--provider-sync-interval", str(sync_interval)]
    with neutrino_process(
        args,
        url,
        directory / f"engine-{port}.log",
        env={"NEUTRINO_ADMIN_PASSWORD": ENGINE_PASSWORD},
        timeout=60.0,
    ):
        yield Engine(url, backend)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """`neutrino engine` shared by the module, once per backend; the periodic sync is left at its default."""
    with run_engine(request.param, tmp_path_factory.mktemp(f"engine-{request.param}")) as running:
        yield running


@pytest.fixture(scope="module")
def system(engine: Engine) -> Iterator[Any]:
    conn = engine.connection()
    yield conn.system_service()
    conn.close()


# --- HTTPS ------------------------------------------------------------------------------------------


@dataclass
class TlsProvider(Provider):
    pki: Pki | None = None


@pytest.fixture(scope="module")
def tls_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsProvider]:
    """`neutrino provider --tls-cert/--tls-key`, with a certificate from a CA of the test's own."""
    data_dir = tmp_path_factory.mktemp("tls-provider")
    pki = make_pki(data_dir)
    port = free_port()
    log = data_dir / "provider.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "neutrino.cli", "provider", "--listen", f"127.0.0.1:{port}",
             "--data-dir", str(data_dir), "--tls-cert", str(pki.chain_file), "--tls-key", str(pki.key_file)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **_env(), "NEUTRINO_INSECURE_HTTP": "0"},
            start_new_session=True,
        )  # fmt: skip
    try:
        _wait_https(proc, f"https://127.0.0.1:{port}/", pki.ca_file, log)
        yield TlsProvider(
            f"https://127.0.0.1:{port}", verify=ssl.create_default_context(cafile=str(pki.ca_file)), pki=pki
        )
    finally:
        stop(proc)


def _wait_https(
    proc: subprocess.Popen[bytes], url: str, ca_file: Path, log: Path, timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"TLS provider exited with {proc.returncode}:\n{log.read_text()}")
        try:
            httpx.get(url, verify=ssl.create_default_context(cafile=str(ca_file)), timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    stop(proc)
    raise RuntimeError(f"TLS provider did not answer {url} within {timeout}s:\n{log.read_text()}")
