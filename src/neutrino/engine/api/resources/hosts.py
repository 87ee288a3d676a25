"""/hosts and /templates."""

from __future__ import annotations

from typing import Any

from neutrino.engine.api.fields import DATE, INT, Enum, Field, RefTo, changes_of, common_fields
from neutrino.engine.api.resource import Call, Collection
from neutrino.engine.api.wire import Tree
from neutrino.engine.commands import hosts as cmd
from neutrino.engine.domain import model


class Hosts(Collection):
    path, plural, element, type_name, repo = "hosts", "hosts", "host", "Host", "hosts"
    fields = (
        *common_fields(),
        Field("address"),
        Field("port", codec=INT),
        Field("status", codec=Enum(model.HostStatus), writable=False),
        Field("status_detail", writable=False),
        Field("cluster", attr="cluster_id", codec=RefTo("clusters")),
        # the secret that enrolls a host (here: the agent's token); accepted, never rendered
        Field("root_password", render_fn=lambda e: None),
    )
    links = (
        "affinitylabels",
        "agents",
        "devices",
        "hooks",
        "katelloerrata",
        "networkattachments",
        "nics",
        "numanodes",
        "permissions",
        "statistics",
        "storages",
        "tags",
        "unmanagednetworks",
    )
    actions = ("activate", "deactivate")
    searchable = True

    def add(self, call: Call, body: Tree) -> Any:
        f = self.parse(body)
        return cmd.add_host(call.ctx, f.pop("name", None), f.pop("address", ""), f.pop("cluster", None), **f)

    def update(self, call: Call, id_: str, body: Tree) -> Any:
        return cmd.update_host(call.ctx, id_, changes_of(cmd.HostChanges, self.parse(body)))

    def act(self, call: Call, id_: str, action: str, body: Tree) -> Tree:
        if action == "deactivate":
            cmd.deactivate_host(call.ctx, id_)
        elif action == "activate":
            cmd.activate_host(call.ctx, id_)
        else:
            return super().act(call, id_, action, body)
        return {"status": "complete"}

    def render_extra(self, call: Call, entity: Any) -> Tree:
        """Neutrino's extension: what the host's agent can plug (ovirtsdk4 skips elements it does not know)."""
        drivers = []
        for plugin_type, info in sorted(entity.plugin_support().items()):
            if not isinstance(info, dict):
                continue
            drivers.append(
                {
                    "plugin_type": plugin_type,
                    "driver": info.get("driver"),
                    "binding_host_id": info.get("binding_host_id"),
                    "network_types": ",".join(info.get("network_types") or []),
                    "security_groups": bool(info.get("security_groups")),
                }
            )
        extra: Tree = {"vnic_drivers": {"vnic_driver": drivers}} if drivers else {}
        if entity.last_seen is not None:
            extra["last_seen"] = DATE.render(entity.last_seen)
        return extra

    def remove(self, call: Call, id_: str) -> None:
        cmd.remove_host(call.ctx, id_)


class Templates(Collection):
    path, plural, element, type_name, repo = "templates", "templates", "template", "Template", "templates"
    fields = (
        *common_fields(),
        Field("memory", codec=INT, writable=False),
        Field("cluster", attr="cluster_id", codec=RefTo("clusters"), writable=False),
    )
    links = (
        "cdroms",
        "diskattachments",
        "graphicsconsoles",
        "mediateddevices",
        "nics",
        "permissions",
        "tags",
        "watchdogs",
    )
    searchable = True

    def render_extra(self, call: Call, entity: Any) -> Tree:
        return {"status": "ok", "version": {"version_name": "base version", "version_number": 1}}
