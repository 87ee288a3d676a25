"""Repositories: collections of domain entities backed by one SQLAlchemy session.

They never commit; the unit of work does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import instance_state

from neutrino.engine.domain import model
from neutrino.engine.domain.search import Query, Selection

T = TypeVar("T")
P = TypeVar("P")


class Repository(Generic[T]):
    def __init__(self, session: Session, cls: type[T]) -> None:
        self.session = session
        self.cls = cls

    def add(self, entity: T) -> T:
        self.session.add(entity)
        return entity

    def get(self, id_: str) -> T | None:
        if _identity(self.cls, id_) in self.session.identity_map:
            return self.session.get(self.cls, id_)  # held: no statement, or the refresh an expired one needs
        return self.session.scalars(_by_id(self.cls, lock=False), {"pk": id_}).first()

    def get_with(self, id_: str, parent: type[P], key: str) -> tuple[T | None, P | None]:
        """The entity and the one its ``key`` column names (a cluster and its data center), one statement."""
        stmt = _WITH.get((self.cls, parent, key))
        if stmt is None:
            child_id, parent_id = getattr(self.cls, "id"), getattr(parent, "id")  # noqa: B009 - mapped columns
            stmt = sa.select(self.cls, parent).outerjoin(parent, parent_id == getattr(self.cls, key))
            stmt = _WITH.setdefault((self.cls, parent, key), stmt.where(child_id == sa.bindparam("pk")))
        row = self.session.execute(stmt, {"pk": id_}).first()
        return (row[0], row[1]) if row is not None else (None, None)

    def attach(self, entity: T) -> T | None:
        """An entity a committed unit of work of this process read or wrote, in this one without reading it
        again (``merge(load=False)``); None unless it is as that unit of work committed it (detached, no
        change pending, nothing expired: a rollback leaves it changed or expired). Only for rows no other
        writer changes meanwhile: what is attached is what this process last committed."""
        state = instance_state(entity)
        if not state.detached or state.modified or state.expired_attributes:
            return None
        return self.session.merge(entity, load=False)

    def held(self, entity: T | None, id_: str) -> T | None:
        """``entity`` (the row ``id_`` as this process last committed it, or None) attached, else read."""
        attached = self.attach(entity) if entity is not None else None
        return attached if attached is not None else self.get(id_)

    def lock(self, id_: str) -> T | None:
        """``get`` with the row locked until the unit of work ends (SELECT ... FOR UPDATE; SQLite's writer
        transaction already holds the database)."""
        return self.session.scalars(_by_id(self.cls, lock=True), {"pk": id_}).first()

    def delete(self, entity: T) -> None:
        self.session.delete(entity)

    def list(self, *, order_by: str = "name", **filters: Any) -> Sequence[T]:
        return self.session.scalars(_listing(self.cls, order_by, _shape(filters)), _params(filters)).all()

    def search(self, query: Query, **scope: Any) -> Sequence[T]:
        """The entities an oVirt search selects (``scope``: the rest of a ``Selection``), one statement."""
        return self.select(Selection(query, **scope))

    def select(self, selection: Selection) -> Sequence[T]:
        from neutrino.engine.store import search

        return self.session.scalars(search.statement(self.session, self.cls, selection)).all()

    def first(self, **filters: Any) -> T | None:
        found = self.list(**filters)
        return found[0] if found else None

    def count(self, **filters: Any) -> int:
        stmt = sa.select(sa.func.count()).select_from(self.cls)
        for key, value in filters.items():
            stmt = stmt.where(getattr(self.cls, key) == value)
        return int(self.session.scalar(stmt) or 0)

    def count_by(self, key: str, **filters: Any) -> dict[Any, int]:
        """How many entities there are per value of ``key`` (one GROUP BY statement; no entity is loaded)."""
        stmt = _listing(self.cls, "", _shape(filters), count_by=key)
        return {row[0]: int(row[1]) for row in self.session.execute(stmt, _params(filters))}

    def by_ids(self, ids: Iterable[str]) -> dict[str, T]:
        wanted = list({i for i in ids if i})
        if not wanted:
            return {}
        rows = self.session.scalars(_listing(self.cls, "", (("id", "many"),)), {"f_id": wanted}).all()
        return {r.id: r for r in rows}


Shape = tuple[tuple[str, str], ...]  # (column, "one" | "many" | "null") per filter
_LISTINGS: dict[tuple[type, str, Shape, str | None], sa.Select[Any]] = {}


def _shape(filters: dict[str, Any]) -> Shape:
    return tuple(
        (key, "null" if value is None else "many" if isinstance(value, list | tuple | set) else "one")
        for key, value in filters.items()
    )


def _params(filters: dict[str, Any]) -> dict[str, Any]:
    return {
        f"f_{key}": list(value) if isinstance(value, list | tuple | set) else value
        for key, value in filters.items()
        if value is not None
    }


def _listing(cls: type, order_by: str, shape: Shape, count_by: str | None = None) -> sa.Select[Any]:
    """The statement listing ``cls`` (or counting it per ``count_by``) by the filters of ``shape``, their
    values bound as ``f_<column>`` (``_params``), built once per shape: building a select (its columns
    annotated, each comparison coerced) cost about as much as running it."""
    key = (cls, order_by, shape, count_by)
    stmt = _LISTINGS.get(key)
    if stmt is None:
        if count_by is None:
            stmt = sa.select(cls)
        else:
            grouped = getattr(cls, count_by)
            stmt = sa.select(grouped, sa.func.count()).select_from(cls).group_by(grouped)
        for name, kind in shape:
            column, param = getattr(cls, name), f"f_{name}"
            if kind == "null":
                stmt = stmt.where(column.is_(None))
            elif kind == "many":
                stmt = stmt.where(column.in_(sa.bindparam(param, expanding=True)))
            else:
                stmt = stmt.where(column == sa.bindparam(param))
        if order_by and hasattr(cls, order_by):
            stmt = stmt.order_by(getattr(cls, order_by))
        stmt = _LISTINGS.setdefault(key, stmt)
    return stmt


_BY_ID: dict[tuple[type, bool], sa.Select[Any]] = {}
_WITH: dict[tuple[type, type, str], sa.Select[Any]] = {}
_PLACED: dict[type, sa.Select[Any]] = {}
_IDENTITY_CLASS: dict[type, type] = {}


def _identity(cls: type, id_: str) -> tuple[type, tuple[str], None]:
    """The session's identity-map key of the ``cls`` whose id is ``id_`` (its base mapper's class)."""
    base = _IDENTITY_CLASS.get(cls)
    if base is None:
        base = _IDENTITY_CLASS.setdefault(cls, sa.inspect(cls).base_mapper.class_)
    return (base, (id_,), None)


def _by_id(cls: type, lock: bool) -> sa.Select[Any]:
    """The statement reading one ``cls`` by its id (bound as ``pk``), built once; ``lock``: the row locked
    until the transaction ends and its attributes read afresh (``get(with_for_update, populate_existing)``)."""
    stmt = _BY_ID.get((cls, lock))
    if stmt is None:
        key: sa.ColumnElement[Any] = sa.inspect(cls).primary_key[0]
        stmt = sa.select(cls).where(key == sa.bindparam("pk"))
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        stmt = _BY_ID.setdefault((cls, lock), stmt)
    return stmt


def _nic_mac() -> sa.Column[str]:
    from neutrino.engine.store.tables import vm_nics

    return vm_nics.c.mac


@dataclass(frozen=True)
class Placed:
    """A VM with the host it is on and the cluster and data center its events name (None where it has none)."""

    vm: model.Vm
    host: model.Host | None
    cluster: model.Cluster | None
    data_center: model.DataCenter | None


class VmRepository(Repository[model.Vm]):
    def lock_placed(self, id_: str) -> Placed | None:
        """``lock`` with the VM's host, cluster and data center in the same statement (a stop, a hot plug and
        a run each read them with the claim)."""
        from neutrino.engine.store import tables

        stmt = _PLACED.get(self.cls)
        if stmt is None:
            vms, hosts, clusters = tables.vms, tables.hosts, tables.clusters
            stmt = (
                sa.select(model.Vm, model.Host, model.Cluster, model.DataCenter)
                .outerjoin(model.Host, hosts.c.id == vms.c.host_id)
                .outerjoin(model.Cluster, clusters.c.id == vms.c.cluster_id)
                .outerjoin(model.DataCenter, tables.data_centers.c.id == clusters.c.data_center_id)
                .where(vms.c.id == sa.bindparam("pk"))
                .with_for_update(of=vms)  # PostgreSQL locks no row on the nullable side of an outer join
                .execution_options(populate_existing=True)
            )
            stmt = _PLACED.setdefault(self.cls, stmt)
        row = self.session.execute(stmt, {"pk": id_}).first()
        return Placed(row[0], row[1], row[2], row[3]) if row is not None else None


class NicRepository(Repository[model.VmNic]):
    def highest_mac(self, low: str, high: str) -> str | None:
        col = _nic_mac()
        return self.session.scalar(sa.select(sa.func.max(col)).where(col >= low, col <= high))

    def macs_between(self, low: str, high: str) -> list[str]:
        col = _nic_mac()
        return list(self.session.scalars(sa.select(col).where(col >= low, col <= high)))

    def with_ports(self) -> Sequence[model.VmNic]:
        """The NICs that hold a provider port."""
        from neutrino.engine.store.tables import vm_nics

        return self.session.scalars(sa.select(self.cls).where(vm_nics.c.port_id.is_not(None))).all()

    def of_vms(self, selection: Selection) -> Sequence[model.VmNic]:
        """The NICs of the VMs a selection lists, by name: one statement whatever the number of VMs."""
        from neutrino.engine.store import search
        from neutrino.engine.store.tables import vm_nics

        vm_ids = search.ids_of(self.session, model.Vm, selection)
        stmt = sa.select(self.cls).where(vm_nics.c.vm_id.in_(vm_ids)).order_by(vm_nics.c.name, vm_nics.c.id)
        return self.session.scalars(stmt).all()

    def using_profiles(self, profile_ids: Iterable[str]) -> Sequence[model.VmNic]:
        return self.list(vnic_profile_id=list(profile_ids))


class SessionRepository(Repository[model.Session]):
    def for_token(self, token: str) -> model.Session | None:
        """The session of a bearer token, found by the token's hash (the only form stored)."""
        return self.get(token_hash(token))

    def delete_created_before(self, cutoff: datetime) -> None:
        """Remove, in one statement, every SSO session created before ``cutoff`` (the expired ones)."""
        from neutrino.engine.store.tables import sessions

        self.session.execute(sa.delete(sessions).where(sessions.c.created_at < cutoff))


def token_hash(token: str) -> str:
    """What ``sessions.token_hash`` holds for ``token``: its SHA-256, hex (a token is random and long, so
    a plain hash cannot be reversed; no salt or slow hash is needed, unlike passwords)."""
    return hashlib.sha256(token.encode()).hexdigest()


class EventRepository(Repository[model.Event]):
    """The audit log. ``record`` keeps an event's row until the unit of work writes it, with any other event of
    the transaction, in one INSERT (``write_recorded``: at its flush or commit, and before any read of this
    repository, so the transaction reads what it recorded): an event is only ever inserted, and as an ORM
    entity each cost its construction, identity and a flush of its own, about a tenth of a stop."""

    def __init__(self, session: Session, cls: type[model.Event]) -> None:
        self._recorded: list[dict[str, Any]] = []
        super().__init__(session, cls)

    @property
    def session(self) -> Session:
        """The unit of work's session, the events recorded so far written first: whatever this repository
        reads (or deletes), it sees them."""
        self.write_recorded()
        return self._session

    @session.setter
    def session(self, session: Session) -> None:
        self._session = session

    def record(self, **row: Any) -> None:
        """An event of this transaction: ``row``, the ``events`` columns it sets (the others are null)."""
        self._recorded.append(row)

    def write_recorded(self) -> None:
        from neutrino.engine.store.tables import events

        if self._recorded:
            rows, self._recorded = self._recorded, []
            self._session.execute(sa.insert(events), [{**_EVENT_NULLS, **row} for row in rows])

    def last_time(self, code: int, host_id: str) -> datetime | None:
        """When the host's latest event of type ``code`` happened (None: never, or no longer kept)."""
        from neutrino.engine.store.tables import events

        stmt = sa.select(sa.func.max(events.c.time)).where(events.c.code == code, events.c.host_id == host_id)
        return self.session.scalar(stmt)

    def delete_before(self, cutoff: datetime) -> int:
        """Remove, in one statement, every event older than ``cutoff``; how many went."""
        from neutrino.engine.store.tables import events

        result = self.session.execute(sa.delete(events).where(events.c.time < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)


#: every column an event may leave unset, null (one INSERT takes rows of one shape)
_EVENT_NULLS = {
    f"{entity}_{part}": None
    for entity in ("user", "data_center", "cluster", "host", "vm", "template", "provider")
    for part in ("id", "name")
}


class SettingsRepository:
    """Engine-wide settings chosen once (e.g. the MAC pool range)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, key: str) -> str | None:
        from neutrino.engine.store.tables import settings

        return self.session.scalar(sa.select(settings.c.value).where(settings.c.key == key))

    def lock(self, key: str) -> None:
        """Hold the setting's row until the transaction ends, serialising what it guards (e.g. MAC allocation).

        PostgreSQL: ``SELECT ... FOR UPDATE``. SQLite needs nothing: a writer's transaction is already exclusive.
        """
        from neutrino.engine.store.tables import settings

        self.session.execute(sa.select(settings.c.key).where(settings.c.key == key).with_for_update())

    def put(self, key: str, value: str) -> None:
        from neutrino.engine.store.tables import settings

        if self.get(key) is None:
            self.session.execute(sa.insert(settings).values(key=key, value=value))
        else:
            self.session.execute(sa.update(settings).where(settings.c.key == key).values(value=value))
