from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from neutrino.engine.bootstrap import Engine, build
from neutrino.engine.settings import EngineSettings
from tests.support.databases import backend_database

TINY_POOL = "56:6f:00:00:00:00-56:6f:00:00:00:02"

BuildEngine = Callable[..., Engine]


@pytest.fixture
def make_engine(database_url: str, tmp_path: Path) -> Iterator[BuildEngine]:
    """Builds the engine (migrations, first start) on the test's database; disposed afterwards."""
    built: list[Engine] = []

    def make(**overrides: object) -> Engine:
        options: dict[str, Any] = {
            "data_dir": tmp_path / "engine",
            "db": database_url,
            "admin_password": "pw",
        }
        settings = EngineSettings(**(options | overrides))
        engine = build(settings)
        built.append(engine)
        return engine

    yield make
    for engine in built:
        engine.dispose()


@pytest.fixture
def engine(make_engine: BuildEngine) -> Engine:
    """A fresh engine with a three-address MAC pool (TINY_POOL), for tests that need an empty database."""
    return make_engine(mac_pool_range=TINY_POOL)


@contextmanager
def _database(backend: str, directory: Path) -> Iterator[str]:
    with backend_database(backend, directory) as url:
        yield url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """One engine per test module and backend, for tests that use names of their own and do not interfere."""
    tmp = tmp_path_factory.mktemp(f"engine-{request.param}")
    with _database(request.param, tmp) as url:
        engine = build(
            EngineSettings(
                data_dir=tmp / "engine",
                db=url,
                admin_password="pw",
                mac_pool_range="56:6f:00:00:10:00-56:6f:00:00:1f:ff",
            )
        )
        try:
            yield engine
        finally:
            engine.dispose()
