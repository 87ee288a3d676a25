from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import postgresql_available, postgresql_schema, sqlite_url


def _require(reason: str | None) -> None:
    """Skip with the reason, except in CI where a missing service is a failure."""
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must have this: {reason}")
    pytest.skip(reason)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each backend the suite runs on."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    _require(postgresql_available())
    with postgresql_schema() as url:
        yield url
