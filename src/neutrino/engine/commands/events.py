"""The audit log oVirt shows as /events: every user action and state change, written by the command that
makes it, in the same transaction (``emit``), so an event exists exactly when its change was committed.

Who acted is the request's user: the API sets it for the call (``acting_as``); the engine's own work (the
monitor, the synchronizer, convergence) runs without one and its events name no user, as oVirt's system
events do. Old events are pruned by age (``prune``, run periodically with ``event_retention_days``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from neutrino.engine.commands.common import EngineContext
from neutrino.engine.domain import model
from neutrino.engine.domain.audit import AuditType, severity_of
from neutrino.engine.store.uow import UnitOfWork

log = logging.getLogger(__name__)
# what XML 1.0 cannot carry (api.fields refuses it in requests; an event may quote a login name as typed)
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


@dataclass(frozen=True)
class Actor:
    user_id: str
    name: str  # the principal, e.g. admin@internal


_actor: ContextVar[Actor | None] = ContextVar("neutrino_actor", default=None)


@contextmanager
def acting_as(actor: Actor | None) -> Iterator[None]:
    """Events emitted inside name this user (the API wraps each call with it)."""
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


def actor() -> str:
    """Who is acting, for a description ("... was added by admin@internal"): SYSTEM when no user is."""
    current = _actor.get()
    return current.name if current is not None else "SYSTEM"


@dataclass(frozen=True)
class EventScope:
    """The cluster and data center an operation's events name, read once (outside its writing transactions)
    and handed to each event (``emit`` reads them only for their ids and names); unset: each emit reads them."""

    cluster: model.Cluster | None = None
    data_center: model.DataCenter | None = None

    @classmethod
    def of(cls, uow: UnitOfWork, cluster_id: str | None) -> EventScope:
        if not cluster_id:
            return cls()
        return cls(*uow.clusters.get_with(cluster_id, model.DataCenter, "data_center_id"))

    def links(self) -> dict[str, Any]:
        if self.cluster is None:
            return {}
        return {"cluster": self.cluster, "data_center": self.data_center}


def emit(
    uow: UnitOfWork,
    kind: AuditType,
    description: str,
    *,
    severity: model.EventSeverity | None = None,
    data_center: model.DataCenter | None = None,
    cluster: model.Cluster | None = None,
    host: model.Host | None = None,
    vm: model.Vm | None = None,
    template: model.Template | None = None,
    provider: model.ExternalProvider | None = None,
) -> None:
    """Record an event in the unit of work: committed with the change it describes, or not at all.

    The entities it names are linked by id and name; a VM's or a host's cluster, and a cluster's data center,
    are found when not given.
    """
    if cluster is None:
        owner = vm or host
        cluster = uow.clusters.get(owner.cluster_id) if owner is not None and owner.cluster_id else None
    if data_center is None and cluster is not None and cluster.data_center_id:
        data_center = uow.datacenters.get(cluster.data_center_id)
    current = _actor.get()
    description = _UNPRINTABLE.sub("?", description)  # it may quote what a client sent (a login name)
    links: dict[str, Any] = {}
    for key, entity in (
        ("data_center", data_center),
        ("cluster", cluster),
        ("host", host),
        ("vm", vm),
        ("template", template),
        ("provider", provider),
    ):
        if entity is not None:
            links[f"{key}_id"], links[f"{key}_name"] = entity.id, entity.name
    uow.events.record(
        time=model.utcnow(),
        code=int(kind),
        severity=severity or severity_of(kind),
        description=description,
        user_id=current.user_id if current else None,
        user_name=current.name if current else None,
        **links,
    )


def prune(ctx: EngineContext, older_than: timedelta) -> int:
    """Delete the events older than ``older_than`` (one statement); how many went."""
    with ctx.uow() as uow:
        gone = uow.events.delete_before(model.utcnow() - older_than)
        uow.commit()
    if gone:
        log.info("audit log: %d events older than %s pruned", gone, older_than)
    return gone
