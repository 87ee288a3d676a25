"""Port group members on the OVN backend, against a real northbound: a request writes its ports'
memberships by mutate and never reads a group's members (their number is the number of ports), ports
written side by side all land with their memberships, the maintenance puts members right both ways,
and a port that cannot be written in a batch costs only itself."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from neutrino.provider.backends.ovn import model as m
from neutrino.provider.backends.ovn.backend import OvnBackend
from neutrino.provider.backends.ovn.northbound import Northbound, PortWrite
from neutrino.provider.store.db import Database
from tests.integration.provider.conftest import Api
from tests.integration.provider.server import running_provider
from tests.support.databases import sqlite_url
from tests.support.ovn_central import NorthboundServer


@pytest.fixture
def nb(ovn_northbound_server: NorthboundServer) -> NorthboundServer:
    if not ovn_northbound_server.running:
        ovn_northbound_server.start()
    ovn_northbound_server.wipe()
    return ovn_northbound_server


def provider(nb: NorthboundServer, tmp_path: Path, interval: float) -> Any:
    return running_provider(
        sqlite_url(tmp_path), tmp_path, backend="ovn", ovn_nb_connection=nb.remote,
        ovn_maintenance_interval=interval, ovn_ovsdb_timeout=5,
    )  # fmt: skip


def members(nb: NorthboundServer, name: str) -> set[str]:
    names = {r["_uuid"]: r["name"] for r in nb.rows("Logical_Switch_Port")}
    (group,) = [r for r in nb.rows("Port_Group") if r["name"] == name]
    ports = group["ports"] if isinstance(group["ports"], list) else [group["ports"]]
    return {names[u] for u in ports}


def eventually(check: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the northbound did not converge"
        time.sleep(0.2)


def pg(group_id: str) -> str:
    return m.port_group_name(group_id)


def test_ports_written_side_by_side_land_with_their_memberships(nb: NorthboundServer, tmp_path: Path) -> None:
    with provider(nb, tmp_path, interval=3600) as running, running.admin() as client:
        api = Api(client)
        network = api.network()
        api.subnet(network["id"], "10.20.0.0/24")
        web = api.post("security-groups", "security_group", name="web")

        def make(i: int) -> dict[str, Any]:
            if i % 3 == 0:
                return api.port(network["id"], security_groups=[web["id"]])
            if i % 3 == 1:
                return api.port(network["id"], port_security_enabled=False, security_groups=[])
            return api.port(network["id"])

        with ThreadPoolExecutor(8) as pool:
            ports = list(pool.map(make, range(24)))

            def change(p: dict[str, Any]) -> None:  # move each web port to the default group
                api.ok(client.put(f"/v2.0/ports/{p['id']}", json={"port": {"security_groups": [default]}}))

            default = next(
                p for p in ports if p["port_security_enabled"] and web["id"] not in p["security_groups"]
            )["security_groups"][0]
            moved = [p for p in ports if web["id"] in p["security_groups"]][:4]
            gone = [p for p in ports if not p["port_security_enabled"]][:4]
            list(pool.map(change, moved))
            list(pool.map(lambda p: api.ok(client.delete(f"/v2.0/ports/{p['id']}"), 204), gone))

        now = {p["id"]: p for p in api.ok(client.get("/v2.0/ports"))["ports"]}
        assert {r["name"] for r in nb.rows("Logical_Switch_Port")} == set(now)
        assert members(nb, pg(web["id"])) == {i for i, p in now.items() if web["id"] in p["security_groups"]}
        assert members(nb, pg(default)) == {i for i, p in now.items() if default in p["security_groups"]}
        assert members(nb, m.DROP_GROUP) == {i for i, p in now.items() if p["port_security_enabled"]}
        assert len(members(nb, pg(web["id"]))) == 4 and len(members(nb, pg(default))) == 8 + 4


def test_a_port_write_leaves_other_members_alone_and_the_maintenance_repairs_them(
    nb: NorthboundServer, tmp_path: Path
) -> None:
    with provider(nb, tmp_path, interval=3600) as running, running.admin() as client:
        api = Api(client)
        network = api.network()
        api.subnet(network["id"], "10.21.0.0/24")
        kept, dropped = api.port(network["id"]), api.port(network["id"])
        stranger = api.port(network["id"], port_security_enabled=False, security_groups=[])
        # drift by hand: a member taken out, a port without port security put in
        nb.nbctl("pg-set-ports", m.DROP_GROUP, kept["id"], stranger["id"])
        newcomer = api.port(network["id"])
        # the request wrote its own port's membership, and read or changed no other
        assert members(nb, m.DROP_GROUP) == {kept["id"], stranger["id"], newcomer["id"]}
    # the maintenance (at start) compares members in full, both ways
    with provider(nb, tmp_path, interval=3600):
        eventually(lambda: members(nb, m.DROP_GROUP) == {kept["id"], dropped["id"], newcomer["id"]})


def test_a_port_that_cannot_be_written_costs_only_itself(nb: NorthboundServer) -> None:
    network, missing = str(uuid.uuid4()), str(uuid.uuid4())
    nb.nbctl("ls-add", m.switch_name(network))
    northbound = Northbound(nb.remote, timeout=5)
    northbound.connect()
    try:
        eventually(lambda: northbound.connected)

        def port(network_id: str) -> m.Port:
            return m.Port(str(uuid.uuid4()), network_id, ("unknown",), (), True, {}, {m.REVISION: "1"})

        good, bad, also_good = port(network), port(missing), port(network)  # bad: no such switch
        with pytest.raises(Exception, match=m.switch_name(missing)):
            northbound.write_ports([PortWrite(good), PortWrite(bad), PortWrite(also_good)], {})
        assert {r["name"] for r in nb.rows("Logical_Switch_Port")} == {good.port_id, also_good.port_id}
    finally:
        northbound.close()


def test_the_maintenance_finds_nothing_to_repair_after_the_requests(
    nb: NorthboundServer, tmp_path: Path
) -> None:
    """What a request writes and what the maintenance reads back compare equal, for every kind of row
    (else each pass would rewrite them)."""
    with provider(nb, tmp_path, interval=3600) as running, running.admin() as client:
        api = Api(client)
        vxlan = api.network(mtu=1400)
        api.network(**{"provider:network_type": "flat", "provider:physical_network": "physflat"})
        vlan = api.network(**{"provider:network_type": "vlan", "provider:physical_network": "physnet1",
                              "provider:segmentation_id": 42})  # fmt: skip
        routed = {"host_routes": [{"destination": "192.168.0.0/16", "nexthop": "10.22.0.254"}]}
        api.subnet(vxlan["id"], "10.22.0.0/24", dns_nameservers=["10.22.0.2"], **routed)
        api.subnet(vxlan["id"], "2001:db8:22::/64", ipv6_ra_mode="dhcpv6-stateless",
                   ipv6_address_mode="dhcpv6-stateless")  # fmt: skip
        api.subnet(vlan["id"], "10.23.0.0/24")
        web = api.post("security-groups", "security_group", name="web")
        api.post("security-group-rules", "security_group_rule", security_group_id=web["id"], direction="ingress",
                 ethertype="IPv4", protocol="tcp", port_range_min=80, port_range_max=80, remote_group_id=web["id"])  # fmt: skip
        api.port(vxlan["id"], security_groups=[web["id"]], **{"binding:host_id": "host1"})
        api.port(vxlan["id"], port_security_enabled=False, security_groups=[])
        api.port(vlan["id"], admin_state_up=False)

        backend = OvnBackend(running.settings, Database(running.settings.database_url(), pool_size=2))
        try:
            backend.nb.connect()
            eventually(lambda: backend.nb.connected)
            assert backend.maintain() == Counter()
        finally:
            backend.nb.close()
            backend.db.dispose()


@pytest.fixture(autouse=True)
def _quiet_northbound(nb: NorthboundServer) -> Iterator[None]:
    yield
    nb.wipe()
