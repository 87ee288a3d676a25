from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import backend_database
from tests.support.require import require as _require

__all__ = ["_require"]  # what the test modules import from here


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each backend the suite runs on."""
    with backend_database(request.param, tmp_path) as url:
        yield url
