"""Database engines for the store: SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event


def create_engine(url: str, *, readonly: bool = False, **kw: Any) -> sa.Engine:
    """An engine tuned for the backend: SQLite gets WAL, foreign keys and a busy timeout.

    On SQLite a writer engine begins every transaction IMMEDIATE (one writer at a time, waiting instead of
    failing); a ``readonly`` engine keeps deferred transactions, so readers never wait for writers (WAL).
    """
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kw)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # pysqlite's own transaction handling is off, so that BEGIN is ours (see _sqlite_begin)
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: sa.Connection) -> None:
            # NOTE: a plain deferred BEGIN lets two writers both read, then one fails with "database is
            # locked" on upgrade; IMMEDIATE makes the second wait for the first (busy timeout) instead.
            conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kw)


class QueryCounter:
    """Counts the SQL statements an engine runs (for benchmarks and query-count tests)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, *_args: Any) -> None:
        self.count += 1
