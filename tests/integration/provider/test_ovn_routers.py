"""Routers and floating IPs on the OVN backend against a real northbound ovsdb-server: each request
writes its Logical_Router (ports, gateway chassis, NAT, static routes) and the switch side of its
ports, takes it all away again, and the maintenance repairs a router's drift both ways."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from neutrino.provider.backends.ovn.chassis import AGENT_TYPE
from neutrino.provider.backends.ovn.routing import Chassis, gateway_chassis
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import Database
from tests.integration.provider.conftest import Api
from tests.integration.provider.server import RunningProvider, running_provider
from tests.integration.provider.test_ovn_backend import as_list, eventually, lsp
from tests.support.databases import sqlite_url
from tests.support.ovn_central import NorthboundServer

EXTERNAL = "203.0.113.0/24"
OUTSIDE = "203.0.113.1"


@pytest.fixture
def nb(ovn_northbound_server: NorthboundServer) -> NorthboundServer:
    if not ovn_northbound_server.running:
        ovn_northbound_server.start()
    ovn_northbound_server.wipe()
    return ovn_northbound_server


def add_chassis(tmp_path: Path, name: str, mappings: str, cms_options: str = "") -> None:
    """An OVN chassis in the agents table, alive, as the chassis mirror writes it."""
    database = Database(sqlite_url(tmp_path), pool_size=1)
    now = datetime.now().replace(tzinfo=None)
    conf = {"chassis_name": name, "bridge-mappings": mappings, "datapath-type": "netdev",
            "ovn-cms-options": cms_options, "encaps": []}  # fmt: skip
    try:
        with database.uow() as uow:
            uow.execute(sa.insert(t.agents).values(
                id=str(uuid.uuid4()), agent_type=AGENT_TYPE, binary="ovn-controller", topic="N/A", host=name,
                configurations=conf, created_at=now, started_at=now, heartbeat_timestamp=now))  # fmt: skip
            uow.commit()
    finally:
        database.dispose()


def provider(nb: NorthboundServer, tmp_path: Path, interval: float) -> Any:
    return running_provider(sqlite_url(tmp_path), tmp_path, backend="ovn", ovn_nb_connection=nb.remote,
                            ovn_maintenance_interval=interval, ovn_ovsdb_timeout=3)  # fmt: skip


@pytest.fixture
def api(nb: NorthboundServer, tmp_path: Path) -> Iterator[Api]:
    with provider(nb, tmp_path, interval=3600) as running, running.admin() as client:
        add_chassis(tmp_path, "plain", "physnet1:br-prov")
        add_chassis(tmp_path, "gw", "physnet9:br-x", "enable-chassis-as-gw")
        yield Api(client)


@pytest.fixture
def maintained(nb: NorthboundServer, tmp_path: Path) -> Iterator[tuple[RunningProvider, Api]]:
    with provider(nb, tmp_path, interval=0.5) as running, running.admin() as client:
        add_chassis(tmp_path, "plain", "physnet1:br-prov")
        yield running, Api(client)


def lr(nb: NorthboundServer, router_id: str) -> dict[str, Any] | None:
    """The router's Logical_Router with its ports, NAT and routes resolved to rows (read again when the
    provider wrote between the tables' reads, so a row refers to one not read)."""
    for _ in range(20):
        try:
            return _lr(nb, router_id)
        except KeyError:
            continue
    raise AssertionError(f"no consistent read of router {router_id}")


def _lr(nb: NorthboundServer, router_id: str) -> dict[str, Any] | None:
    row = next((r for r in nb.rows("Logical_Router") if r["name"] == f"neutron-{router_id}"), None)
    if row is None:
        return None
    by_uuid = {table: {r["_uuid"]: r for r in nb.rows(table)}
               for table in ("Logical_Router_Port", "NAT", "Logical_Router_Static_Route", "Gateway_Chassis")}  # fmt: skip
    ports = {}
    for ref in as_list(row["ports"]):
        lrp = dict(by_uuid["Logical_Router_Port"][ref])
        lrp["gateway_chassis"] = [
            by_uuid["Gateway_Chassis"][g]["chassis_name"] for g in as_list(lrp["gateway_chassis"])
        ]
        lrp["networks"] = sorted(as_list(lrp["networks"]))
        ports[lrp["name"]] = lrp
    nat = {
        (n["type"], n["external_ip"], n["logical_ip"]): n
        for n in (by_uuid["NAT"][u] for u in as_list(row["nat"]))
    }
    routes = {(s["ip_prefix"], s["nexthop"]) for s in (by_uuid["Logical_Router_Static_Route"][u]
                                                     for u in as_list(row["static_routes"]))}  # fmt: skip
    return {**row, "ports": ports, "nat": nat, "routes": routes}


def must(nb: NorthboundServer, router_id: str) -> dict[str, Any]:
    row = lr(nb, router_id)
    assert row is not None, f"no Logical_Router for {router_id}"
    return row


def routed_site(api: Api) -> dict[str, Any]:
    """An external flat network on physnet1, two internal networks, a router with a gateway."""
    ext = api.network(**{"router:external": True, "provider:network_type": "flat",
                         "provider:physical_network": "physnet1"})  # fmt: skip
    ext_subnet = api.subnet(ext["id"], EXTERNAL, gateway_ip=OUTSIDE)
    nets = [api.network() for _ in range(2)]
    subnets = [api.subnet(n["id"], f"10.{i + 1}.0.0/24") for i, n in enumerate(nets)]
    router = api.post("routers", "router", name="r1", external_gateway_info={"network_id": ext["id"]})
    return {"ext": ext, "ext_subnet": ext_subnet, "nets": nets, "subnets": subnets, "router": router}


def put(api: Api, path: str, body: Any) -> dict[str, Any]:
    return api.ok(api.c.put(path, json=body))


def test_a_router_becomes_a_logical_router_and_goes_away_with_its_parts(
    api: Api, nb: NorthboundServer
) -> None:
    site = routed_site(api)
    router = site["router"]
    gw_port = router["external_gateway_info"]["external_fixed_ips"][0]
    gw_ip = gw_port["ip_address"]
    [gateway] = api.ok(api.c.get("/v2.0/ports", params={"device_id": router["id"],
                                                         "device_owner": "network:router_gateway"}))["ports"]  # fmt: skip
    row = must(nb, router["id"])
    assert row["enabled"] is True and row["external_ids"]["neutron:router_name"] == "r1"
    lrp = row["ports"][f"lrp-{gateway['id']}"]
    assert lrp["mac"] == gateway["mac_address"] and lrp["networks"] == [f"{gw_ip}/24"]
    assert lrp["gateway_chassis"] == ["gw"]  # the chassis offering itself as a gateway, not the mapping one
    assert row["routes"] == {("0.0.0.0/0", OUTSIDE)}
    assert row["nat"] == {}  # no subnet behind it yet
    switch_side = lsp(nb, gateway["id"])
    assert switch_side is not None and switch_side["type"] == "router"
    assert switch_side["options"] == {"router-port": f"lrp-{gateway['id']}", "nat-addresses": "router"}

    for subnet in site["subnets"]:
        put(api, f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": subnet["id"]})
    put(api, f"/v2.0/routers/{router['id']}", {"router": {"routes": [{"destination": "10.9.0.0/24",
                                                                      "nexthop": "10.1.0.50"}]}})  # fmt: skip
    vm = api.port(site["nets"][0]["id"])
    fip = api.post("floatingips", "floatingip", floating_network_id=site["ext"]["id"], port_id=vm["id"])
    row = must(nb, router["id"])
    interfaces = {p["networks"][0] for name, p in row["ports"].items() if name != f"lrp-{gateway['id']}"}
    assert interfaces == {"10.1.0.1/24", "10.2.0.1/24"}
    assert all(p["external_ids"]["neutron:router_name"] == router["id"] for p in row["ports"].values())
    assert row["routes"] == {("0.0.0.0/0", OUTSIDE), ("10.9.0.0/24", "10.1.0.50")}
    fixed = vm["fixed_ips"][0]["ip_address"]
    assert set(row["nat"]) == {("snat", gw_ip, "10.1.0.0/24"), ("snat", gw_ip, "10.2.0.0/24"),
                               ("dnat_and_snat", fip["floating_ip_address"], fixed)}  # fmt: skip
    assert (
        row["nat"][("dnat_and_snat", fip["floating_ip_address"], fixed)]["external_ids"]["neutron:fip_id"]
        == fip["id"]
    )
    fip_ports = api.ok(api.c.get("/v2.0/ports", params={"device_id": fip["id"]}))["ports"]
    assert [lsp(nb, p["id"]) for p in fip_ports] == [None]  # a floating IP's port has no LSP (Neutron's too)
    assert api.ok(api.c.get(f"/v2.0/floatingips/{fip['id']}"))["floatingip"]["status"] == "ACTIVE"

    put(api, f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": None}})
    put(api, f"/v2.0/routers/{router['id']}", {"router": {"admin_state_up": False, "routes": [],
        "external_gateway_info": {"network_id": site["ext"]["id"], "enable_snat": False}}})  # fmt: skip
    row = must(nb, router["id"])
    assert row["enabled"] is False and row["nat"] == {} and row["routes"] == {("0.0.0.0/0", OUTSIDE)}

    api.ok(api.c.delete(f"/v2.0/floatingips/{fip['id']}"), 204)
    for subnet in site["subnets"]:
        answer = put(
            api, f"/v2.0/routers/{router['id']}/remove_router_interface", {"subnet_id": subnet["id"]}
        )
        assert lsp(nb, answer["port_id"]) is None
        assert f"lrp-{answer['port_id']}" not in must(nb, router["id"])["ports"]
    api.ok(api.c.delete(f"/v2.0/routers/{router['id']}"), 204)
    assert lr(nb, router["id"]) is None and lsp(nb, gateway["id"]) is None
    assert (
        nb.rows("NAT") == []
        and nb.rows("Logical_Router_Static_Route") == []
        and nb.rows("Gateway_Chassis") == []
    )


def test_the_routing_extensions_are_listed(api: Api) -> None:
    aliases = {e["alias"] for e in api.ok(api.c.get("/v2.0/extensions"))["extensions"]}
    assert {"router", "ext-gw-mode", "extraroute", "external-net"} <= aliases
    assert "l3_agent_scheduler" not in aliases  # the builtin L3 agents' own
    # the LSP's hostname, the network's domain, a port's own DHCP_Options
    assert {"dns-integration", "extra_dhcp_opt", "dns-domain-ports"} <= aliases
    assert "neutrino-changes" in aliases  # the change feed is every backend's


def test_maintenance_repairs_a_routers_drift_both_ways(
    maintained: tuple[RunningProvider, Api], nb: NorthboundServer
) -> None:
    _, api = maintained
    site = routed_site(api)
    router = site["router"]
    put(api, f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": site["subnets"][0]["id"]})
    eventually(lambda: (lr(nb, router["id"]) or {}).get("nat", {}) != {})
    before = must(nb, router["id"])
    [gateway_lrp] = [n for n, p in before["ports"].items() if p["gateway_chassis"]]
    assert before["ports"][gateway_lrp]["gateway_chassis"] == ["plain"]  # no gateway offered: the physnet's
    [interface] = [n for n in before["ports"] if n != gateway_lrp]
    name = f"neutron-{router['id']}"
    nb.nbctl("lr-nat-del", name, "snat")
    nb.nbctl("lr-route-add", name, "192.0.2.0/24", "10.1.0.77")
    nb.nbctl("lrp-del", interface)
    stranger = f"neutron-{uuid.uuid4()}"
    nb.nbctl("lr-add", stranger)
    nb.nbctl("lr-add", "not-ours")

    def repaired() -> bool:
        now = lr(nb, router["id"])
        names = {r["name"] for r in nb.rows("Logical_Router")}
        return (
            now is not None
            and now["nat"].keys() == before["nat"].keys()
            and now["routes"] == before["routes"]
            and set(now["ports"]) == set(before["ports"])
            and stranger not in names
        )

    eventually(repaired)
    assert "not-ours" in {r["name"] for r in nb.rows("Logical_Router")}
    # a router's ports are in no port group (the drop group's ACLs would cut the router off)
    router_lsps = {r["_uuid"] for r in nb.rows("Logical_Switch_Port") if r["type"] == "router"}
    assert len(router_lsps) == 2
    assert not router_lsps & {u for g in nb.rows("Port_Group") for u in as_list(g["ports"])}


def test_a_routers_port_or_subnet_changed_on_their_own_rewrite_the_router(
    api: Api, nb: NorthboundServer
) -> None:
    site = routed_site(api)
    router = site["router"]
    answer = put(
        api, f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": site["subnets"][0]["id"]}
    )
    port = api.ok(api.c.put(f"/v2.0/ports/{answer['port_id']}", json={"port": {"name": "renamed"}}))["port"]
    lrp = must(nb, router["id"])["ports"][f"lrp-{port['id']}"]
    assert lrp["external_ids"]["neutron:revision_number"] == str(port["revision_number"])
    api.ok(
        api.c.put(
            f"/v2.0/subnets/{site['ext_subnet']['id']}",
            json={
                "subnet": {
                    "gateway_ip": "203.0.113.254",
                    "allocation_pools": [{"start": "203.0.113.2", "end": "203.0.113.200"}],
                }
            },
        )
    )
    assert must(nb, router["id"])["routes"] == {("0.0.0.0/0", "203.0.113.254")}


def test_a_gateway_chassis_no_longer_alive_is_replaced_by_the_maintenance(
    maintained: tuple[RunningProvider, Api], nb: NorthboundServer, tmp_path: Path
) -> None:
    _, api = maintained
    add_chassis(tmp_path, "second", "physnet1:br-prov")  # beside "plain": two candidates
    site = routed_site(api)
    gateway_info = {"network_id": site["ext"]["id"]}
    # a router's gateway goes where the hash of its id says among the two: routers are made until each chassis
    # has one (six random ids all land on one chassis once in 32 runs)
    both = [Chassis(name, frozenset(), gateway=False, alive=True) for name in ("plain", "second")]
    routers = [site["router"]]
    while {gateway_chassis(r["id"], None, both) for r in routers} != {("plain",), ("second",)}:
        assert len(routers) < 40, "no router id hashed to one of the chassis"
        routers.append(api.post("routers", "router", external_gateway_info=gateway_info))

    def gateway(router_id: str) -> list[str]:
        row = lr(nb, router_id) or {"ports": {}}
        return [c for p in row["ports"].values() for c in p["gateway_chassis"]]

    eventually(lambda: all(tuple(gateway(r["id"])) == gateway_chassis(r["id"], None, both) for r in routers))
    database = Database(sqlite_url(tmp_path), pool_size=1)
    try:
        with database.uow() as uow:
            c = t.agents.c
            uow.execute(
                sa.update(t.agents).where(c.host == "second").values(heartbeat_timestamp=datetime(2000, 1, 1))
            )
            uow.commit()
    finally:
        database.dispose()
    eventually(lambda: all(gateway(r["id"]) == ["plain"] for r in routers))
