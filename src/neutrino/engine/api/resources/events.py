"""/events: the engine's audit log, newest first."""

from __future__ import annotations

from typing import Any

from neutrino.engine.api.fields import DATE, INT, Enum, Field, RefTo
from neutrino.engine.api.resource import Call, Collection
from neutrino.engine.domain import model


class Events(Collection):
    path, plural, element, type_name, repo = "events", "events", "event", "Event", "events"
    fields = (
        Field("description", writable=False),
        Field("severity", codec=Enum(model.EventSeverity), writable=False),
        Field("code", codec=INT, writable=False),
        Field("time", codec=DATE, writable=False),
        Field("origin", render_fn=lambda e: "neutrino", writable=False),
        Field("data_center", attr="data_center_id", codec=RefTo("datacenters"), writable=False),
        Field("cluster", attr="cluster_id", codec=RefTo("clusters"), writable=False),
        Field("custom_data", attr="provider_id", writable=False),  # the provider the event is about
    )
    search_keys = {
        "severity": lambda c, e: e.severity.value,
        "description": lambda c, e: e.description,
    }

    def list(self, call: Call) -> Any:
        return list(reversed(call.uow.events.list(order_by="time")))
