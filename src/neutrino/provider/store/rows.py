"""Rows read without SQLAlchemy's result objects, for answers of thousands of rows.

A list of 10,000 ports spent most of its time building a ``Row`` per row and running SQLAlchemy's
result processors (``json.loads`` of the JSON columns, a ``datetime`` per timestamp that was then
formatted back to text). :func:`fetch` takes the DBAPI's own tuples instead, and a :class:`RecordPlan`
turns them into wire records with one converter per column that needs one, chosen once per
(dialect, columns):

- a timestamp becomes its wire text (``2026-12-03T00:05:54Z``) straight from SQLite's stored text,
  or from the ``datetime`` PostgreSQL's driver gives;
- a JSON column stored as text (SQLite) is parsed with orjson; PostgreSQL's driver has parsed it;
- anything else that has a SQLAlchemy result processor (SQLite's 0/1 booleans) keeps it.

:class:`ChildList` declares a list attribute kept as rows of a child table keyed by its parent's id
(a port's fixed IPs, groups, tags, address pairs); :func:`children` reads one for many parents in
one statement. :func:`gc_paused` keeps the garbage collector out of building a large list.
"""

from __future__ import annotations

import gc
import json
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa

if TYPE_CHECKING:
    from neutrino.provider.store.db import UnitOfWork

Converter = Callable[[Any], Any]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector held off while thousands of records are built.

    Building 10,000 ports makes some 100,000 dicts and lists, all alive until the answer is sent: the
    collector, run every few hundred allocations, traversed them again and again (a third of a
    list's CPU, measured). What the pause leaves uncollected is collected at the next run after it.
    Process-wide: another thread's allocations meanwhile do not start a collection either."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def fetch(uow: UnitOfWork, statement: Any, params: Any = None) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The column names and the DBAPI's rows of ``statement`` (no SQLAlchemy ``Row``, no result
    processing: see :class:`RecordPlan` for the values)."""
    result = uow.execute(statement, params)
    try:
        return list(result.keys()), list(result.cursor.fetchall())
    finally:
        result.close()


def wire_timestamp(value: datetime | None) -> str | None:
    """A stored timestamp as the API writes it: seconds, UTC, ``Z``."""
    return None if value is None else value.isoformat(timespec="seconds") + "Z"


def _timestamp(processor: Converter | None) -> Converter:
    def convert(value: Any) -> Any:
        if value is None:
            return None
        # SQLAlchemy stores SQLite datetimes as "YYYY-MM-DD HH:MM:SS.ffffff": cut, do not parse
        if isinstance(value, str) and len(value) == 26 and value[10] == " " and value[19] == ".":
            return f"{value[:10]}T{value[11:19]}Z"
        if not isinstance(value, datetime) and processor is not None:
            value = processor(value)
        return wire_timestamp(value)

    return convert


def _json(processor: Converter | None) -> Converter:
    def convert(value: Any) -> Any:
        if not isinstance(value, str | bytes):
            return value  # parsed by the driver (PostgreSQL), or NULL
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:  # what orjson refuses and json reads (NaN, integers past 64 bits)
            return processor(value) if processor is not None else json.loads(value)

    return convert


def converter(column: sa.Column[Any], dialect: sa.Dialect) -> Converter | None:
    """What turns this column's DBAPI value into its wire value (None: the value as it is)."""
    processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
    if isinstance(column.type, sa.DateTime):
        return _timestamp(processor)
    if isinstance(column.type, sa.JSON):
        return _json(processor)
    return processor


@dataclass(frozen=True)
class RecordPlan:
    """How rows of one column list become records: the wire names in order, one getter of their
    values (a C call per row), and the converters of the names that need one."""

    names: tuple[str, ...]
    pick: Callable[[Any], tuple[Any, ...]]
    converters: tuple[tuple[str, Converter], ...]

    @classmethod
    def of(
        cls,
        table: sa.Table,
        wanted: Iterable[tuple[str, str]],
        keys: Sequence[str],
        dialect: sa.Dialect,
    ) -> RecordPlan:
        """The plan for rows whose columns are ``keys``; ``wanted`` is (wire name, column) in the
        record's order (those missing from ``keys`` are left out)."""
        index = {key: i for i, key in enumerate(keys)}
        columns = [(name, column) for name, column in wanted if column in index]
        names = tuple(name for name, _ in columns)
        if not columns:
            return cls((), lambda row: (), ())
        getter = operator.itemgetter(*[index[column] for _, column in columns])
        pick = getter if len(columns) > 1 else lambda row: (getter(row),)
        converters = tuple(
            (name, convert)
            for name, column in columns
            if (convert := converter(table.c[column], dialect)) is not None
        )
        return cls(names, pick, converters)

    def records(self, rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
        names, pick = self.names, self.pick
        out = [dict(zip(names, pick(row), strict=True)) for row in rows]
        for name, convert in self.converters:
            for record in out:
                record[name] = convert(record[name])
        return out


@dataclass(frozen=True)
class ChildList:
    """A list attribute kept as rows of ``table`` keyed by the parent's id in column ``parent``.

    ``fields`` is one column (the list holds its values) or several (the list holds objects with
    those keys, in that order). ``order`` is the sort key of the wire order (None: the values
    themselves)."""

    table: sa.Table
    parent: str
    fields: str | tuple[str, ...]
    order: Callable[[Any], Any] | None = None

    def statement(self) -> sa.Select[Any]:
        c = self.table.c
        names = (self.fields,) if isinstance(self.fields, str) else self.fields
        return sa.select(c[self.parent], *[c[name] for name in names])


def children(uow: UnitOfWork, child: ChildList, ids: Sequence[str]) -> dict[str, list[Any]]:
    """``child``'s list of each parent in ``ids``, in wire order: one statement (one parameter)."""
    found: dict[str, list[Any]] = {i: [] for i in ids}
    if not ids:
        return found
    c = child.table.c
    for clause in uow.where_in(c[child.parent], ids):
        _, rows = fetch(uow, child.statement().where(clause))
        if isinstance(child.fields, str):
            for parent, value in rows:
                found[parent].append(value)
        else:
            keys = child.fields
            for parent, *values in rows:
                found[parent].append(dict(zip(keys, values, strict=True)))
    for values in found.values():
        if len(values) > 1:
            values.sort(key=child.order)
    return found


def expand(
    uow: UnitOfWork, records: list[dict[str, Any]], declared: Mapping[str, ChildList]
) -> list[dict[str, Any]]:
    """Add each declared child list (in the declaration's order) to records that hold ``id``."""
    ids = [record["id"] for record in records]
    for name, child in declared.items():
        lists = children(uow, child, ids)
        for record in records:
            record[name] = lists[record["id"]]
    return records
