"""The OVN backend against a real northbound ovsdb-server: every write reaches the northbound in
the same request, an outage loses nothing, and the maintenance repairs drift both ways."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _require
from tests.integration.provider.conftest import Api
from tests.integration.provider.server import RunningProvider, running_provider
from tests.support import ovn_central
from tests.support.databases import sqlite_url
from tests.support.ovn_central import NorthboundServer
from tests.support.pki import make_pki


def as_list(value: Any) -> list[Any]:
    """A set column as a list (ovn-nbctl's JSON gives a one-element set as the bare value)."""
    return value if isinstance(value, list) else [value]


@pytest.fixture
def nb(ovn_northbound_server: NorthboundServer) -> NorthboundServer:
    if not ovn_northbound_server.running:
        ovn_northbound_server.start()
    ovn_northbound_server.wipe()
    return ovn_northbound_server


def ovn_provider(nb: NorthboundServer, tmp_path: Path, interval: float, **settings: Any) -> Any:
    return running_provider(
        sqlite_url(tmp_path),
        tmp_path,
        backend="ovn",
        ovn_nb_connection=nb.remote,
        ovn_maintenance_interval=interval,
        ovn_ovsdb_timeout=3,
        **settings,
    )


@pytest.fixture
def api(nb: NorthboundServer, tmp_path: Path) -> Iterator[Api]:
    """A provider whose maintenance runs only at start: what the tests see, each request wrote."""
    with ovn_provider(nb, tmp_path, interval=3600) as provider, provider.admin() as client:
        yield Api(client)


@pytest.fixture
def maintained(nb: NorthboundServer, tmp_path: Path) -> Iterator[tuple[RunningProvider, Api]]:
    """A provider whose maintenance runs twice a second."""
    with ovn_provider(nb, tmp_path, interval=0.5) as provider, provider.admin() as client:
        yield provider, Api(client)


def switch(nb: NorthboundServer, network_id: str) -> dict[str, Any] | None:
    return next((r for r in nb.rows("Logical_Switch") if r["name"] == f"neutron-{network_id}"), None)


def lsp(nb: NorthboundServer, name: str) -> dict[str, Any] | None:
    return next((r for r in nb.rows("Logical_Switch_Port") if r["name"] == name), None)


def dhcp(nb: NorthboundServer, subnet_id: str) -> list[dict[str, Any]]:
    """A subnet's own DHCP_Options rows (not its ports')."""
    return [
        r
        for r in nb.rows("DHCP_Options")
        if r["external_ids"].get("subnet_id") == subnet_id and "port_id" not in r["external_ids"]
    ]


def own_dhcp(nb: NorthboundServer, port_id: str) -> list[dict[str, Any]]:
    """A port's own DHCP_Options rows (extra DHCP options, its own dns_domain)."""
    return [r for r in nb.rows("DHCP_Options") if r["external_ids"].get("port_id") == port_id]


def eventually(check: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the northbound did not converge"
        time.sleep(0.2)


def test_networks_become_logical_switches_with_localnet_ports_for_provider_networks(
    api: Api, nb: NorthboundServer
) -> None:
    vxlan = api.network(name="tenant", mtu=1400)
    flat = api.network(**{"provider:network_type": "flat", "provider:physical_network": "physflat"})
    vlan = api.network(
        **{
            "provider:network_type": "vlan",
            "provider:physical_network": "physnet1",
            "provider:segmentation_id": 42,
        }
    )

    ls = switch(nb, vxlan["id"])
    assert ls is not None
    assert ls["other_config"] == {"mtu": "1400"}
    assert ls["external_ids"]["neutron:network_name"] == "tenant"
    assert ls["external_ids"]["neutron:revision_number"] == str(vxlan["revision_number"])
    assert ls["ports"] == []
    localnets = {r["name"]: r for r in nb.rows("Logical_Switch_Port") if r["type"] == "localnet"}
    assert set(localnets) == {f"provnet-{flat['id']}", f"provnet-{vlan['id']}"}
    assert localnets[f"provnet-{flat['id']}"]["options"] == {"network_name": "physflat"}
    assert localnets[f"provnet-{flat['id']}"]["tag"] == []
    assert localnets[f"provnet-{vlan['id']}"]["options"] == {"network_name": "physnet1"}
    assert localnets[f"provnet-{vlan['id']}"]["tag"] == 42
    assert as_list(localnets[f"provnet-{vlan['id']}"]["addresses"]) == ["unknown"]

    renamed = api.ok(
        api.c.put(f"/v2.0/networks/{vxlan['id']}", json={"network": {"name": "renamed", "mtu": 1300}})
    )
    ls = switch(nb, vxlan["id"])
    assert ls is not None
    assert ls["external_ids"]["neutron:network_name"] == "renamed"
    assert ls["external_ids"]["neutron:revision_number"] == str(renamed["network"]["revision_number"])
    assert ls["other_config"] == {"mtu": "1300"}

    for network in (vxlan, flat, vlan):
        api.ok(api.c.delete(f"/v2.0/networks/{network['id']}"), 204)
    assert nb.rows("Logical_Switch") == []
    assert nb.rows("Logical_Switch_Port") == []


def test_subnets_become_dhcp_options_and_ports_logical_switch_ports(api: Api, nb: NorthboundServer) -> None:
    network = api.network(mtu=1400)
    subnet = api.subnet(network["id"], "10.5.0.0/24", dns_nameservers=["10.5.0.53"])
    (options,) = dhcp(nb, subnet["id"])
    assert options["cidr"] == "10.5.0.0/24"
    assert options["options"]["server_id"] == "10.5.0.1"
    assert options["options"]["router"] == "10.5.0.1"
    assert options["options"]["mtu"] == "1400"
    assert options["options"]["lease_time"] == "43200"
    assert options["options"]["dns_server"] == "{10.5.0.53}"
    assert options["options"]["server_mac"].startswith("fa:16:3e:")

    port = api.port(network["id"], name="vm1", device_id="dev-1", **{"binding:host_id": "host-a"})
    ip = port["fixed_ips"][0]["ip_address"]
    row = lsp(nb, port["id"])
    assert row is not None
    assert as_list(row["addresses"]) == [f"{port['mac_address']} {ip}"]
    assert as_list(row["port_security"]) == [f"{port['mac_address']} {ip}"]
    assert row["options"] == {"requested-chassis": "host-a"}
    assert row["dhcpv4_options"] == options["_uuid"]
    assert row["enabled"] is True
    ext = row["external_ids"]
    assert ext["neutron:port_name"] == "vm1"
    assert ext["neutron:device_id"] == "dev-1"
    assert ext["neutron:cidrs"] == f"{ip}/24"
    assert ext["neutron:network_name"] == f"neutron-{network['id']}"
    assert ext["neutron:security_group_ids"] == " ".join(port["security_groups"])
    assert row["_uuid"] in as_list(switch(nb, network["id"])["ports"])  # type: ignore[index]

    open_port = api.port(network["id"], port_security_enabled=False, security_groups=[])
    row = lsp(nb, open_port["id"])
    assert row is not None
    assert row["port_security"] == []
    assert "unknown" in as_list(row["addresses"])
    assert row["options"] == {}

    api.ok(
        api.c.put(
            f"/v2.0/ports/{port['id']}",
            json={"port": {"binding:host_id": "host-b", "admin_state_up": False, "name": "vm1b"}},
        )
    )
    row = lsp(nb, port["id"])
    assert row is not None
    assert row["options"] == {"requested-chassis": "host-b"}
    assert row["enabled"] is False
    assert row["external_ids"]["neutron:port_name"] == "vm1b"
    api.ok(api.c.put(f"/v2.0/ports/{port['id']}", json={"port": {"binding:host_id": ""}}))
    assert lsp(nb, port["id"])["options"] == {}  # type: ignore[index]

    api.ok(
        api.c.put(
            f"/v2.0/subnets/{subnet['id']}", json={"subnet": {"dns_nameservers": ["1.1.1.1", "8.8.8.8"]}}
        )
    )
    assert dhcp(nb, subnet["id"])[0]["options"]["dns_server"] == "{1.1.1.1, 8.8.8.8}"
    api.ok(api.c.put(f"/v2.0/subnets/{subnet['id']}", json={"subnet": {"enable_dhcp": False}}))
    assert dhcp(nb, subnet["id"]) == []
    assert lsp(nb, port["id"])["dhcpv4_options"] == []  # type: ignore[index]

    for p in (port, open_port):
        api.ok(api.c.delete(f"/v2.0/ports/{p['id']}"), 204)
        assert lsp(nb, p["id"]) is None
    api.ok(api.c.put(f"/v2.0/subnets/{subnet['id']}", json={"subnet": {"enable_dhcp": True}}))
    assert len(dhcp(nb, subnet["id"])) == 1
    api.ok(api.c.delete(f"/v2.0/subnets/{subnet['id']}"), 204)
    assert dhcp(nb, subnet["id"]) == []


def test_a_network_deleted_takes_its_dhcp_options_along(api: Api, nb: NorthboundServer) -> None:
    network = api.network()
    subnet = api.subnet(network["id"], "10.6.0.0/24")
    assert len(dhcp(nb, subnet["id"])) == 1
    api.ok(api.c.delete(f"/v2.0/networks/{network['id']}"), 204)
    assert switch(nb, network["id"]) is None
    assert dhcp(nb, subnet["id"]) == []


def test_writes_during_an_outage_are_kept_and_repaired_when_it_ends(
    maintained: tuple[RunningProvider, Api], nb: NorthboundServer
) -> None:
    _, api = maintained
    network = api.network()
    api.subnet(network["id"], "10.7.0.0/24")
    doomed = api.port(network["id"])
    assert lsp(nb, doomed["id"]) is not None

    nb.stop()
    try:
        created = api.port(network["id"], name="during-outage")  # 201: kept, left to the repair
        api.ok(api.c.delete(f"/v2.0/ports/{doomed['id']}"), 204)
        assert api.ok(api.c.get(f"/v2.0/ports/{created['id']}"))["port"]["name"] == "during-outage"
        assert api.c.get(f"/v2.0/ports/{doomed['id']}").status_code == 404
    finally:
        nb.start()

    eventually(lambda: lsp(nb, created["id"]) is not None and lsp(nb, doomed["id"]) is None)
    row = lsp(nb, created["id"])
    assert row is not None
    assert row["external_ids"]["neutron:port_name"] == "during-outage"
    assert row["dhcpv4_options"] != []


def test_maintenance_repairs_drift_both_ways(
    maintained: tuple[RunningProvider, Api], nb: NorthboundServer
) -> None:
    _, api = maintained
    network = api.network()
    subnet = api.subnet(network["id"], "10.8.0.0/24")
    port = api.port(network["id"])
    stranger = str(uuid.uuid4())
    nb.nbctl("lsp-del", port["id"])
    nb.nbctl(
        "lsp-add", f"neutron-{network['id']}", stranger,
        "--", "set", "Logical_Switch_Port", stranger, 'external_ids:"neutron:revision_number"=3',
    )  # fmt: skip
    nb.nbctl("ls-add", f"neutron-{uuid.uuid4()}")
    (options,) = dhcp(nb, subnet["id"])
    nb.nbctl("set", "DHCP_Options", options["_uuid"], "options:router=10.8.0.99")
    unowned = nb.nbctl("create", "DHCP_Options", "cidr=192.0.2.0/24").strip()  # no subnet_id: not ours
    assert len(group_acls(nb, "neutron_pg_drop")) == 2
    nb.nbctl("--type=port-group", "acl-del", "neutron_pg_drop")

    def repaired() -> bool:
        names = {r["name"] for r in nb.rows("Logical_Switch")}
        current = dhcp(nb, subnet["id"])
        return (
            lsp(nb, port["id"]) is not None
            and lsp(nb, stranger) is None
            and names == {f"neutron-{network['id']}"}
            and len(current) == 1
            and current[0]["options"]["router"] == "10.8.0.1"
            and len(group_acls(nb, "neutron_pg_drop")) == 2
        )

    eventually(repaired)
    assert unowned in {r["_uuid"] for r in nb.rows("DHCP_Options")}
    assert lsp(nb, port["id"])["dhcpv4_options"] == options["_uuid"]  # type: ignore[index]


def test_dhcp_options_carry_routes_and_ipv6_modes(api: Api, nb: NorthboundServer) -> None:
    network = api.network()
    routed = api.subnet(
        network["id"], "10.9.0.0/24", host_routes=[{"destination": "192.168.0.0/16", "nexthop": "10.9.0.254"}]
    )
    (options,) = dhcp(nb, routed["id"])
    assert options["options"]["classless_static_route"] == "{192.168.0.0/16,10.9.0.254, 0.0.0.0/0,10.9.0.1}"
    stateless = api.subnet(
        network["id"],
        "2001:db8:1::/64",
        ipv6_ra_mode="dhcpv6-stateless",
        ipv6_address_mode="dhcpv6-stateless",
    )
    (v6,) = dhcp(nb, stateless["id"])
    assert v6["cidr"] == "2001:db8:1::/64"
    assert v6["options"]["dhcpv6_stateless"] == "true"
    assert v6["options"]["server_id"].startswith("fa:16:3e:")
    slaac = api.subnet(network["id"], "2001:db8:2::/64", ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    assert dhcp(nb, slaac["id"]) == []  # SLAAC: router advertisements only, no DHCPv6

    port = api.port(network["id"])
    row = lsp(nb, port["id"])
    assert row is not None
    assert row["dhcpv4_options"] == options["_uuid"]
    assert row["dhcpv6_options"] == v6["_uuid"]
    ips = [ip["ip_address"] for ip in port["fixed_ips"]]
    assert len(ips) == 3
    assert as_list(row["addresses"]) == [" ".join([port["mac_address"], *ips])]

    # stateful DHCPv6 (on a network of its own: a port refers to one DHCPv6 row): addresses from the
    # server, so no dhcpv6_stateless; the subnet's IPv6 name servers, its IPv4 ones left out
    v6_network = api.network()
    stateful = api.subnet(
        v6_network["id"],
        "2001:db8:3::/64",
        ipv6_ra_mode="dhcpv6-stateful",
        ipv6_address_mode="dhcpv6-stateful",
        dns_nameservers=["2001:db8:3::53", "192.0.2.53"],
    )
    (full,) = dhcp(nb, stateful["id"])
    assert full["cidr"] == "2001:db8:3::/64"
    assert "dhcpv6_stateless" not in full["options"]
    assert full["options"]["server_id"].startswith("fa:16:3e:")
    assert full["options"]["dns_server"] == "{2001:db8:3::53}"
    v6_port = api.port(v6_network["id"])
    v6_row = lsp(nb, v6_port["id"])
    assert v6_row is not None
    assert v6_row["dhcpv6_options"] == full["_uuid"]
    assert as_list(v6_row["dhcpv4_options"]) == []
    assert as_list(v6_row["addresses"]) == [
        f"{v6_port['mac_address']} {v6_port['fixed_ips'][0]['ip_address']}"
    ]


def port_group(nb: NorthboundServer, name: str) -> dict[str, Any] | None:
    return next((r for r in nb.rows("Port_Group") if r["name"] == name), None)


def group_acls(nb: NorthboundServer, name: str) -> dict[str, dict[str, Any]]:
    """The ACLs of a port group by match."""
    group = port_group(nb, name)
    assert group is not None
    mine = set(as_list(group["acls"]))
    return {r["match"]: r for r in nb.rows("ACL") if r["_uuid"] in mine}


def members(nb: NorthboundServer, name: str) -> set[str]:
    group = port_group(nb, name)
    assert group is not None
    by_uuid = {r["_uuid"]: r["name"] for r in nb.rows("Logical_Switch_Port")}
    return {by_uuid[u] for u in as_list(group["ports"])}


def test_security_groups_become_port_groups_with_acls(api: Api, nb: NorthboundServer) -> None:
    network = api.network()
    api.subnet(network["id"], "10.10.0.0/24")
    web = api.post("security-groups", "security_group", name="web")
    pg = "pg_" + web["id"].replace("-", "_")
    ssh = api.post(
        "security-group-rules", "security_group_rule", security_group_id=web["id"], direction="ingress",
        ethertype="IPv4", protocol="tcp", port_range_min=22, port_range_max=22, remote_ip_prefix="192.0.2.0/24",
    )  # fmt: skip
    api.post(
        "security-group-rules", "security_group_rule", security_group_id=web["id"], direction="ingress",
        ethertype="IPv4", protocol="icmp", remote_group_id=web["id"],
    )  # fmt: skip
    acls = group_acls(nb, pg)
    ssh_match = f"outport == @{pg} && ip4 && ip4.src == 192.0.2.0/24 && tcp && tcp.dst == 22"
    assert acls[ssh_match]["action"] == "allow-related"
    assert acls[ssh_match]["direction"] == "to-lport"
    assert acls[ssh_match]["priority"] == 1002
    assert acls[ssh_match]["external_ids"] == {"neutron:security_group_rule_id": ssh["id"]}
    assert f"outport == @{pg} && ip4 && ip4.src == ${pg}_ip4 && icmp4" in acls
    assert f"inport == @{pg} && ip4" in acls  # the group's default egress rules
    assert port_group(nb, pg)["external_ids"] == {"neutron:security_group_id": web["id"]}  # type: ignore[index]

    port = api.port(network["id"], security_groups=[web["id"]])
    open_port = api.port(network["id"], port_security_enabled=False, security_groups=[])
    assert members(nb, pg) == {port["id"]}
    assert members(nb, "neutron_pg_drop") == {port["id"]}
    drop = group_acls(nb, "neutron_pg_drop")
    assert {a["action"] for a in drop.values()} == {"drop"}
    assert set(drop) == {"inport == @neutron_pg_drop && ip", "outport == @neutron_pg_drop && ip"}

    api.ok(api.c.delete(f"/v2.0/security-group-rules/{ssh['id']}"), 204)
    assert ssh_match not in group_acls(nb, pg)
    api.ok(api.c.put(f"/v2.0/ports/{port['id']}", json={"port": {"security_groups": []}}))
    assert members(nb, pg) == set()
    assert members(nb, "neutron_pg_drop") == {port["id"]}
    api.ok(api.c.delete(f"/v2.0/security-groups/{web['id']}"), 204)
    assert port_group(nb, pg) is None
    for p in (port, open_port):
        api.ok(api.c.delete(f"/v2.0/ports/{p['id']}"), 204)
    assert members(nb, "neutron_pg_drop") == set()


@pytest.fixture(params=["no southbound", "southbound unreachable"])
def api_sb(request: pytest.FixtureRequest, nb: NorthboundServer, tmp_path: Path) -> Iterator[Api]:
    """A provider told no southbound, or one nobody serves: the northbound's ``up`` alone says."""
    sb = "" if request.param == "no southbound" else f"unix:{tmp_path / 'nobody.sock'}"
    with (
        ovn_provider(nb, tmp_path, interval=3600, ovn_sb_connection=sb, ovn_chassis_interval=0.2) as provider,
        provider.admin() as client,
    ):
        yield Api(client)


def test_a_port_is_active_while_ovn_reports_it_up(api_sb: Api, nb: NorthboundServer) -> None:
    api = api_sb
    network = api.network()
    port = api.port(network["id"])
    other = api.port(network["id"])
    assert port["status"] == "DOWN"

    def status(p: dict[str, Any]) -> str:
        return str(api.ok(api.c.get(f"/v2.0/ports/{p['id']}"))["port"]["status"])

    nb.nbctl("set", "Logical_Switch_Port", port["id"], "up=true")  # what ovn-northd does once bound
    eventually(lambda: status(port) == "ACTIVE", timeout=5)
    assert status(other) == "DOWN"
    revision = api.ok(api.c.get(f"/v2.0/ports/{port['id']}"))["port"]["revision_number"]
    assert revision == port["revision_number"]
    nb.nbctl("set", "Logical_Switch_Port", port["id"], "up=false")
    eventually(lambda: status(port) == "DOWN", timeout=5)


def test_the_northbound_over_tls(tmp_path: Path) -> None:
    _require(ovn_central.missing())
    (tmp_path / "pki").mkdir()
    (tmp_path / "nb").mkdir()
    pki = make_pki(tmp_path / "pki", client_auth=True)
    with ovn_central.northbound_server(tmp_path / "nb", pki) as nb:
        assert nb.remote.startswith("ssl:")
        with running_provider(
            sqlite_url(tmp_path), tmp_path, backend="ovn", ovn_nb_connection=nb.remote,
            ovn_nb_private_key=pki.key_file, ovn_nb_certificate=pki.chain_file, ovn_ca_cert=pki.ca_file,
            ovn_maintenance_interval=3600,
        ) as provider, provider.admin() as client:  # fmt: skip
            network = Api(client).network()
            assert switch(nb, network["id"]) is not None


def test_the_southbound_over_tls(tmp_path: Path) -> None:
    """The provider's southbound connection (chassis as agents, ports' ``up``) over ``ssl:`` with the
    same key, certificate and CA as its northbound's."""
    _require(ovn_central.missing())
    for d in ("pki", "nb", "sb"):
        (tmp_path / d).mkdir()
    pki = make_pki(tmp_path / "pki", client_auth=True)
    with (
        ovn_central.northbound_server(tmp_path / "nb", pki) as nb,
        ovn_central.southbound_server(tmp_path / "sb", pki) as sb,
    ):
        assert sb.remote.startswith("ssl:")
        nb.nbctl("init")  # NB_Global, whose nb_cfg the chassis are judged by (ovn-northd makes it too)
        sb.nbctl("chassis-add", "chassis-over-tls", "geneve", "192.0.2.7")
        with running_provider(
            sqlite_url(tmp_path), tmp_path, backend="ovn", ovn_nb_connection=nb.remote,
            ovn_sb_connection=sb.remote, ovn_nb_private_key=pki.key_file, ovn_nb_certificate=pki.chain_file,
            ovn_ca_cert=pki.ca_file, ovn_maintenance_interval=3600, ovn_chassis_interval=0.2,
        ) as provider, provider.admin() as client:  # fmt: skip

            def listed() -> bool:
                got = client.get("/v2.0/agents", params={"agent_type": "OVN Controller agent"})
                assert got.status_code == 200, got.text
                return [a["host"] for a in got.json()["agents"]] == ["chassis-over-tls"]

            eventually(listed, timeout=10)


def test_allowed_address_pairs_and_port_security_reach_the_port(api: Api, nb: NorthboundServer) -> None:
    """As Neutron's OVN driver: pairs with the port's MAC join its port_security entry, a pair with
    a MAC of its own is an entry (and an address) of its own; port security off: no port_security,
    ``unknown`` addresses, out of the drop group."""
    network = api.network()
    api.subnet(network["id"], "10.6.0.0/24")
    vip_mac = "00:00:5e:00:01:07"
    pairs = [{"ip_address": "10.6.0.200"}, {"ip_address": "10.6.1.0/24", "mac_address": vip_mac}]
    port = api.port(network["id"], allowed_address_pairs=pairs)
    mac, ip = port["mac_address"], port["fixed_ips"][0]["ip_address"]
    row = lsp(nb, port["id"])
    assert row is not None
    assert sorted(as_list(row["port_security"])) == sorted(
        [f"{mac} {ip} 10.6.0.200", f"{vip_mac} 10.6.1.0/24"]
    )
    assert sorted(as_list(row["addresses"])) == sorted([f"{mac} {ip}", vip_mac])
    path = f"/v2.0/ports/{port['id']}"
    off = {"port_security_enabled": False, "security_groups": [], "allowed_address_pairs": []}
    api.ok(api.c.put(path, json={"port": off}))
    row = lsp(nb, port["id"])
    assert row is not None and row["port_security"] == []
    assert sorted(as_list(row["addresses"])) == sorted([f"{mac} {ip}", "unknown"])
    drop = next(r for r in nb.rows("Port_Group") if r["name"] == "neutron_pg_drop")
    assert row["_uuid"] not in as_list(drop["ports"])
    on = {"port_security_enabled": True, "allowed_address_pairs": [{"ip_address": "10.6.0.201"}]}
    api.ok(api.c.put(path, json={"port": on}))
    row = lsp(nb, port["id"])
    assert row is not None and as_list(row["port_security"]) == [f"{mac} {ip} 10.6.0.201"]


def test_dns_names_and_domains_reach_the_dhcp_options(api: Api, nb: NorthboundServer) -> None:
    """dns-integration on OVN: a port's dns_name is its LSP's ``options:hostname`` (DHCP option 12), the
    network's dns_domain its subnets' ``domain_name`` (option 15), both quoted strings, following updates."""
    network = api.network(dns_domain="ovn.example")
    subnet = api.subnet(network["id"], "10.7.0.0/24")
    assert dhcp(nb, subnet["id"])[0]["options"]["domain_name"] == '"ovn.example"'
    named = api.port(network["id"], dns_name="web1")
    plain = api.port(network["id"])
    assert lsp(nb, named["id"])["options"] == {"hostname": '"web1"'}  # type: ignore[index]
    assert lsp(nb, plain["id"])["options"] == {}  # type: ignore[index]
    api.ok(api.c.put(f"/v2.0/ports/{named['id']}", json={"port": {"dns_name": "web2"}}))
    assert lsp(nb, named["id"])["options"] == {"hostname": '"web2"'}  # type: ignore[index]
    api.ok(api.c.put(f"/v2.0/networks/{network['id']}", json={"network": {"dns_domain": "other.example."}}))
    assert dhcp(nb, subnet["id"])[0]["options"]["domain_name"] == '"other.example"'
    api.ok(api.c.put(f"/v2.0/networks/{network['id']}", json={"network": {"dns_domain": ""}}))
    assert "domain_name" not in dhcp(nb, subnet["id"])[0]["options"]


def test_a_port_with_extra_options_or_its_own_domain_gets_a_dhcp_options_row(
    api: Api, nb: NorthboundServer
) -> None:
    """extra_dhcp_opt and dns-domain-ports on OVN (Neutron's ``_get_port_dhcp_options``): the port's own
    DHCP_Options row is its subnet's plus its options under OVN's names, and its LSP refers to it; an
    update rewrites it, clearing the options (or deleting the port) removes it, what OVN cannot serve is
    refused."""
    aliases = {e["alias"] for e in api.ok(api.c.get("/v2.0/extensions"))["extensions"]}
    assert {"extra_dhcp_opt", "dns-integration", "dns-domain-ports"} <= aliases
    network = api.network(dns_domain="net.example")
    subnet = api.subnet(network["id"], "10.7.0.0/24")
    (shared,) = dhcp(nb, subnet["id"])
    opts = [
        {"opt_name": "ntp-server", "opt_value": "10.7.0.5"},
        {"opt_name": "classless-static-route", "opt_value": "10.9.0.0/24,10.7.0.1"},
    ]
    port = api.port(network["id"], extra_dhcp_opts=opts)
    plain = api.port(network["id"])
    (own,) = own_dhcp(nb, port["id"])
    assert own["external_ids"] == {**shared["external_ids"], "port_id": port["id"]}
    assert own["cidr"] == "10.7.0.0/24"
    assert own["options"] == {
        **shared["options"],
        "ntp_server": "10.7.0.5",
        "classless_static_route": "{10.9.0.0/24,10.7.0.1}",
    }
    assert lsp(nb, port["id"])["dhcpv4_options"] == own["_uuid"]  # type: ignore[index]
    assert lsp(nb, plain["id"])["dhcpv4_options"] == shared["_uuid"]  # type: ignore[index]
    assert dhcp(nb, subnet["id"]) == [shared]  # the subnet's row untouched

    path = f"/v2.0/ports/{port['id']}"
    update = [
        {"opt_name": "ntp-server", "opt_value": "10.7.0.6,10.7.0.7"},
        {"opt_name": "router", "opt_value": ""},  # Neutron's "send no router"
        {"opt_name": "classless-static-route", "opt_value": None},
    ]
    api.ok(api.c.put(path, json={"port": {"extra_dhcp_opts": update, "dns_domain": "own.example."}}))
    (own,) = own_dhcp(nb, port["id"])
    assert own["options"]["ntp_server"] == "{10.7.0.6, 10.7.0.7}"
    assert own["options"]["domain_name"] == '"own.example"'  # the port's domain over the network's
    assert "router" not in own["options"] and "classless_static_route" not in own["options"]

    # a network update reaches the rows of its ports too (their MTU, the network's domain)
    dom_only = api.port(network["id"], dns_domain="vm.example.")
    api.ok(api.c.put(f"/v2.0/networks/{network['id']}", json={"network": {"mtu": 1400}}))
    assert own_dhcp(nb, dom_only["id"])[0]["options"]["mtu"] == "1400"
    assert own_dhcp(nb, dom_only["id"])[0]["options"]["domain_name"] == '"vm.example"'
    assert own_dhcp(nb, port["id"])[0]["options"]["mtu"] == "1400"

    # what OVN's DHCP cannot serve (dnsmasq could): Neutron's OVN wording, naming the options
    for name, value, version in (
        ("nis-domain", "corp", 4),
        ("252", "http://wpad/", 4),
        ("sntp-server", "fd00::1", 6),
    ):
        bad = {"opt_name": name, "opt_value": value, "ip_version": version}
        refused = api.c.put(path, json={"port": {"extra_dhcp_opts": [bad]}})
        reason = api.error(refused, 400, "HTTPBadRequest")
        assert "not supported by OVN" in reason and f'IPv{version}: "{name}"' in reason, reason
    refused = api.c.post(
        "/v2.0/ports", json={"port": {"network_id": network["id"], "extra_dhcp_opts": [bad]}}
    )
    assert api.error(refused, 400, "HTTPBadRequest").startswith("Invalid input for extra_dhcp_opts")
    assert len(api.ok(api.c.get("/v2.0/ports"))["ports"]) == 3  # nothing written

    # options cleared and the domain with them: back on the subnet's row, the port's row removed
    cleared = [{"opt_name": "ntp-server", "opt_value": None}, {"opt_name": "router", "opt_value": None}]
    api.ok(api.c.put(path, json={"port": {"extra_dhcp_opts": cleared, "dns_domain": ""}}))
    assert own_dhcp(nb, port["id"]) == []
    assert lsp(nb, port["id"])["dhcpv4_options"] == shared["_uuid"]  # type: ignore[index]
    api.ok(api.c.delete(f"/v2.0/ports/{dom_only['id']}"), 204)
    assert own_dhcp(nb, dom_only["id"]) == []
    assert [r["_uuid"] for r in dhcp(nb, subnet["id"])] == [shared["_uuid"]]


def test_maintenance_repairs_the_ports_own_dhcp_options(
    maintained: tuple[RunningProvider, Api], nb: NorthboundServer
) -> None:
    """A port's own row deleted by hand comes back (and its LSP refers to it again); a row for a port
    nobody has goes; the subnet's row stays."""
    _, api = maintained
    network = api.network()
    subnet = api.subnet(network["id"], "10.8.0.0/24")
    port = api.port(network["id"], extra_dhcp_opts=[{"opt_name": "ntp-server", "opt_value": "10.8.0.5"}])
    (own,) = own_dhcp(nb, port["id"])
    (shared,) = dhcp(nb, subnet["id"])
    nb.nbctl("destroy", "DHCP_Options", own["_uuid"])
    ghost = str(uuid.uuid4())
    orphan = nb.nbctl(
        "create", "DHCP_Options", "cidr=10.8.0.0/24",
        f"external_ids:subnet_id={subnet['id']}", f"external_ids:port_id={ghost}",
    ).strip()  # fmt: skip

    def repaired() -> bool:
        mine, row = own_dhcp(nb, port["id"]), lsp(nb, port["id"])
        return (
            len(mine) == 1
            and mine[0]["options"].get("ntp_server") == "10.8.0.5"
            and row is not None
            and row["dhcpv4_options"] == mine[0]["_uuid"]
            and own_dhcp(nb, ghost) == []
        )

    eventually(repaired)
    assert orphan not in {r["_uuid"] for r in nb.rows("DHCP_Options")}
    assert [r["_uuid"] for r in dhcp(nb, subnet["id"])] == [shared["_uuid"]]
