"""The unit of work: one per command; it rolls back unless the command commits.

Only the unit of work commits. Repositories and commands never do.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from neutrino.engine.domain import model
from neutrino.engine.domain.errors import Conflict
from neutrino.engine.domain.operations import Operation
from neutrino.engine.store.repository import (
    EventRepository,
    NicRepository,
    Repository,
    SessionRepository,
    SettingsRepository,
    VmRepository,
)
from neutrino.engine.store.tables import map_domain
from neutrino.engine.store.topology import TopologyRows


class UnitOfWork(Protocol):
    datacenters: Repository[model.DataCenter]
    clusters: Repository[model.Cluster]
    hosts: Repository[model.Host]
    networks: Repository[model.Network]
    attachments: Repository[model.NetworkAttachment]
    profiles: Repository[model.VnicProfile]
    templates: Repository[model.Template]
    vms: VmRepository
    nics: NicRepository
    snapshots: Repository[model.Snapshot]
    providers: Repository[model.ExternalProvider]
    users: Repository[model.User]
    sessions: SessionRepository
    events: EventRepository
    orphan_ports: Repository[model.OrphanPort]
    operations: Repository[Operation]
    settings: SettingsRepository
    topology: TopologyRows  # plain rows for the topology picture (read only)

    def __enter__(self) -> UnitOfWork: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def flush(self) -> None: ...


def session_factory(engine: sa.Engine) -> sessionmaker[Session]:
    """The sessions of one database engine's units of work. Built once per engine: a ``sessionmaker`` makes a
    class of its own and registers its event listener, which costs more than the short transactions of a run
    or a stop do."""
    map_domain()
    factory = sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
    sa.event.listen(factory, "loaded_as_persistent", _hold)
    return factory


class SqlUnitOfWork:
    def __init__(self, engine: sa.Engine | sessionmaker[Session]) -> None:
        self._factory = engine if isinstance(engine, sessionmaker) else session_factory(engine)
        self.session: Session | None = None

    def __enter__(self) -> SqlUnitOfWork:
        s = self.session = self._factory()
        self.datacenters = Repository(s, model.DataCenter)
        self.clusters = Repository(s, model.Cluster)
        self.hosts = Repository(s, model.Host)
        self.networks = Repository(s, model.Network)
        self.attachments = Repository(s, model.NetworkAttachment)
        self.profiles = Repository(s, model.VnicProfile)
        self.templates = Repository(s, model.Template)
        self.vms = VmRepository(s, model.Vm)
        self.nics = NicRepository(s, model.VmNic)
        self.snapshots = Repository(s, model.Snapshot)
        self.providers = Repository(s, model.ExternalProvider)
        self.users = Repository(s, model.User)
        self.sessions = SessionRepository(s, model.Session)
        self.events = EventRepository(s, model.Event)
        self.orphan_ports = Repository(s, model.OrphanPort)
        self.operations = Repository(s, Operation)
        self.settings = SettingsRepository(s)
        self.topology = TopologyRows(s)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self.session is not None
        try:
            # detach first: a rollback expires every loaded entity, and an expired entity outside its session
            # cannot be read (DetachedInstanceError) - what a command read or returns must stay readable
            self.session.expunge_all()
            self.session.rollback()
        finally:
            self.session.info.pop("held", None)
            self.session.close()
            self.session = None

    def flush(self) -> None:
        assert self.session is not None
        try:
            self.events.write_recorded()
            self.session.flush()
        except sa_exc.IntegrityError as exc:
            self.session.rollback()
            raise _conflict(exc) from exc

    def commit(self) -> None:
        assert self.session is not None
        try:
            self.events.write_recorded()
            self.session.commit()
        except sa_exc.IntegrityError as exc:
            self.session.rollback()
            raise _conflict(exc) from exc

    def rollback(self) -> None:
        assert self.session is not None
        self.session.rollback()


def _hold(session: Session, instance: object) -> None:
    """Keep what the unit of work loaded until it ends. The session's identity map holds entities weakly, so
    an entity read, used and dropped (a VM named by an event, then by the next) would be read again."""
    session.info.setdefault("held", []).append(instance)


def _conflict(exc: sa_exc.IntegrityError) -> Conflict:
    """A constraint lost a race the command's own checks could not see: a clean 409."""
    return Conflict(
        f"The operation conflicts with a concurrent change and was not applied ({exc.orig.__class__.__name__})."
    )
