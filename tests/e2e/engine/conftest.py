from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.databases import backend_database
from tests.support.servers import free_port, neutrino_process

ADMIN_PASSWORD = "engine-test-secret"


@dataclass
class RunningEngine:
    url: str  # http://127.0.0.1:PORT/ovirt-engine/api
    data_dir: Path
    db_url: str

    def connection(self, **kw: Any) -> Any:
        import ovirtsdk4 as sdk

        return sdk.Connection(url=self.url, username="admin@internal", password=ADMIN_PASSWORD, **kw)


@pytest.fixture
def engine(database_url: str, tmp_path: Path) -> Iterator[RunningEngine]:
    """`neutrino engine` as a user runs it, on SQLite and on PostgreSQL."""
    port = free_port()
    data_dir = tmp_path / "engine"
    args = ["engine", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir), "--db", database_url]
    base = f"http://127.0.0.1:{port}"
    with neutrino_process(
        args,
        f"{base}/ovirt-engine/api",
        tmp_path / "engine.log",
        env={"NEUTRINO_ADMIN_PASSWORD": ADMIN_PASSWORD},
    ):
        yield RunningEngine(f"{base}/ovirt-engine/api", data_dir, database_url)


@pytest.fixture
def connection(engine: RunningEngine) -> Iterator[object]:
    conn = engine.connection()
    yield conn
    conn.close()


# --- one engine per test module and backend, for tests that do not interfere with each other ---------

SHARED_MAC_POOL = "56:6f:aa:bb:00:00-56:6f:aa:bb:00:ff"


@contextmanager
def _database(backend: str, directory: Path) -> Iterator[str]:
    with backend_database(backend, directory) as url:
        yield url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningEngine]:
    """A `neutrino engine` shared by one test module, with a known MAC pool (SHARED_MAC_POOL)."""
    tmp = tmp_path_factory.mktemp(f"engine-{request.param}")
    with _database(request.param, tmp) as db_url:
        port = free_port()
        data_dir = tmp / "engine"
        args = [
            "engine",
            "--listen",
            f"127.0.0.1:{port}",
            "--data-dir",
            str(data_dir),
            "--db",
            db_url,
            "--mac-pool-range",
            SHARED_MAC_POOL,
        ]
        url = f"http://127.0.0.1:{port}/ovirt-engine/api"
        with neutrino_process(args, url, tmp / "engine.log", env={"NEUTRINO_ADMIN_PASSWORD": ADMIN_PASSWORD}):
            yield RunningEngine(url, data_dir, db_url)


@pytest.fixture(scope="module")
def shared_connection(shared_engine: RunningEngine) -> Iterator[Any]:
    conn = shared_engine.connection()
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def system(shared_connection: Any) -> Any:
    """The SDK's system service of the shared engine."""
    return shared_connection.system_service()
