from __future__ import annotations

from tests.integration.provider.conftest import Api, unique


def test_create_show_list_update_delete(api: Api) -> None:
    name = unique("net")
    net = api.network(name=name)
    assert net["name"] == name
    assert net["status"] == "ACTIVE" and net["admin_state_up"] is True and net["shared"] is False
    assert net["provider:network_type"] == "vxlan" and net["provider:physical_network"] is None
    assert isinstance(net["provider:segmentation_id"], int)
    assert net["mtu"] == 1450 and net["port_security_enabled"] is True
    assert net["subnets"] == [] and net["project_id"] == net["tenant_id"]
    assert net["created_at"].endswith("Z") and net["revision_number"] == 0

    shown = api.ok(api.c.get(f"/v2.0/networks/{net['id']}"))["network"]
    assert shown == net
    listed = api.ok(api.c.get("/v2.0/networks", params={"name": name}))["networks"]
    assert [n["id"] for n in listed] == [net["id"]]

    updated = api.ok(
        api.c.put(f"/v2.0/networks/{net['id']}", json={"network": {"name": name + "x", "mtu": 1400}})
    )
    assert updated["network"]["name"] == name + "x" and updated["network"]["mtu"] == 1400
    assert updated["network"]["revision_number"] == 1

    api.ok(api.c.delete(f"/v2.0/networks/{net['id']}"), 204)
    api.error(api.c.get(f"/v2.0/networks/{net['id']}"), 404, "NetworkNotFound")


def test_segmentation_ids_are_never_given_twice(api: Api) -> None:
    ids = [api.network()["provider:segmentation_id"] for _ in range(5)]
    assert len(set(ids)) == 5
    taken = ids[0]
    message = api.error(
        api.c.post(
            "/v2.0/networks",
            json={"network": {"provider:network_type": "vxlan", "provider:segmentation_id": taken}},
        ),
        409,
        "TunnelIdInUse",
    )
    assert str(taken) in message


def test_vlan_and_flat_networks(api: Api) -> None:
    vlan = api.network(**{"provider:network_type": "vlan"})
    assert vlan["provider:physical_network"] == "physnet1" and 1 <= vlan["provider:segmentation_id"] <= 4094
    assert vlan["mtu"] == 1500
    body = {"provider:network_type": "vlan", "provider:physical_network": "physnet1"}
    body["provider:segmentation_id"] = vlan["provider:segmentation_id"]
    api.error(api.c.post("/v2.0/networks", json={"network": body}), 409, "VlanIdInUse")
    physnet = unique("phys")
    flat = api.network(**{"provider:network_type": "flat", "provider:physical_network": physnet})
    assert flat["provider:segmentation_id"] is None
    again = {"provider:network_type": "flat", "provider:physical_network": physnet}
    api.error(api.c.post("/v2.0/networks", json={"network": again}), 409, "FlatNetworkInUse")
    api.error(
        api.c.post("/v2.0/networks", json={"network": {"provider:network_type": "flat"}}), 400, "InvalidInput"
    )
    api.error(
        api.c.post("/v2.0/networks", json={"network": {"provider:network_type": "gre"}}),
        400,
        "HTTPBadRequest",
    )


def test_bad_input_names_the_attribute(api: Api) -> None:
    message = api.error(api.c.post("/v2.0/networks", json={"network": {"admin_state_up": "maybe"}}), 400)
    assert "admin_state_up" in message
    message = api.error(
        api.c.post("/v2.0/networks", json={"network": {"colour": "blue"}}), 400, "HTTPBadRequest"
    )
    assert message == "Unrecognized attribute(s) 'colour'"
    net = api.network()
    message = api.error(api.c.put(f"/v2.0/networks/{net['id']}", json={"network": {"status": "DOWN"}}), 400)
    assert "status" in message
    api.error(api.c.post("/v2.0/networks", json={"net": {}}), 400)
    api.error(api.c.post("/v2.0/networks", content=b"{not json"), 400)
    api.error(api.c.post("/v2.0/networks", json={"network": {"mtu": 9000}}), 400, "InvalidInput")


def test_network_with_ports_is_in_use(api: Api) -> None:
    net = api.network()
    port = api.port(net["id"])
    api.error(api.c.delete(f"/v2.0/networks/{net['id']}"), 409, "NetworkInUse")
    api.ok(api.c.delete(f"/v2.0/ports/{port['id']}"), 204)
    api.ok(api.c.delete(f"/v2.0/networks/{net['id']}"), 204)


def test_unknown_paths_answer_neutron_errors(api: Api) -> None:
    api.error(api.c.get("/v2.0/bgp-speakers"), 404)
    api.error(api.c.patch("/v2.0/networks"), 405)


def test_mtu_below_what_a_subnet_needs(api: Api) -> None:
    """Any MTU is a network's (Neutron's non-negative); a subnet needs 68 (IPv4) or 1280 (IPv6) of it, at
    the subnet's create and at the network's update: 409 NetworkMTUSubnetConflict, nothing changed."""
    small = api.network(mtu=67)
    message = api.error(
        api.c.post(
            "/v2.0/subnets",
            json={"subnet": {"network_id": small["id"], "cidr": "10.31.0.0/24", "ip_version": 4}},
        ),  # fmt: skip
        409,
        "NetworkMTUSubnetConflict",
    )
    assert message == f"MTU of {small['id']} is not valid, subnet requires a minimum of 68"
    v4only = api.network(mtu=1279)
    api.subnet(v4only["id"], "10.32.0.0/24")
    api.error(
        api.c.post(
            "/v2.0/subnets",
            json={"subnet": {"network_id": v4only["id"], "cidr": "2001:db8:32::/64", "ip_version": 6}},
        ),  # fmt: skip
        409,
        "NetworkMTUSubnetConflict",
    )
    dual = api.network(mtu=1280)
    api.subnet(dual["id"], "10.33.0.0/24")
    api.subnet(dual["id"], "2001:db8:33::/64")
    for mtu, needs in ((1279, 1280), (67, 68)):
        message = api.error(
            api.c.put(f"/v2.0/networks/{dual['id']}", json={"network": {"mtu": mtu}}),
            409,
            "NetworkMTUSubnetConflict",
        )
        assert message.endswith(f"minimum of {needs}")
    assert api.ok(api.c.get(f"/v2.0/networks/{dual['id']}"))["network"]["mtu"] == 1280
    assert not api.ok(api.c.get("/v2.0/subnets", params={"network_id": small["id"]}))["subnets"]
    api.error(api.c.post("/v2.0/networks", json={"network": {"mtu": -1}}), 400, "HTTPBadRequest")
