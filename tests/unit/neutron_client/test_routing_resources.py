"""Reading routers and floating IPs as Neutron sends them: with and without a gateway, from Neutrons with
and without ext-gw-mode and extraroute."""

from __future__ import annotations

from neutrino.neutron_client import ExternalGateway, FixedIp, FloatingIp, Network, Route, Router

# A router as Neutron (ML2/OVN, 2024.1) returns it
ROUTER = {
    "id": "915a14a6-867b-4af7-83d1-70efceb146f9",
    "name": "router1",
    "status": "ACTIVE",
    "admin_state_up": True,
    "tenant_id": "0bd18306d801447bb457a46252d82d13",
    "project_id": "0bd18306d801447bb457a46252d82d13",
    "external_gateway_info": {
        "network_id": "ae34051f-aa6c-4c75-abf5-50dc9ac99ef3",
        "enable_snat": True,
        "external_fixed_ips": [
            {"subnet_id": "b930d7f6-ceb7-40a0-8b81-a425dd994ccf", "ip_address": "172.24.4.6"},
            {"subnet_id": "0c56df5d-ace5-46c8-8f4c-45fa4e334d18", "ip_address": "2001:db8::9"},
        ],
    },
    "routes": [{"destination": "179.24.1.0/24", "nexthop": "172.24.3.99"}],
    "availability_zones": ["nova"],
    "distributed": False,
    "ha": False,
    "flavor_id": None,
    "revision_number": 3,
    "tags": [],
}

FLOATING_IP = {
    "id": "2f245a7b-796b-4f26-9cf9-9e82d248fda7",
    "floating_ip_address": "172.24.4.228",
    "floating_network_id": "376da547-b977-4cfe-9cba-275c80debf57",
    "router_id": "d23abc8d-2991-4a55-ba98-2aaea84cc72f",
    "port_id": "ce705c24-c1ef-408a-bda3-7bbd946164ab",
    "fixed_ip_address": "10.0.0.3",
    "status": "ACTIVE",
    "description": "for test",
    "project_id": "4969c491a3c74ee4af974e6d800c62de",
    "tenant_id": "4969c491a3c74ee4af974e6d800c62de",
    "port_details": {"status": "ACTIVE", "name": ""},
    "dns_domain": "",
    "dns_name": "",
    "tags": [],
}


def test_a_router_with_its_gateway_and_routes() -> None:
    router = Router.from_json(ROUTER)
    assert (router.name, router.status, router.admin_state_up) == ("router1", "ACTIVE", True)
    assert router.gateway == ExternalGateway(
        "ae34051f-aa6c-4c75-abf5-50dc9ac99ef3",
        True,
        (
            FixedIp("b930d7f6-ceb7-40a0-8b81-a425dd994ccf", "172.24.4.6"),
            FixedIp("0c56df5d-ace5-46c8-8f4c-45fa4e334d18", "2001:db8::9"),
        ),
    )
    assert router.routes == (Route("179.24.1.0/24", "172.24.3.99"),)
    assert router.project_id == "0bd18306d801447bb457a46252d82d13"


def test_a_router_of_an_older_or_smaller_neutron() -> None:
    """No gateway (null or an empty object), no ext-gw-mode (no enable_snat), no extraroute."""
    bare = {"id": "r", "name": "r", "tenant_id": "p", "external_gateway_info": None}
    router = Router.from_json(bare)
    assert router.gateway is None and router.routes == () and router.project_id == "p"
    assert router.admin_state_up is True and router.status is None
    assert Router.from_json({**bare, "external_gateway_info": {}}).gateway is None
    gateway = Router.from_json({**bare, "external_gateway_info": {"network_id": "n"}}).gateway
    assert gateway == ExternalGateway("n") and gateway.enable_snat is None
    broken = Router.from_json(
        {**bare, "routes": [{"destination": "10.0.0.0/8"}, "x"], "admin_state_up": False}
    )
    assert broken.routes == () and broken.admin_state_up is False


def test_floating_ips_associated_or_not() -> None:
    fip = FloatingIp.from_json(FLOATING_IP)
    assert (fip.floating_ip_address, fip.fixed_ip_address, fip.status) == (
        "172.24.4.228",
        "10.0.0.3",
        "ACTIVE",
    )
    assert fip.port_id == FLOATING_IP["port_id"] and fip.router_id == FLOATING_IP["router_id"]
    assert fip.description == "for test" and fip.project_id == FLOATING_IP["project_id"]
    loose = FloatingIp.from_json(
        {**FLOATING_IP, "port_id": None, "fixed_ip_address": None, "router_id": None}
    )
    assert (loose.port_id, loose.fixed_ip_address, loose.router_id) == (None, None, None)


def test_external_networks() -> None:
    assert Network.from_json({"id": "n", "router:external": True}).external is True
    assert Network.from_json({"id": "n"}).external is False
    assert Network.from_json({"id": "n", "router:external": "yes"}).external is False
