"""Repositories: collections of domain entities backed by one SQLAlchemy session.

They never commit; the unit of work does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
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
        return self.session.get(self.cls, id_)

    def get_with(self, id_: str, parent: type[P], key: str) -> tuple[T | None, P | None]:
        """The entity and the one its ``key`` column names (a cluster and its data center), one statement."""
        child_id, parent_id = getattr(self.cls, "id"), getattr(parent, "id")  # noqa: B009 - mapped columns
        stmt = sa.select(self.cls, parent).outerjoin(parent, parent_id == getattr(self.cls, key))
        row = self.session.execute(stmt.where(child_id == id_)).first()
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
        return self.session.get(self.cls, id_, with_for_update=True, populate_existing=True)

    def delete(self, entity: T) -> None:
        self.session.delete(entity)

    def list(self, *, order_by: str = "name", **filters: Any) -> Sequence[T]:
        stmt = sa.select(self.cls)
        for key, value in filters.items():
            column = getattr(self.cls, key)
            stmt = stmt.where(column.in_(value) if isinstance(value, list | tuple | set) else column == value)
        if hasattr(self.cls, order_by):
            stmt = stmt.order_by(getattr(self.cls, order_by))
        return self.session.scalars(stmt).all()

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
        column = getattr(self.cls, key)
        stmt = sa.select(column, sa.func.count()).select_from(self.cls).group_by(column)
        for name, value in filters.items():
            col = getattr(self.cls, name)
            stmt = stmt.where(col.in_(value) if isinstance(value, list | tuple | set) else col == value)
        return {row[0]: int(row[1]) for row in self.session.execute(stmt)}

    def by_ids(self, ids: Iterable[str]) -> dict[str, T]:
        wanted = list({i for i in ids if i})
        if not wanted:
            return {}
        rows = self.session.scalars(sa.select(self.cls).where(self.cls.id.in_(wanted))).all()  # type: ignore[attr-defined]
        return {r.id: r for r in rows}  # type: ignore[attr-defined]


def _nic_mac() -> sa.Column[str]:
    from neutrino.engine.store.tables import vm_nics

    return vm_nics.c.mac


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
