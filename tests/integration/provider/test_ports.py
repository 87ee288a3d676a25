from __future__ import annotations

from tests.integration.provider.conftest import Api


def test_defaults(api: Api) -> None:
    net = api.network()
    sub = api.subnet(net["id"], "10.20.0.0/24")
    port = api.port(net["id"], name="p", device_id="vm-1", device_owner="oVirt")
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.20.0.2"}]
    assert port["mac_address"].startswith("fa:16:3e:") and port["status"] == "DOWN"
    assert port["admin_state_up"] is True and port["port_security_enabled"] is True
    assert port["device_id"] == "vm-1" and port["device_owner"] == "oVirt"
    assert port["binding:vif_type"] == "unbound" and port["binding:host_id"] == ""
    assert port["binding:vnic_type"] == "normal" and port["binding:profile"] == {}
    default = api.ok(
        api.c.get("/v2.0/security-groups", params={"name": "default", "project_id": port["project_id"]})
    )
    assert port["security_groups"] == [default["security_groups"][0]["id"]]


def test_addresses_per_neutron_rules(api: Api) -> None:
    net = api.network()
    assert api.port(net["id"])["fixed_ips"] == []  # no subnet, no address
    v4a = api.subnet(net["id"], "10.21.0.0/30")  # one usable address beyond the gateway
    v4b = api.subnet(net["id"], "10.22.0.0/24")
    slaac = api.subnet(net["id"], "fd00:21::/64", ipv6_address_mode="slaac", ipv6_ra_mode="slaac")
    stateful = api.subnet(net["id"], "fd00:22::/64", ipv6_address_mode="dhcpv6-stateful")
    first = api.port(net["id"], mac_address="fa:16:3e:00:00:01")
    by_address = sorted(first["fixed_ips"], key=lambda a: a["ip_address"])
    assert by_address == [
        {"subnet_id": v4a["id"], "ip_address": "10.21.0.2"},
        {"subnet_id": slaac["id"], "ip_address": "fd00:21::f816:3eff:fe00:1"},
        {"subnet_id": stateful["id"], "ip_address": "fd00:22::2"},
    ]
    second = api.port(net["id"])  # the /30 is full: IPv4 comes from the next subnet
    assert {"subnet_id": v4b["id"], "ip_address": "10.22.0.2"} in second["fixed_ips"]
    assert len(second["fixed_ips"]) == 3


def test_requested_addresses(api: Api) -> None:
    net = api.network()
    sub = api.subnet(net["id"], "10.23.0.0/24")
    port = api.port(net["id"], fixed_ips=[{"ip_address": "10.23.0.50"}])
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.23.0.50"}]
    by_subnet = api.port(net["id"], fixed_ips=[{"subnet_id": sub["id"]}])
    assert by_subnet["fixed_ips"][0]["ip_address"] == "10.23.0.51"  # after the highest one taken
    assert api.port(net["id"], fixed_ips=[])["fixed_ips"] == []
    taken = {"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.23.0.50"}]}}
    api.error(api.c.post("/v2.0/ports", json=taken), 409, "IpAddressInUse")
    gateway = {"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.23.0.1"}]}}
    api.error(api.c.post("/v2.0/ports", json=gateway), 409, "IpAddressInUse")
    outside = {"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.99.0.5"}]}}
    api.error(api.c.post("/v2.0/ports", json=outside), 400, "InvalidIpForNetwork")
    wrong = {
        "port": {"network_id": net["id"], "fixed_ips": [{"subnet_id": sub["id"], "ip_address": "10.99.0.5"}]}
    }
    api.error(api.c.post("/v2.0/ports", json=wrong), 400, "InvalidIpForSubnet")
    bad = {"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "nope"}]}}
    assert "fixed_ips" in api.error(api.c.post("/v2.0/ports", json=bad), 400)


def test_release_on_delete_and_update_fixed_ips(api: Api) -> None:
    net = api.network()
    sub = api.subnet(net["id"], "10.24.0.0/24")
    port = api.port(net["id"], fixed_ips=[{"ip_address": "10.24.0.9"}])
    api.ok(api.c.delete(f"/v2.0/ports/{port['id']}"), 204)
    again = api.port(net["id"], fixed_ips=[{"ip_address": "10.24.0.9"}])
    body = {"port": {"fixed_ips": [{"subnet_id": sub["id"], "ip_address": "10.24.0.10"}]}}
    moved = api.ok(api.c.put(f"/v2.0/ports/{again['id']}", json=body))["port"]
    assert moved["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.24.0.10"}]
    api.port(net["id"], fixed_ips=[{"ip_address": "10.24.0.9"}])  # released by the update


def test_mac_unique_per_network(api: Api) -> None:
    net, other = api.network(), api.network()
    api.port(net["id"], mac_address="FA:16:3E:AA:BB:CC")
    message = api.error(api.c.post("/v2.0/ports", json={"port": {"network_id": net["id"], "mac_address": "fa:16:3e:aa:bb:cc"}}), 409, "MacAddressInUse")  # fmt: skip
    assert "fa:16:3e:aa:bb:cc" in message
    assert api.port(other["id"], mac_address="fa:16:3e:aa:bb:cc")["mac_address"] == "fa:16:3e:aa:bb:cc"
    api.error(api.c.post("/v2.0/ports", json={"port": {"network_id": net["id"], "mac_address": "zz"}}), 400)


def test_security_groups_and_port_security(api: Api) -> None:
    net = api.network()
    group = api.post("security-groups", "security_group", name="web")
    assert api.port(net["id"], security_groups=[])["security_groups"] == []
    assert api.port(net["id"], security_groups=[group["id"]])["security_groups"] == [group["id"]]
    assert api.port(net["id"], port_security_enabled=False)["security_groups"] == []
    conflict = {
        "port": {"network_id": net["id"], "port_security_enabled": False, "security_groups": [group["id"]]}
    }
    api.error(api.c.post("/v2.0/ports", json=conflict), 400, "PortSecurityAndIPRequiredForSecurityGroups")
    missing = {"port": {"network_id": net["id"], "security_groups": ["11111111-2222-3333-4444-555555555555"]}}
    api.error(api.c.post("/v2.0/ports", json=missing), 404, "SecurityGroupNotFound")
    port = api.port(net["id"])
    updated = api.ok(
        api.c.put(f"/v2.0/ports/{port['id']}", json={"port": {"security_groups": [group["id"]]}})
    )
    assert updated["port"]["security_groups"] == [group["id"]]
    api.error(api.c.put(f"/v2.0/ports/{port['id']}", json={"port": {"port_security_enabled": False}}), 409)


def test_binding(api: Api) -> None:
    net = api.network()
    port = api.port(net["id"], **{"binding:host_id": "host-1", "binding:profile": {"k": "v"}})
    assert port["binding:host_id"] == "host-1" and port["binding:vif_type"] == "bridge"
    assert port["binding:profile"] == {"k": "v"} and port["binding:vnic_type"] == "normal"
    bridge = ("brq" + net["id"])[:14]  # the builtin agent's Linux bridge of the network
    assert port["binding:vif_details"] == {"port_filter": True, "connectivity": "l2", "bridge_name": bridge}
    unbound = api.ok(api.c.put(f"/v2.0/ports/{port['id']}", json={"port": {"binding:host_id": ""}}))["port"]
    assert unbound["binding:vif_type"] == "unbound"
    api.error(api.c.put(f"/v2.0/ports/{port['id']}", json={"port": {"binding:vif_type": "ovs"}}), 400)


def test_bulk_create_is_all_or_nothing(api: Api) -> None:
    net = api.network()
    api.subnet(net["id"], "10.25.0.0/24")
    body = {"ports": [{"network_id": net["id"], "name": "a"}, {"network_id": net["id"], "name": "b"}]}
    created = api.ok(api.c.post("/v2.0/ports", json=body), 201)["ports"]
    assert [p["fixed_ips"][0]["ip_address"] for p in created] == ["10.25.0.2", "10.25.0.3"]
    body = {"ports": [{"network_id": net["id"], "name": "c"}, {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.25.0.2"}]}]}  # fmt: skip
    api.error(api.c.post("/v2.0/ports", json=body), 409, "IpAddressInUse")
    names = [p["name"] for p in api.ok(api.c.get("/v2.0/ports", params={"network_id": net["id"]}))["ports"]]
    assert sorted(names) == ["a", "b"]


def test_released_addresses_are_reused_once_the_pool_tail_is_used(api: Api) -> None:
    net = api.network()
    api.subnet(net["id"], "10.26.0.0/29")  # pool .2 - .6
    ports = [api.port(net["id"]) for _ in range(3)]  # .2 .3 .4
    api.ok(api.c.delete(f"/v2.0/ports/{ports[0]['id']}"), 204)
    assert [api.port(net["id"])["fixed_ips"][0]["ip_address"] for _ in range(3)] == ["10.26.0.5", "10.26.0.6", "10.26.0.2"]  # fmt: skip
    api.error(
        api.c.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}), 409, "IpAddressGenerationFailure"
    )
