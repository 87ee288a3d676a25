"""vNIC hot-plug and hot-unplug on a running VM, and live migration between hosts.

Hot-plug ensures the vNIC's port like a run does, then has the agent plug it; a failure undoes the port it
created and leaves the vNIC unplugged. Hot-unplug keeps the port. Migration rebinds each external port to the
destination (``binding:host_id``), plugs the VM there, and only then removes it from the source.
"""

from __future__ import annotations

import logging

from neutrino.engine.commands import events, ports
from neutrino.engine.commands.common import EngineContext, Ref, get_or_404, require
from neutrino.engine.commands.placement import (
    MIB,
    Placement,
    check_reported,
    choose_host,
    plan_nic,
    plan_vm,
    resolve,
)
from neutrino.engine.commands.run_vm import provision_ports, settle_nics, verify_on_host
from neutrino.engine.domain import model
from neutrino.engine.domain.errors import Conflict, EngineError, HostFailure, reworded
from neutrino.engine.domain.model import EVENT_VM, NicState, VmStatus, new_id

log = logging.getLogger(__name__)


def claim(vm: model.Vm, action: str) -> str:
    """Mark an operation in flight on a running VM whose row the caller's unit of work holds locked (one
    operation at a time); returns the operation id, committed with the caller's change."""
    if vm.operation_id is not None:
        raise Conflict(
            f"Cannot {action}. Another operation is in progress on the VM; try again when it ends."
        )
    if vm.status != VmStatus.UP or vm.host_id is None:
        raise Conflict(f"Cannot {action}. The VM is not Up (it is {vm.status.value}).")
    vm.operation_id = new_id()
    return vm.operation_id


def _claim(ctx: EngineContext, vm_id: str, op: str | None, action: str) -> tuple[str, model.Host]:
    """The claimed operation and the VM's host; claims it here unless the caller already did (``op``)."""
    with ctx.uow() as uow:
        vm = uow.vms.lock(vm_id) or get_or_404(uow.vms, vm_id, "VM")
        if op is None:
            op = claim(vm, action)
        elif vm.operation_id != op or vm.host_id is None:
            raise Conflict(f"Cannot {action}. The VM changed meanwhile (it is {vm.status.value}).")
        host = get_or_404(uow.hosts, vm.host_id or "", "Host")
        uow.commit()
        return op, host


def _release_claim(ctx: EngineContext, vm_id: str, op: str) -> None:
    with ctx.uow() as uow:
        vm = uow.vms.lock(vm_id)
        if vm is not None and vm.operation_id == op:
            vm.operation_id = None
            uow.commit()


def hotplug(ctx: EngineContext, vm_id: str, nic_id: str, op: str | None = None) -> None:
    """Plug a vNIC (already marked plugged in the store) into the running VM on its host; ``op``: the operation
    the caller claimed in the transaction that marked it plugged."""
    try:
        op, host = _claim(ctx, vm_id, op, "activate VM network interface")
    except EngineError:
        _undo_hotplug(ctx, vm_id, nic_id, op or "", "the VM changed before the vNIC could be plugged", None)
        raise
    plugged_on: tuple[object, str] | None = None
    try:
        with ctx.uow() as uow:
            nic = get_or_404(uow.nics, nic_id, "VM network interface")
            plan = plan_nic(uow, nic, "hot plug")
            if plan is None:  # a vNIC without a network: nothing to plug on the host
                uow.commit()
                return
            ports.begin(nic)
            uow.commit()
        placement = Placement([plan], frozenset(), [host])
        resolve(ctx, placement, "hot plug")
        [spec] = provision_ports(ctx, placement, host, op, "hot plug")
        client = ctx.agent_client(host)
        plugged_on = (client, vm_id)  # from here on the host may hold the device: the undo unplugs it
        try:
            state = client.hotplug_nic(vm_id, spec)
        except EngineError as exc:
            raise reworded(exc, f"Cannot hot plug vNIC {plan.name}: {exc.message}") from exc
        why = check_reported(state, spec)
        if why is None:
            verify_on_host(client, vm_id, placement, [spec], "hot plug")
        else:
            raise HostFailure(f"Cannot hot plug vNIC {plan.name}: {why}.")
    except Exception as exc:
        error = exc.message if isinstance(exc, EngineError) else f"internal error: {exc}"
        _undo_hotplug(ctx, vm_id, nic_id, op, error, plugged_on)
        if isinstance(exc, EngineError):
            raise
        raise HostFailure(f"Cannot hot plug the VM network interface: {error}") from exc
    finally:
        _release_claim(ctx, vm_id, op)
    with ctx.uow() as uow:
        settle_nics(uow, vm_id, op, {nic_id}, f"hot plugged on host {host.name}")
        uow.commit()


def _undo_hotplug(
    ctx: EngineContext, vm_id: str, nic_id: str, op: str, error: str, plugged_on: tuple[object, str] | None
) -> None:
    if plugged_on is not None:  # the host may have plugged it before the check failed: take it out again
        try:
            plugged_on[0].hotunplug_nic(vm_id, nic_id)  # type: ignore[attr-defined]
        except EngineError as exc:
            log.warning("hot plug undo: cannot unplug vNIC %s of VM %s: %s", nic_id, vm_id, exc.message)
    orphans = []
    with ctx.uow() as uow:
        nic = uow.nics.get(nic_id)
        if nic is None:
            return
        nic.plugged = False
        if nic.port_created_by == op:
            orphan = ports.release(uow, nic, "the hot plug that created it failed")
            if orphan is not None:
                orphans.append(orphan.id)
        ports.fail(nic, error)
        uow.commit()
    ports.reap(ctx, orphans)


def hotunplug(ctx: EngineContext, vm_id: str, nic_id: str, op: str | None = None) -> None:
    """Unplug a vNIC from the running VM; its port stays. On failure the vNIC stays plugged."""
    try:
        op, host = _claim(ctx, vm_id, op, "deactivate VM network interface")
    except EngineError:
        with ctx.uow() as uow:
            nic = uow.nics.get(nic_id)
            if nic is not None:
                nic.plugged = True
                uow.commit()
        raise
    try:
        ctx.agent_client(host).hotunplug_nic(vm_id, nic_id)
    except EngineError as exc:
        with ctx.uow() as uow:
            nic = uow.nics.get(nic_id)
            if nic is not None:
                nic.plugged = True
                uow.commit()
        raise reworded(exc, f"Cannot hot unplug the VM network interface: {exc.message}") from exc
    finally:
        _release_claim(ctx, vm_id, op)
    with ctx.uow() as uow:
        nic = uow.nics.get(nic_id)
        if nic is not None:
            nic.plugged = False
            if nic.provisioning:
                ports.step(
                    nic,
                    "unplugged",
                    f"hot unplugged from host {host.name}; its port is kept",
                    NicState.UNPLUGGED,
                )
            uow.commit()


def migrate_vm(ctx: EngineContext, vm_id: str, host_ref: Ref | None = None) -> model.Vm:
    op = new_id()
    with ctx.uow() as uow:
        vm = uow.vms.lock(vm_id) or get_or_404(uow.vms, vm_id, "VM")
        if vm.status != VmStatus.UP or vm.operation_id is not None or vm.host_id is None:
            raise Conflict(
                "Cannot migrate VM. VM is not running."
                if not vm.is_running
                else f"Cannot migrate VM. The VM is in {vm.status.value} status."
            )
        source = get_or_404(uow.hosts, vm.host_id, "Host")
        wanted = require(uow.hosts, host_ref, "Host", "host") if host_ref else None
        if wanted is not None and wanted.id == source.id:
            raise Conflict("Cannot migrate VM. The VM is already running on the destination Host.")
        if wanted is not None and wanted.cluster_id != vm.cluster_id:
            raise Conflict("Cannot migrate VM. The destination Host is not in the VM's Cluster.")
        placement = plan_vm(uow, vm, "migrate")
        vm.status, vm.operation_id = VmStatus.MIGRATING, op
        uow.commit()
    dest: model.Host | None = None
    on_dest = False
    try:
        resolve(ctx, placement, "migrate")
        with ctx.uow() as uow:
            dest = choose_host(
                uow, placement, "migrate", prefer=wanted.id if wanted else None, exclude=source.id
            )
            if wanted is not None and dest.id != wanted.id:
                raise Conflict(f"Cannot migrate VM. Host {wanted.name} cannot run it.")
            vm = get_or_404(uow.vms, vm_id, "VM")
            vm.migrating_to_host_id = dest.id
            uow.commit()
        specs = provision_ports(ctx, placement, dest, op, "migrate")
        client = ctx.agent_client(dest)
        on_dest = True
        client.create_vm(
            {"vm_id": vm_id, "name": vm.name, "memory_mb": max(1, vm.memory // MIB), "nics": specs}
        )
        verify_on_host(client, vm_id, placement, specs, "migrate")
    except (
        Exception
    ) as exc:  # whatever went wrong, the VM stays on its source and the user gets a clear fault
        error = exc.message if isinstance(exc, EngineError) else f"internal error: {exc}"
        _undo_migration(ctx, vm_id, placement, source, dest if on_dest else None, op, error)
        if isinstance(exc, EngineError):
            raise
        raise HostFailure(f"Cannot migrate VM. {error}") from exc
    warning = ""
    try:
        ctx.agent_client(source).destroy_vm(vm_id)
    except EngineError as exc:
        warning = f" The source host could not remove it: {exc.message}"
    with ctx.uow() as uow:
        vm = get_or_404(uow.vms, vm_id, "VM")
        vm.status, vm.host_id, vm.migrating_to_host_id, vm.operation_id = VmStatus.UP, dest.id, None, None
        settle_nics(uow, vm.id, op, {p.nic_id for p in placement.nics}, f"migrated to host {dest.name}")
        events.record(
            uow,
            f"Migration of VM {vm.name} from {source.name} to {dest.name} completed.{warning}",
            model.EventSeverity.WARNING if warning else model.EventSeverity.NORMAL,
            EVENT_VM,
            cluster_id=vm.cluster_id,
        )
        uow.commit()
        return vm


def _undo_migration(
    ctx: EngineContext,
    vm_id: str,
    placement: Placement,
    source: model.Host,
    dest: model.Host | None,
    op: str,
    error: str,
) -> None:
    """The VM keeps running on the source: off the destination, ports bound back to the source."""
    if dest is not None:
        try:
            ctx.agent_client(dest).destroy_vm(vm_id)
        except EngineError as exc:
            log.warning("migration undo: cannot remove VM %s from %s: %s", vm_id, dest.name, exc.message)
    try:
        provision_ports(ctx, placement, source, op, "migrate")
    except EngineError as exc:
        log.warning(
            "migration undo: cannot rebind the ports of VM %s to %s: %s", vm_id, source.name, exc.message
        )
    with ctx.uow() as uow:
        vm = uow.vms.get(vm_id)
        if vm is None:
            return
        vm.status, vm.migrating_to_host_id, vm.operation_id = VmStatus.UP, None, None
        settle_nics(
            uow,
            vm.id,
            op,
            {p.nic_id for p in placement.nics},
            f"migration failed; still on host {source.name}",
        )
        events.record(
            uow,
            f"Migration of VM {vm.name} failed: {error}",
            model.EventSeverity.ERROR,
            EVENT_VM,
            cluster_id=vm.cluster_id,
        )
        uow.commit()
