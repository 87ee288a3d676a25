"""vNIC profiles: how a VM NIC connects to a logical network (port mirroring, custom properties)."""

from __future__ import annotations

import re
from typing import Any

from neutrino.engine.commands.common import EngineContext, Ref, apply_changes, get_or_404, require
from neutrino.engine.domain import model
from neutrino.engine.domain.errors import BadRequest, Conflict, cannot, used_by
from neutrino.engine.domain.rules import check_name, check_port_mirroring

TYPE = "VM network interface profile"

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# The custom properties the engine declares for vNIC profiles, with the value each accepts
# (oVirt's CustomDeviceProperties). SecurityGroups: empty, or a comma-separated list of UUIDs.
DECLARED_PROPERTIES: dict[str, re.Pattern[str]] = {
    "SecurityGroups": re.compile(rf"^(|{_UUID}(\s*,\s*{_UUID})*)$"),
}


def check_custom_properties(props: dict[str, str], action: str) -> dict[str, str]:
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
            "UUIDs, or nothing)"
        )
    return props


def add_profile(ctx: EngineContext, name: str, network: Ref, **fields: Any) -> model.VnicProfile:
    check_name(name)
    check_custom_properties(fields.get("custom_properties", {}), "add")
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
        check_port_mirroring(net.is_external, bool(fields.get("port_mirroring")), "add")
        profile = uow.profiles.add(model.VnicProfile(name=name, network_id=net.id, **fields))
        uow.commit()
        return profile


def update_profile(ctx: EngineContext, profile_id: str, changes: dict[str, Any]) -> model.VnicProfile:
    with ctx.uow() as uow:
        profile = get_or_404(uow.profiles, profile_id, TYPE)
        net_ref = changes.pop("network", None)
        if net_ref:
            net = require(uow.networks, net_ref, "Network", "network")
            if net.id != profile.network_id:
                raise BadRequest(
                    cannot("edit", TYPE, "VM network interface profile's network cannot be changed.")
                )
        if "name" in changes and changes["name"] != profile.name:
            check_name(changes["name"])
            if uow.profiles.first(network_id=profile.network_id, name=changes["name"]):
                raise _name_used("edit")
        if "custom_properties" in changes:
            check_custom_properties(changes["custom_properties"], "edit")
        network = get_or_404(uow.networks, profile.network_id, "Network")
        check_port_mirroring(
            network.is_external, changes.get("port_mirroring", profile.port_mirroring), "edit"
        )
        apply_changes(
            profile,
            changes,
            {
                "name",
                "description",
                "comment",
                "port_mirroring",
                "pass_through",
                "migratable",
                "public",
                "custom_properties",
            },
        )
        uow.commit()
        return profile


def set_public(ctx: EngineContext, profile_id: str, public: bool) -> model.VnicProfile:
    """Grant (or take back) every user's right to use the profile: oVirt's Everyone/VnicProfileUser permission."""
    with ctx.uow() as uow:
        profile = get_or_404(uow.profiles, profile_id, TYPE)
        profile.public = public
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
