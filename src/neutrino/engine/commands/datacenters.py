"""Data centers: add (with its management network, as oVirt does), update, remove (optionally forced)."""

from __future__ import annotations

from dataclasses import dataclass

from neutrino.engine.commands import events, ports
from neutrino.engine.commands.common import (
    UNSET,
    EngineContext,
    Unset,
    apply_specified,
    get_or_404,
    or_current,
)
from neutrino.engine.commands.networks import create_network, drop_network, ensure_network_removable
from neutrino.engine.domain import model
from neutrino.engine.domain.audit import AuditType
from neutrino.engine.domain.errors import Conflict, InUse, cannot
from neutrino.engine.domain.rules import check_data_center_version, check_name

MANAGEMENT_NETWORK = "ovirtmgmt"
TYPE = "Data Center"


@dataclass(frozen=True)
class DataCenterChanges:
    """What an edit of a data center sets; a field left UNSET keeps its value."""

    name: str | Unset = UNSET
    description: str | Unset = UNSET
    comment: str | Unset = UNSET
    local: bool | Unset = UNSET
    version_major: int | Unset = UNSET
    version_minor: int | Unset = UNSET


def add_data_center(
    ctx: EngineContext,
    name: str,
    *,
    description: str = "",
    comment: str = "",
    local: bool = False,
    version_major: int = 4,
    version_minor: int = 7,
) -> model.DataCenter:
    check_name(name)
    with ctx.uow() as uow:
        if uow.datacenters.first(name=name):
            raise Conflict(cannot("add", TYPE, "The Data Center name is already in use."))
        dc = model.DataCenter(
            name=name,
            description=description,
            comment=comment,
            local=local,
            version_major=version_major,
            version_minor=version_minor,
        )
        check_data_center_version("create", (dc.version_major, dc.version_minor))
        uow.datacenters.add(dc)
        uow.flush()
        mgmt = model.Network(
            name=MANAGEMENT_NETWORK,
            data_center_id=dc.id,
            description="Management Network",
            usages=[model.NetworkUsage.VM.value, model.NetworkUsage.MANAGEMENT.value],
        )
        create_network(uow, mgmt)
        events.emit(
            uow,
            AuditType.USER_ADD_STORAGE_POOL,
            f"Data Center {dc.name}, Compatibility Version {dc.version_major}.{dc.version_minor} and Quota Type DISABLED was added by {events.actor()}",
            data_center=dc,
        )
        uow.commit()
        return dc


def update_data_center(ctx: EngineContext, dc_id: str, changes: DataCenterChanges) -> model.DataCenter:
    with ctx.uow() as uow:
        dc = get_or_404(uow.datacenters, dc_id, TYPE)
        if changes.name is not UNSET and changes.name != dc.name:
            check_name(changes.name)
            if uow.datacenters.first(name=changes.name):
                raise Conflict(cannot("edit", TYPE, "The Data Center name is already in use."))
        current = (dc.version_major, dc.version_minor)
        version = (
            or_current(changes.version_major, current[0]),
            or_current(changes.version_minor, current[1]),
        )
        if version != current:
            clusters = uow.clusters.list(data_center_id=dc.id)
            networks = uow.networks.list(data_center_id=dc.id)
            check_data_center_version(
                "edit",
                version,
                current,
                cluster_versions={c.name: (c.version_major, c.version_minor) for c in clusters},
                has_non_management_networks=any(
                    model.NetworkUsage.MANAGEMENT.value not in n.usages for n in networks
                ),
            )
        apply_specified(dc, changes)
        events.emit(
            uow,
            AuditType.USER_UPDATE_STORAGE_POOL,
            f"Data Center {dc.name} was updated by {events.actor()}",
            data_center=dc,
        )
        uow.commit()
        return dc


def remove_data_center(ctx: EngineContext, dc_id: str, force: bool = False) -> None:
    """Remove a data center and its networks; its clusters stay, detached (as in oVirt).

    Refused while a VM of its clusters runs or (without force) while a VM NIC uses one of its networks.
    With force, those NICs are left without a profile.
    """
    with ctx.uow() as uow:
        dc = get_or_404(uow.datacenters, dc_id, TYPE)
        clusters = uow.clusters.list(data_center_id=dc.id)
        running = [vm.name for vm in uow.vms.list(cluster_id=[c.id for c in clusters]) if vm.is_running]
        if running:  # even forced: removing its networks would pull them from under running VMs
            raise InUse(
                cannot("remove", TYPE, f"The following VMs are running: {', '.join(sorted(running))}.")
            )
        orphans: list[str] = []
        for network in uow.networks.list(data_center_id=dc.id):
            if not force:
                ensure_network_removable(uow, network)
            orphans += drop_network(uow, network, unplug_nics=force)
        for cluster in clusters:
            cluster.data_center_id = None
        uow.flush()
        uow.datacenters.delete(dc)
        events.emit(
            uow,
            AuditType.USER_REMOVE_STORAGE_POOL,
            f"Data Center {dc.name} was removed by {events.actor()}",
            data_center=dc,
        )
        uow.commit()
    ports.reap(ctx, orphans)  # a provider that is down does not block the removal: the janitor retries
