"""Logical networks of a data center, with the vNIC profile a VM network gets when added."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from neutrino.engine.commands import events, ports
from neutrino.engine.commands.common import (
    UNSET,
    EngineContext,
    Ref,
    Unset,
    apply_specified,
    get_or_404,
    require,
    specified,
)
from neutrino.engine.domain import model
from neutrino.engine.domain.audit import AuditType
from neutrino.engine.domain.errors import InUse, cannot, used_by
from neutrino.engine.domain.rules import (
    check_external_edit,
    check_mtu,
    check_name,
    check_vlan,
    network_name_in_use,
)
from neutrino.engine.store.uow import UnitOfWork

TYPE = "Network"


@dataclass(frozen=True)
class NetworkChanges:
    """What an edit of a logical network sets; a field left UNSET keeps its value (``vlan_id`` None: no VLAN)."""

    name: str | Unset = UNSET
    description: str | Unset = UNSET
    comment: str | Unset = UNSET
    vlan_id: int | None | Unset = UNSET
    mtu: int | Unset = UNSET
    stp: bool | Unset = UNSET
    usages: list[str] | Unset = UNSET
    profile_required: bool | Unset = UNSET


def create_network(uow: UnitOfWork, network: model.Network) -> model.Network:
    """Add a network to its data center; a VM network gets a vNIC profile of the same name."""
    if uow.networks.first(data_center_id=network.data_center_id, name=network.name):
        raise network_name_in_use("add", network.name)
    return add_checked_network(uow, network)


def add_checked_network(uow: UnitOfWork, network: model.Network) -> model.Network:
    """``create_network`` for a caller that has checked the name itself (the unique constraint still holds).

    The network is written at once (its profile refers to it, and the ORM does not order rows of unrelated
    mappers); the profile goes with the unit of work's next flush or its commit."""
    uow.networks.add(network)
    uow.flush()
    if network.is_vm_network:
        uow.profiles.add(model.VnicProfile(name=network.name, network_id=network.id))
    return network


def add_network(
    ctx: EngineContext,
    name: str,
    data_center: Ref,
    *,
    description: str = "",
    comment: str = "",
    vlan_id: int | None = None,
    mtu: int = 0,
    stp: bool = False,
    usages: Sequence[str] = (model.NetworkUsage.VM.value,),
    profile_required: bool = False,
) -> model.Network:
    """Add an internal network (``mtu`` 0: the engine's default); a VM network gets its vNIC profile."""
    check_name(name)
    check_vlan(vlan_id)
    check_mtu(mtu)
    with ctx.uow() as uow:
        dc = require(uow.datacenters, data_center, "Data Center", "data_center")
        network = model.Network(
            name=name,
            data_center_id=dc.id,
            description=description,
            comment=comment,
            vlan_id=vlan_id,
            mtu=mtu,
            stp=stp,
            usages=list(usages),
            profile_required=profile_required,
        )
        create_network(uow, network)
        events.emit(
            uow,
            AuditType.NETWORK_ADD_NETWORK,
            f"Finished adding Network {network.name} to Data Center: {dc.name}",
            data_center=dc,
        )
        uow.commit()
        return network


def update_network(ctx: EngineContext, network_id: str, changes: NetworkChanges) -> model.Network:
    with ctx.uow() as uow:
        network = get_or_404(uow.networks, network_id, TYPE)
        if changes.name is not UNSET and changes.name != network.name:
            check_name(changes.name)
            if uow.networks.first(data_center_id=network.data_center_id, name=changes.name):
                raise network_name_in_use("edit", changes.name)
        if changes.vlan_id is not UNSET:
            check_vlan(changes.vlan_id)
        if changes.mtu is not UNSET:
            check_mtu(changes.mtu)
        check_external_edit(
            network.is_external,
            {"vlan_id": network.vlan_id, "stp": network.stp, "mtu": network.mtu},
            specified(changes),
        )
        if (
            changes.usages is not UNSET
            and model.NetworkUsage.VM.value not in changes.usages
            and network.is_vm_network
        ):
            profiles = uow.profiles.list(network_id=network.id)
            if uow.nics.using_profiles([p.id for p in profiles]):
                raise InUse(
                    cannot("edit", TYPE, "The network is used by VM NICs and must stay a VM network.")
                )
            for profile in profiles:  # as oVirt: a non-VM network has no vNIC profiles
                uow.profiles.delete(profile)
        apply_specified(network, changes)
        dc = uow.datacenters.get(network.data_center_id)
        events.emit(
            uow,
            AuditType.NETWORK_UPDATE_NETWORK,
            f"Finished Network {network.name} update on Data Center: {dc.name if dc else ''}",
            data_center=dc,
        )
        uow.commit()
        return network


def remove_network(ctx: EngineContext, network_id: str) -> None:
    with ctx.uow() as uow:
        network = get_or_404(uow.networks, network_id, TYPE)
        if network.usages and model.NetworkUsage.MANAGEMENT.value in network.usages:
            raise InUse(cannot("remove", TYPE, "The management network cannot be removed."))
        ensure_network_removable(uow, network)
        drop_network(uow, network, unplug_nics=False)
        dc = uow.datacenters.get(network.data_center_id)
        events.emit(
            uow,
            AuditType.NETWORK_REMOVE_NETWORK,
            f"Finished Network {network.name} removal from Data Center: {dc.name if dc else ''}",
            data_center=dc,
        )
        uow.commit()


def ensure_network_removable(uow: UnitOfWork, network: model.Network, action: str = "remove") -> None:
    """A network used by a VM NIC cannot be removed."""
    profiles = uow.profiles.list(network_id=network.id)
    nics = uow.nics.using_profiles([p.id for p in profiles]) if profiles else []
    if nics:
        vms = uow.vms.by_ids(n.vm_id for n in nics)
        raise used_by(action, "Network", "logical network", [vms[n.vm_id].name for n in nics])


def drop_network(uow: UnitOfWork, network: model.Network, *, unplug_nics: bool) -> list[str]:
    """Delete a network with its profiles and cluster attachments (NICs on it lose their profile and give up
    their provider ports). Returns the orphaned ports' row ids, for the caller to reap after its commit."""
    orphans = []
    for attachment in uow.attachments.list(network_id=network.id):
        uow.attachments.delete(attachment)
    profiles = uow.profiles.list(network_id=network.id)
    if unplug_nics:
        for nic in uow.nics.using_profiles([p.id for p in profiles]):
            orphan = ports.release(uow, nic, f"network {network.name} was removed")
            orphans += [orphan.id] if orphan else []
            nic.vnic_profile_id, nic.plugged = None, False
    uow.flush()
    for profile in profiles:
        uow.profiles.delete(profile)
    uow.flush()
    uow.networks.delete(network)
    return orphans
