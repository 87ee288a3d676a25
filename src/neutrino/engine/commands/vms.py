"""VMs: add from a template, update, remove. Running and stopping on hosts is ``run_vm``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from neutrino.engine.commands import events, run_vm
from neutrino.engine.commands.common import (
    UNSET,
    EngineContext,
    Ref,
    Unset,
    apply_specified,
    get_or_404,
    or_current,
    require,
)
from neutrino.engine.commands.ports import reap
from neutrino.engine.commands.provisioning import release_vm_ports
from neutrino.engine.domain import model
from neutrino.engine.domain.audit import AuditType
from neutrino.engine.domain.errors import BadRequest, Conflict, cannot, name_in_use
from neutrino.engine.domain.model import BLANK_TEMPLATE_ID
from neutrino.engine.domain.options import VmOptions, check_vm_options
from neutrino.engine.domain.rules import check_memory, check_name
from neutrino.engine.store.uow import UnitOfWork

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
    # oVirt's settings (domain.options.VmOptions), by option name: only those the client sent
    options: Mapping[str, Any] | Unset = UNSET


def add_vm(
    ctx: EngineContext,
    name: str,
    cluster: Ref,
    template: Ref | None = None,
    *,
    description: str = "",
    comment: str = "",
    memory: int | None = None,
    options: Mapping[str, Any] | None = None,
) -> model.Vm:
    """Add a VM from a template (the Blank one by default), with the template's memory unless given.
    ``options``: oVirt's settings that differ from their defaults (``VmOptions``), by name."""
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
        settings = _resolved(uow, VmOptions().changed(options or {}), cl.id)
        check_vm_options(settings, memory, "add")
        vm = uow.vms.add(
            model.Vm(
                name=name,
                cluster_id=cl.id,
                template_id=tpl.id,
                description=description,
                comment=comment,
                memory=memory,
                options=settings,
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
        memory = or_current(changes.memory, vm.memory)
        sent = {} if changes.options is UNSET else changes.options
        settings = _follow_memory(vm.options.changed(sent), sent, changes, memory)
        if settings != vm.options:
            settings = _resolved(uow, settings, vm.cluster_id)
            check_vm_options(settings, memory, "edit")
            vm.options = settings
        apply_specified(vm, changes, skip={"cluster", "options"})
        events.emit(
            uow,
            AuditType.USER_UPDATE_VM,
            f"VM {vm.name} configuration was updated by {events.actor()}.",
            vm=vm,
        )
        uow.commit()
        return vm


def _follow_memory(
    settings: VmOptions, sent: Mapping[str, Any], changes: VmChanges, memory: int
) -> VmOptions:
    """A new memory size the client sent without a guaranteed or maximum memory keeps them valid, as oVirt's
    edit dialog does: the guaranteed memory lowered to it, the maximum raised to it."""
    if changes.memory is UNSET:
        return settings
    guaranteed, maximum = settings.memory_guaranteed, settings.memory_max
    if "memory_guaranteed" not in sent and guaranteed is not None and guaranteed > memory:
        settings = replace(settings, memory_guaranteed=memory)
    if "memory_max" not in sent and maximum is not None and maximum < memory:
        settings = replace(settings, memory_max=memory)
    return settings


def _resolved(uow: UnitOfWork, settings: VmOptions, cluster_id: str) -> VmOptions:
    """The placement policy's hosts by id (a client may name them), each a host of the VM's cluster."""
    ids = []
    for ref in settings.placement_hosts:
        host = require(uow.hosts, ref, "Host", "placement_policy.hosts")
        if host.cluster_id != cluster_id:
            raise BadRequest(
                f"Invalid value for 'placement_policy.hosts': host {host.name} is not in the VM's cluster."
            )
        ids.append(host.id)
    return replace(settings, placement_hosts=tuple(ids))


def remove_vm(ctx: EngineContext, vm_id: str) -> None:
    with ctx.uow() as uow:
        vm = uow.vms.lock(vm_id) or get_or_404(uow.vms, vm_id, TYPE)  # a start waits, or sees it gone
        if vm.is_running:
            raise Conflict(cannot("remove", TYPE, "VM is running."))
        if vm.options.delete_protected:
            raise Conflict(
                cannot(
                    "remove",
                    TYPE,
                    "Delete protection is enabled. In order to delete, disable Delete protection first.",
                )
            )
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
