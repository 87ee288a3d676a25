"""/openstacknetworkproviders: providers, their networks (live, with import), subnets and certificates."""

from __future__ import annotations

import hashlib
from typing import Any

from neutrino.engine.api.fields import (
    API,
    BOOL,
    Enum,
    Field,
    RefTo,
    Text,
    changes_of,
    common_fields,
    custom_properties_field,
    invalid,
    ref_of,
    text_of,
)
from neutrino.engine.api.resource import Call, Collection
from neutrino.engine.api.wire import Tree, as_list
from neutrino.engine.commands import external_networks as ext_cmd
from neutrino.engine.commands import providers as cmd
from neutrino.engine.domain import model
from neutrino.engine.domain.errors import BadRequest, NotFound

PLUGIN_TYPES = ("open_vswitch",)


def _plugin_type_parse(raw: Any, element: str) -> dict[str, Any]:
    value = str(raw or "").strip()
    if value and value not in PLUGIN_TYPES:
        raise invalid(
            element, raw, f"one of: {', '.join(PLUGIN_TYPES)} (use external_plugin_type for others)"
        )
    return {"plugin_type": value or None}


def _write_only(raw: Any, element: str) -> dict[str, Any]:
    """A provider's password: accepted, never rendered; oVirt's PROVIDER_PASSWORD_MAX_SIZE."""
    return {element: None if raw in (None, "") else text_of(raw, element, 200)}


class Providers(Collection):
    path, plural, element = (
        "openstacknetworkproviders",
        "openstack_network_providers",
        "openstack_network_provider",
    )
    type_name, repo = "Provider", "providers"
    fields = (
        *common_fields(),
        Field("type", codec=Enum(model.ProviderType)),
        Field("url"),
        Field("requires_authentication", codec=BOOL),
        Field("username"),
        Field("password", render_fn=lambda e: None, parse_fn=_write_only),  # write-only
        Field("authentication_url"),
        Field("tenant_name"),
        Field("project_name"),
        Field("project_domain_name"),
        Field("user_domain_name"),
        Field("plugin_type", parse_fn=_plugin_type_parse),
        Field("external_plugin_type"),
        Field("read_only", codec=BOOL),
        Field("auto_sync", codec=BOOL),
        Field("unmanaged", codec=BOOL),
        custom_properties_field("properties", "property"),
    )
    links = ("certificates", "networks")
    actions = ("testconnectivity", "importcertificates")
    searchable = True

    def add(self, call: Call, body: Tree) -> Any:
        fields = self.parse(body)
        fields.setdefault("type", model.ProviderType.NEUTRON)
        return cmd.add_provider(call.ctx, fields.pop("name", None), fields.pop("password", None), **fields)

    def update(self, call: Call, id_: str, body: Tree) -> Any:
        return cmd.update_provider(call.ctx, id_, changes_of(cmd.ProviderChanges, self.parse(body)))

    def remove(self, call: Call, id_: str) -> None:
        cmd.remove_provider(call.ctx, id_)

    def act(self, call: Call, id_: str, action: str, body: Tree) -> Tree:
        if action == "testconnectivity":
            cmd.test_connectivity(call.ctx, id_)
            return {"status": "complete"}
        if action == "importcertificates":
            certs = body.get("certificates")
            items = as_list(certs.get("certificate")) if isinstance(certs, dict) else []
            pems = [str(c.get("content") or "") for c in items if isinstance(c, dict)]
            if not pems or not all(pems):
                raise BadRequest("Incomplete parameters: 'certificates.certificate.content' is required.")
            cmd.import_certificates(call.ctx, id_, pems)
            return {"status": "complete"}
        return super().act(call, id_, action, body)


class ProviderNetworks(Collection):
    """The provider's networks as it has them now; ids are the provider's."""

    path, plural, element, type_name = "networks", "openstack_networks", "openstack_network", "Network"
    fields = (Field("name", writable=False),)
    links = ("subnets",)
    actions = ("import",)

    def list(self, call: Call) -> Any:
        found = call.memo("discovered", lambda: ext_cmd.discover(call.ctx, call.parents[0]))
        call.memo("imports", lambda: {n.id: dcs for n, dcs in found})
        return [n for n, _ in found]

    def get(self, call: Call, id_: str) -> Any:
        provider = call.parent_entities[0]  # the router has just read it (no statement here)
        net = ext_cmd.provider_network(call.ctx, provider, id_)
        call.memo("provider", lambda: provider)
        call.memo("network", lambda: net)
        return net

    def href(self, call: Call, entity: Any) -> str:
        return f"{API}/openstacknetworkproviders/{call.parents[0]}/networks/{entity.id}"

    def render_extra(self, call: Call, entity: Any) -> Tree:
        provider = call.parents[0]
        imports = call.memo("imports", dict)
        if entity.id not in imports:  # one network, not a list: who imported it, read when it is rendered
            imports[entity.id] = ext_cmd.importers(call.uow, provider, entity.id)
        dcs = imports[entity.id]
        extra: Tree = {
            "openstack_network_provider": {
                "href": f"{API}/openstacknetworkproviders/{provider}",
                "id": provider,
            }
        }
        # Neutrino's additions (the SDK ignores them): what the provider says, and which DCs imported it
        if entity.status:
            extra["status"] = entity.status.lower()
        if entity.mtu:
            extra["mtu"] = entity.mtu
        extra["data_centers"] = {"data_center": [{"href": f"{API}/datacenters/{d}", "id": d} for d in dcs]}
        return extra

    def act(self, call: Call, id_: str, action: str, body: Tree) -> Tree:
        if action != "import":
            return super().act(call, id_, action, body)
        dc = ref_of(body.get("data_center"), "data_center")
        if dc is None:
            raise BadRequest("Incomplete parameters: 'data_center' (id or name) is required.")
        name = body.get("name") if isinstance(body.get("name"), str) else None
        ext_cmd.import_network(
            call.ctx,
            call.recall("provider") or call.parents[0],
            id_,
            dc,
            name,
            ext=call.recall("network"),
        )
        return {"status": "complete"}


def _ip_version_parse(raw: Any, element: str) -> dict[str, Any]:
    value = str(raw or "v4").strip().lower()
    if value not in ("v4", "v6"):
        raise invalid(element, raw, "one of: v4, v6")
    return {"ip_version": 4 if value == "v4" else 6}


def _dns_parse(raw: Any, element: str) -> dict[str, Any]:
    if raw in (None, ""):
        return {"dns_servers": []}
    if not isinstance(raw, dict):
        raise invalid(element, raw, "a list of dns_server")
    return {"dns_servers": [str(d) for d in as_list(raw.get("dns_server"))]}


class ProviderSubnets(Collection):
    path, plural, element, type_name = "subnets", "openstack_subnets", "openstack_subnet", "Subnet"
    fields = (
        Field("name", codec=Text(255)),  # the provider's (Neutron's) limit
        Field("cidr"),
        Field("ip_version", render_fn=lambda e: f"v{e.ip_version}", parse_fn=_ip_version_parse),
        Field("gateway", attr="gateway_ip"),
        Field(
            "dns_servers",
            render_fn=lambda e: {"dns_server": list(e.dns_nameservers)} if e.dns_nameservers else None,
            parse_fn=_dns_parse,
        ),
    )

    def list(self, call: Call) -> Any:
        return ext_cmd.list_subnets(call.ctx, call.parents[0], call.parents[1])

    def get(self, call: Call, id_: str) -> Any:
        for subnet in self.list(call):
            if subnet.id == id_:
                return subnet
        raise NotFound(f"Subnet '{id_}' was not found on the provider's network.")

    def href(self, call: Call, entity: Any) -> str:
        provider, network = call.parents
        return f"{API}/openstacknetworkproviders/{provider}/networks/{network}/subnets/{entity.id}"

    def render_extra(self, call: Call, entity: Any) -> Tree:
        provider, network = call.parents
        return {
            "openstack_network": {
                "href": f"{API}/openstacknetworkproviders/{provider}/networks/{network}",
                "id": network,
            }
        }

    def parse(self, tree: Tree) -> dict[str, Any]:
        fields = super().parse(tree)
        fields["gateway"] = fields.pop("gateway_ip", None) or None
        return fields

    def add(self, call: Call, body: Tree) -> Any:
        f = self.parse(body)
        if not f.get("cidr"):
            raise BadRequest("Incomplete parameters: 'cidr' is required.")
        return ext_cmd.add_subnet(
            call.ctx, call.parents[0], call.parents[1], f.pop("name", None) or "", f.pop("cidr"), **f
        )

    def remove(self, call: Call, id_: str) -> None:
        ext_cmd.remove_subnet(call.ctx, call.parents[0], id_)


class ProviderCertificates(Collection):
    """The chain the provider's HTTPS endpoint presents now (not what was imported)."""

    path, plural, element, type_name = "certificates", "certificates", "certificate", "Certificate"
    fields = (
        Field("content", writable=False),
        Field("subject", writable=False),
        Field("organization", writable=False),
    )

    def list(self, call: Call) -> Any:
        return [_CertView(c) for c in cmd.presented_certificates(call.ctx, call.parents[0])]

    def get(self, call: Call, id_: str) -> Any:
        for cert in self.list(call):
            if cert.id == id_:
                return cert
        raise NotFound(f"Certificate '{id_}' was not found.")

    def href(self, call: Call, entity: Any) -> str:
        return f"{API}/openstacknetworkproviders/{call.parents[0]}/certificates/{entity.id}"


class _CertView:
    def __init__(self, cert: Any) -> None:
        self.content, self.subject, self.organization = cert.content, cert.subject, cert.organization
        self.id = hashlib.sha1(cert.content.encode()).hexdigest()


def provider_ref() -> Field:
    return Field(
        "external_provider", attr="provider_id", codec=RefTo("openstacknetworkproviders"), writable=False
    )
