from __future__ import annotations

from tests.integration.provider.conftest import Api


def test_ipv4_defaults_and_update(api: Api) -> None:
    net = api.network()
    sub = api.subnet(
        net["id"],
        "10.1.0.0/24",
        dns_nameservers=[
            "8.8.8.8",
            "1.1.1.1",
            "9.9.9.9",
            "8.8.4.4",
            "4.4.4.4",
        ],  # Neutron's max_dns_nameservers
    )
    assert sub["gateway_ip"] == "10.1.0.1"
    assert sub["allocation_pools"] == [{"start": "10.1.0.2", "end": "10.1.0.254"}]
    assert len(sub["dns_nameservers"]) == 5 and sub["dns_nameservers"][0] == "8.8.8.8"
    assert sub["enable_dhcp"] is True and sub["host_routes"] == [] and sub["ip_version"] == 4
    assert sub["ipv6_address_mode"] is None and sub["subnetpool_id"] is None
    assert api.ok(api.c.get(f"/v2.0/networks/{net['id']}"))["network"]["subnets"] == [sub["id"]]

    routes = [{"destination": "192.168.0.0/16", "nexthop": "10.1.0.254"}]
    body = {"subnet": {"host_routes": routes, "name": "renamed", "enable_dhcp": False}}
    updated = api.ok(api.c.put(f"/v2.0/subnets/{sub['id']}", json=body))["subnet"]
    assert (
        updated["host_routes"] == routes and updated["name"] == "renamed" and updated["enable_dhcp"] is False
    )
    api.error(api.c.put(f"/v2.0/subnets/{sub['id']}", json={"subnet": {"cidr": "10.9.0.0/24"}}), 400)
    api.ok(api.c.delete(f"/v2.0/subnets/{sub['id']}"), 204)


def test_no_gateway_and_explicit_pools(api: Api) -> None:
    net = api.network()
    sub = api.subnet(net["id"], "10.2.0.0/29", gateway_ip=None)
    assert sub["gateway_ip"] is None
    assert sub["allocation_pools"] == [{"start": "10.2.0.1", "end": "10.2.0.6"}]
    pools = [{"start": "10.3.0.10", "end": "10.3.0.20"}, {"start": "10.3.0.30", "end": "10.3.0.40"}]
    sub = api.subnet(net["id"], "10.3.0.0/24", allocation_pools=pools, gateway_ip="10.3.0.254")
    assert sub["allocation_pools"] == pools and sub["gateway_ip"] == "10.3.0.254"
    inside = [{"start": "10.4.0.1", "end": "10.4.0.20"}]
    api.error(api.c.post("/v2.0/subnets", json={"subnet": {"network_id": net["id"], "cidr": "10.4.0.0/24", "ip_version": 4, "allocation_pools": inside}}), 409, "GatewayConflictWithAllocationPools")  # fmt: skip
    outside = [{"start": "10.5.0.1", "end": "10.6.0.20"}]
    api.error(api.c.post("/v2.0/subnets", json={"subnet": {"network_id": net["id"], "cidr": "10.5.0.0/24", "ip_version": 4, "allocation_pools": outside}}), 400, "OutOfBoundsAllocationPool")  # fmt: skip


def test_ipv6_and_several_subnets_per_network(api: Api) -> None:
    net = api.network()
    v4 = api.subnet(net["id"], "10.7.0.0/24")
    slaac = api.subnet(net["id"], "fd00:7::/64", ipv6_address_mode="slaac", ipv6_ra_mode="slaac")
    stateful = api.subnet(net["id"], "fd00:8::/64", ipv6_address_mode="dhcpv6-stateful")
    assert slaac["gateway_ip"] == "fd00:7::1"
    assert slaac["allocation_pools"] == [{"start": "fd00:7::2", "end": "fd00:7::ffff:ffff:ffff:ffff"}]
    listed = api.ok(api.c.get(f"/v2.0/networks/{net['id']}"))["network"]["subnets"]
    assert listed == [v4["id"], slaac["id"], stateful["id"]]
    bad = {"network_id": net["id"], "cidr": "fd00:9::/80", "ip_version": 6, "ipv6_address_mode": "slaac"}
    api.error(api.c.post("/v2.0/subnets", json={"subnet": bad}), 400, "InvalidInput")
    mixed = {"network_id": net["id"], "cidr": "fd00:9::/64", "ip_version": 4}
    api.error(api.c.post("/v2.0/subnets", json={"subnet": mixed}), 400, "InvalidInput")


def test_overlapping_cidrs_on_one_network_are_refused(api: Api) -> None:
    net = api.network()
    api.subnet(net["id"], "10.8.0.0/24")
    overlap = {"network_id": net["id"], "cidr": "10.8.0.128/25", "ip_version": 4}
    message = api.error(api.c.post("/v2.0/subnets", json={"subnet": overlap}), 400, "InvalidInput")
    assert "overlaps" in message
    other = api.network()
    api.subnet(other["id"], "10.8.0.0/24")  # another network may reuse it


def test_bad_cidr_and_missing_network(api: Api) -> None:
    net = api.network()
    message = api.error(api.c.post("/v2.0/subnets", json={"subnet": {"network_id": net["id"], "cidr": "10.9.0.1/24", "ip_version": 4}}), 400)  # fmt: skip
    assert "cidr" in message
    message = api.error(
        api.c.post("/v2.0/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 4}}), 400
    )
    assert message == "Bad subnets request: a subnetpool must be specified in the absence of a cidr."
    missing = "11111111-2222-3333-4444-555555555555"
    api.error(api.c.post("/v2.0/subnets", json={"subnet": {"network_id": missing, "cidr": "10.9.0.0/24", "ip_version": 4}}), 404, "NetworkNotFound")  # fmt: skip


def test_subnet_with_allocations_is_in_use(api: Api) -> None:
    net = api.network()
    sub = api.subnet(net["id"], "10.10.0.0/24")
    port = api.port(net["id"])
    api.error(api.c.delete(f"/v2.0/subnets/{sub['id']}"), 409, "SubnetInUse")
    api.ok(api.c.delete(f"/v2.0/ports/{port['id']}"), 204)
    api.ok(api.c.delete(f"/v2.0/subnets/{sub['id']}"), 204)
