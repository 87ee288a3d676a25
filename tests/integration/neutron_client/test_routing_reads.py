"""The client's routing reads against Neutrino's embedded provider: external networks, routers with their
gateway, routes and interfaces, floating IPs and their filters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from neutrino.neutron_client import ROUTER_INTERFACE, Credentials, Endpoint, FixedIp, NeutronClient, NotFound
from tests.integration.provider.conftest import Api
from tests.integration.provider.l3_helpers import add_interface, external, put_router, router
from tests.integration.provider.server import ADMIN_PASSWORD, RunningProvider, running_provider
from tests.support.databases import sqlite_url


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProvider]:
    data_dir = tmp_path_factory.mktemp("provider")
    with running_provider(sqlite_url(data_dir), data_dir) as running:
        yield running


def test_routers_interfaces_and_floating_ips(provider: RunningProvider) -> None:
    credentials = Credentials(f"{provider.url}/v3", "admin", ADMIN_PASSWORD, "admin")
    with (
        provider.admin() as http,
        NeutronClient(Endpoint(url=provider.url, credentials=credentials)) as client,
    ):
        api = Api(http)
        ext, ext_sub = external(api, "172.70.0.0/24")
        made = router(api, external_gateway_info={"network_id": ext["id"]})
        other = router(api)
        net = api.network()
        subs = [api.subnet(net["id"], cidr) for cidr in ("10.70.0.0/24", "10.71.0.0/24")]
        interfaces = [add_interface(api, made["id"], subnet_id=s["id"])["port_id"] for s in subs]
        put_router(api, made["id"], routes=[{"destination": "192.168.7.0/24", "nexthop": "10.70.0.9"}])
        vm = api.port(net["id"], fixed_ips=[{"subnet_id": subs[0]["id"]}])
        fip = api.post("floatingips", "floatingip", floating_network_id=ext["id"], port_id=vm["id"])
        spare = api.post("floatingips", "floatingip", floating_network_id=ext["id"])

        assert (
            client.get_network(ext["id"]).external is True and client.get_network(net["id"]).external is False
        )
        assert {n.id for n in client.list_networks(**{"router:external": True})} >= {ext["id"]}
        found = client.get_router(made["id"])
        assert (
            found.gateway is not None and found.gateway.network_id == ext["id"] and found.gateway.enable_snat
        )
        assert found.gateway.fixed_ips[0].subnet_id == ext_sub["id"]
        assert [(r.destination, r.nexthop) for r in found.routes] == [("192.168.7.0/24", "10.70.0.9")]
        assert {r.id for r in client.list_routers(id=[made["id"], other["id"]])} == {made["id"], other["id"]}
        assert client.get_router(other["id"]).gateway is None

        ports = client.list_router_interfaces([made["id"], other["id"]])
        assert sorted(p.id for p in ports) == sorted(interfaces)
        assert all(p.device_owner == ROUTER_INTERFACE and p.device_id == made["id"] for p in ports)
        assert {p.fixed_ips for p in ports} == {
            (FixedIp(subs[0]["id"], "10.70.0.1"),),
            (FixedIp(subs[1]["id"], "10.71.0.1"),),
        }
        assert client.list_router_interfaces([]) == []
        assert {p.id for p in client.list_router_interfaces()} >= set(interfaces)

        [associated] = client.list_floating_ips(port_id=vm["id"])
        assert associated.id == fip["id"] and associated.router_id == made["id"]
        assert (
            associated.fixed_ip_address == vm["fixed_ips"][0]["ip_address"] and associated.status == "ACTIVE"
        )
        listed = {f.id: f for f in client.list_floating_ips(floating_network_id=ext["id"])}
        assert set(listed) == {fip["id"], spare["id"]} and listed[spare["id"]].port_id is None
        with pytest.raises(NotFound):
            client.get_router("11111111-2222-3333-4444-555555555555")
