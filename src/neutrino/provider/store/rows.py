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
(a port's fixed IPs, groups, tags, address pairs); :func:`expand` reads them all for many parents
in one statement. :func:`gc_paused` keeps the garbage collector out of building a large list.
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


#: PostgreSQL's spelling of :func:`wire_timestamp` (``to_char``'s ``SS`` truncates, as ``isoformat`` does)
PG_WIRE_TIMESTAMP = 'YYYY-MM-DD"T"HH24:MI:SS"Z"'


def selected(column: sa.Column[Any], dialect: sa.Dialect) -> sa.ColumnElement[Any]:
    """What a list selects for ``column`` (labelled with its name). On PostgreSQL a timestamp is
    its wire text already (``to_char``) and a JSON value its text (parsed here with orjson): psycopg
    would make a ``datetime`` to format again, and parse the JSON with the standard library (together
    some 60 ms of a 10,000-port list)."""
    if dialect.name == "postgresql":
        if isinstance(column.type, sa.DateTime):
            return sa.func.to_char(column, PG_WIRE_TIMESTAMP, type_=sa.String).label(column.name)
        if isinstance(column.type, sa.JSON):
            return sa.cast(column, sa.Text).label(column.name)
    return column


def converter(column: sa.Column[Any], dialect: sa.Dialect) -> Converter | None:
    """What turns this column's DBAPI value, as :func:`selected` reads it, into its wire value
    (None: the value as it is)."""
    processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
    if isinstance(column.type, sa.DateTime):
        return None if dialect.name == "postgresql" else _timestamp(processor)
    if isinstance(column.type, sa.JSON):
        return _json(processor)
    return processor


@dataclass(frozen=True)
class RecordPlan:
    """How rows of one column list become records: the columns to select, the wire names in order,
    one getter of their values (a C call per row), and the converters of the names that need one."""

    columns: tuple[sa.ColumnElement[Any], ...]
    names: tuple[str, ...]
    pick: Callable[[Any], tuple[Any, ...]]
    converters: tuple[tuple[str, Converter], ...]

    @classmethod
    def of(cls, table: sa.Table, wanted: Iterable[tuple[str, str]], dialect: sa.Dialect) -> RecordPlan:
        """The plan for rows of every column of ``table`` (:func:`selected`, in the table's order);
        ``wanted`` is (wire name, column) in the record's order."""
        keys = table.c.keys()
        selects = tuple(selected(table.c[key], dialect) for key in keys)
        index = {key: i for i, key in enumerate(keys)}
        columns = [(name, column) for name, column in wanted if column in index]
        names = tuple(name for name, _ in columns)
        if not columns:
            return cls(selects, (), lambda row: (), ())
        getter = operator.itemgetter(*[index[column] for _, column in columns])
        pick = getter if len(columns) > 1 else lambda row: (getter(row),)
        converters = tuple(
            (name, convert)
            for name, column in columns
            if (convert := converter(table.c[column], dialect)) is not None
        )
        return cls(selects, names, pick, converters)

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


#: The fewest parents whose child lists PostgreSQL reads with the one ``UNION`` statement. Its ids come
#: from a function PostgreSQL cannot count, so it hashes them against every child table's rows: right
#: for a long list, while a show or a short page probes the tables' indexes with ``= ANY(array)``,
#: one statement per child (:meth:`UnitOfWork.where_in`), whose array parameter costs little when short.
PG_UNION_FROM = 1000


def _child_rows(
    uow: UnitOfWork, declared: Mapping[str, ChildList], ids: Sequence[str]
) -> list[tuple[Sequence[Any], int, int]]:
    """Each declared child's rows of the parents in ``ids``: (rows, index of the parent in a row,
    index of the child's first field).

    On SQLite (on PostgreSQL from :data:`PG_UNION_FROM` parents) this is one statement for all of
    them: a ``UNION ALL`` of one branch per child, each row ``(branch, parent, fields...)``, the parents' ids sent once as a JSON array
    (see :func:`_union`). (The ids as PostgreSQL's ``ANY(array)``, once per child, spent 50 ms of a
    10,000-port list in psycopg's array dumper.)"""
    if not uow.db.is_sqlite and not (uow.db.is_postgresql and len(ids) >= PG_UNION_FROM):
        out: list[tuple[Sequence[Any], int, int]] = []
        for child in declared.values():
            rows: list[Any] = []
            for clause in uow.where_in(child.table.c[child.parent], ids):
                rows += fetch(uow, child.statement().where(clause))[1]
            out.append((rows, 0, 1))
        return out
    statement, slots = _union(uow, tuple(declared.values()))
    _, rows = fetch(uow, statement, {"parent_ids": orjson.dumps(list(ids)).decode()})
    per_branch: list[list[Any]] = [[] for _ in declared]
    for row in rows:
        per_branch[row[0]].append(row)
    return [(branch, 1, first) for branch, first in zip(per_branch, slots, strict=True)]


def expand(
    uow: UnitOfWork, records: list[dict[str, Any]], declared: Mapping[str, ChildList]
) -> list[dict[str, Any]]:
    """Add each declared child list (in the declaration's order, each in its wire order) to records
    that hold ``id``. The values go straight into the records' own lists: no list per parent and
    child kept aside, and no second pass to hand them over (~20 ms of a 10,000-port list)."""
    names = tuple(declared)
    holders: dict[str, dict[str, Any]] = {}
    for record in records:
        for name in names:
            record[name] = []
        holders[record["id"]] = record
    if not holders or not names:
        return records
    found = _child_rows(uow, declared, list(holders))
    for (name, child), (rows, parent, first) in zip(declared.items(), found, strict=True):
        if isinstance(child.fields, str):
            for row in rows:
                holders[row[parent]][name].append(row[first])
        else:
            keys = child.fields
            getter = operator.itemgetter(*range(first, first + len(keys)))
            pick = getter if len(keys) > 1 else lambda row, get=getter: (get(row),)
            for row in rows:
                holders[row[parent]][name].append(dict(zip(keys, pick(row), strict=True)))
        order = child.order
        for record in records:
            values = record[name]
            if len(values) > 1:
                values.sort(key=order)
    return records


def _fields(child: ChildList) -> tuple[str, ...]:
    return (child.fields,) if isinstance(child.fields, str) else child.fields


def _union(uow: UnitOfWork, declared: tuple[ChildList, ...]) -> tuple[sa.CompoundSelect, list[int]]:
    """The statement of :func:`_child_rows` (its parameter ``parent_ids``: a JSON array of ids), and
    the index of each child's first field in its rows.

    SQLite's values carry their own types: every branch puts its fields from index 2 on, padded
    with NULLs to the widest (the narrowest rows, the fewest values to make). PostgreSQL needs one
    type per column: each child has columns of its own, NULL (cast to the column's type) in the
    other branches, as PostgreSQL resolves a ``UNION``'s types pairwise and two untyped NULLs
    (text) would not match a later branch's integer."""
    postgresql = uow.db.is_postgresql
    key = (postgresql, declared)
    cached = _UNIONS.get(key)
    if cached is not None:
        return cached
    ids = sa.bindparam("parent_ids", type_=sa.String)
    if postgresql:
        from sqlalchemy.dialects.postgresql import JSON

        source = sa.func.json_array_elements_text(sa.cast(ids, JSON)).table_valued("value")
    else:
        source = sa.func.json_each(ids).table_valued("value")
    parents = sa.select(source.c.value).cte("parent_ids")
    if postgresql:
        fields = [child.table.c[name] for child in declared for name in _fields(child)]
    width = max(len(_fields(child)) for child in declared)
    branches = []
    slots = []
    start = 0
    for branch, child in enumerate(declared):
        own = [child.table.c[name] for name in _fields(child)]
        columns: list[Any] = [sa.literal_column(str(branch), sa.Integer), child.table.c[child.parent]]
        if postgresql:
            slots.append(2 + start)
            columns += [sa.cast(sa.null(), c.type) for c in fields[:start]]
            columns += own
            columns += [sa.cast(sa.null(), c.type) for c in fields[start + len(own) :]]
        else:
            slots.append(2)
            columns += own + [sa.null()] * (width - len(own))
        start += len(own)
        branches.append(
            sa.select(*columns).where(child.table.c[child.parent].in_(sa.select(parents.c.value)))
        )
    statement = sa.union_all(*branches)
    _UNIONS[key] = (statement, slots)
    return statement, slots


#: (PostgreSQL?, the children) -> their statement and slots: built (and compiled) once
_UNIONS: dict[tuple[bool, tuple[ChildList, ...]], tuple[sa.CompoundSelect, list[int]]] = {}
