"""Database engines for the store: SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

BUSY_TIMEOUT = 30.0  # seconds a SQLite writer waits for another one before it fails


class _TurnConnection(sqlite3.Connection):
    """A SQLite connection of a writer engine that gives the engine's writer turn back as soon as its
    transaction ends (committed, rolled back, or the connection closed)."""

    turn: threading.Lock | None = None  # the writer turn, held from BEGIN to the transaction's end

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.give_back()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.give_back()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.give_back()

    def give_back(self) -> None:
        turn, self.turn = self.turn, None
        if turn is not None:
            turn.release()


def create_engine(url: str, *, readonly: bool = False, **kw: Any) -> sa.Engine:
    """An engine tuned for the backend: SQLite gets WAL, foreign keys and a busy timeout.

    On SQLite a writer engine begins every transaction IMMEDIATE (one writer at a time, waiting instead of
    failing); a ``readonly`` engine keeps deferred transactions, so readers never wait for writers (WAL).

    The writers of one engine also take turns on a lock of this process before their BEGIN: SQLite's own wait
    for the database (its busy handler) sleeps and polls, 1, 2, 5, 10, 15, 20, 25 ms and on, so under
    concurrent runs most of a run's time went to sleeping after the writer before it had long committed
    (issue 17's profile: 57-71 % of run, hot plug and stop). The lock wakes the next writer at once. Another
    process (or a writer of another engine) is still waited for by the busy handler.
    """
    if url.startswith("sqlite"):
        connect_args: dict[str, Any] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT}
        turn = threading.Lock()
        if not readonly:
            connect_args["factory"] = _TurnConnection
        # as many connections kept as concurrent requests hold (a writer holds its connection while it waits
        # for the turn): SQLAlchemy's default keeps 5 and closes the rest, so under 10 concurrent runs most
        # checkouts opened a new SQLite connection (the file, the pragmas, the schema parsed again)
        if ":memory:" not in url and url.rstrip("/") != "sqlite:":  # a file: a QueuePool
            kw = {"pool_size": 20, "max_overflow": 20, **kw}
        engine = sa.create_engine(url, connect_args=connect_args, **kw)

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
            if readonly:
                conn.exec_driver_sql("BEGIN")
                return
            dbapi_conn = conn.connection.dbapi_connection
            # not having the turn within the busy timeout (a writer nested in another one's thread): on to
            # SQLite's own wait, which fails as it always did
            if isinstance(dbapi_conn, _TurnConnection) and turn.acquire(timeout=BUSY_TIMEOUT):
                dbapi_conn.turn = turn
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                if isinstance(dbapi_conn, _TurnConnection):
                    dbapi_conn.give_back()
                raise

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kw)


class QueryCounter:
    """Counts the SQL statements an engine runs (for benchmarks and query-count tests)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, *_args: Any) -> None:
        self.count += 1
