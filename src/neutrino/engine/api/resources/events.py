"""/events: the engine's audit log, newest first.

As oVirt: ``id`` and ``index`` are the event's increasing number (clients do ``int(event.id)``), ``from=N``
lists the events after the N-th, ``max`` and ``search`` (``severity>=warning``, ``type=30``,
``vm.name=x``, ``page 2``) are answered by one query.
"""

from __future__ import annotations

from typing import Any

from neutrino.engine.api.fields import API, DATE, INT, INT64_MAX, Enum, Field
from neutrino.engine.api.resource import Call, Collection
from neutrino.engine.api.wire import Tree
from neutrino.engine.domain import model
from neutrino.engine.domain.errors import BadRequest, NotFound

# element -> (the collection its link points into, the event's attribute prefix)
LINKS = {
    "data_center": ("datacenters", "data_center"),
    "cluster": ("clusters", "cluster"),
    "host": ("hosts", "host"),
    "vm": ("vms", "vm"),
    "template": ("templates", "template"),
    "user": ("users", "user"),
}


class Events(Collection):
    path, plural, element, type_name, repo = "events", "events", "event", "Event", "events"
    fields = (
        Field("description", writable=False),
        Field("severity", codec=Enum(model.EventSeverity), writable=False),
        Field("code", codec=INT, writable=False),
        Field("index", attr="id", codec=INT, writable=False),
        Field("time", codec=DATE, writable=False),
        Field("origin", render_fn=lambda e: "oVirt", writable=False),
        Field("custom_id", render_fn=lambda e: -1, writable=False),
        Field("custom_data", attr="provider_id", writable=False),  # the provider the event is about
    )
    searchable = True

    def get(self, call: Call, id_: str) -> Any:
        if not id_.isdigit() or int(id_) > INT64_MAX:
            raise NotFound(f"{self.type_name} '{id_}' was not found.")
        return super().get(call, int(id_))  # type: ignore[arg-type]  # the index is an integer key

    def after(self, call: Call) -> int | None:
        raw = call.query.get("from")
        if raw is None or raw == "":
            return None
        try:
            return INT.parse(raw, "from")
        except BadRequest:
            raise BadRequest(f"Invalid value for 'from': '{raw}' is not an event index.") from None

    def render_extra(self, call: Call, entity: Any) -> Tree:
        extra: Tree = {}
        for element, (collection, prefix) in LINKS.items():
            ref = getattr(entity, f"{prefix}_id")
            if ref:
                extra[element] = {"href": f"{API}/{collection}/{ref}", "id": ref}
                name = getattr(entity, f"{prefix}_name")
                if name and element == "user":
                    extra[element]["name"] = name
        return extra
