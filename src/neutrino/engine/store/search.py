"""oVirt searches (``domain.search``) compiled to one SQL statement per search.

Each searchable entity is declared once (``ENTITIES``), as ovirt-engine's ``*ConditionFieldAutoCompleter``
and ``*CrossRefAutoCompleter`` classes declare theirs: its fields (oVirt's names: ``name``, ``cluster``,
``datacenter``, ``status``, ``memory``, ``severity``, ``type``...), each a column of its table or of a table
reached through named relations (joined once per search, LEFT OUTER as oVirt joins), and the objects a term
may cross-reference (``Clusters.name=x`` on data centers, ``vm.name=x`` on templates, ``host.name=x`` on
events). Neutrino keeps a few fields oVirt lacks that its API always took (a cluster's ``datacenter``, a
network's ``cluster``).

How a term compiles, by the field's kind (as ovirt-engine's ``SyntaxChecker`` does):

- text: ``=``/``!=`` only; ``*`` matches anything (``LIKE`` with ``%`` and ``_`` escaped, or SQLite's ``GLOB``
  for a case-sensitive pattern, its ``LIKE`` being case-blind); ``null`` or an empty value is IS NULL;
  ``!=`` also matches NULL; case-insensitive searches compare ``lower()`` of both sides;
- numbers and dates: every operator (a date ``=`` is that whole day); enums: ``=``/``!=`` against their values
  (an ordered enum such as an event's severity takes ``<``... too); booleans: ``true``/``false``;
- free text (a bare word): any text field of the entity (or of the object named) contains it.

A search that reaches a to-many relation (a data center's clusters) filters with ``id IN (subquery)`` so an
entity is listed once; otherwise the conditions stay in the one statement. Sorting (``sortby``) takes a field
of the entity itself; the entity's default order always follows, and the id last, so pages are stable.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from neutrino.engine.domain import model
from neutrino.engine.domain.errors import BadRequest
from neutrino.engine.domain.search import AllOf, AnyOf, Condition, Op, Selection, Term
from neutrino.engine.store import tables as t

Expr = ColumnElement[Any]
Bool = ColumnElement[bool]


class Kind(enum.Enum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    ENUM = "enum"
    BOOL = "boolean"


@dataclass(frozen=True)
class Field:
    kind: Kind
    column: str = ""  # a column of the table at the end of ``via`` (or ``expr``)
    via: tuple[str, ...] = ()  # relations from the entity to the table holding the value
    expr: Callable[[FromClause], Expr] | None = None  # a computed value, instead of ``column``
    values: tuple[str, ...] = ()  # ENUM: its values, in order
    ordered: bool = False  # ENUM: compares with < > <= >= in that order
    scale: int = 1  # NUMBER: stored value = searched value * scale (memory: bytes, searched in MB)
    # a template without a cluster (Blank) is in every data center: matches when any data center does
    everywhere_when: Callable[[FromClause], Bool] | None = None


@dataclass(frozen=True)
class Relation:
    target: str  # an ENTITIES key
    on: Callable[[FromClause, FromClause], Bool]  # (source, target) -> join condition
    many: bool = False


@dataclass(frozen=True)
class Entity:
    name: str
    table: sa.Table
    fields: Mapping[str, Field]
    relations: Mapping[str, Relation] = field(default_factory=dict)
    objects: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # cross-reference -> relation path
    order: tuple[tuple[str, bool], ...] = (("name", False),)  # the default sort: (field, descending)
    sort_only: Mapping[str, Callable[[FromClause], Expr]] = field(default_factory=dict)


def _text(column: str, *via: str) -> Field:
    return Field(Kind.TEXT, column, via)


def _enum(cls: type[enum.Enum], column: str, *, ordered: bool = False) -> Field:
    return Field(Kind.ENUM, column, values=tuple(str(m.value) for m in cls), ordered=ordered)


def _version(table: FromClause) -> Expr:
    return sa.cast(table.c.version_major, sa.String) + "." + sa.cast(table.c.version_minor, sa.String)


def _named(*, extra: Mapping[str, Field] = {}) -> dict[str, Field]:
    return {"name": _text("name"), "description": _text("description"), "comment": _text("comment"), **extra}


MB = 1024 * 1024

# fmt: off
ENTITIES: dict[str, Entity] = {
    "datacenter": Entity(
        "datacenter", t.data_centers,
        _named(extra={
            "local": Field(Kind.BOOL, "local"),
            "status": _enum(model.DataCenterStatus, "status"),
            "compatibility_version": Field(Kind.TEXT, expr=_version),
            "id": _text("id"),
        }),
        relations={
            "clusters": Relation("cluster", lambda s, d: d.c.data_center_id == s.c.id, many=True),
            "networks": Relation("network", lambda s, d: d.c.data_center_id == s.c.id, many=True),
        },
        objects={"clusters": ("clusters",), "cluster": ("clusters",), "networks": ("networks",),
                 "network": ("networks",)},
    ),
    "cluster": Entity(
        "cluster", t.clusters,
        _named(extra={
            "architecture": _enum(model.Architecture, "cpu_architecture"),
            "compatibility_level": Field(Kind.TEXT, expr=_version),
            "compatibility_version": Field(Kind.TEXT, expr=_version),
            "cpu_type": _text("cpu_type"),
            "datacenter": _text("name", "datacenter"),
            "id": _text("id"),
        }),
        relations={
            "datacenter": Relation("datacenter", lambda s, d: d.c.id == s.c.data_center_id),
            "attachments": Relation("cluster_network", lambda s, d: d.c.cluster_id == s.c.id, many=True),
            "hosts": Relation("host", lambda s, d: d.c.cluster_id == s.c.id, many=True),
            "vms": Relation("vm", lambda s, d: d.c.cluster_id == s.c.id, many=True),
        },
        objects={"datacenter": ("datacenter",), "datacenters": ("datacenter",),
                 "cluster_network": ("attachments",), "network": ("attachments", "network"),
                 "networks": ("attachments", "network"), "host": ("hosts",), "hosts": ("hosts",),
                 "vm": ("vms",), "vms": ("vms",)},
    ),
    "cluster_network": Entity(
        "cluster_network", t.network_attachments,
        {"network_name": _text("name", "network"), "cluster_name": _text("name", "cluster"),
         "required": Field(Kind.BOOL, "required"), "display": Field(Kind.BOOL, "display")},
        relations={
            "network": Relation("network", lambda s, d: d.c.id == s.c.network_id),
            "cluster": Relation("cluster", lambda s, d: d.c.id == s.c.cluster_id),
        },
        order=(("network_name", False),),
    ),
    "host": Entity(
        "host", t.hosts,
        _named(extra={
            "status": _enum(model.HostStatus, "status"),
            "cluster": _text("name", "cluster"),
            "datacenter": _text("name", "cluster", "datacenter"),
            "address": _text("address"),
            "port": Field(Kind.NUMBER, "port"),
            "id": _text("id"),
        }),
        relations={
            "cluster": Relation("cluster", lambda s, d: d.c.id == s.c.cluster_id),
            "vms": Relation("vm", lambda s, d: d.c.host_id == s.c.id, many=True),
            "events": Relation("event", lambda s, d: d.c.host_id == s.c.id, many=True),
        },
        objects={"cluster": ("cluster",), "clusters": ("cluster",), "vm": ("vms",), "vms": ("vms",),
                 "template": ("vms", "template"), "templates": ("vms", "template"),
                 "event": ("events",), "events": ("events",)},
    ),
    "vm": Entity(
        "vm", t.vms,
        _named(extra={
            "status": _enum(model.VmStatus, "status"),
            "cluster": _text("name", "cluster"),
            "datacenter": _text("name", "cluster", "datacenter"),
            "host": _text("name", "host"),
            "template": _text("name", "template"),
            "memory": Field(Kind.NUMBER, "memory", scale=MB),
            "creationdate": Field(Kind.DATE, "creation_time"),
            "id": _text("id"),
        }),
        relations={
            "cluster": Relation("cluster", lambda s, d: d.c.id == s.c.cluster_id),
            "host": Relation("host", lambda s, d: d.c.id == s.c.host_id),
            "template": Relation("template", lambda s, d: d.c.id == s.c.template_id),
            "nics": Relation("vnic", lambda s, d: d.c.vm_id == s.c.id, many=True),
            "events": Relation("event", lambda s, d: d.c.vm_id == s.c.id, many=True),
        },
        objects={"host": ("host",), "hosts": ("host",), "template": ("template",), "templates": ("template",),
                 "vnic": ("nics",), "cluster": ("cluster",), "clusters": ("cluster",),
                 "datacenter": ("cluster", "datacenter"), "datacenters": ("cluster", "datacenter"),
                 "event": ("events",), "events": ("events",)},
    ),
    "vnic": Entity(
        "vnic", t.vm_nics,
        {"name": _text("name"), "mac": _text("mac"), "network_name": _text("name", "profile", "network"),
         "vnic_profile": _text("name", "profile"), "id": _text("id")},
        relations={"profile": Relation("vnicprofile", lambda s, d: d.c.id == s.c.vnic_profile_id)},
    ),
    "template": Entity(
        "template", t.templates,
        _named(extra={
            "mem": Field(Kind.NUMBER, "memory", scale=MB),
            "memory": Field(Kind.NUMBER, "memory", scale=MB),
            "status": Field(Kind.ENUM, expr=lambda _t: sa.literal("ok"), values=("ok", "locked", "illegal")),
            "cluster": _text("name", "cluster"),
            "datacenter": Field(Kind.TEXT, "name", ("cluster", "datacenter"),
                                everywhere_when=lambda tb: tb.c.cluster_id.is_(None)),
            "_vmt_id": _text("id"),
            "id": _text("id"),
            "version_name": Field(Kind.TEXT, expr=lambda _t: sa.literal("base version")),
        }),
        relations={
            "cluster": Relation("cluster", lambda s, d: d.c.id == s.c.cluster_id),
            "vms": Relation("vm", lambda s, d: d.c.template_id == s.c.id, many=True),
            "events": Relation("event", lambda s, d: d.c.template_id == s.c.id, many=True),
        },
        objects={"vm": ("vms",), "vms": ("vms",), "host": ("vms", "host"), "hosts": ("vms", "host"),
                 "event": ("events",), "events": ("events",)},
        # every template is its base version (number 1): sorting by version leaves the name order
        sort_only={"version.version_number": lambda _t: sa.literal(1), "version_number": lambda _t: sa.literal(1),
                   "version.version_name": lambda _t: sa.literal("base version")},
    ),
    "network": Entity(
        "network", t.networks,
        _named(extra={
            "vlanid": Field(Kind.NUMBER, "vlan_id"),
            "stp": Field(Kind.BOOL, "stp"),
            "mtu": Field(Kind.NUMBER, "mtu"),
            "vmnetwork": Field(Kind.BOOL, expr=lambda tb: sa.cast(tb.c.usages, sa.Text).like('%"vm"%')),
            "datacenter": _text("name", "datacenter"),
            "provider_name": _text("name", "provider"),
            "provider": _text("name", "provider"),
            "cluster": _text("name", "attachments", "cluster"),
            "id": _text("id"),
        }),
        relations={
            "datacenter": Relation("datacenter", lambda s, d: d.c.id == s.c.data_center_id),
            "provider": Relation("provider", lambda s, d: d.c.id == s.c.provider_id),
            "attachments": Relation("cluster_network", lambda s, d: d.c.network_id == s.c.id, many=True),
            "profiles": Relation("vnicprofile", lambda s, d: d.c.network_id == s.c.id, many=True),
        },
        objects={"cluster_network": ("attachments",), "cluster": ("attachments", "cluster"),
                 "clusters": ("attachments", "cluster"), "provider": ("provider",),
                 "providers": ("provider",), "external_provider": ("provider",),
                 "datacenter": ("datacenter",), "datacenters": ("datacenter",),
                 "vnicprofile": ("profiles",), "vnicprofiles": ("profiles",)},
        order=(("datacenter", False), ("name", False)),  # oVirt: storage_pool_name, name
    ),
    "vnicprofile": Entity(
        "vnicprofile", t.vnic_profiles,
        _named(extra={
            "port_mirroring": Field(Kind.BOOL, "port_mirroring"),
            "passthrough": Field(Kind.BOOL, "pass_through"),
            "network_name": _text("name", "network"),
            "datacenter": _text("name", "network", "datacenter"),
            "id": _text("id"),
        }),
        relations={"network": Relation("network", lambda s, d: d.c.id == s.c.network_id)},
        objects={"network": ("network",), "networks": ("network",)},
    ),
    "provider": Entity(
        "provider", t.providers,
        _named(extra={"type": _enum(model.ProviderType, "type"), "url": _text("url"), "id": _text("id")}),
        relations={"networks": Relation("network", lambda s, d: d.c.provider_id == s.c.id, many=True)},
        objects={"network": ("networks",), "networks": ("networks",)},
    ),
    "user": Entity(
        "user", t.users,
        {"name": _text("name"), "usrname": _text("name"), "directory": _text("domain"), "id": _text("id")},
    ),
    "event": Entity(
        "event", t.events,
        {
            "type": Field(Kind.NUMBER, "code"),
            "severity": _enum(model.EventSeverity, "severity", ordered=True),
            "message": _text("description"),
            "description": _text("description"),
            "time": Field(Kind.DATE, "time"),
            "usrname": _text("user_name"),
            "usrid": _text("user_id"),
            "event_host": _text("host_name"),
            "_event_host_id": _text("host_id"),
            "event_vm": _text("vm_name"),
            "_event_vm_id": _text("vm_id"),
            "event_template": _text("template_name"),
            "_event_template_id": _text("template_id"),
            "event_datacenter": _text("data_center_name"),
            "_event_datacenter_id": _text("data_center_id"),
            "event_cluster": _text("cluster_name"),
            "event_provider": _text("provider_name"),
            "index": Field(Kind.NUMBER, "id"),
        },
        relations={
            "vm": Relation("vm", lambda s, d: d.c.id == s.c.vm_id),
            "host": Relation("host", lambda s, d: d.c.id == s.c.host_id),
            "template": Relation("template", lambda s, d: d.c.id == s.c.template_id),
            "cluster": Relation("cluster", lambda s, d: d.c.id == s.c.cluster_id),
            "datacenter": Relation("datacenter", lambda s, d: d.c.id == s.c.data_center_id),
            "user": Relation("user", lambda s, d: d.c.id == s.c.user_id),
            "provider": Relation("provider", lambda s, d: d.c.id == s.c.provider_id),
        },
        objects={"vm": ("vm",), "vms": ("vm",), "host": ("host",), "hosts": ("host",),
                 "template": ("template",), "templates": ("template",), "cluster": ("cluster",),
                 "clusters": ("cluster",), "datacenter": ("datacenter",), "user": ("user",),
                 "users": ("user",), "provider": ("provider",)},
        order=(("index", True),),  # newest first, as oVirt (audit_log_id DESC)
    ),
}
# fmt: on

# the domain class each repository holds -> what it is searched as
SEARCHED_AS: dict[type, str] = {
    model.DataCenter: "datacenter",
    model.Cluster: "cluster",
    model.Host: "host",
    model.Vm: "vm",
    model.VmNic: "vnic",
    model.Template: "template",
    model.Network: "network",
    model.VnicProfile: "vnicprofile",
    model.ExternalProvider: "provider",
    model.User: "user",
    model.Event: "event",
}


def statement(session: Session, cls: type, selection: Selection) -> sa.Select[Any]:
    """The one statement selecting the entities of ``cls`` a search and its scope want, in order."""
    entity = ENTITIES[SEARCHED_AS[cls]]
    dialect = session.get_bind().dialect.name
    root = entity.table
    query = selection.query
    scope: list[Bool] = [_equals(root.c[key], value) for key, value in selection.filters.items()]
    if selection.after_id is not None:
        scope.append(root.c.id > selection.after_id)
    where = _Compiler(entity, dialect, selection.case_sensitive)
    condition = where.condition(query.where) if query.where is not None else None
    if condition is not None and where.many:
        # a to-many relation may list an entity twice: filter by id, then select each entity once
        matching = sa.select(root.c.id).select_from(where.from_clause()).where(condition)
        sorter = _Compiler(entity, dialect, selection.case_sensitive)
        scope.append(root.c.id.in_(matching))
    else:
        sorter = where
        if condition is not None:
            scope.append(condition)
    order = sorter.order(query.sort.field if query.sort else None, bool(query.sort and query.sort.descending))
    stmt: sa.Select[Any] = sa.select(cls).select_from(sorter.from_clause()).where(*scope).order_by(*order)
    if selection.size is not None:
        stmt = stmt.limit(selection.size).offset((selection.page - 1) * selection.size)
    return stmt


def ids_of(session: Session, cls: type, selection: Selection) -> sa.Select[Any]:
    """The ids a selection lists, as a subquery (``IN (...)``): related rows in one statement, however many."""
    stmt = statement(session, cls, selection).with_only_columns(ENTITIES[SEARCHED_AS[cls]].table.c.id)
    return stmt if selection.size is not None else stmt.order_by(None)


def _equals(column: Expr, value: Any) -> Bool:
    return column.in_(list(value)) if isinstance(value, list | tuple | set | frozenset) else column == value


def _error(detail: str) -> BadRequest:
    return BadRequest(f"Invalid value for 'search': {detail}")


class _Compiler:
    """Compiles conditions and sort keys of one search, joining each relation path once."""

    def __init__(self, entity: Entity, dialect: str, case_sensitive: bool) -> None:
        self.entity, self.dialect, self.case_sensitive = entity, dialect, case_sensitive
        self.joined: dict[tuple[str, ...], tuple[FromClause, Entity]] = {}
        self.joins: list[tuple[FromClause, Bool]] = []
        self.many = False

    # --- joins -----------------------------------------------------------------------------------

    def at(self, path: tuple[str, ...]) -> tuple[FromClause, Entity]:
        """The (aliased) table at the end of a relation path from the searched entity, joined once."""
        table: FromClause = self.entity.table
        entity = self.entity
        for i, name in enumerate(path):
            key = path[: i + 1]
            if key not in self.joined:
                relation = entity.relations[name]
                target = ENTITIES[relation.target]
                alias = target.table.alias(f"s{len(self.joined)}_{target.table.name}")
                self.joins.append((alias, relation.on(table, alias)))
                self.joined[key] = (alias, target)
                self.many = self.many or relation.many
            table, entity = self.joined[key]
        return table, entity

    def from_clause(self) -> FromClause:
        joined: FromClause = self.entity.table
        for alias, on in self.joins:
            joined = joined.outerjoin(alias, on)
        return joined

    @staticmethod
    def reaches_many(entity: Entity, path: tuple[str, ...]) -> bool:
        for name in path:
            relation = entity.relations[name]
            if relation.many:
                return True
            entity = ENTITIES[relation.target]
        return False

    # --- conditions --------------------------------------------------------------------------------

    def condition(self, node: Condition) -> Bool:
        if isinstance(node, AllOf):
            return sa.and_(*(self.condition(p) for p in node.parts))
        if isinstance(node, AnyOf):
            return sa.or_(*(self.condition(p) for p in node.parts))
        return self.term(node)

    def term(self, term: Term) -> Bool:
        path: tuple[str, ...] = ()
        entity = self.entity
        field_name = term.field
        if term.obj is not None:
            path = self._object(term.obj, term)
            entity = self._entity_at(path)
        elif field_name and field_name not in entity.fields and field_name in entity.objects:
            # `Vms=web`: free text on a cross-referenced object
            path, field_name = self._object(field_name, term), ""
            entity = self._entity_at(path)
        if not field_name:
            return self._free_text(path, entity, term)
        found = entity.fields.get(field_name)
        if found is None:
            raise _error(f"unknown field '{term.label}' ({self._known(entity, path)}).")
        return self._match(path, found, term)

    def _object(self, name: str, term: Term) -> tuple[str, ...]:
        path = self.entity.objects.get(name)
        if path is None:
            known = ", ".join(sorted(self.entity.objects)) or "none"
            raise _error(
                f"unknown field '{term.label}': '{name}' is not an object {self.entity.name}s can be searched "
                f"by (known: {known})."
            )
        return path

    def _entity_at(self, path: tuple[str, ...]) -> Entity:
        entity = self.entity
        for name in path:
            entity = ENTITIES[entity.relations[name].target]
        return entity

    def _known(self, entity: Entity, path: tuple[str, ...]) -> str:
        fields = ", ".join(sorted(f for f in entity.fields if f[0] != "_"))
        if path:
            return f"known for {entity.name}: {fields}"
        objects = ", ".join(sorted(entity.objects))
        return (
            f"known: {fields}; or object.field, the objects being {objects}"
            if objects
            else f"known: {fields}"
        )

    def _value(self, path: tuple[str, ...], found: Field) -> tuple[FromClause, Expr]:
        table, _ = self.at(path + found.via)
        return table, (found.expr(table) if found.expr is not None else table.c[found.column])

    def _match(self, path: tuple[str, ...], found: Field, term: Term) -> Bool:
        _, value = self._value(path, found)
        condition = _MATCHERS[found.kind](self, value, found, term)
        if found.everywhere_when is not None:
            owner, _ = self.at(path)
            condition = sa.or_(condition, sa.and_(found.everywhere_when(owner), self._anywhere(found, term)))
        return condition

    def _anywhere(self, found: Field, term: Term) -> Bool:
        """Whether any row of the table the field's value lives in matches (e.g. any data center's name)."""
        entity = self._entity_at(found.via)
        free = entity.table.alias(f"any_{entity.table.name}")
        condition = _MATCHERS[found.kind](self, free.c[found.column], found, term)
        return sa.exists(sa.select(free.c.id).where(condition))

    def _free_text(self, path: tuple[str, ...], entity: Entity, term: Term) -> Bool:
        if term.op not in (Op.EQ, Op.NE):
            raise _error(f"free text '{term.value}' takes no operator.")
        texts = [
            f
            for f in entity.fields.values()
            if f.kind is Kind.TEXT and f.expr is None and not self.reaches_many(entity, f.via)
        ]
        seen: set[tuple[tuple[str, ...], str]] = set()
        parts = []
        for found in texts:
            if (found.via, found.column) in seen:
                continue
            seen.add((found.via, found.column))
            _, value = self._value(path, found)
            parts.append(self._like(value, f"*{term.value}*"))
        condition = sa.or_(*parts)
        return condition if term.op is Op.EQ else sa.not_(condition)

    # --- one kind each ------------------------------------------------------------------------------

    def _text(self, value: Expr, found: Field, term: Term) -> Bool:
        _only(term, (Op.EQ, Op.NE), "text")
        if term.value == "" or term.value.lower() == "null":
            empty = sa.or_(value.is_(None), value == "")
            return empty if term.op is Op.EQ else sa.not_(empty)
        matched = self._like(value, term.value)
        return matched if term.op is Op.EQ else sa.or_(value.is_(None), sa.not_(matched))

    def _like(self, value: Expr, pattern: str) -> Bool:
        if not self.case_sensitive:
            if "*" not in pattern:
                return sa.func.lower(value) == sa.func.lower(sa.literal(pattern))
            return sa.func.lower(value).like(sa.func.lower(sa.literal(_like_pattern(pattern))), escape="\\")
        if "*" not in pattern:
            return value == pattern
        if self.dialect == "sqlite":  # SQLite's LIKE ignores case: GLOB does not
            return value.op("GLOB")(_glob_pattern(pattern))
        return value.like(_like_pattern(pattern), escape="\\")

    def _number(self, value: Expr, found: Field, term: Term) -> Bool:
        if term.value.lower() == "null":
            _only(term, (Op.EQ, Op.NE), "null")
            return value.is_(None) if term.op is Op.EQ else value.is_not(None)
        try:
            number = float(term.value)
        except ValueError:
            raise _error(f"'{term.value}' is not a number ({term.label}).") from None
        target = int(number * found.scale) if (number * found.scale).is_integer() else number * found.scale
        return _compare(value, term.op, target)

    def _date(self, value: Expr, found: Field, term: Term) -> Bool:
        start, whole_day = _parse_date(term)
        if whole_day and term.op in (Op.EQ, Op.NE):
            within = sa.and_(value >= start, value < start + timedelta(days=1))
            return within if term.op is Op.EQ else sa.or_(value.is_(None), sa.not_(within))
        if whole_day and term.op in (Op.GT, Op.LE):
            start += timedelta(days=1)  # after that day / up to its end
            return value >= start if term.op is Op.GT else value < start
        return _compare(value, term.op, start)

    def _enum(self, value: Expr, found: Field, term: Term) -> Bool:
        chosen = _enum_values(found, term)
        if term.op in (Op.EQ, Op.NE):
            matched = value.in_(chosen)
            return matched if term.op is Op.EQ else sa.or_(value.is_(None), sa.not_(matched))
        if not found.ordered or len(chosen) != 1:
            raise _error(f"'{term.label}' takes = or != (not {term.op.value}).")
        i = found.values.index(chosen[0])
        keep = {
            Op.LT: found.values[:i],
            Op.LE: found.values[: i + 1],
            Op.GT: found.values[i + 1 :],
            Op.GE: found.values[i:],
        }[term.op]
        return value.in_(keep) if keep else sa.false()

    def _bool(self, value: Expr, found: Field, term: Term) -> Bool:
        _only(term, (Op.EQ, Op.NE), "boolean")
        text = term.value.lower()
        if text not in ("true", "false"):
            raise _error(f"'{term.value}' is not a boolean ({term.label}: true or false).")
        wanted = (text == "true") == (term.op is Op.EQ)
        return value.is_(sa.true()) if wanted else sa.or_(value.is_(None), value.is_(sa.false()))

    # --- sorting ---------------------------------------------------------------------------------

    def order(self, field_name: str | None, descending: bool) -> list[Expr]:
        keys: list[tuple[Expr, bool]] = []
        if field_name is not None:
            keys.append((self._sort_value(field_name), descending))
        for name, desc in self.entity.order:
            if name != field_name:
                keys.append((self._sort_value(name), desc))
        root_id = self.entity.table.c.id
        if not any(value is root_id for value, _ in keys):  # the id last: a stable order, pages that hold
            keys.append((root_id, self.entity.order[0][1]))
        return [_direction(value, desc, self.entity.table) for value, desc in keys]

    def _sort_value(self, name: str) -> Expr:
        extra = self.entity.sort_only.get(name)
        if extra is not None:
            value = extra(self.entity.table)
        else:
            found = self.entity.fields.get(name)
            if found is None or self.reaches_many(self.entity, found.via):
                sortable = sorted(
                    [f for f, d in self.entity.fields.items() if not self.reaches_many(self.entity, d.via)]
                    + list(self.entity.sort_only)
                )
                raise _error(
                    f"cannot sort by '{name}' (sortable: {', '.join(s for s in sortable if s[0] != '_')})."
                )
            _, value = self._value((), found)
        return value


_MATCHERS: dict[Kind, Callable[[_Compiler, Expr, Field, Term], Bool]] = {
    Kind.TEXT: _Compiler._text,
    Kind.NUMBER: _Compiler._number,
    Kind.DATE: _Compiler._date,
    Kind.ENUM: _Compiler._enum,
    Kind.BOOL: _Compiler._bool,
}


def _direction(value: Expr, descending: bool, root: sa.Table) -> Expr:
    """oVirt's order: ASC NULLS FIRST, DESC NULLS LAST; said only for what may be NULL (a joined table's column
    may be), so that an index on the entity's NOT NULL column (a name, the events' id) still serves the order
    (PostgreSQL's DESC puts NULLs first: with NULLS LAST it would sort every event to return the last 100)."""
    if isinstance(value, sa.Column) and value.table is root and not value.nullable:
        return value.desc() if descending else value.asc()
    return value.desc().nulls_last() if descending else value.asc().nulls_first()


def _only(term: Term, ops: tuple[Op, ...], what: str) -> None:
    if term.op not in ops:
        allowed = " or ".join(o.value for o in ops)
        raise _error(f"'{term.label}' is {what}: it takes {allowed} (not {term.op.value}).")


def _compare(value: Expr, op: Op, target: Any) -> Bool:
    if op is Op.NE:
        return sa.or_(value.is_(None), value != target)
    return {
        Op.EQ: value == target,
        Op.LT: value < target,
        Op.GT: value > target,
        Op.LE: value <= target,
        Op.GE: value >= target,
    }[op]


def _like_pattern(pattern: str) -> str:
    """``a*b_c`` -> ``a%b\\_c``: only ``*`` is a wildcard."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def _glob_pattern(pattern: str) -> str:
    """``a*b?`` -> ``a*b[?]``: only ``*`` is a wildcard (``?`` and ``[`` match themselves)."""
    return "".join("[" + c + "]" if c in "?[" else c for c in pattern)


def _enum_values(found: Field, term: Term) -> list[str]:
    """The enum values a term names: its value (case, ``_`` and spaces aside), or those a ``*`` pattern matches."""

    def norm(text: str) -> str:
        return text.lower().replace("_", "").replace(" ", "")

    wanted = norm(term.value)
    if "*" in wanted:
        head, *middle, tail = wanted.split("*")
        chosen = [v for v in found.values if _wildcard_fits(norm(v), head, middle, tail)]
    else:
        chosen = [v for v in found.values if norm(v) == wanted]
    if not chosen:
        raise _error(f"'{term.value}' is not a value of '{term.label}' (one of: {', '.join(found.values)}).")
    return chosen


def _wildcard_fits(text: str, head: str, middle: list[str], tail: str) -> bool:
    if not text.startswith(head) or not text.endswith(tail) or len(text) < len(head) + len(tail):
        return False
    pos, end = len(head), len(text) - len(tail)
    for part in middle:
        found = text.find(part, pos, end)
        if found < 0:
            return False
        pos = found + len(part)
    return True


def _parse_date(term: Term) -> tuple[datetime, bool]:
    """(the moment, whether it names a whole day): ISO dates and times, ``today``, ``yesterday``."""
    text = term.value.strip().lower()
    today = datetime.combine(datetime.now(UTC).date(), time(), tzinfo=UTC)
    if text in ("today", "yesterday"):
        return today - timedelta(days=1 if text == "yesterday" else 0), True
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC), True
        moment = datetime.fromisoformat(term.value.strip())
    except ValueError:
        raise _error(
            f"'{term.value}' is not a date ({term.label}: e.g. 2024-05-31 or 2024-05-31T12:00)."
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)), False
