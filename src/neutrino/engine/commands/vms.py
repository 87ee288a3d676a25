"""VMs: add from a template, update, remove. Running and stopping on hosts is ``run_vm``."""

from __future__ import annotations

from dataclasses import dataclass

from neutrino.engine.commands import events, run_vm
from neutrino.engine.commands.common import (
    UNSET,
    EngineContext,
    Ref,
    Unset,
    apply_specified,
    get_or_404,
    require,
)
from neutrino.engine.commands.ports import reap
from neutrino.engine.commands.provisioning import release_vm_ports
from neutrino.engine.domain import model
from neutrino.engine.domain.audit import AuditType
from neutrino.engine.domain.errors import BadRequest, Conflict, cannot, name_in_use
from neutrino.engine.domain.model import BLANK_TEMPLATE_ID
from neutrino.engine.domain.rules import check_memory, check_name

TYPE = "VM"
ACTIVE_SNAPSHOT = "Active VM"


@dataclass(frozen=True)
class VmChanges:
    """What an edit of a VM sets; a field left UNSET keeps its value. A running VM keeps its cluster."""

    name: str | Unset = UNSET
    description: str | Unset = UNSET
    comment: str | Unset = UNSET
    memory: int | Unset = UNSET
    cluster: Ref | Unset = UNSET


def add_vm(
    ctx: EngineContext,
    name: str,
    cluster: Ref,
    template: Ref | None = None,
    *,
    description: str = "",
    comment: str = "",
    memory: int | None = None,
) -> model.Vm:
    """Add a VM from a template (the Blank one by default), with the template's memory unless given."""
    check_name(name)
    with ctx.uow() as uow:
        cl = require(uow.clusters, cluster, "Cluster", "cluster")
        if cl.data_center_id is None:
            raise BadRequest(cannot("add", TYPE, "The Cluster does not belong to a Data Center."))
        tpl = require(uow.templates, template or Ref(id=BLANK_TEMPLATE_ID), "Template", "template")
        if uow.vms.first(name=name):
            raise name_in_use("add", TYPE)
        memory = tpl.memory if memory is None else memory
        check_memory(memory)
        vm = uow.vms.add(
            model.Vm(
                name=name,
                cluster_id=cl.id,
                template_id=tpl.id,
                description=description,
                comment=comment,
                memory=memory,
            )
        )
        uow.flush()
        uow.snapshots.add(
            model.Snapshot(vm_id=vm.id, description=ACTIVE_SNAPSHOT, snapshot_type=model.SnapshotType.ACTIVE)
        )
        events.emit(
            uow,
            AuditType.USER_ADD_VM,
            f"VM {vm.name} was created by {events.actor()}.",
            vm=vm,
            cluster=cl,
            template=tpl,
        )
        uow.commit()
        return vm


def update_vm(ctx: EngineContext, vm_id: str, changes: VmChanges) -> model.Vm:
    with ctx.uow() as uow:
        vm = uow.vms.lock(vm_id) or get_or_404(uow.vms, vm_id, TYPE)
        if changes.name is not UNSET and changes.name != vm.name:
            check_name(changes.name)
            if uow.vms.first(name=changes.name):
                raise name_in_use("edit", TYPE)
        if changes.cluster is not UNSET:
            cl = require(uow.clusters, changes.cluster, "Cluster", "cluster")
            if cl.id != vm.cluster_id and vm.is_running:
                raise Conflict(cannot("edit", TYPE, "The Cluster of a running VM cannot be changed."))
            vm.cluster_id = cl.id
        if changes.memory is not UNSET:
            check_memory(changes.memory)
        apply_specified(vm, changes, skip={"cluster"})
        events.emit(
            uow,
            AuditType.USER_UPDATE_VM,
            f"VM {vm.name} configuration was updated by {events.actor()}.",
            vm=vm,
        )
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
        events.emit(
            uow,
            AuditType.USER_REMOVE_VM_FINISHED,
            f"VM {vm.name} was successfully removed by {events.actor()}.",
            vm=vm,
        )
        uow.commit()
    reap(ctx, orphans)  # a provider that is down does not block the removal: the janitor retries


def start_vm(ctx: EngineContext, vm_id: str) -> model.Vm:
    return run_vm.run_vm(ctx, vm_id)


def stop_vm(ctx: EngineContext, vm_id: str, action: str = "stop") -> model.Vm:
    return run_vm.stop_vm(ctx, vm_id, action)
