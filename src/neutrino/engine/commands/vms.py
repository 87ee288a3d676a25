"""VMs: add from a template, update, remove. Running and stopping on hosts is ``run_vm``."""

from __future__ import annotations

from typing import Any

from neutrino.engine.commands import run_vm
from neutrino.engine.commands.common import EngineContext, Ref, apply_changes, get_or_404, require
from neutrino.engine.commands.ports import reap
from neutrino.engine.commands.provisioning import release_vm_ports
from neutrino.engine.domain import model
from neutrino.engine.domain.errors import BadRequest, Conflict, cannot, name_in_use
from neutrino.engine.domain.model import BLANK_TEMPLATE_ID
from neutrino.engine.domain.rules import check_memory, check_name

TYPE = "VM"
ACTIVE_SNAPSHOT = "Active VM"


def add_vm(
    ctx: EngineContext, name: str, cluster: Ref, template: Ref | None = None, **fields: Any
) -> model.Vm:
    check_name(name)
    with ctx.uow() as uow:
        cl = require(uow.clusters, cluster, "Cluster", "cluster")
        if cl.data_center_id is None:
            raise BadRequest(cannot("add", TYPE, "The Cluster does not belong to a Data Center."))
        tpl = require(uow.templates, template or Ref(id=BLANK_TEMPLATE_ID), "Template", "template")
        if uow.vms.first(name=name):
            raise name_in_use("add", TYPE)
        fields.setdefault("memory", tpl.memory)
        check_memory(fields["memory"])
        vm = uow.vms.add(model.Vm(name=name, cluster_id=cl.id, template_id=tpl.id, **fields))
        uow.flush()
        uow.snapshots.add(
            model.Snapshot(vm_id=vm.id, description=ACTIVE_SNAPSHOT, snapshot_type=model.SnapshotType.ACTIVE)
        )
        uow.commit()
        return vm


def update_vm(ctx: EngineContext, vm_id: str, changes: dict[str, Any]) -> model.Vm:
    with ctx.uow() as uow:
        vm = uow.vms.lock(vm_id) or get_or_404(uow.vms, vm_id, TYPE)
        if "name" in changes and changes["name"] != vm.name:
            check_name(changes["name"])
            if uow.vms.first(name=changes["name"]):
                raise name_in_use("edit", TYPE)
        cluster_ref = changes.pop("cluster", None)
        if cluster_ref:
            cl = require(uow.clusters, cluster_ref, "Cluster", "cluster")
            if cl.id != vm.cluster_id and vm.is_running:
                raise Conflict(cannot("edit", TYPE, "The Cluster of a running VM cannot be changed."))
            vm.cluster_id = cl.id
        if "memory" in changes:
            check_memory(changes["memory"])
        apply_changes(vm, changes, {"name", "description", "comment", "memory"})
        uow.commit()
        return vm


def remove_vm(ctx: EngineContext, vm_id: str) -> None:
    with ctx.uow() as uow:
        vm = uow.vms.lock(vm_id) or get_or_404(uow.vms, vm_id, TYPE)  # a start waits, or sees it gone
        if vm.is_running:
            raise Conflict(cannot("remove", TYPE, "VM is running."))
        orphans = release_vm_ports(uow, vm.id, f"VM {vm.name} was removed")
        for nic in uow.nics.list(vm_id=vm.id):
            uow.nics.delete(nic)
        for snap in uow.snapshots.list(vm_id=vm.id, order_by="date"):
            uow.snapshots.delete(snap)
        uow.flush()
        uow.vms.delete(vm)
        uow.commit()
    reap(ctx, orphans)  # a provider that is down does not block the removal: the janitor retries


def start_vm(ctx: EngineContext, vm_id: str) -> model.Vm:
    return run_vm.run_vm(ctx, vm_id)


def stop_vm(ctx: EngineContext, vm_id: str, action: str = "stop") -> model.Vm:
    return run_vm.stop_vm(ctx, vm_id, action)
