"""Throw-away databases for tests: a SQLite file, or a fresh schema in the PostgreSQL `test` database.

PostgreSQL isolation uses one schema per test (``search_path`` in the URL), which is much cheaper than a
database per test and keeps programs' tables apart.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_URL = os.environ.get("NEUTRINO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def postgresql_available() -> str | None:
    """None when the test server answers, else the reason it does not."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is a dependency
        return f"psycopg missing: {exc}"
    try:
        with psycopg.connect(_libpq(PG_URL), connect_timeout=3):
            return None
    except Exception as exc:
        return f"PostgreSQL at {PG_URL} does not answer: {exc}"


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def postgresql_schema() -> Iterator[str]:
    """A fresh schema; yields a SQLAlchemy URL whose connections use it. Dropped afterwards."""
    import psycopg

    schema = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(_libpq(PG_URL), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(_libpq(PG_URL), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'neutrino.db'}"


@contextmanager
def backend_database(backend: str, directory: Path) -> Iterator[str]:
    """A fresh database on ``backend`` ("sqlite": a file in ``directory``; "postgresql": a schema of its own),
    skipped (failed in CI) when PostgreSQL does not answer."""
    if backend == "sqlite":
        yield sqlite_url(directory)
        return
    from tests.support.require import require

    require(postgresql_available())
    with postgresql_schema() as url:
        yield url
