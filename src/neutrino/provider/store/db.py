"""Database access: one engine per process and a unit of work per request.

The unit of work rolls back unless :meth:`UnitOfWork.commit` was called; nothing else commits.

Writers are serialized per subnet on PostgreSQL (``SELECT ... FOR UPDATE``, see :meth:`lock_rows`).
SQLite has a single writer anyway, so write units take ``BEGIN IMMEDIATE`` (the write lock up
front, instead of failing at the first write with SQLITE_BUSY) behind an in-process mutex, which
avoids SQLite's sleep-and-retry busy handler when the contention is inside this process.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine


class Database:
    def __init__(self, url: str, *, pool_size: int = 20) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.is_postgresql = url.startswith("postgresql")
        self._writer = threading.Lock()
        if self.is_sqlite:
            self.engine: Engine = sa.create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": 30},
                pool_size=pool_size,
                max_overflow=pool_size,
            )
            _configure_sqlite(self.engine)
        else:
            self.engine = sa.create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_timeout=60)

    def uow(self) -> UnitOfWork:
        """A unit of work that may write."""
        return UnitOfWork(self, write=True)

    def reader(self) -> UnitOfWork:
        """A read-only unit of work (never commits)."""
        return UnitOfWork(self, write=False)

    def dispose(self) -> None:
        self.engine.dispose()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN itself (pysqlite's own is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # straight to the driver: nothing of SQLAlchemy's statement machinery is needed for BEGIN
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.execute("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")


def _json_each(array: str) -> Any:
    """SQLite's ``json_each(?)`` values, for ``IN (SELECT value FROM json_each(?))``."""
    return sa.func.json_each(sa.bindparam(None, array, type_=sa.String)).table_valued("value").c.value


@functools.cache
def _among(key: Any, dialect: str) -> sa.ColumnElement[bool]:
    """``key`` among the statement's parameter ``ids`` on this dialect (:meth:`UnitOfWork.rows_among`)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return key == sa.any_(sa.bindparam("ids", type_=ARRAY(sa.String)))
    if dialect == "sqlite":
        values = sa.func.json_each(sa.bindparam("ids", type_=sa.String)).table_valued("value").c.value
        return key.in_(sa.select(values))
    return key.in_(sa.bindparam("ids", expanding=True))


@functools.cache
def _select_among(columns: tuple[Any, ...], key: Any, dialect: str) -> sa.Select[Any]:
    return sa.select(*columns).where(_among(key, dialect))


@functools.cache
def _lock_statement(table: sa.Table) -> sa.Select[Any]:
    """``SELECT id ... FOR UPDATE`` of a table's rows by id, built once per table (compiled once)."""
    wanted: sa.BindParameter[list[str]] = sa.bindparam("ids", expanding=True)
    return sa.select(table.c.id).where(table.c.id.in_(wanted)).order_by(table.c.id).with_for_update()


class UnitOfWork:
    """``with db.uow() as uow: ...; uow.commit()``: rolls back unless committed."""

    def __init__(self, db: Database, *, write: bool) -> None:
        self.db = db
        self.write = write
        self.committed = False
        self._locked = False
        #: collection -> ids this unit changed besides the request's own resource (a router's
        #: ports, the floating IPs a port deletion disassociates), for the backend after the commit
        self.changes: dict[str, list[str]] = {}
        self._after_commit: list[Callable[[], None]] = []

    def __enter__(self) -> UnitOfWork:
        # the connection is taken from the pool before the writers' mutex, and the mutex is given
        # back at the commit (see commit()): it spans BEGIN IMMEDIATE .. COMMIT and nothing else
        self.conn = self.db.engine.connect()
        try:
            self.conn.info["write"] = self.write
            if self.write and self.db.is_sqlite:
                self.db._writer.acquire()
                self._locked = True
            self._tx = self.conn.begin()
        except BaseException:
            self._release()
            self.conn.info.pop("write", None)
            self.conn.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._tx.is_active:
                self._tx.rollback()
            self.conn.info.pop("write", None)
            self.conn.close()
        finally:
            self._release()

    def _release(self) -> None:
        if self._locked:
            self._locked = False
            self.db._writer.release()

    def commit(self) -> None:
        if not self.write:
            raise RuntimeError("a read-only unit of work cannot commit")
        self._tx.commit()
        self._release()  # SQLite's write lock ended with the COMMIT (a failed one: at the rollback)
        self.committed = True
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once this unit has committed (never if it rolls back): for state kept
        outside the database that must follow it, such as the revocation events in memory."""
        self._after_commit.append(callback)

    def note_changed(self, collection: str, ids: Iterable[str]) -> None:
        """Record resources of ``collection`` this unit created, updated or deleted on the side."""
        noted = self.changes.setdefault(collection, [])
        for resource_id in ids:
            if resource_id not in noted:
                noted.append(resource_id)

    # --- helpers used by the services ----------------------------------------------------------

    def execute(self, statement: Any, params: Any = None) -> sa.CursorResult[Any]:
        return self.conn.execute(statement, params)

    def rows(self, statement: Any) -> Sequence[sa.Row[Any]]:
        return self.conn.execute(statement).all()

    def one_or_none(self, statement: Any) -> sa.Row[Any] | None:
        return self.conn.execute(statement).one_or_none()

    def lock_rows(self, table: sa.Table, ids: Iterable[str]) -> None:
        """Serialize writers on these rows until the end of the unit (PostgreSQL: FOR UPDATE).

        On SQLite the write unit already holds the database's only write lock.
        """
        wanted = sorted(set(ids))  # a fixed order, so two writers never deadlock
        if wanted and self.db.is_postgresql:
            self.conn.execute(_lock_statement(table), {"ids": wanted})

    def where_in(self, column: Any, values: Sequence[str]) -> list[sa.ColumnElement[bool]]:
        """``column IN values`` as one clause with one parameter, however many values: ``= ANY(array)``
        on PostgreSQL, ``IN (SELECT value FROM json_each(?))`` on SQLite (a JSON array), either far
        cheaper to send and compile than one parameter per value. (A list, for the callers' loops.)"""
        if self.db.is_postgresql:
            from sqlalchemy.dialects.postgresql import ARRAY

            return [column == sa.any_(sa.bindparam(None, list(values), type_=ARRAY(sa.String)))]
        if self.db.is_sqlite:
            return [column.in_(sa.select(_json_each(json.dumps(list(values)))))]
        return [column.in_(values[i : i + 900]) for i in range(0, len(values), 900)]

    def rows_among(self, columns: tuple[Any, ...], key: Any, ids: Iterable[str]) -> Sequence[sa.Row[Any]]:
        """``columns`` (a table, or columns) of the rows whose ``key`` is among ``ids``: :meth:`where_in`'s
        one parameter for all the ids, in a statement built once per columns, key and dialect. Built anew
        for every call, as around ``where_in``'s clause, SQLAlchemy makes its cache key again, which costs
        more than running it for the few rows a write reads (the OVN backend's, for every port write)."""
        wanted = list(ids)
        if not wanted:
            return []
        statement = _select_among(columns, key, self.conn.dialect.name)
        return self.execute(statement, {"ids": json.dumps(wanted) if self.db.is_sqlite else wanted}).all()

    def advisory_lock(self, key: int) -> None:
        """A transaction-scoped lock on a name rather than a row (segment allocation)."""
        if self.db.is_postgresql:
            self.conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
