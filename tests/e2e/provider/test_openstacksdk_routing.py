"""Contract: routers, external networks and floating IPs through the real openstacksdk (Keystone v3
password auth) against `neutrino provider`, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from typing import Any

import pytest

if os.environ.get("CI") != "true":  # in CI nothing skips: the import below fails loudly instead
    pytest.importorskip("openstack", reason="openstacksdk is not installed (pip install -e .[test])")

from openstack import exceptions  # noqa: E402

from tests.e2e.provider.conftest import unique  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


def test_extensions(conn: Any) -> None:
    aliases = {e.alias for e in conn.network.extensions()}
    assert {"external-net", "router", "ext-gw-mode", "extraroute"} <= aliases


def test_router_lifecycle(conn: Any) -> None:
    ext = conn.network.create_network(name=unique("ext"), is_router_external=True)
    assert ext.is_router_external is True
    assert ext.id in {n.id for n in conn.network.networks(is_router_external=True)}
    ext_sub = conn.network.create_subnet(network_id=ext.id, ip_version=4, cidr="172.50.0.0/24")
    net = conn.network.create_network(name=unique("net"))
    sub = conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.80.0.0/24")

    router = conn.network.create_router(name=unique("r"), external_gateway_info={"network_id": ext.id})
    gateway = router.external_gateway_info
    assert gateway["network_id"] == ext.id and gateway["enable_snat"] is True
    assert gateway["external_fixed_ips"][0]["subnet_id"] == ext_sub.id
    assert router.status == "ACTIVE" and router.is_admin_state_up is True

    answer = conn.network.add_interface_to_router(router, subnet_id=sub.id)
    assert answer["subnet_id"] == sub.id and answer["id"] == router.id
    interface = conn.network.get_port(answer["port_id"])
    assert interface.device_owner == "network:router_interface"
    assert interface.fixed_ips == [{"subnet_id": sub.id, "ip_address": "10.80.0.1"}]
    with pytest.raises(exceptions.BadRequestException, match="already has a port"):
        conn.network.add_interface_to_router(router, subnet_id=sub.id)

    routes = [{"destination": "192.168.50.0/24", "nexthop": "10.80.0.10"}]
    assert conn.network.update_router(router, routes=routes).routes == routes
    with pytest.raises(exceptions.BadRequestException, match="nexthop"):
        conn.network.update_router(
            router, routes=[{"destination": "192.168.51.0/24", "nexthop": "10.81.0.1"}]
        )
    conn.network.update_router(router, routes=[])

    with pytest.raises(exceptions.ConflictException, match="still attached"):
        conn.network.delete_router(router)
    with pytest.raises(exceptions.ConflictException):
        conn.network.delete_subnet(sub)
    with pytest.raises(exceptions.ConflictException, match="cannot be deleted directly"):
        conn.network.delete_port(answer["port_id"])
    plain = conn.network.create_network(name=unique("plain"))
    with pytest.raises(exceptions.BadRequestException, match="not an external network"):
        conn.network.update_router(router, external_gateway_info={"network_id": plain.id})

    conn.network.remove_interface_from_router(router, subnet_id=sub.id)
    with pytest.raises(exceptions.NotFoundException):
        conn.network.remove_interface_from_router(router, subnet_id=sub.id)
    assert [r.id for r in conn.network.routers(name=router.name)] == [router.id]
    conn.network.delete_router(router)
    with pytest.raises(exceptions.NotFoundException):
        conn.network.get_router(router.id)
    conn.network.delete_subnet(ext_sub)  # free once the gateway is gone
    for network in (net, plain, ext):
        conn.network.delete_network(network)


def test_floating_ips(conn: Any) -> None:
    ext = conn.network.create_network(name=unique("ext"), is_router_external=True)
    conn.network.create_subnet(network_id=ext.id, ip_version=4, cidr="172.51.0.0/24")
    net = conn.network.create_network(name=unique("net"))
    sub = conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.82.0.0/24")
    vm = conn.network.create_port(network_id=net.id, device_id="vm-1", device_owner="oVirt")
    fip = conn.network.create_ip(floating_network_id=ext.id)
    assert fip.floating_ip_address.startswith("172.51.0.") and fip.status == "DOWN" and fip.port_id is None

    with pytest.raises(exceptions.NotFoundException, match="not reachable"):
        conn.network.update_ip(fip, port_id=vm.id)
    router = conn.network.create_router(name=unique("r"), external_gateway_info={"network_id": ext.id})
    conn.network.add_interface_to_router(router, subnet_id=sub.id)
    associated = conn.network.update_ip(fip, port_id=vm.id)
    assert associated.port_id == vm.id and associated.router_id == router.id and associated.status == "ACTIVE"
    assert associated.fixed_ip_address == vm.fixed_ips[0]["ip_address"]
    assert [f.id for f in conn.network.ips(port_id=vm.id)] == [fip.id]
    assert conn.network.find_ip(fip.floating_ip_address).id == fip.id
    with pytest.raises(exceptions.ConflictException, match="required by one or more floating IPs"):
        conn.network.remove_interface_from_router(router, subnet_id=sub.id)

    released = conn.network.update_ip(fip, port_id=None)
    assert released.port_id is None and released.router_id is None and released.status == "DOWN"
    conn.network.update_ip(fip, port_id=vm.id)
    conn.network.delete_port(vm)  # disassociates
    assert conn.network.get_ip(fip.id).port_id is None
    conn.network.delete_ip(fip)
    with pytest.raises(exceptions.NotFoundException):
        conn.network.get_ip(fip.id)
    conn.network.remove_interface_from_router(router, subnet_id=sub.id)
    conn.network.delete_router(router)
    conn.network.delete_network(net)
    conn.network.delete_network(ext)
