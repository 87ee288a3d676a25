"""/networks (and /datacenters/{id}/networks), /networks/{id}/vnicprofiles and /vnicprofiles."""

from __future__ import annotations

from typing import Any, ClassVar

from neutrino.engine.api.fields import (
    API,
    BOOL,
    INT,
    Enum,
    Field,
    RefTo,
    changes_of,
    common_fields,
    custom_properties_field,
    invalid,
    ref_of,
)
from neutrino.engine.api.resource import Call, Collection
from neutrino.engine.api.wire import Tree, as_list
from neutrino.engine.commands import external_networks as ext_cmd
from neutrino.engine.commands import networks as cmd
from neutrino.engine.commands import vnic_profiles as profiles_cmd
from neutrino.engine.commands.common import Ref
from neutrino.engine.domain import model
from neutrino.engine.domain.errors import BadRequest


def _vlan_render(entity: Any) -> Any:
    return {"id": str(entity.vlan_id)} if entity.vlan_id is not None else None


def _vlan_parse(raw: Any, element: str) -> dict[str, Any]:
    if raw in ("", None) or (isinstance(raw, dict) and raw.get("id") in (None, "")):
        return {"vlan_id": None}
    if not isinstance(raw, dict):
        raise invalid(element, raw, 'a VLAN (<vlan id="N"/>)')
    return {"vlan_id": INT.parse(raw["id"], "vlan.id")}


def _usages_parse(raw: Any, element: str) -> dict[str, Any]:
    items = as_list(raw.get("usage")) if isinstance(raw, dict) else ([] if raw in ("", None) else None)
    if items is None:
        raise invalid(element, raw, "a list of usage")
    codec = Enum(model.NetworkUsage)
    return {"usages": sorted({codec.parse(u, "usages.usage").value for u in items})}


class Networks(Collection):
    path, plural, element, type_name, repo = "networks", "networks", "network", "Network", "networks"
    fields = (
        *common_fields(name=256),  # oVirt's NETWORK_NAME_SIZE
        Field("data_center", attr="data_center_id", codec=RefTo("datacenters")),
        Field("vlan", render_fn=_vlan_render, parse_fn=_vlan_parse),
        Field("mtu", codec=INT),
        Field("stp", codec=BOOL),
        Field("usages", render_fn=lambda e: {"usage": list(e.usages)}, parse_fn=_usages_parse),
        Field("profile_required", codec=BOOL),
        Field("external_provider", attr="provider_id", codec=RefTo("openstacknetworkproviders")),
    )
    links = ("networklabels", "permissions", "vnicprofiles")
    actions: ClassVar[tuple[str, ...]] = ("export",)
    searchable = True

    def scope(self, call: Call) -> dict[str, Any]:
        return {"data_center_id": call.parents[0]} if call.parents else {}  # /datacenters/{id}/networks

    def belongs(self, call: Call, entity: Any) -> bool:
        return not call.parents or entity.data_center_id == call.parents[0]

    def href(self, call: Call, entity: Any) -> str:
        if call.parents:
            return f"{API}/datacenters/{call.parents[0]}/networks/{entity.id}"
        return f"{API}/networks/{entity.id}"

    def render_extra(self, call: Call, entity: Any) -> Tree:
        if not entity.external_missing:
            return {}
        # Neutrino's addition: the provider no longer has this network
        return {"status": "non_operational", "external_network_missing": True}

    def add(self, call: Call, body: Tree) -> Any:
        fields = self.parse(body)
        if call.parents:
            fields["data_center"] = Ref(id=call.parents[0])
        provider = fields.pop("external_provider", None)
        if provider:
            # created on the provider first, then imported
            return create_external(call.ctx, provider, fields)
        return cmd.add_network(call.ctx, fields.pop("name", None), fields.pop("data_center", None), **fields)

    def update(self, call: Call, id_: str, body: Tree) -> Any:
        changes = changes_of(
            cmd.NetworkChanges, self.parse(body), ignore={"data_center", "external_provider"}
        )
        return cmd.update_network(call.ctx, id_, changes)

    def remove(self, call: Call, id_: str) -> None:
        network = self.get(call, id_)
        call.close()
        if network.is_external:
            ext_cmd.remove_external(call.ctx, id_, remove_from_provider=call.flag("remove_from_provider"))
        else:
            cmd.remove_network(call.ctx, id_)

    def act(self, call: Call, id_: str, action: str, body: Tree) -> Tree:
        if action != "export":
            return super().act(call, id_, action, body)
        element = "external_provider" if "external_provider" in body else "provider"
        ref = ref_of(body.get(element), element)
        if ref is None:
            raise BadRequest("Incomplete parameters: 'external_provider' (id or name) is required.")
        ext_cmd.export_network(call.ctx, id_, ref)
        return {"status": "complete"}


def create_external(ctx: Any, provider: Ref, fields: dict[str, Any]) -> Any:
    usages = fields.get("usages")
    if usages is not None and model.NetworkUsage.VM.value not in usages:
        raise BadRequest("Cannot add Network. An external network cannot be a non-VM network.")
    if fields.get("vlan_id") is not None or fields.get("stp"):
        raise BadRequest(
            "Cannot add Network. External network details (except name, description and MTU) "
            "cannot be changed."
        )
    return ext_cmd.create_on_provider(
        ctx,
        fields.pop("name", None),
        fields.pop("data_center", None),
        provider,
        description=fields.get("description", ""),
        mtu=fields.get("mtu", 0),
    )


def _pass_through_parse(raw: Any, element: str) -> dict[str, Any]:
    mode = raw.get("mode") if isinstance(raw, dict) else None
    if mode not in ("enabled", "disabled"):
        raise invalid("pass_through.mode", mode, "one of: enabled, disabled")
    return {"pass_through": mode == "enabled"}


class VnicProfiles(Collection):
    path, plural, element, type_name, repo = (
        "vnicprofiles",
        "vnic_profiles",
        "vnic_profile",
        "VM network interface profile",
        "profiles",
    )
    fields = (
        *common_fields(name=50),  # oVirt's VNIC_PROFILE_NAME_SIZE
        Field("network", attr="network_id", codec=RefTo("networks")),
        Field("port_mirroring", codec=BOOL),
        Field(
            "pass_through",
            render_fn=lambda e: {"mode": "enabled" if e.pass_through else "disabled"},
            parse_fn=_pass_through_parse,
        ),
        Field("migratable", codec=BOOL),
        custom_properties_field(),
    )
    links = ("permissions",)
    searchable = True

    def render_extra(self, call: Call, entity: Any) -> Tree:
        return {
            "public": entity.public
        }  # Neutrino's view of the Everyone permission (see VnicProfilePermissions)

    def scope(self, call: Call) -> dict[str, Any]:
        # /networks/{id}/vnicprofiles (also under a data center's or a cluster's network)
        return {"network_id": call.parents[-1]} if call.parents else {}

    def belongs(self, call: Call, entity: Any) -> bool:
        return not call.parents or entity.network_id == call.parents[-1]

    def href(self, call: Call, entity: Any) -> str:
        if call.parents:
            return f"{API}/networks/{call.parents[-1]}/vnicprofiles/{entity.id}"
        return f"{API}/vnicprofiles/{entity.id}"

    def add(self, call: Call, body: Tree) -> Any:
        fields = self.parse(body)
        if call.parents:
            fields["network"] = Ref(id=call.parents[-1])
        if "public" in body:
            fields["public"] = BOOL.parse(body["public"], "public")
        return profiles_cmd.add_profile(
            call.ctx, fields.pop("name", None), fields.pop("network", None), **fields
        )

    def update(self, call: Call, id_: str, body: Tree) -> Any:
        changes = changes_of(profiles_cmd.ProfileChanges, self.parse(body))
        return profiles_cmd.update_profile(call.ctx, id_, changes)

    def remove(self, call: Call, id_: str) -> None:
        profiles_cmd.remove_profile(call.ctx, id_)
