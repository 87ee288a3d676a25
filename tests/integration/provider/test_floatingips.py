"""Floating IPs through the Neutron API: allocation on external networks, association through a
router, what depends on them, filters, and who may do what (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.integration.provider.conftest import Api
from tests.integration.provider.l3_helpers import add_interface, external, member, port, put_router, router
from tests.integration.provider.server import RunningProvider

MISSING = "11111111-2222-3333-4444-555555555555"


@dataclass
class Topology:
    ext: dict[str, Any]
    ext_sub: dict[str, Any]
    router: dict[str, Any]
    net: dict[str, Any]
    sub: dict[str, Any]


def topology(api: Api, ext_cidr: str, cidr: str) -> Topology:
    """An external network, a router with its gateway there, and a network behind the router."""
    ext, ext_sub = external(api, ext_cidr)
    r = router(api, external_gateway_info={"network_id": ext["id"]})
    net = api.network()
    sub = api.subnet(net["id"], cidr)
    add_interface(api, r["id"], subnet_id=sub["id"])
    return Topology(ext, ext_sub, r, net, sub)


def fip(api: Api, network_id: str, **body: Any) -> dict[str, Any]:
    return api.post("floatingips", "floatingip", floating_network_id=network_id, **body)


def put_fip(api: Api, fip_id: str, **body: Any) -> Any:
    return api.c.put(f"/v2.0/floatingips/{fip_id}", json={"floatingip": body})


def test_allocation(api: Api) -> None:
    ext, ext_sub = external(api, "172.40.0.0/24")
    api.subnet(ext["id"], "fd00:40::/64")  # floating IPs are IPv4
    made = fip(api, ext["id"], description="web")
    assert made["floating_ip_address"] == "172.40.0.2" and made["floating_network_id"] == ext["id"]
    assert made["status"] == "DOWN" and made["description"] == "web"
    assert made["port_id"] is None and made["fixed_ip_address"] is None and made["router_id"] is None
    assert made["project_id"] == made["tenant_id"] and "subnet_id" not in made
    [held] = api.ok(api.c.get("/v2.0/ports", params={"device_id": made["id"]}))["ports"]
    assert (
        held["device_owner"] == "network:floatingip" and held["project_id"] == "" and held["status"] == "N/A"
    )
    assert held["fixed_ips"] == [{"subnet_id": ext_sub["id"], "ip_address": "172.40.0.2"}]
    chosen = fip(api, ext["id"], floating_ip_address="172.40.0.99", subnet_id=ext_sub["id"])
    assert chosen["floating_ip_address"] == "172.40.0.99"

    def create(**body: Any) -> Any:
        return api.c.post("/v2.0/floatingips", json={"floatingip": body})

    api.error(create(floating_network_id=ext["id"], floating_ip_address="172.40.0.99"), 409, "IpAddressInUse")
    api.error(
        create(floating_network_id=ext["id"], floating_ip_address="10.9.9.9"), 400, "InvalidIpForNetwork"
    )
    plain = api.network()
    api.subnet(plain["id"], "10.51.0.0/24")
    message = api.error(create(floating_network_id=plain["id"]), 400, "BadRequest")
    assert message == f"Bad floatingip request: Network {plain['id']} is not a valid external network."
    v6_only = api.network(**{"router:external": True})
    api.subnet(v6_only["id"], "fd00:41::/64")
    assert "does not contain any IPv4 subnet" in api.error(create(floating_network_id=v6_only["id"]), 400)
    api.error(create(floating_network_id=MISSING), 404, "NetworkNotFound")
    api.error(create(), 400)
    api.error(create(floating_network_id=ext["id"], router_id=MISSING), 400)
    api.error(create(floating_network_id=ext["id"], fixed_ip_address="10.0.0.5"), 400, "BadRequest")
    small, small_sub = external(api, "172.41.0.0/30")
    fip(api, small["id"])
    api.error(create(floating_network_id=small["id"]), 409, "IpAddressGenerationFailure")

    api.error(api.c.delete(f"/v2.0/ports/{held['id']}"), 409, "ServicePortInUse")
    api.ok(api.c.delete(f"/v2.0/floatingips/{made['id']}"), 204)
    api.error(api.c.get(f"/v2.0/floatingips/{made['id']}"), 404, "FloatingIPNotFound")
    api.error(api.c.get(f"/v2.0/ports/{held['id']}"), 404)
    # an external network goes with its unassociated floating IPs
    api.ok(api.c.delete(f"/v2.0/networks/{small['id']}"), 204)
    api.error(api.c.get(f"/v2.0/subnets/{small_sub['id']}"), 404)


def test_association(api: Api) -> None:
    top = topology(api, "172.42.0.0/24", "10.52.0.0/24")
    vm = api.port(top.net["id"])
    made = fip(api, top.ext["id"], port_id=vm["id"])
    assert made["port_id"] == vm["id"] and made["fixed_ip_address"] == vm["fixed_ips"][0]["ip_address"]
    assert made["router_id"] == top.router["id"] and made["status"] == "ACTIVE"

    off = api.ok(put_fip(api, made["id"], port_id=None))["floatingip"]
    assert (off["port_id"], off["fixed_ip_address"], off["router_id"], off["status"]) == (
        None,
        None,
        None,
        "DOWN",
    )
    on = api.ok(put_fip(api, made["id"], port_id=vm["id"], fixed_ip_address=vm["fixed_ips"][0]["ip_address"]))
    assert on["floatingip"]["router_id"] == top.router["id"] and on["floatingip"]["status"] == "ACTIVE"
    described = api.ok(put_fip(api, made["id"], description="kept"))["floatingip"]
    assert described["port_id"] == vm["id"] and described["description"] == "kept"  # still associated
    blank = api.ok(put_fip(api, made["id"]))["floatingip"]  # Neutron: an update naming nothing disassociates
    assert (blank["port_id"], blank["fixed_ip_address"], blank["description"]) == (None, None, "kept")
    api.ok(put_fip(api, made["id"], port_id=vm["id"]))

    second = fip(api, top.ext["id"])
    message = api.error(put_fip(api, second["id"], port_id=vm["id"]), 409, "FloatingIPPortAlreadyAssociated")
    assert vm["id"] in message and made["floating_ip_address"] not in message

    # the router's administrative state shows in the floating IP's status
    put_router(api, top.router["id"], admin_state_up=False)
    assert api.ok(api.c.get(f"/v2.0/floatingips/{made['id']}"))["floatingip"]["status"] == "DOWN"
    put_router(api, top.router["id"], admin_state_up=True)
    assert api.ok(api.c.get(f"/v2.0/floatingips/{made['id']}"))["floatingip"]["status"] == "ACTIVE"

    # a port the router does not reach
    lonely_net = api.network()
    lonely_sub = api.subnet(lonely_net["id"], "10.53.0.0/24")
    lonely = api.port(lonely_net["id"])
    message = api.error(
        put_fip(api, second["id"], port_id=lonely["id"]), 404, "ExternalGatewayForFloatingIPNotFound"
    )
    assert lonely_sub["id"] in message and top.ext["id"] in message
    other_ext, _ = external(api, "172.43.0.0/24")
    elsewhere = fip(api, other_ext["id"])  # the router's gateway is on another external network
    api.error(put_fip(api, elsewhere["id"], port_id=vm["id"]), 404, "ExternalGatewayForFloatingIPNotFound")

    # which address of the port
    api.subnet(top.net["id"], "10.54.0.0/24")
    add_interface(api, top.router["id"], subnet_id=api.subnet(api.network()["id"], "10.55.0.0/24")["id"])
    two = api.port(top.net["id"], fixed_ips=[{"ip_address": "10.52.0.77"}, {"ip_address": "10.54.0.77"}])
    assert "multiple fixed IPv4" in api.error(
        put_fip(api, second["id"], port_id=two["id"]), 400, "BadRequest"
    )
    message = api.error(put_fip(api, second["id"], port_id=two["id"], fixed_ip_address="10.52.0.78"), 400)
    assert "does not have fixed ip 10.52.0.78" in message
    assert "without a port_id" in api.error(put_fip(api, second["id"], fixed_ip_address="10.52.0.77"), 400)
    chosen = api.ok(put_fip(api, second["id"], port_id=two["id"], fixed_ip_address="10.52.0.77"))[
        "floatingip"
    ]
    assert chosen["fixed_ip_address"] == "10.52.0.77" and chosen["router_id"] == top.router["id"]
    no_v4 = api.port(api.network()["id"])
    assert "no fixed IPv4" in api.error(put_fip(api, second["id"], port_id=no_v4["id"]), 400)
    api.error(put_fip(api, second["id"], port_id=MISSING), 404, "PortNotFound")
    dhcp = api.port(top.net["id"], device_owner="network:dhcp")
    assert "unable to be assigned" in api.error(put_fip(api, elsewhere["id"], port_id=dhcp["id"]), 400)
    api.error(put_fip(api, second["id"], floating_ip_address="172.42.0.50"), 400)


def test_what_depends_on_an_association(api: Api) -> None:
    top = topology(api, "172.44.0.0/24", "10.56.0.0/24")
    vm = api.port(top.net["id"])
    made = fip(api, top.ext["id"], port_id=vm["id"])
    body = {"subnet_id": top.sub["id"]}
    remove = api.c.put(f"/v2.0/routers/{top.router['id']}/remove_router_interface", json=body)
    api.error(remove, 409, "RouterInterfaceInUseByFloatingIP")
    unset = api.c.put(f"/v2.0/routers/{top.router['id']}", json={"router": {"external_gateway_info": None}})
    api.error(unset, 409, "RouterExternalGatewayInUseByFloatingIp")
    api.error(api.c.delete(f"/v2.0/networks/{top.ext['id']}"), 409, "NetworkInUse")
    # the associated address must stay on the port
    readdress = {"port": {"fixed_ips": [{"ip_address": "10.56.0.99"}]}}
    message = api.error(api.c.put(f"/v2.0/ports/{vm['id']}", json=readdress), 400, "BadRequest")
    assert "associated to a floating ip" in message
    renamed = api.ok(api.c.put(f"/v2.0/ports/{vm['id']}", json={"port": {"name": "renamed"}}))["port"]
    assert renamed["fixed_ips"] == vm["fixed_ips"]

    # deleting the port disassociates (Neutron), then the router may let go
    api.ok(api.c.delete(f"/v2.0/ports/{vm['id']}"), 204)
    after = api.ok(api.c.get(f"/v2.0/floatingips/{made['id']}"))["floatingip"]
    assert (after["port_id"], after["fixed_ip_address"], after["router_id"], after["status"]) == (
        None,
        None,
        None,
        "DOWN",
    )
    assert after["revision_number"] > made["revision_number"]
    api.ok(api.c.put(f"/v2.0/routers/{top.router['id']}/remove_router_interface", json=body))
    put_router(api, top.router["id"], external_gateway_info=None)
    api.ok(api.c.delete(f"/v2.0/routers/{top.router['id']}"), 204)
    api.ok(api.c.delete(f"/v2.0/networks/{top.ext['id']}"), 204)  # with the floating IP
    api.error(api.c.get(f"/v2.0/floatingips/{made['id']}"), 404)


def test_filters(api: Api) -> None:
    top = topology(api, "172.45.0.0/24", "10.57.0.0/24")
    vm = api.port(top.net["id"])
    bound = fip(api, top.ext["id"], port_id=vm["id"])
    loose = fip(api, top.ext["id"])

    def ids(**params: Any) -> set[str]:
        return {f["id"] for f in api.ok(api.c.get("/v2.0/floatingips", params=params))["floatingips"]}

    assert ids(floating_network_id=top.ext["id"]) == {bound["id"], loose["id"]}
    assert ids(floating_ip_address=loose["floating_ip_address"]) == {loose["id"]}
    assert ids(port_id=vm["id"]) == {bound["id"]}
    assert ids(router_id=top.router["id"]) == {bound["id"]}
    assert ids(fixed_ip_address=bound["fixed_ip_address"], floating_network_id=top.ext["id"]) == {bound["id"]}
    assert ids(status="DOWN", floating_network_id=top.ext["id"]) == {loose["id"]}
    assert bound["id"] not in ids(status="DOWN")
    page = api.ok(api.c.get("/v2.0/floatingips", params={"floating_network_id": top.ext["id"], "limit": 1}))
    assert len(page["floatingips"]) == 1 and page["floatingips_links"]
    api.error(api.c.get("/v2.0/floatingips", params={"subnet_id": top.ext_sub["id"]}), 400)


def test_member_floating_ips(api: Api, shared_provider: RunningProvider) -> None:
    ext, ext_sub = external(api, "172.46.0.0/24")
    admins = fip(api, ext["id"])
    admin_port = api.port(api.network()["id"])
    with member(shared_provider) as user:
        r = router(user, external_gateway_info={"network_id": ext["id"]})
        sub = user.subnet(user.network()["id"], "10.58.0.0/24")
        add_interface(user, r["id"], subnet_id=sub["id"])
        vm = user.port(sub["network_id"])
        own = fip(user, ext["id"], port_id=vm["id"])
        assert own["status"] == "ACTIVE" and own["project_id"] == r["project_id"]
        assert {f["id"] for f in user.ok(user.c.get("/v2.0/floatingips"))["floatingips"]} == {own["id"]}
        user.error(user.c.get(f"/v2.0/floatingips/{admins['id']}"), 404, "FloatingIPNotFound")
        user.error(put_fip(user, admins["id"], port_id=vm["id"]), 404, "FloatingIPNotFound")
        user.error(user.c.delete(f"/v2.0/floatingips/{admins['id']}"), 404, "FloatingIPNotFound")
        body = {"floatingip": {"floating_network_id": ext["id"], "floating_ip_address": "172.46.0.50"}}
        user.error(user.c.post("/v2.0/floatingips", json=body), 403, "PolicyNotAuthorized")
        spare = fip(user, ext["id"])
        user.error(put_fip(user, spare["id"], port_id=admin_port["id"]), 404, "PortNotFound")
        # a port another project made on the member's network: the network's owner sees it (Neutron's
        # admin_or_network_owner), may not give it its floating IP, and may delete it
        guest = api.port(sub["network_id"])
        assert user.ok(user.c.get(f"/v2.0/ports/{guest['id']}"))["port"]["project_id"] != own["project_id"]
        message = user.error(put_fip(user, spare["id"], port_id=guest["id"]), 400, "BadRequest")
        assert message.endswith(f"Port {guest['id']}, since that port is owned by a different tenant.")
        user.ok(user.c.delete(f"/v2.0/ports/{guest['id']}"), 204)
        # the floating IP's port is nobody's: the member does not see it
        assert user.ok(user.c.get("/v2.0/ports", params={"device_id": own["id"]}))["ports"] == []
        user.ok(user.c.delete(f"/v2.0/floatingips/{spare['id']}"), 204)
    seen = api.ok(api.c.get(f"/v2.0/floatingips/{own['id']}"))["floatingip"]
    assert seen["port_id"] == vm["id"] and port(api, vm["id"])["project_id"] == own["project_id"]
    assert ext_sub["id"]
