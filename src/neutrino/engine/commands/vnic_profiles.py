"""vNIC profiles: how a VM NIC connects to a logical network (port mirroring, custom properties)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from neutrino.engine.commands import events
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
from neutrino.engine.domain import model
from neutrino.engine.domain.audit import AuditType
from neutrino.engine.domain.errors import BadRequest, Conflict, cannot, used_by
from neutrino.engine.domain.rules import check_name, check_port_mirroring

TYPE = "VM network interface profile"

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# The custom properties the engine declares for vNIC profiles, with the value each accepts
# (oVirt's CustomDeviceProperties). SecurityGroups: empty, or a comma-separated list of UUIDs.
# PortSecurity: true or false (empty, like absent: the network's default), the port's
# port_security_enabled.
DECLARED_PROPERTIES: dict[str, re.Pattern[str]] = {
    "SecurityGroups": re.compile(rf"^(|{_UUID}(\s*,\s*{_UUID})*)$"),
    "PortSecurity": re.compile(r"^(|true|false)$", re.IGNORECASE),
}


@dataclass(frozen=True)
class ProfileChanges:
    """What an edit of a vNIC profile sets; a field left UNSET keeps its value. ``network`` may only name the
    profile's own network (a profile cannot move)."""

    name: str | Unset = UNSET
    description: str | Unset = UNSET
    comment: str | Unset = UNSET
    port_mirroring: bool | Unset = UNSET
    pass_through: bool | Unset = UNSET
    migratable: bool | Unset = UNSET
    public: bool | Unset = UNSET
    custom_properties: dict[str, str] | Unset = UNSET
    network: Ref | Unset = UNSET


def check_custom_properties(props: Mapping[str, str], action: str) -> Mapping[str, str]:
    unknown = sorted(k for k in props if k not in DECLARED_PROPERTIES)
    if unknown:
        raise BadRequest(
            f"Cannot {action} {TYPE} if some of the specified custom properties are not configured by the system. "
            f"The keys are: {', '.join(unknown)}"
        )
    wrong = sorted(k for k, v in props.items() if not DECLARED_PROPERTIES[k].match(v or ""))
    if wrong:
        raise BadRequest(
            f"Cannot {action} {TYPE} if some of the specified custom properties have illegal values. "
            f"The keys are: {', '.join(wrong)} (SecurityGroups takes a comma-separated list of security group "
            "UUIDs, or nothing; PortSecurity takes true, false, or nothing)"
        )
    if (props.get("PortSecurity") or "").lower() == "false" and (props.get("SecurityGroups") or "").strip():
        raise BadRequest(
            f"Cannot {action} {TYPE} if the custom property PortSecurity is false while SecurityGroups names "
            "security groups: a port without port security cannot have security groups. Clear SecurityGroups "
            "or set PortSecurity to true."
        )
    return props


def add_profile(
    ctx: EngineContext,
    name: str,
    network: Ref,
    *,
    description: str = "",
    comment: str = "",
    port_mirroring: bool = False,
    pass_through: bool = False,
    migratable: bool = False,
    public: bool = True,
    custom_properties: Mapping[str, str] | None = None,
) -> model.VnicProfile:
    """Add a profile to a VM network (``public``: every user may use it)."""
    check_name(name)
    check_custom_properties(custom_properties or {}, "add")
    with ctx.uow() as uow:
        net = require(uow.networks, network, "Network", "network")
        if not net.is_vm_network:
            raise Conflict(
                cannot(
                    "add",
                    TYPE,
                    "VM network interface profiles cannot be added to a non-VM network. "
                    "Please make sure the network is a VM network.",
                )
            )
        if uow.profiles.first(network_id=net.id, name=name):
            raise _name_used("add")
        check_port_mirroring(net.is_external, port_mirroring, "add")
        profile = uow.profiles.add(
            model.VnicProfile(
                name=name,
                network_id=net.id,
                description=description,
                comment=comment,
                port_mirroring=port_mirroring,
                pass_through=pass_through,
                migratable=migratable,
                public=public,
                custom_properties=dict(custom_properties or {}),
            )
        )
        dc = uow.datacenters.get(net.data_center_id)
        events.emit(
            uow,
            AuditType.ADD_VNIC_PROFILE,
            f"VM network interface profile {profile.name} was added to network {net.name} in Data Center: {dc.name if dc else ''}. (User: {events.actor()})",
            data_center=dc,
        )
        uow.commit()
        return profile


def update_profile(ctx: EngineContext, profile_id: str, changes: ProfileChanges) -> model.VnicProfile:
    with ctx.uow() as uow:
        profile = get_or_404(uow.profiles, profile_id, TYPE)
        if changes.network is not UNSET and changes.network:
            net = require(uow.networks, changes.network, "Network", "network")
            if net.id != profile.network_id:
                raise BadRequest(
                    cannot("edit", TYPE, "VM network interface profile's network cannot be changed.")
                )
        if changes.name is not UNSET and changes.name != profile.name:
            check_name(changes.name)
            if uow.profiles.first(network_id=profile.network_id, name=changes.name):
                raise _name_used("edit")
        if changes.custom_properties is not UNSET:
            check_custom_properties(changes.custom_properties, "edit")
        network = get_or_404(uow.networks, profile.network_id, "Network")
        check_port_mirroring(
            network.is_external, or_current(changes.port_mirroring, profile.port_mirroring), "edit"
        )
        apply_specified(profile, changes, skip={"network"})
        dc = uow.datacenters.get(network.data_center_id)
        events.emit(
            uow,
            AuditType.UPDATE_VNIC_PROFILE,
            f"VM network interface profile {profile.name} was updated for network {network.name} in Data Center: {dc.name if dc else ''}. (User: {events.actor()})",
            data_center=dc,
        )
        uow.commit()
        return profile


def set_public(ctx: EngineContext, profile_id: str, public: bool) -> model.VnicProfile:
    """Grant (or take back) every user's right to use the profile: oVirt's Everyone/VnicProfileUser permission."""
    with ctx.uow() as uow:
        profile = get_or_404(uow.profiles, profile_id, TYPE)
        profile.public = public
        network = get_or_404(uow.networks, profile.network_id, "Network")
        dc = uow.datacenters.get(network.data_center_id)
        events.emit(
            uow,
            AuditType.UPDATE_VNIC_PROFILE,
            f"VM network interface profile {profile.name} was updated for network {network.name} in Data Center: {dc.name if dc else ''}: {'every user may' if public else 'only administrators may'} use it. (User: {events.actor()})",
            data_center=dc,
        )
        uow.commit()
        return profile


def remove_profile(ctx: EngineContext, profile_id: str) -> None:
    with ctx.uow() as uow:
        profile = get_or_404(uow.profiles, profile_id, TYPE)
        nics = uow.nics.using_profiles([profile.id])
        if nics:
            vms = uow.vms.by_ids(n.vm_id for n in nics)
            raise used_by("remove", TYPE, "VM network interface profile", [vms[n.vm_id].name for n in nics])
        uow.profiles.delete(profile)
        network = get_or_404(uow.networks, profile.network_id, "Network")
        dc = uow.datacenters.get(network.data_center_id)
        events.emit(
            uow,
            AuditType.REMOVE_VNIC_PROFILE,
            f"VM network interface profile {profile.name} was removed from network {network.name} in Data Center: {dc.name if dc else ''}. (User: {events.actor()})",
            data_center=dc,
        )
        uow.commit()


def _name_used(action: str) -> Conflict:
    return Conflict(
        cannot(
            action,
            TYPE,
            "The VM network interface profile's name is already used by an existing profile for "
            "the same network.\n-Please choose a different name.",
        )
    )
