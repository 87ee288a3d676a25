"""/vms, with their NICs (/vms/{id}/nics) and snapshots (/vms/{id}/snapshots)."""

from __future__ import annotations

from typing import Any, ClassVar

from neutrino.engine.api.fields import (
    API,
    BOOL,
    DATE,
    DESCRIPTION_SIZE,
    INT,
    TEXT,
    Enum,
    Field,
    Opt,
    RefTo,
    Text,
    changes_of,
    common_fields,
    invalid,
    option_fields,
    ref_of,
    split_options,
    text_of,
)
from neutrino.engine.api.resource import Call, Collection
from neutrino.engine.api.wire import Tree
from neutrino.engine.commands import nics as nics_cmd
from neutrino.engine.commands import snapshots as snap_cmd
from neutrino.engine.commands import vms as cmd
from neutrino.engine.commands.migrate import migrate_vm
from neutrino.engine.domain import model
from neutrino.engine.domain import options as o
from neutrino.engine.domain.errors import BadRequest, NotFound


def _action(status: str = "complete", **extra: Any) -> Tree:
    return {"status": status, **extra}


VM_OPTIONS = option_fields(
    Opt("bios.boot_menu.enabled", "boot_menu", BOOL),
    Opt("console.enabled", "serial_console", BOOL),
    Opt("cpu.mode", "cpu_mode", Enum(o.CpuMode)),
    Opt("cpu.topology.cores", "cpu_cores", INT),
    Opt("cpu.topology.sockets", "cpu_sockets", INT),
    Opt("cpu.topology.threads", "cpu_threads", INT),
    Opt("cpu_shares", "cpu_shares", INT),
    Opt("delete_protected", "delete_protected", BOOL),
    Opt("display.copy_paste_enabled", "copy_paste_enabled", BOOL),
    Opt("display.disconnect_action", "disconnect_action", TEXT),
    Opt("display.file_transfer_enabled", "file_transfer_enabled", BOOL),
    Opt("display.keyboard_layout", "keyboard_layout", TEXT),
    Opt("display.monitors", "monitors", INT),
    Opt("display.smartcard_enabled", "smartcard_enabled", BOOL),
    Opt("display.type", "display_type", Enum(o.DisplayType)),
    Opt("high_availability.enabled", "ha_enabled", BOOL),
    Opt("high_availability.priority", "ha_priority", INT),
    Opt("io.threads", "io_threads", INT),
    Opt("memory_policy.ballooning", "ballooning", BOOL),
    Opt("memory_policy.guaranteed", "memory_guaranteed", INT, value=lambda v: v.options.guaranteed(v.memory)),
    Opt("memory_policy.max", "memory_max", INT, value=lambda v: v.options.maximum(v.memory)),
    Opt("multi_queues_enabled", "multi_queues_enabled", BOOL),
    Opt("os.boot.devices", "boot_devices", Enum(o.BootDevice), item="device"),
    Opt("os.type", "os_type", TEXT),
    Opt("placement_policy.affinity", "affinity", Enum(o.VmAffinity)),
    Opt("placement_policy.hosts", "placement_hosts", RefTo("hosts"), item="host"),
    Opt("serial_number.policy", "serial_policy", Enum(o.SerialNumberPolicy)),
    Opt("serial_number.value", "serial_policy_value", TEXT),
    Opt("soundcard_enabled", "soundcard_enabled", BOOL),
    Opt("stateless", "stateless", BOOL),
    Opt("storage_error_resume_behaviour", "storage_error_resume_behaviour", Enum(o.ResumeBehaviour)),
    Opt("time_zone.name", "time_zone", TEXT),
    Opt("time_zone.utc_offset", "time_zone", TEXT, value=lambda v: "+00:00", writable=False),
    Opt("tpm_enabled", "tpm_enabled", BOOL),
    Opt("type", "vm_type", Enum(o.VmType)),
    Opt("usb.enabled", "usb_enabled", BOOL),
    Opt("virtio_scsi.enabled", "virtio_scsi_enabled", BOOL),
)


class Vms(Collection):
    path, plural, element, type_name, repo = "vms", "vms", "vm", "VM", "vms"
    fields = (
        *common_fields(name=255, description=255),  # VM_NAME_SIZE, VM_DESCRIPTION_SIZE
        Field("cluster", attr="cluster_id", codec=RefTo("clusters")),
        Field("template", attr="template_id", codec=RefTo("templates")),
        Field("memory", codec=INT),
        Field("status", codec=Enum(model.VmStatus), writable=False),
        Field("host", attr="host_id", codec=RefTo("hosts"), writable=False),
        Field("creation_time", codec=DATE, writable=False),
        Field("start_time", codec=DATE, writable=False),
        Field("stop_time", codec=DATE, writable=False),
        *VM_OPTIONS,
        Field("origin", render_fn=lambda e: "ovirt", writable=False),
        Field("next_run_configuration_exists", render_fn=lambda e: False, codec=BOOL, writable=False),
        Field("run_once", render_fn=lambda e: False, codec=BOOL, writable=False),
    )
    links = (
        "affinitylabels",
        "applications",
        "cdroms",
        "diskattachments",
        "floppies",
        "graphicsconsoles",
        "hostdevices",
        "katelloerrata",
        "mediateddevices",
        "nics",
        "numanodes",
        "permissions",
        "reporteddevices",
        "sessions",
        "snapshots",
        "statistics",
        "tags",
        "watchdogs",
    )
    actions = ("start", "stop", "shutdown", "migrate", "previewsnapshot", "undosnapshot", "commitsnapshot")
    self_checking = frozenset({"start", "stop", "shutdown"})  # run_vm and stop_vm: the VM, or 404
    searchable = True

    def render_list(self, call: Call, entities: Any) -> Tree:
        if call.follows("nics"):
            # one query for the NICs of every VM in the list, whatever its length: the list's own selection
            by_vm: dict[str, list[model.VmNic]] = {}
            selection = call.recall("selection")
            for nic in call.uow.nics.of_vms(selection) if entities else []:
                by_vm.setdefault(nic.vm_id, []).append(nic)
            call.memo("nics_by_vm", lambda: by_vm)
        return super().render_list(call, entities)

    def render(self, call: Call, entity: Any) -> Tree:
        tree = super().render(call, entity)
        # the CPU's architecture is the cluster's
        arch = _arch_of_cluster(call).get(entity.cluster_id)
        if arch is not None:
            tree["cpu"] = {"architecture": arch, **(tree.get("cpu") or {})}
        return tree

    def render_extra(self, call: Call, entity: Any) -> Tree:
        if not call.follows("nics"):
            return {}
        prefetched = call.recall("nics_by_vm")
        nics = (
            prefetched.get(entity.id, []) if prefetched is not None else call.uow.nics.list(vm_id=entity.id)
        )
        return {"nics": {"nic": [NICS.render(call, n) for n in nics]}}

    def add(self, call: Call, body: Tree) -> Any:
        fields = self.parse(body)
        options = split_options(fields, o.VmOptions)
        return cmd.add_vm(
            call.ctx,
            fields.pop("name", None),
            fields.pop("cluster", None),
            fields.pop("template", None),
            options=options,
            **fields,
        )

    def update(self, call: Call, id_: str, body: Tree) -> Any:
        fields = self.parse(body)
        options = split_options(fields, o.VmOptions)
        changes = changes_of(
            cmd.VmChanges, {**fields, **({"options": options} if options else {})}, ignore={"template"}
        )
        return cmd.update_vm(call.ctx, id_, changes)

    def remove(self, call: Call, id_: str) -> None:
        cmd.remove_vm(call.ctx, id_)

    def act(self, call: Call, id_: str, action: str, body: Tree) -> Tree:
        if action == "start":
            cmd.start_vm(call.ctx, id_)
        elif action in ("stop", "shutdown"):
            cmd.stop_vm(call.ctx, id_, action)
        elif action == "migrate":
            migrate_vm(call.ctx, id_, ref_of(body.get("host"), "host"))
        elif action == "previewsnapshot":
            snap = body.get("snapshot")
            if not isinstance(snap, dict) or not snap.get("id"):
                raise BadRequest("Incomplete parameters: 'snapshot.id' is required.")
            snap_cmd.preview_snapshot(call.ctx, id_, text_of(snap["id"], "snapshot.id"))
        elif action == "undosnapshot":
            snap_cmd.undo_snapshot(call.ctx, id_)
        elif action == "commitsnapshot":
            snap_cmd.commit_snapshot(call.ctx, id_)
        else:
            return super().act(call, id_, action, body)
        return _action()


def render_provisioning(nic: model.VmNic) -> Tree:
    record = nic.provisioning
    steps = [{"name": st.name, "time": st.time, "detail": st.detail or None} for st in record.steps]
    return {
        "state": record.state.value,
        "port_id": nic.port_id,
        "provider": {
            "id": nic.port_provider_id,
            "href": f"{API}/openstacknetworkproviders/{nic.port_provider_id}",
        }
        if nic.port_provider_id
        else None,
        "provider_status": record.provider_status,
        "binding_host": record.binding_host,
        "last_error": record.last_error,
        "steps": {"step": steps} if steps else None,
    }


def _arch_of_cluster(call: Call) -> dict[str, str]:
    return call.memo(
        "arch_of_cluster", lambda: {c.id: c.cpu_architecture.value for c in call.uow.clusters.list()}
    )


def _mac_parse(raw: Any, element: str) -> dict[str, Any]:
    if not isinstance(raw, dict) or not raw.get("address"):
        raise invalid("mac.address", raw, "a MAC address (<mac><address>...</address></mac>)")
    return {"mac": str(raw["address"])}


class Nics(Collection):
    path, plural, element, type_name, repo = "nics", "nics", "nic", "Interface", "nics"
    fields = (
        *common_fields(name=50),  # oVirt's NETWORK_INTERFACE_NAME_SIZE
        Field("interface", codec=Enum(model.NicInterface)),
        Field("linked", codec=BOOL),
        Field("plugged", codec=BOOL),
        Field("mac", render_fn=lambda e: {"address": e.mac}, parse_fn=_mac_parse),
        Field("vnic_profile", attr="vnic_profile_id", codec=RefTo("vnicprofiles")),
        Field("vm", attr="vm_id", codec=RefTo("vms"), writable=False),
    )
    links: ClassVar[tuple[str, ...]] = ("networkfilterparameters", "reporteddevices", "statistics")
    actions: ClassVar[tuple[str, ...]] = ("activate", "deactivate")
    self_checking: ClassVar[frozenset[str]] = frozenset(actions)  # set_plugged: the vNIC of that VM, or 404

    def list(self, call: Call) -> Any:
        return call.uow.nics.list(vm_id=call.parents[0])

    def render_extra(self, call: Call, entity: Any) -> Tree:
        """Neutrino's extension: the vNIC's provisioning state and timings (ovirtsdk4 skips unknown elements)."""
        return (
            {"provisioning": render_provisioning(entity)}
            if entity.provisioning.recorded or entity.port_id
            else {}
        )

    def belongs(self, call: Call, entity: Any) -> bool:
        return entity.vm_id == call.parents[0]

    def href(self, call: Call, entity: Any) -> str:
        return f"{API}/vms/{entity.vm_id}/nics/{entity.id}"

    def parse(self, tree: Tree) -> dict[str, Any]:
        if "vnic_profile" in tree and tree["vnic_profile"] in ("", None, {}):
            # an empty profile (<vnic_profile/>): the NIC is detached from any network
            rest = {k: v for k, v in tree.items() if k != "vnic_profile"}
            return {**super().parse(rest), "vnic_profile": None}
        return super().parse(tree)

    def add(self, call: Call, body: Tree) -> Any:
        fields = self.parse(body)
        return nics_cmd.add_nic(call.ctx, call.parents[0], fields.pop("name", None), **fields)

    def update(self, call: Call, id_: str, body: Tree) -> Any:
        changes = changes_of(nics_cmd.NicChanges, self.parse(body))
        return nics_cmd.update_nic(call.ctx, call.parents[0], id_, changes)

    def remove(self, call: Call, id_: str) -> None:
        nics_cmd.remove_nic(call.ctx, call.parents[0], id_)

    def act(self, call: Call, id_: str, action: str, body: Tree) -> Tree:
        if action not in ("activate", "deactivate"):
            return super().act(call, id_, action, body)
        nics_cmd.set_plugged(call.ctx, call.parents[0], id_, action == "activate")
        return _action()


NICS = Nics()


class SnapshotNics(Nics):
    """/vms/{id}/snapshots/{id}/nics: the NICs a snapshot captured, read-only."""

    actions = ()
    links = ()

    def _captured(self, call: Call) -> list[model.VmNic]:
        vm_id, snapshot_id = call.parents[-2], call.parents[-1]
        snap = call.uow.snapshots.get(snapshot_id)
        if snap is None or snap.vm_id != vm_id:
            return []
        # transient entities, never added to a session: only rendered
        return [
            model.VmNic(
                id=str(n["id"]),
                name=str(n["name"]),
                vm_id=vm_id,
                mac=str(n["mac"]),
                interface=model.NicInterface(str(n["interface"])),
                linked=bool(n["linked"]),
                plugged=bool(n["plugged"]),
                vnic_profile_id=str(n["vnic_profile_id"]) if n.get("vnic_profile_id") else None,
            )
            for n in snap.nics
        ]

    def list(self, call: Call) -> Any:
        return self._captured(call)

    def get(self, call: Call, id_: str) -> Any:
        for nic in self._captured(call):
            if nic.id == id_:
                return nic
        raise NotFound(f"{self.type_name} '{id_}' was not found.")

    def href(self, call: Call, entity: Any) -> str:
        return f"{API}/vms/{call.parents[-2]}/snapshots/{call.parents[-1]}/nics/{entity.id}"

    def add(self, call: Call, body: Tree) -> Any:
        return Collection.add(self, call, body)

    def update(self, call: Call, id_: str, body: Tree) -> Any:
        return Collection.update(self, call, id_, body)

    def remove(self, call: Call, id_: str) -> None:
        Collection.remove(self, call, id_)


class Snapshots(Collection):
    path, plural, element, type_name, repo = "snapshots", "snapshots", "snapshot", "Snapshot", "snapshots"
    fields = (
        Field("description", codec=Text(DESCRIPTION_SIZE)),
        Field("date", codec=DATE, writable=False),
        Field("snapshot_status", attr="status", codec=Enum(model.SnapshotStatus), writable=False),
        Field("snapshot_type", codec=Enum(model.SnapshotType), writable=False),
        Field("persist_memorystate", codec=BOOL),
        Field("vm", attr="vm_id", codec=RefTo("vms"), writable=False),
    )
    links = ("cdroms", "disks", "nics")

    def list(self, call: Call) -> Any:
        return call.uow.snapshots.list(vm_id=call.parents[0], order_by="date")

    def belongs(self, call: Call, entity: Any) -> bool:
        return entity.vm_id == call.parents[0]

    def href(self, call: Call, entity: Any) -> str:
        return f"{API}/vms/{entity.vm_id}/snapshots/{entity.id}"

    def add(self, call: Call, body: Tree) -> Any:
        fields = self.parse(body)
        return snap_cmd.add_snapshot(call.ctx, call.parents[0], fields.pop("description", ""), **fields)

    def remove(self, call: Call, id_: str) -> None:
        snap_cmd.remove_snapshot(call.ctx, call.parents[0], id_)
