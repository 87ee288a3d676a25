from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.route_fuzz import World, fuzz_world


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The provider, the engine and an agent in uvicorn threads (SQLite), seeded, shared by the package."""
    with fuzz_world(tmp_path_factory.mktemp("boundary")) as running:
        yield running
