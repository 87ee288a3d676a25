"""The audit log oVirt shows as /events: what the engine did on its own (auto-sync) and why."""

from __future__ import annotations

from neutrino.engine.domain import model
from neutrino.engine.store.uow import UnitOfWork


def record(
    uow: UnitOfWork,
    description: str,
    severity: model.EventSeverity = model.EventSeverity.NORMAL,
    code: int = model.EVENT_PROVIDER_SYNC,
    provider_id: str | None = None,
    data_center_id: str | None = None,
    cluster_id: str | None = None,
) -> model.Event:
    """Add an event to the unit of work (it is committed with what it describes)."""
    return uow.events.add(
        model.Event(
            description=description,
            severity=severity,
            code=code,
            provider_id=provider_id,
            data_center_id=data_center_id,
            cluster_id=cluster_id,
        )
    )
