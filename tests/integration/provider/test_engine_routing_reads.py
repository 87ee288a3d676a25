"""The engine's Neutron adapter reads a real provider's routing for display (the web UI's routers and topology):
routers with their gateway, their interfaces (ports whose device is the router), floating IPs, and a router that
is gone reads as None. Routing is made here through the provider's own API; the adapter only reads."""

from __future__ import annotations

from tests.integration.provider.conftest import Api, unique
from tests.integration.provider.server import ADMIN_PASSWORD, RunningProvider


def test_the_engine_reads_routers_their_interfaces_and_floating_ips(
    api: Api, shared_provider: RunningProvider
) -> None:
    from neutrino.engine.provider_clients.base import ROUTING_EXTENSION
    from neutrino.engine.provider_clients.neutron import NeutronProvider
    from neutrino.neutron_client import Credentials, Endpoint

    inside = api.network(name=unique("inside"))
    subnet = api.subnet(inside["id"], cidr="10.81.0.0/24")
    public = api.network(name=unique("public"), **{"router:external": True})
    api.subnet(public["id"], cidr="198.51.100.0/24")
    router = api.post(
        "routers", "router", name=unique("edge"), external_gateway_info={"network_id": public["id"]}
    )
    api.ok(api.c.put(f"/v2.0/routers/{router['id']}/add_router_interface", json={"subnet_id": subnet["id"]}))
    port = api.port(inside["id"], fixed_ips=[{"subnet_id": subnet["id"], "ip_address": "10.81.0.7"}])
    fip = api.post("floatingips", "floatingip", floating_network_id=public["id"], port_id=port["id"])
    credentials = Credentials(f"{shared_provider.url}/v3", "admin", ADMIN_PASSWORD, "admin")
    client = NeutronProvider(Endpoint(url=shared_provider.url, credentials=credentials))

    assert ROUTING_EXTENSION in client.extensions()
    found = {r.id: r for r in client.list_routers()}[router["id"]]
    assert found.name == router["name"] and found.gateway is not None
    assert found.gateway.network_id == public["id"] and found.gateway.fixed_ips
    interfaces = client.list_router_ports([router["id"]])
    assert [(p.device_id, p.network_id) for p in interfaces] == [(router["id"], inside["id"])]
    assert [ip.ip_address for ip in interfaces[0].fixed_ips] == ["10.81.0.1"]
    assert interfaces[0].id in {p.id for p in client.list_router_ports()}
    fips = client.list_floating_ips(router_id=router["id"])
    assert [(f.id, f.port_id, f.fixed_ip_address) for f in fips] == [(fip["id"], port["id"], "10.81.0.7")]
    assert fip["id"] in {f.id for f in client.list_floating_ips()}
    got = client.get_router(router["id"])
    assert got is not None and got.id == router["id"]

    api.ok(api.c.delete(f"/v2.0/floatingips/{fip['id']}"), 204)
    api.ok(
        api.c.put(f"/v2.0/routers/{router['id']}/remove_router_interface", json={"subnet_id": subnet["id"]})
    )
    api.ok(api.c.delete(f"/v2.0/routers/{router['id']}"), 204)
    assert client.get_router(router["id"]) is None
    assert client.list_router_ports([router["id"]]) == []
