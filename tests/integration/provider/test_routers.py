"""Routers through the Neutron API: external networks, gateways, interfaces, routes, and Neutron's
errors for each (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.provider.conftest import Api, unique
from tests.integration.provider.l3_helpers import (
    add_interface,
    external,
    member,
    port,
    put_router,
    remove_interface,
    router,
)
from tests.integration.provider.server import RunningProvider, running_provider

INTERFACE_KEYS = {"id", "tenant_id", "project_id", "port_id", "subnet_id", "subnet_ids", "network_id"}


def test_external_networks(api: Api, shared_provider: RunningProvider) -> None:
    ext, ext_sub = external(api, "172.30.0.0/24")
    plain = api.network()
    assert ext["router:external"] is True and plain["router:external"] is False
    listed = api.ok(api.c.get("/v2.0/networks", params={"router:external": "true"}))["networks"]
    assert ext["id"] in {n["id"] for n in listed} and plain["id"] not in {n["id"] for n in listed}
    internal = api.ok(api.c.get("/v2.0/networks", params={"router:external": "false"}))["networks"]
    assert plain["id"] in {n["id"] for n in internal} and ext["id"] not in {n["id"] for n in internal}
    assert ext_sub["router:external"] is True
    subs = api.ok(api.c.get("/v2.0/subnets", params={"router:external": "true"}))["subnets"]
    assert ext_sub["id"] in {s["id"] for s in subs}
    api.error(api.c.get("/v2.0/subnets", params={"router:external": "maybe"}), 400)

    assert api.ok(api.c.put(f"/v2.0/networks/{plain['id']}", json={"network": {"router:external": True}}))[
        "network"
    ]["router:external"]
    api.ok(api.c.put(f"/v2.0/networks/{plain['id']}", json={"network": {"router:external": False}}))

    with member(shared_provider) as user:
        # everyone sees external networks and their subnets; only admins make them
        seen = user.ok(user.c.get("/v2.0/networks"))["networks"]
        assert ext["id"] in {n["id"] for n in seen} and plain["id"] not in {n["id"] for n in seen}
        assert user.ok(user.c.get(f"/v2.0/subnets/{ext_sub['id']}"))["subnet"]["router:external"] is True
        body = {"network": {"name": unique("x"), "router:external": True}}
        user.error(user.c.post("/v2.0/networks", json=body), 403, "PolicyNotAuthorized")
        assert user.network(**{"router:external": False})["router:external"] is False
        own = user.network()
        put = user.c.put(f"/v2.0/networks/{own['id']}", json={"network": {"router:external": True}})
        user.error(put, 403, "PolicyNotAuthorized")


def test_gateway_lifecycle(api: Api) -> None:
    ext, ext_sub = external(api, "172.31.0.0/24")
    r = router(api, external_gateway_info={"network_id": ext["id"]})
    assert r["status"] == "ACTIVE" and r["admin_state_up"] is True and r["routes"] == []
    info = r["external_gateway_info"]
    assert info["network_id"] == ext["id"] and info["enable_snat"] is True
    [fixed] = info["external_fixed_ips"]
    assert fixed["subnet_id"] == ext_sub["id"] and fixed["ip_address"].startswith("172.31.0.")
    [gw] = api.ok(api.c.get("/v2.0/ports", params={"device_id": r["id"]}))["ports"]
    assert gw["device_owner"] == "network:router_gateway" and gw["project_id"] == ""
    assert gw["network_id"] == ext["id"] and gw["fixed_ips"] == [fixed] and gw["security_groups"] == []

    r = put_router(api, r["id"], name="renamed", admin_state_up=False)
    assert (
        r["name"] == "renamed" and r["admin_state_up"] is False and r["external_gateway_info"]["enable_snat"]
    )
    wanted = [{"subnet_id": ext_sub["id"], "ip_address": "172.31.0.200"}]
    info = put_router(
        api,
        r["id"],
        external_gateway_info={"network_id": ext["id"], "enable_snat": False, "external_fixed_ips": wanted},
    )["external_gateway_info"]
    assert info == {"network_id": ext["id"], "enable_snat": False, "external_fixed_ips": wanted}
    assert port(api, gw["id"])["fixed_ips"] == wanted  # the same port, re-addressed

    # the gateway's network stays external, its subnet and itself in use, its port the router's
    body = {"network": {"router:external": False}}
    api.error(api.c.put(f"/v2.0/networks/{ext['id']}", json=body), 409, "ExternalNetworkInUse")
    api.error(api.c.delete(f"/v2.0/subnets/{ext_sub['id']}"), 409, "SubnetInUse")
    api.error(api.c.delete(f"/v2.0/networks/{ext['id']}"), 409, "NetworkInUse")
    message = api.error(api.c.delete(f"/v2.0/ports/{gw['id']}"), 409, "ServicePortInUse")
    assert "network:router_gateway" in message

    assert put_router(api, r["id"], external_gateway_info={})["external_gateway_info"] is None
    api.error(api.c.get(f"/v2.0/ports/{gw['id']}"), 404, "PortNotFound")
    again = put_router(api, r["id"], external_gateway_info={"network_id": ext["id"]})
    assert again["external_gateway_info"]["enable_snat"] is True
    assert [x["id"] for x in api.ok(api.c.get("/v2.0/routers", params={"name": "renamed"}))["routers"]] == [
        r["id"]
    ]
    api.ok(api.c.delete(f"/v2.0/routers/{r['id']}"), 204)
    assert api.ok(api.c.get("/v2.0/ports", params={"device_id": r["id"]}))["ports"] == []
    api.error(api.c.get(f"/v2.0/routers/{r['id']}"), 404, "RouterNotFound")
    api.ok(api.c.delete(f"/v2.0/networks/{ext['id']}"), 204)


def test_gateway_errors(api: Api) -> None:
    ext, ext_sub = external(api, "172.29.0.0/24")
    plain = api.network()
    r = router(api)
    assert r["external_gateway_info"] is None

    def gateway(info: Any) -> Any:
        return api.c.put(f"/v2.0/routers/{r['id']}", json={"router": {"external_gateway_info": info}})

    message = api.error(gateway({"network_id": plain["id"]}), 400, "BadRequest")
    assert message == f"Bad router request: Network {plain['id']} is not an external network."
    api.error(gateway({"network_id": "11111111-2222-3333-4444-555555555555"}), 404, "NetworkNotFound")
    api.error(gateway({"network_id": ext["id"], "colour": "red"}), 400)
    api.error(gateway({"enable_snat": False}), 400)
    api.error(gateway({"network_id": "nope"}), 400)
    same = {"network_id": ext["id"], "external_fixed_ips": [{"ip_address": "172.29.0.1"}]}
    assert "same as the gateway IP" in api.error(gateway(same), 400, "BadRequest")
    foreign = {"network_id": ext["id"], "external_fixed_ips": [{"ip_address": "10.1.1.1"}]}
    api.error(gateway(foreign), 400, "InvalidIpForNetwork")
    taken = router(api, external_gateway_info={"network_id": ext["id"]})["external_gateway_info"]
    clash = {"network_id": ext["id"], "external_fixed_ips": taken["external_fixed_ips"]}
    api.error(gateway(clash), 409, "IpAddressInUse")
    assert api.ok(api.c.get(f"/v2.0/routers/{r['id']}"))["router"]["external_gateway_info"] is None
    body = {"router": {"name": "x", "routes": [], "status": "DOWN"}}
    api.error(api.c.post("/v2.0/routers", json=body), 400)


def test_interfaces_by_subnet(api: Api) -> None:
    ext, _ = external(api, "172.28.0.0/24")
    r = router(api, external_gateway_info={"network_id": ext["id"]})
    net = api.network()
    sub = api.subnet(net["id"], "10.40.0.0/24")
    answer = add_interface(api, r["id"], subnet_id=sub["id"])
    assert set(answer) == INTERFACE_KEYS
    assert (
        answer["id"] == r["id"] and answer["subnet_id"] == sub["id"] and answer["subnet_ids"] == [sub["id"]]
    )
    assert answer["network_id"] == net["id"] and answer["project_id"] == r["project_id"]
    iface = port(api, answer["port_id"])
    assert iface["device_owner"] == "network:router_interface" and iface["device_id"] == r["id"]
    assert iface["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.40.0.1"}]
    assert iface["project_id"] == r["project_id"] and iface["security_groups"] == []

    def add(subnet_id: str, router_id: str = r["id"]) -> Any:
        return api.c.put(f"/v2.0/routers/{router_id}/add_router_interface", json={"subnet_id": subnet_id})

    assert f"already has a port on subnet {sub['id']}" in api.error(add(sub["id"]), 400, "BadRequest")
    other = api.network()
    overlapping = api.subnet(other["id"], "10.40.0.128/25")
    assert "overlaps with cidr 10.40.0.0/24" in api.error(add(overlapping["id"]), 400, "BadRequest")
    assert "overlaps" in api.error(add(api.subnet(other["id"], "172.28.0.0/16")["id"]), 400)  # the gateway's
    no_gateway = api.subnet(api.network()["id"], "10.41.0.0/24", gateway_ip=None)
    assert "must have a gateway IP" in api.error(add(no_gateway["id"]), 400, "BadRequest")
    api.error(add("11111111-2222-3333-4444-555555555555"), 404, "SubnetNotFound")
    second = router(api)
    api.error(add(sub["id"], second["id"]), 409, "IpAddressInUse")  # the gateway address is the first's

    message = api.error(api.c.delete(f"/v2.0/routers/{r['id']}"), 409, "RouterInUse")
    assert answer["port_id"] in message
    api.error(api.c.delete(f"/v2.0/subnets/{sub['id']}"), 409, "SubnetInUse")
    api.error(api.c.delete(f"/v2.0/networks/{net['id']}"), 409, "NetworkInUse")
    api.error(api.c.delete(f"/v2.0/ports/{answer['port_id']}"), 409, "ServicePortInUse")
    move = {"subnet": {"gateway_ip": None}}
    api.error(api.c.put(f"/v2.0/subnets/{sub['id']}", json=move), 409, "GatewayIpInUse")

    removed = remove_interface(api, r["id"], subnet_id=sub["id"])
    assert removed == answer
    api.error(api.c.get(f"/v2.0/ports/{answer['port_id']}"), 404)
    gone = api.c.put(f"/v2.0/routers/{r['id']}/remove_router_interface", json={"subnet_id": sub["id"]})
    api.error(gone, 404, "RouterInterfaceNotFoundForSubnet")
    api.ok(api.c.put(f"/v2.0/subnets/{sub['id']}", json=move))
    api.ok(api.c.delete(f"/v2.0/routers/{r['id']}"), 204)


def test_interfaces_by_port(api: Api) -> None:
    r = router(api)
    net = api.network()
    sub = api.subnet(net["id"], "10.42.0.0/24")
    plain = api.port(net["id"])
    answer = add_interface(api, r["id"], port_id=plain["id"])
    assert answer["port_id"] == plain["id"] and answer["subnet_ids"] == [sub["id"]]
    attached = port(api, plain["id"])
    assert attached["device_owner"] == "network:router_interface" and attached["device_id"] == r["id"]

    def act(action: str, **body: Any) -> Any:
        return api.c.put(f"/v2.0/routers/{r['id']}/{action}", json=body)

    mismatch = act(
        "remove_router_interface",
        port_id=plain["id"],
        subnet_id=api.subnet(api.network()["id"], "10.43.0.0/24")["id"],
    )
    api.error(mismatch, 400, "SubnetMismatchForPort")
    assert remove_interface(api, r["id"], port_id=plain["id"], subnet_id=sub["id"]) == answer
    api.error(api.c.get(f"/v2.0/ports/{plain['id']}"), 404)  # Neutron deletes the port
    stranger = api.port(net["id"])
    api.error(act("remove_router_interface", port_id=stranger["id"]), 404, "RouterInterfaceNotFound")

    bound = api.port(net["id"], device_id="vm-1", device_owner="oVirt")
    api.error(act("add_router_interface", port_id=bound["id"]), 409, "PortInUse")
    bare = api.port(api.network()["id"])
    assert "at least one fixed IP" in api.error(act("add_router_interface", port_id=bare["id"]), 400)
    two_net = api.network()
    first, _ = api.subnet(two_net["id"], "10.44.0.0/24"), api.subnet(two_net["id"], "10.45.0.0/24")
    fixed = [{"subnet_id": first["id"]}, {"ip_address": "10.45.0.9"}]
    two = api.port(two_net["id"], fixed_ips=fixed)
    assert "multiple IPv4 subnets" in api.error(act("add_router_interface", port_id=two["id"]), 400)
    api.error(
        act("add_router_interface", port_id="11111111-2222-3333-4444-555555555555"), 404, "PortNotFound"
    )
    both = act("add_router_interface", port_id=stranger["id"], subnet_id=sub["id"])
    assert "Cannot specify both" in api.error(both, 400, "BadRequest")
    assert "Either subnet_id or port_id" in api.error(act("add_router_interface"), 400, "BadRequest")
    api.error(act("add_router_interface", subnet_id="nope"), 400, "BadRequest")
    api.error(api.c.put("/v2.0/routers/11111111-2222-3333-4444-555555555555/add_router_interface", json={"subnet_id": sub["id"]}), 404, "RouterNotFound")  # fmt: skip
    # a port that did not move to the router keeps its owner
    assert port(api, two["id"])["device_owner"] == ""


def test_ipv6_prefixes_share_one_port(api: Api) -> None:
    r = router(api)
    net = api.network()
    a = api.subnet(net["id"], "fd00:46::/64", ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    b = api.subnet(net["id"], "fd00:47::/64", ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    first = add_interface(api, r["id"], subnet_id=a["id"])
    second = add_interface(api, r["id"], subnet_id=b["id"])
    assert second["port_id"] == first["port_id"] and second["subnet_ids"] == [b["id"]]
    assert {ip["ip_address"] for ip in port(api, first["port_id"])["fixed_ips"]} == {
        "fd00:46::1",
        "fd00:47::1",
    }
    remove_interface(api, r["id"], subnet_id=a["id"])
    assert port(api, first["port_id"])["fixed_ips"] == [{"subnet_id": b["id"], "ip_address": "fd00:47::1"}]
    remove_interface(api, r["id"], subnet_id=b["id"])
    api.error(api.c.get(f"/v2.0/ports/{first['port_id']}"), 404)
    external_ra = api.subnet(net["id"], "fd00:48::/64", ipv6_address_mode="slaac")
    body = {"subnet_id": external_ra["id"]}
    message = api.error(api.c.put(f"/v2.0/routers/{r['id']}/add_router_interface", json=body), 400)
    assert "receive RAs from an external router" in message


def test_routes(api: Api) -> None:
    r = router(api)
    sub = api.subnet(api.network()["id"], "10.48.0.0/24")
    add_interface(api, r["id"], subnet_id=sub["id"])
    routes = [{"destination": "192.168.0.0/16", "nexthop": "10.48.0.5"}]
    assert put_router(api, r["id"], routes=routes)["routes"] == routes
    assert api.ok(api.c.get(f"/v2.0/routers/{r['id']}"))["router"]["routes"] == routes

    def set_routes(value: Any) -> Any:
        return api.c.put(f"/v2.0/routers/{r['id']}", json={"router": {"routes": value}})

    off = [{"destination": "192.168.0.0/16", "nexthop": "10.99.0.5"}]
    assert "not connected with router" in api.error(set_routes(off), 400, "InvalidRoutes")
    own = [{"destination": "192.168.0.0/16", "nexthop": "10.48.0.1"}]
    assert "used by router" in api.error(set_routes(own), 400, "InvalidRoutes")
    assert "Duplicate" in api.error(set_routes(routes + routes), 400)
    api.error(set_routes([{"destination": "nope", "nexthop": "10.48.0.5"}]), 400)
    body = {"subnet_id": sub["id"]}
    remove = api.c.put(f"/v2.0/routers/{r['id']}/remove_router_interface", json=body)
    api.error(remove, 409, "RouterInterfaceInUseByRoute")
    assert put_router(api, r["id"], routes=None)["routes"] == []
    remove_interface(api, r["id"], subnet_id=sub["id"])


def test_member_routers(api: Api, shared_provider: RunningProvider) -> None:
    ext, ext_sub = external(api, "172.27.0.0/24")
    admins = router(api)
    with member(shared_provider) as user:
        own = router(user, external_gateway_info={"network_id": ext["id"]})
        assert own["external_gateway_info"]["enable_snat"] is True
        for key, value in (("enable_snat", False), ("external_fixed_ips", [{"subnet_id": ext_sub["id"]}])):
            info = {"network_id": ext["id"], key: value}
            body = {"router": {"external_gateway_info": info}}
            message = user.error(
                user.c.put(f"/v2.0/routers/{own['id']}", json=body), 403, "PolicyNotAuthorized"
            )
            assert key in message
            body = {"router": {"name": unique("r"), "external_gateway_info": info}}
            user.error(user.c.post("/v2.0/routers", json=body), 403, "PolicyNotAuthorized")
        assert {x["id"] for x in user.ok(user.c.get("/v2.0/routers"))["routers"]} == {own["id"]}
        user.error(user.c.get(f"/v2.0/routers/{admins['id']}"), 404, "RouterNotFound")
        user.error(user.c.delete(f"/v2.0/routers/{admins['id']}"), 404, "RouterNotFound")
        # the gateway port belongs to no project: members do not see it
        assert user.ok(user.c.get("/v2.0/ports", params={"device_id": own["id"]}))["ports"] == []
        mine = user.subnet(user.network()["id"], "10.49.0.0/24")
        assert add_interface(user, own["id"], subnet_id=mine["id"])["project_id"] == own["project_id"]
        body = {"subnet_id": ext_sub["id"]}
        put = user.c.put(f"/v2.0/routers/{own['id']}/add_router_interface", json=body)
        assert "not owned by project" in user.error(put, 400, "BadRequest")
        hidden = api.subnet(api.network()["id"], "10.50.0.0/24")
        put = user.c.put(f"/v2.0/routers/{own['id']}/add_router_interface", json={"subnet_id": hidden["id"]})
        user.error(put, 404, "SubnetNotFound")
        put = user.c.put(f"/v2.0/routers/{admins['id']}/add_router_interface", json={"subnet_id": mine["id"]})
        user.error(put, 404, "RouterNotFound")
    assert api.ok(api.c.get(f"/v2.0/routers/{own['id']}"))["router"]["project_id"] == own["project_id"]


def test_pagination_and_filters(api: Api) -> None:
    prefix = unique("page")
    made = [router(api, name=f"{prefix}-{i}", admin_state_up=i % 2 == 0) for i in range(3)]
    page = api.ok(
        api.c.get("/v2.0/routers", params={"name": [r["name"] for r in made], "limit": 2, "sort_key": "name"})
    )
    assert [r["name"] for r in page["routers"]] == [f"{prefix}-0", f"{prefix}-1"] and page["routers_links"]
    down = api.ok(
        api.c.get("/v2.0/routers", params={"name": [r["name"] for r in made], "admin_state_up": "false"})
    )
    assert [r["id"] for r in down["routers"]] == [made[1]["id"]]
    fields = api.ok(api.c.get(f"/v2.0/routers/{made[0]['id']}", params={"fields": "id,routes"}))["router"]
    assert fields == {"id": made[0]["id"], "routes": []}


class RecordingBackend:
    """A backend that implements two of the routing extensions and records what it is told."""

    extensions = frozenset({"router", "external-net"})

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def changed(self, collection: str, resource_ids: Any) -> None:
        self.calls.append((collection, list(resource_ids)))

    def told(self) -> list[tuple[str, list[str]]]:
        calls, self.calls = self.calls, []
        return calls


def test_the_backend_is_told_and_lists_the_extensions(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = RecordingBackend()
    monkeypatch.setattr("neutrino.provider.app.build_backend", lambda settings, db, notify: backend)
    with running_provider(database_url, tmp_path) as provider, provider.admin() as client:
        api = Api(client)
        aliases = {e["alias"] for e in api.ok(api.c.get("/v2.0/extensions"))["extensions"]}
        assert {"router", "external-net", "security-group", "binding"} <= aliases
        assert not aliases & {"ext-gw-mode", "extraroute"}
        api.error(api.c.get("/v2.0/extensions/extraroute"), 404)
        assert api.ok(api.c.get("/v2.0/extensions/router"))["extension"]["name"] == "Neutron L3 Router"

        ext, _ = external(api, "172.26.0.0/24")
        net = api.network()
        sub = api.subnet(net["id"], "10.59.0.0/24")
        backend.told()
        r = router(api, external_gateway_info={"network_id": ext["id"]})
        gw = r["external_gateway_info"]
        [gw_port] = api.ok(api.c.get("/v2.0/ports", params={"device_id": r["id"], "network_id": ext["id"]}))[
            "ports"
        ]
        assert gw and backend.told() == [("ports", [gw_port["id"]]), ("routers", [r["id"]])]
        iface = add_interface(api, r["id"], subnet_id=sub["id"])
        assert backend.told() == [("ports", [iface["port_id"]]), ("routers", [r["id"]])]
        vm = api.port(net["id"])
        backend.told()
        made = api.post("floatingips", "floatingip", floating_network_id=ext["id"], port_id=vm["id"])
        [fip_port] = api.ok(api.c.get("/v2.0/ports", params={"device_id": made["id"]}))["ports"]
        assert backend.told() == [("ports", [fip_port["id"]]), ("floatingips", [made["id"]])]
        put_router(api, r["id"], admin_state_up=False)
        assert backend.told() == [("floatingips", [made["id"]]), ("routers", [r["id"]])]
        api.ok(api.c.delete(f"/v2.0/ports/{vm['id']}"), 204)
        assert backend.told() == [("floatingips", [made["id"]]), ("ports", [vm["id"]])]
        api.ok(api.c.delete(f"/v2.0/floatingips/{made['id']}"), 204)
        assert backend.told() == [("ports", [fip_port["id"]]), ("floatingips", [made["id"]])]
        remove_interface(api, r["id"], port_id=iface["port_id"])
        assert backend.told() == [("ports", [iface["port_id"]]), ("routers", [r["id"]])]
        api.ok(api.c.delete(f"/v2.0/routers/{r['id']}"), 204)
        assert backend.told() == [("ports", [gw_port["id"]]), ("routers", [r["id"]])]
