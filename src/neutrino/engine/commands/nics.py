"""VM network interfaces: MACs from the pool, a vNIC profile, plugged/linked.

On a running VM, plugging and unplugging a NIC is a hot plug / hot unplug on its host (``hotplug``); a NIC
that is removed or moves to another network gives up its provider port (``ports.release``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from neutrino.engine.commands import events, hotplug, ports
from neutrino.engine.commands.common import (
    UNSET,
    EngineContext,
    Ref,
    Unset,
    apply_specified,
    get_or_404,
    or_current,
    placed_or_404,
    require,
)
from neutrino.engine.domain import model
from neutrino.engine.domain.audit import AuditType
from neutrino.engine.domain.errors import BadRequest, Conflict, cannot, not_found
from neutrino.engine.domain.macpool import MacRange, int_to_mac, next_free_mac, normalize_mac
from neutrino.engine.domain.operations import OperationKind
from neutrino.engine.domain.rules import check_name
from neutrino.engine.store.uow import UnitOfWork

TYPE = "Interface"


MAC_POOL_KEY = "mac_pool_range"  # the settings row that guards the pool


@dataclass(frozen=True)
class NicChanges:
    """What an edit of a VM network interface sets; a field left UNSET keeps its value (``vnic_profile``
    None: no network)."""

    name: str | Unset = UNSET
    description: str | Unset = UNSET
    comment: str | Unset = UNSET
    mac: str | Unset = UNSET
    interface: model.NicInterface | Unset = UNSET
    linked: bool | Unset = UNSET
    plugged: bool | Unset = UNSET
    vnic_profile: Ref | None | Unset = UNSET


def allocate_mac(uow: UnitOfWork, pool: MacRange) -> str:
    """The next free MAC; the pool stays locked until the caller's transaction ends, so two concurrent
    allocations cannot choose the same address."""
    uow.settings.lock(MAC_POOL_KEY)
    low, high = int_to_mac(pool.start), int_to_mac(pool.end)
    highest = uow.nics.highest_mac(low, high)
    return next_free_mac(pool, highest, _LazyUsed(uow, low, high))


class _LazyUsed:
    """The MACs in use, read only if the allocator has to look for a gap."""

    def __init__(self, uow: UnitOfWork, low: str, high: str) -> None:
        self.uow, self.low, self.high = uow, low, high

    def __iter__(self) -> Iterator[str]:
        return iter(self.uow.nics.macs_between(self.low, self.high))


def _check_mac_free(uow: UnitOfWork, mac: str, nic_id: str | None = None) -> None:
    other = uow.nics.first(mac=mac)
    if other is not None and other.id != nic_id:
        vm = uow.vms.get(other.vm_id)
        raise Conflict(
            f"MAC Address {mac} is already in use by VM or snapshot: {vm.name if vm else other.vm_id}."
        )


def _profile(uow: UnitOfWork, ref: Ref | None) -> model.VnicProfile | None:
    if not ref:
        return None
    return require(uow.profiles, ref, "VM network interface profile", "vnic_profile")


def _check_profile_in_cluster(
    uow: UnitOfWork, vm: model.Vm, profile: model.VnicProfile | None, action: str
) -> None:
    if profile is None:
        return
    network = uow.networks.get(profile.network_id)
    cluster = uow.clusters.get(vm.cluster_id)
    if network is None or cluster is None or network.data_center_id != cluster.data_center_id:
        raise BadRequest(cannot(action, TYPE, "The vNIC profile's network is not in the VM's data center."))
    if not uow.attachments.first(network_id=network.id, cluster_id=cluster.id):
        raise BadRequest(
            cannot(
                action,
                TYPE,
                f"The network '{network.name}' is not attached to the VM's Cluster '{cluster.name}'.",
            )
        )


def add_nic(
    ctx: EngineContext,
    vm_id: str,
    name: str,
    vnic_profile: Ref | None = None,
    mac: str | None = None,
    *,
    interface: model.NicInterface = model.NicInterface.VIRTIO,
    linked: bool = True,
    plugged: bool = True,
    description: str = "",
    comment: str = "",
) -> model.VmNic:
    """Add a NIC (its MAC from the pool unless given); plugged into a running VM, it is hot-plugged."""
    check_name(name)
    op = None
    with ctx.uow() as uow:
        vm = _locked_vm(uow, vm_id)
        if uow.nics.first(vm_id=vm.id, name=name):
            raise Conflict(cannot("add", TYPE, "The VM already has a network interface with this name."))
        profile = _profile(uow, vnic_profile)
        _check_profile_in_cluster(uow, vm, profile, "add")
        if plugged and vm.is_running:
            op = hotplug.claim(ctx, uow, vm, f"add {TYPE}", OperationKind.HOTPLUG)
        _check_plugged_unlinked(uow, profile.id if profile else None, plugged, linked, "add")
        if mac:
            mac = normalize_mac(mac)
            _check_mac_free(uow, mac)
        else:
            mac = allocate_mac(uow, ctx.mac_pool)
        nic = uow.nics.add(
            model.VmNic(
                name=name,
                vm_id=vm.id,
                mac=mac,
                vnic_profile_id=profile.id if profile else None,
                interface=interface,
                linked=linked,
                plugged=plugged,
                description=description,
                comment=comment,
            )
        )
        if op is not None:
            hotplug.begin_plug(uow, op.op_id, nic, added=True)
        events.emit(
            uow,
            AuditType.NETWORK_ADD_VM_INTERFACE,
            f"Interface {nic.name} ({nic.interface.value}) was added to VM {vm.name}. (User: {events.actor()})",
            vm=vm,
        )
        uow.commit()
    if op is not None:
        hotplug.hotplug(ctx, vm_id, nic.id, op)
    return _reload(ctx, nic.id)


def _reload(ctx: EngineContext, nic_id: str) -> model.VmNic:
    with ctx.reader() as uow:
        return get_or_404(uow.nics, nic_id, TYPE)


def update_nic(ctx: EngineContext, vm_id: str, nic_id: str, changes: NicChanges) -> model.VmNic:
    orphans: list[str] = []
    op = None
    with ctx.uow() as uow:
        vm = _locked_vm(uow, vm_id)
        nic = _nic(uow, vm, nic_id)
        if changes.name is not UNSET and changes.name != nic.name:
            check_name(changes.name)
            if uow.nics.first(vm_id=vm.id, name=changes.name):
                raise Conflict(cannot("edit", TYPE, "The VM already has a network interface with this name."))
        if changes.mac is not UNSET:
            mac = normalize_mac(changes.mac)
            _check_mac_free(uow, mac, nic.id)
            changes = replace(changes, mac=mac)
        plugged = or_current(changes.plugged, nic.plugged)
        if changes.vnic_profile is not UNSET and vm.is_running and plugged != nic.plugged:
            # the host must let go of the old network before the port goes: one change at a time
            raise Conflict(
                cannot(
                    "edit",
                    TYPE,
                    "Plug or unplug the network interface of a running VM and change "
                    "its profile in two steps.",
                )
            )
        if changes.vnic_profile is not UNSET:
            profile = _profile(uow, changes.vnic_profile)
            _check_profile_in_cluster(uow, vm, profile, "edit")
            _check_rewire(uow, vm, nic, profile, plugged)
            if nic.port_id and _network_key(uow, nic.vnic_profile_id) != _network_key(
                uow, profile.id if profile else None
            ):
                orphan = ports.release(uow, nic, "its vNIC moved to another network")
                orphans += [orphan.id] if orphan else []
            nic.vnic_profile_id = profile.id if profile else None
        _check_plugged_unlinked(
            uow, nic.vnic_profile_id, plugged, or_current(changes.linked, nic.linked), "edit"
        )
        if plugged != nic.plugged and vm.is_running:
            kind = OperationKind.HOTUNPLUG if nic.plugged else OperationKind.HOTPLUG
            op = hotplug.claim(ctx, uow, vm, f"edit {TYPE}", kind, nic.id)
        apply_specified(nic, changes, skip={"vnic_profile"})
        if op is not None and nic.plugged:
            hotplug.begin_plug(uow, op.op_id, nic)
        events.emit(
            uow,
            AuditType.NETWORK_UPDATE_VM_INTERFACE,
            f"Interface {nic.name} ({nic.interface.value}) was updated for VM {vm.name}. (User: {events.actor()})",
            vm=vm,
        )
        uow.commit()
    ports.reap(ctx, orphans)
    if op is not None:
        (hotplug.hotplug if nic.plugged else hotplug.hotunplug)(ctx, vm_id, nic_id, op)
    return _reload(ctx, nic_id)


def _network_key(uow: UnitOfWork, profile_id: str | None) -> tuple[str | None, str | None]:
    """Which provider network a profile leads to (None, None: none, or an internal network)."""
    network = _network_of(uow, profile_id)
    if network is None or not network.is_external:
        return None, None
    return network.provider_id, network.provider_network_id


def remove_nic(ctx: EngineContext, vm_id: str, nic_id: str) -> None:
    """Remove a NIC (hot-unplugging it first from a running VM, as oVirt does) and release its port."""
    for _ in range(3):  # a hot unplug first if the VM runs it; then, with the VM row held, the removal
        with ctx.uow() as uow:
            vm = _locked_vm(uow, vm_id)
            nic = _nic(uow, vm, nic_id)
            if vm.is_running and nic.plugged:
                op = hotplug.claim(ctx, uow, vm, f"remove {TYPE}", OperationKind.HOTUNPLUG, nic.id)
                uow.commit()
            else:
                orphan = ports.release(uow, nic, f"its vNIC {nic.name} was removed")
                uow.nics.delete(nic)
                events.emit(
                    uow,
                    AuditType.NETWORK_REMOVE_VM_INTERFACE,
                    f"Interface {nic.name} ({nic.interface.value}) was removed from VM {vm.name}. (User: {events.actor()})",
                    vm=vm,
                )
                uow.commit()
                ports.reap(ctx, [orphan.id] if orphan else [])
                return
        hotplug.hotunplug(ctx, vm_id, nic_id, op)
    raise Conflict(cannot("remove", TYPE, "The VM keeps plugging it; try again."))


def set_plugged(ctx: EngineContext, vm_id: str, nic_id: str, plugged: bool) -> None:
    op, prepared = None, None
    with ctx.uow() as uow:
        placed = placed_or_404(uow, vm_id)  # a hot plug's events name its host, cluster and data center
        vm = placed.vm
        nic = _nic(uow, vm, nic_id)
        _check_plugged_unlinked(
            uow, nic.vnic_profile_id, plugged, nic.linked, "activate" if plugged else "deactivate"
        )
        if nic.plugged != plugged and vm.is_running:
            kind = OperationKind.HOTPLUG if plugged else OperationKind.HOTUNPLUG
            op = hotplug.claim(
                ctx, uow, vm, f"{'activate' if plugged else 'deactivate'} {TYPE}", kind, nic.id
            )
        changed, nic.plugged = nic.plugged != plugged, plugged
        if op is not None and plugged:
            hotplug.begin_plug(uow, op.op_id, nic)
            prepared = hotplug.prepare(uow, placed, nic)
        if changed and op is None:  # the VM is down: only a setting (a hot plug's own events say how it went)
            done = AuditType.NETWORK_ACTIVATE_VM_INTERFACE_SUCCESS
            if not plugged:
                done = AuditType.NETWORK_DEACTIVATE_VM_INTERFACE_SUCCESS
            hotplug.plugged_event(uow, done, vm.id, nic.id, None)
        uow.commit()
    if op is not None and plugged:
        hotplug.hotplug(ctx, vm_id, nic_id, op, prepared)
    elif op is not None:
        hotplug.hotunplug(ctx, vm_id, nic_id, op)


def _locked_vm(uow: UnitOfWork, vm_id: str) -> model.Vm:
    """The VM, its row held until the unit of work ends: a run, a stop or another NIC change waits for it."""
    return uow.vms.lock(vm_id) or get_or_404(uow.vms, vm_id, "VM")


def _nic(uow: UnitOfWork, vm: model.Vm, nic_id: str) -> model.VmNic:
    nic = uow.nics.get(nic_id)
    if nic is None or nic.vm_id != vm.id:
        raise not_found(TYPE, nic_id)
    return nic


def _network_of(uow: UnitOfWork, profile_id: str | None) -> model.Network | None:
    profile = uow.profiles.get(profile_id) if profile_id else None
    return uow.networks.get(profile.network_id) if profile else None


def _check_plugged_unlinked(
    uow: UnitOfWork, profile_id: str | None, plugged: bool, linked: bool, action: str
) -> None:
    """A provider port has no "link down" state the engine could ask for, so oVirt refuses a vNIC on an
    external network that is plugged but unlinked."""
    if not plugged or linked:
        return
    network = _network_of(uow, profile_id)
    if network is not None and network.is_external:
        raise BadRequest(
            cannot(
                action,
                TYPE,
                "Plugged and unlinked VM network interface with external network is not supported.",
            )
        )


def _check_rewire(
    uow: UnitOfWork, vm: model.Vm, nic: model.VmNic, profile: model.VnicProfile | None, plugged: bool
) -> None:
    """Rewiring is not supported for external networks: a vNIC plugged into a running VM keeps its external
    network (or its non-external one) until the VM stops or the vNIC is unplugged."""
    if not (vm.is_running and nic.plugged and plugged):
        return
    old, new = _network_of(uow, nic.vnic_profile_id), _network_of(uow, profile.id if profile else None)
    if (old.id if old else None) == (new.id if new else None):
        return
    if (old is not None and old.is_external) or (new is not None and new.is_external):
        raise BadRequest(
            cannot(
                "edit",
                TYPE,
                "External network cannot be changed while plugged into a running virtual machine. Stop the VM or "
                "unplug the vNIC before editing.",
            )
        )
