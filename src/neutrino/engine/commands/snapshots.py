"""Snapshots of a VM's configuration (its NICs), with preview, undo and commit as oVirt has them."""

from __future__ import annotations

from typing import Any

from neutrino.engine.commands import events, ports
from neutrino.engine.commands.common import EngineContext, get_or_404
from neutrino.engine.commands.nics import allocate_mac
from neutrino.engine.domain import model
from neutrino.engine.domain.audit import AuditType
from neutrino.engine.domain.errors import BadRequest, Conflict, cannot, not_found
from neutrino.engine.domain.model import SnapshotStatus, SnapshotType
from neutrino.engine.store.uow import UnitOfWork

TYPE = "Snapshot"
PREVIEW_DESCRIPTION = "Active VM before the preview"


def capture_nics(uow: UnitOfWork, vm_id: str) -> list[dict[str, Any]]:
    return [
        {
            "id": n.id,
            "name": n.name,
            "mac": n.mac,
            "interface": n.interface.value,
            "linked": n.linked,
            "plugged": n.plugged,
            "vnic_profile_id": n.vnic_profile_id,
        }
        for n in uow.nics.list(vm_id=vm_id)
    ]


def add_snapshot(
    ctx: EngineContext, vm_id: str, description: str, persist_memorystate: bool = False
) -> model.Snapshot:
    if not description:
        raise BadRequest("Incomplete parameters: 'description' is required.")
    with ctx.uow() as uow:
        vm = get_or_404(uow.vms, vm_id, "VM")
        if _in_preview(uow, vm.id):
            raise Conflict(cannot("create", TYPE, "VM is previewing a Snapshot."))
        snap = uow.snapshots.add(
            model.Snapshot(
                vm_id=vm.id,
                description=description,
                nics=capture_nics(uow, vm.id),
                persist_memorystate=persist_memorystate,
            )
        )
        events.emit(
            uow,
            AuditType.USER_CREATE_SNAPSHOT,
            f"Snapshot '{description}' creation for VM '{vm.name}' was initiated by {events.actor()}.",
            vm=vm,
        )
        uow.commit()
        return snap


def remove_snapshot(ctx: EngineContext, vm_id: str, snapshot_id: str) -> None:
    with ctx.uow() as uow:
        snap = _snapshot(uow, vm_id, snapshot_id)
        if snap.snapshot_type == SnapshotType.ACTIVE:
            raise BadRequest(cannot("remove", TYPE, "The active snapshot of a VM cannot be removed."))
        if snap.status == SnapshotStatus.IN_PREVIEW or _in_preview(uow, vm_id):
            raise Conflict(cannot("remove", TYPE, "VM is previewing a Snapshot."))
        uow.snapshots.delete(snap)
        vm = get_or_404(uow.vms, vm_id, "VM")
        events.emit(
            uow,
            AuditType.USER_REMOVE_SNAPSHOT,
            f"Snapshot '{snap.description}' deletion for VM '{vm.name}' was initiated by {events.actor()}.",
            vm=vm,
        )
        uow.commit()


def preview_snapshot(ctx: EngineContext, vm_id: str, snapshot_id: str) -> list[model.VmNic]:
    """Replace the VM's NICs by the snapshot's; the current ones are kept in a 'preview' snapshot.

    Returns the NICs that were replaced; their provider ports are released (the snapshot's NICs get theirs on
    the next run).
    """
    with ctx.uow() as uow:
        vm = _down_vm(uow, vm_id, "preview")
        snap = _snapshot(uow, vm.id, snapshot_id)
        if _in_preview(uow, vm.id):
            raise Conflict(cannot("preview", TYPE, "VM is previewing a Snapshot."))
        if snap.snapshot_type != SnapshotType.REGULAR:
            raise BadRequest(
                "Cannot preview Active VM snapshot."
                if snap.snapshot_type == SnapshotType.ACTIVE
                else cannot("preview", TYPE, "Only a regular snapshot can be previewed.")
            )
        uow.snapshots.add(
            model.Snapshot(
                vm_id=vm.id,
                description=PREVIEW_DESCRIPTION,
                snapshot_type=SnapshotType.PREVIEW,
                nics=capture_nics(uow, vm.id),
            )
        )
        snap.status = SnapshotStatus.IN_PREVIEW
        replaced, orphans = _restore_nics(ctx, uow, vm, snap.nics, "preview")
        events.emit(
            uow,
            AuditType.USER_TRY_BACK_TO_SNAPSHOT,
            f"Snapshot-Preview {snap.description} for VM {vm.name} was initiated by {events.actor()}.",
            vm=vm,
        )
        uow.commit()
    ports.reap(ctx, orphans)
    return replaced


def undo_snapshot(ctx: EngineContext, vm_id: str) -> list[model.VmNic]:
    """Go back to the configuration from before the preview."""
    with ctx.uow() as uow:
        vm = _down_vm(uow, vm_id, "revert to")
        previewed, before = _preview_pair(uow, vm.id, "revert to")
        replaced, orphans = _restore_nics(ctx, uow, vm, before.nics, "revert to")
        previewed.status = SnapshotStatus.OK
        uow.snapshots.delete(before)
        events.emit(
            uow,
            AuditType.USER_UNDO_RESTORE_FROM_SNAPSHOT_START,
            f"Undoing a Snapshot-Preview for VM {vm.name} was initialized by {events.actor()}.",
            vm=vm,
        )
        uow.commit()
    ports.reap(ctx, orphans)
    return replaced


def commit_snapshot(ctx: EngineContext, vm_id: str) -> None:
    """Keep the previewed configuration."""
    with ctx.uow() as uow:
        vm = _down_vm(uow, vm_id, "revert to")
        previewed, before = _preview_pair(uow, vm.id, "revert to")
        previewed.status = SnapshotStatus.OK
        uow.snapshots.delete(before)
        events.emit(
            uow,
            AuditType.USER_COMMIT_RESTORE_FROM_SNAPSHOT_START,
            f"Committing a Snapshot-Preview for VM {vm.name} was initialized by {events.actor()}.",
            vm=vm,
        )
        uow.commit()


def _restore_nics(
    ctx: EngineContext, uow: UnitOfWork, vm: model.Vm, nics: list[dict[str, Any]], action: str
) -> tuple[list[model.VmNic], list[str]]:
    current = list(uow.nics.list(vm_id=vm.id))
    orphans = []
    for nic in current:
        orphan = ports.release(uow, nic, f"snapshot {action} replaced vNIC {nic.name}")
        if orphan is not None:
            orphans.append(orphan.id)
        uow.nics.delete(nic)
    uow.flush()
    for saved in nics:
        profile_id = saved.get("vnic_profile_id")
        if profile_id and uow.profiles.get(str(profile_id)) is None:
            profile_id = None  # the profile is gone since: the NIC comes back unattached
        mac = str(saved["mac"])
        if uow.nics.first(mac=mac) is not None:
            try:
                mac = allocate_mac(uow, ctx.mac_pool)  # the MAC went to another VM meanwhile
            except Conflict:
                raise Conflict(
                    cannot(action, TYPE, "Not enough MAC addresses left in MAC Address Pool.")
                ) from None
        uow.nics.add(
            model.VmNic(
                id=str(saved["id"]),
                name=str(saved["name"]),
                vm_id=vm.id,
                mac=mac,
                interface=model.NicInterface(saved["interface"]),
                linked=bool(saved["linked"]),
                plugged=bool(saved["plugged"]),
                vnic_profile_id=str(profile_id) if profile_id else None,
            )
        )
        uow.flush()
    return current, orphans


def _down_vm(uow: UnitOfWork, vm_id: str, action: str) -> model.Vm:
    vm = uow.vms.lock(vm_id) or get_or_404(uow.vms, vm_id, "VM")  # a start waits for the change
    if vm.is_running:
        raise Conflict(cannot(action, TYPE, "At least one of the VMs is not down."))
    return vm


def _in_preview(uow: UnitOfWork, vm_id: str) -> model.Snapshot | None:
    return uow.snapshots.first(vm_id=vm_id, status=SnapshotStatus.IN_PREVIEW)


def _preview_pair(uow: UnitOfWork, vm_id: str, action: str) -> tuple[model.Snapshot, model.Snapshot]:
    previewed = _in_preview(uow, vm_id)
    before = uow.snapshots.first(vm_id=vm_id, snapshot_type=SnapshotType.PREVIEW)
    if previewed is None or before is None:
        # oVirt's ACTION_TYPE_FAILED_VM_SNAPSHOT_NOT_IN_PREVIEW; a validation failure, so a 409
        raise Conflict(
            f"Cannot {action} {TYPE} to a Snapshot that is not being previewed. Please select the correct Snapshot "
            "to restore to: Either the one being previewed, or the one before the preview."
        )
    return previewed, before


def _snapshot(uow: UnitOfWork, vm_id: str, snapshot_id: str) -> model.Snapshot:
    get_or_404(uow.vms, vm_id, "VM")
    if not snapshot_id:
        raise BadRequest("Incomplete parameters: 'snapshot.id' is required.")
    snap = uow.snapshots.get(snapshot_id)
    if snap is None or snap.vm_id != vm_id:
        raise not_found(TYPE, snapshot_id)
    return snap
