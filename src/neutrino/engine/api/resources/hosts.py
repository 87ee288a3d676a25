"""/hosts and /templates."""

from __future__ import annotations

from typing import Any

from neutrino.engine.api.fields import (
    BOOL,
    DATE,
    INT,
    TEXT,
    Bool,
    Enum,
    Field,
    Opt,
    RefTo,
    Text,
    changes_of,
    common_fields,
    invalid,
    option_fields,
    split_options,
)
from neutrino.engine.api.resource import Call, Collection
from neutrino.engine.api.wire import Tree
from neutrino.engine.commands import hosts as cmd
from neutrino.engine.domain import model
from neutrino.engine.domain import options as o


class NoPowerManagement(Bool):
    """``power_management.enabled``: Neutrino cannot fence a host (no power management agents), so false only."""

    def parse(self, raw: Any, element: str) -> Any:
        if super().parse(raw, element):
            raise invalid(element, raw, "false (Neutrino hosts have no power management)")
        return False


HOST_OPTIONS = option_fields(
    Opt("power_management.enabled", "power_management_enabled", NoPowerManagement(), value=lambda h: False),
    Opt("power_management.automatic_pm_enabled", "automatic_pm_enabled", BOOL),
    Opt("power_management.kdump_detection", "kdump_detection", BOOL),
    Opt("spm.priority", "spm_priority", INT),
    Opt("spm.status", "spm_status", TEXT, value=lambda h: "none", writable=False),
    Opt("os.custom_kernel_cmdline", "custom_kernel_cmdline", TEXT),
    Opt("vgpu_placement", "vgpu_placement", Enum(o.VgpuPlacement)),
)


class Hosts(Collection):
    path, plural, element, type_name, repo = "hosts", "hosts", "host", "Host", "hosts"
    fields = (
        *common_fields(),
        Field("address", codec=Text(255)),  # HOST_HOSTNAME_SIZE
        Field("port", codec=INT),
        Field("status", codec=Enum(model.HostStatus), writable=False),
        Field("status_detail", writable=False),
        Field("cluster", attr="cluster_id", codec=RefTo("clusters")),
        # the secret that enrolls a host (here: the agent's token); accepted, never rendered
        Field("root_password", render_fn=lambda e: None),
        *HOST_OPTIONS,
        Field("ksm", render_fn=lambda e: {"enabled": False}, writable=False),
        Field(
            "hardware_information",
            render_fn=lambda e: {
                "product_name": "Neutrino host agent",
                "supported_rng_sources": {"supported_rng_source": ["urandom"]},
            },
            writable=False,
        ),
        Field("type", render_fn=lambda e: "rhel", writable=False),
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
    actions = ("activate", "deactivate", "enrollcertificate")
    searchable = True

    def add(self, call: Call, body: Tree) -> Any:
        f = self.parse(body)
        options = split_options(f, o.HostOptions)
        return cmd.add_host(
            call.ctx, f.pop("name", None), f.pop("address", ""), f.pop("cluster", None), options=options, **f
        )

    def update(self, call: Call, id_: str, body: Tree) -> Any:
        f = self.parse(body)
        options = split_options(f, o.HostOptions)
        return cmd.update_host(
            call.ctx, id_, changes_of(cmd.HostChanges, {**f, **({"options": options} if options else {})})
        )

    def act(self, call: Call, id_: str, action: str, body: Tree) -> Tree:
        if action == "deactivate":
            cmd.deactivate_host(call.ctx, id_)
        elif action == "activate":
            cmd.activate_host(call.ctx, id_)
        elif action == "enrollcertificate":
            cmd.enroll_certificate(call.ctx, id_)
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
        running = self._running(call, entity)
        extra["summary"] = {
            "active": len(running),
            "migrating": sum(1 for v in running if v.status == model.VmStatus.MIGRATING),
            "total": len(running),
        }
        if entity.last_seen is not None:
            extra["last_seen"] = DATE.render(entity.last_seen)
        return extra

    def render_list(self, call: Call, entities: Any) -> Tree:
        # the VMs on every listed host in one query
        ids = [h.id for h in entities]
        call.memo("vms_by_host", lambda: _by_host(call.uow.vms.list(host_id=ids) if ids else []))
        return super().render_list(call, entities)

    def _running(self, call: Call, host: model.Host) -> list[model.Vm]:
        found = call.recall("vms_by_host")
        if found is None:
            return list(call.uow.vms.list(host_id=host.id))
        return found.get(host.id, [])

    def parse(self, tree: Tree) -> dict[str, Any]:
        fields = super().parse(tree)
        fields.pop("power_management_enabled", None)  # false: what every Neutrino host has
        return fields

    def remove(self, call: Call, id_: str) -> None:
        cmd.remove_host(call.ctx, id_)


def _by_host(vms: Any) -> dict[str, list[model.Vm]]:
    out: dict[str, list[model.Vm]] = {}
    for vm in vms:
        out.setdefault(vm.host_id, []).append(vm)
    return out


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
