"""The agent's L3 part on the in-memory host: a router's namespace, legs plugged by the
linux_bridge driver into its networks' bridges (VXLAN and flat), routes, NAT rules; converging
on changes; removal; a network kept while a leg or a vNIC still uses it; statuses; and the
conversion of what the provider says into router specs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from neutrino.agent.datapath.memory import MemoryNet
from neutrino.agent.datapath.router import (
    FloatingIpSpec,
    RouterLeg,
    RouterNamespaces,
    RouterSpec,
    StaticRoute,
    nat_rules,
)
from neutrino.agent.l3_reads import RouterReads, router_specs
from neutrino.agent.l3_routers import L3Routers
from neutrino.agent.state import HostStore, StateFile
from neutrino.agent.vnic.base import DriverContext
from neutrino.agent.vnic.linux_bridge import LinuxBridgeDriver
from neutrino.agent_api.schema import ExternalNet
from neutrino.neutron_client import ExternalGateway, FixedIp, FloatingIp, Network, Port, Route, Router, Subnet

R = "11111111-1111-4111-8111-111111111111"
NET1, NET2, EXT = "a1aaaaaa-0000-4000-8000-000000000001", "a2aaaaaa-0000-4000-8000-000000000002", "eeeeeeee-0000-4000-8000-000000000003"  # fmt: skip
P1, P2, PG = "p1000000-0000-4000-8000-000000000001", "p2000000-0000-4000-8000-000000000002", "pg000000-0000-4000-8000-000000000003"  # fmt: skip
NS = f"nvm-qrouter-{R}"


def leg(port: str, kind: str, network: str, address: str, **net: object) -> RouterLeg:
    return RouterLeg.model_validate(
        {"port_id": port, "kind": kind, "mac": "fa:16:3e:00:00:" + port[1:3], "mtu": 1450,
         "addresses": [address],
         "net": {"vnic_id": port, "plugin_type": "LINUX_BRIDGE", "network_id": network, "security_groups": [],
                 **net}}
    )  # fmt: skip


def spec(**changes: object) -> RouterSpec:
    base = RouterSpec(
        router_id=R,
        legs=[
            leg(P1, "internal", NET1, "10.0.1.1/24", network_type="vxlan", segmentation_id=101),
            leg(P2, "internal", NET2, "10.0.2.1/24", network_type="vxlan", segmentation_id=102),
            leg(PG, "gateway", EXT, "203.0.113.10/24", network_type="flat", physical_network="public"),
        ],
        gateway_ip="203.0.113.1",
        floating_ips=[FloatingIpSpec(id="f1", floating_ip="203.0.113.20", fixed_ip="10.0.1.5")],
        routes=[StaticRoute(destination="192.168.50.0/24", nexthop="10.0.2.254")],
    )
    return base.model_copy(update=changes)


@pytest.fixture
def host(tmp_path: Path) -> tuple[MemoryNet, L3Routers]:
    net = MemoryNet()
    net.add_veth("eth9", "wire9")  # the host interface mapped to the physical network "public"
    driver = LinuxBridgeDriver(
        DriverContext(host_net=net, tunnel_ip="192.0.2.1", physical_interfaces={"public": "eth9"},
                      vxlan_peers=("192.0.2.2",))
    )  # fmt: skip
    store = HostStore(StateFile(tmp_path / "state.json"))
    return net, L3Routers(store, {"LINUX_BRIDGE": driver}, RouterNamespaces(net, "nvm-"))


def test_a_router_is_a_namespace_with_legs_in_its_networks_bridges(host: tuple[MemoryNet, L3Routers]) -> None:
    net, routers = host
    assert routers.sync({R: spec()}) == []
    inner = net.in_netns(NS)
    assert inner.link("qr-p1000000-00").address == "fa:16:3e:00:00:10"  # type: ignore[union-attr]
    assert inner.addresses("qr-p2000000-00") == {"10.0.2.1/24"}
    assert inner.addresses("qg-pg000000-00") == {"203.0.113.10/24", "203.0.113.20/32"}
    # host ends in the networks' bridges; the networks' devices exist though no VM is here
    assert net.link("tapp1000000-00").master == f"brq{NET1[:11]}"  # type: ignore[union-attr]
    assert net.link("vxlan-101").master == f"brq{NET1[:11]}"  # type: ignore[union-attr]
    assert net.flood_entries("vxlan-102") == {"192.0.2.2"}
    assert net.link("eth9").master == f"brq{EXT[:11]}"  # type: ignore[union-attr]
    assert inner.routes() == {("0.0.0.0/0", "203.0.113.1"), ("192.168.50.0/24", "10.0.2.254")}
    assert inner.sysctl("net.ipv4.ip_forward") == "1"
    nat = inner.nat_save()
    assert "-A neutrino-PREROUTING -d 203.0.113.20/32 -j DNAT --to-destination 10.0.1.5" in nat
    assert "-A neutrino-float-snat -s 10.0.1.5/32 -j SNAT --to-source 203.0.113.20" in nat
    assert "-A neutrino-snat -s 10.0.1.0/24 -o qg-pg000000-00 -j SNAT --to-source 203.0.113.10" in nat
    assert ("nvm-qrouter-" + R, "qg-pg000000-00", "203.0.113.20") in net.world.announced
    statuses = routers.statuses()
    assert statuses.ports == {P1: "ACTIVE", P2: "ACTIVE", PG: "ACTIVE"}
    assert statuses.floating_ips == {"f1": ("ACTIVE", "10.0.1.5")}


def test_an_unchanged_router_changes_nothing(host: tuple[MemoryNet, L3Routers]) -> None:
    net, routers = host
    routers.sync({R: spec()})
    calls = net.world.calls
    routers.sync({R: spec()})
    assert net.world.calls == calls
    routers.sync({R: spec()}, force=True)  # rebuilt all the same: every step finds it in place
    assert net.world.calls == calls


def test_changes_converge_and_a_gone_floating_ip_loses_its_connections(
    host: tuple[MemoryNet, L3Routers],
) -> None:
    net, routers = host
    routers.sync({R: spec()})
    changed = spec(
        legs=spec().legs[::2], floating_ips=[], routes=[], snat=False
    )  # interface on NET2 removed, FIP disassociated, no SNAT
    assert routers.sync({R: changed}) == []
    inner = net.in_netns(NS)
    assert inner.link("qr-p2000000-00") is None and net.link("tapp2000000-00") is None
    assert net.link(f"brq{NET2[:11]}") is None and net.link("vxlan-102") is None  # no other user
    assert inner.addresses("qg-pg000000-00") == {"203.0.113.10/24"}
    assert inner.routes() == {("0.0.0.0/0", "203.0.113.1")}
    nat = inner.nat_save()
    assert "DNAT" in nat  # only the hairpin rule's match remains
    assert "203.0.113.20" not in nat and "-o qg-pg000000-00 -j SNAT" not in nat
    assert (NS, "203.0.113.20") in net.world.forgotten


def test_a_router_that_goes_leaves_nothing_and_keeps_networks_others_use(
    host: tuple[MemoryNet, L3Routers], caplog: pytest.LogCaptureFixture
) -> None:
    net, routers = host
    routers.sync({R: spec()})
    routers.store.state.dhcp = {}  # nothing else; then pretend a DHCP server uses NET1
    from neutrino.agent_api.schema import DhcpSpec

    routers.store.state.dhcp[NET1] = DhcpSpec.model_validate(
        {"network_id": NET1, "plugin_type": "LINUX_BRIDGE", "cidr": "10.0.1.0/24", "server_ip": "10.0.1.2"}
    )
    with caplog.at_level(logging.INFO, logger="neutrino.agent.l3_routers"):
        assert routers.sync({}) == []
    assert NS not in net.netns_names()
    assert "no record" not in caplog.text  # removed with its record, not deleted again as a stray
    assert net.link("tapp1000000-00") is None and net.link("tappg000000-00") is None
    assert net.link(f"brq{NET1[:11]}") is not None  # the DHCP server still uses it
    assert net.link(f"brq{NET2[:11]}") is None and net.link(f"brq{EXT[:11]}") is None
    assert net.link("eth9") is not None and net.link("eth9").master is None  # type: ignore[union-attr]
    assert routers.store.state.routers == {}
    assert routers.statuses().ports == {}


def test_a_namespace_without_a_record_is_removed(host: tuple[MemoryNet, L3Routers]) -> None:
    net, routers = host
    stray = "22222222-2222-4222-8222-222222222222"
    net.add_netns(f"nvm-qrouter-{stray}")
    net.add_netns("other-qrouter-x")
    routers.sync({})
    assert f"nvm-qrouter-{stray}" not in net.netns_names()
    assert "other-qrouter-x" in net.netns_names()


def test_a_router_that_cannot_be_built_is_reported_in_error(host: tuple[MemoryNet, L3Routers]) -> None:
    net, routers = host
    broken = spec(
        legs=[leg(PG, "gateway", EXT, "203.0.113.10/24", network_type="flat", physical_network="nope")]
    )
    assert routers.sync({R: broken}) == [R]
    assert routers.statuses().ports == {PG: "ERROR"}
    assert routers.statuses().floating_ips == {"f1": ("ERROR", "10.0.1.5")}


def test_nat_without_a_gateway_translates_nothing() -> None:
    lines, _ = nat_rules(spec(legs=spec().legs[:2], gateway_ip=None))
    assert not [line for line in lines if "SNAT" in line or "DNAT" in line]


def test_router_specs_from_what_the_provider_says() -> None:
    router = Router(
        id=R,
        name="r",
        gateway=ExternalGateway(EXT, enable_snat=False),
        routes=(Route("192.168.50.0/24", "10.0.1.254"),),
    )
    down = Router(id="down", name="d", admin_state_up=False)
    ports = [
        Port(P1, NET1, "fa:16:3e:00:00:01", device_id=R, device_owner="network:router_interface",
             fixed_ips=(FixedIp("s1", "10.0.1.1"),)),
        Port(PG, EXT, "fa:16:3e:00:00:03", device_id=R, device_owner="network:router_gateway",
             fixed_ips=(FixedIp("se", "203.0.113.10"),)),
        Port("vm", NET1, "fa:16:3e:00:00:09", device_id=R, device_owner="oVirt"),
        Port("pd", NET1, "fa:16:3e:00:00:04", device_id="down", device_owner="network:router_interface",
             fixed_ips=(FixedIp("s1", "10.0.1.2"),)),
    ]  # fmt: skip
    reads = RouterReads(
        routers=[router, down],
        ports=ports,
        subnets=[Subnet("s1", NET1, "", "10.0.1.0/24", 4, gateway_ip="10.0.1.1"),
                 Subnet("se", EXT, "", "203.0.113.0/24", 4, gateway_ip="203.0.113.1")],
        networks=[Network(NET1, "n1", mtu=1500, network_type="vxlan", segmentation_id=7),
                  Network(EXT, "ext", mtu=1500, network_type="flat", physical_network="public")],
        floating_ips=[FloatingIp("f1", "203.0.113.20", EXT, port_id="vm", fixed_ip_address="10.0.1.5", router_id=R),
                      FloatingIp("f2", "203.0.113.21", EXT)],
    )  # fmt: skip
    specs = router_specs(reads, "LINUX_BRIDGE", 1500)
    got = specs[R]
    assert [(leg.kind, leg.addresses, leg.mtu) for leg in got.legs] == [
        ("internal", ["10.0.1.1/24"], 1450),
        ("gateway", ["203.0.113.10/24"], 1500),
    ]
    assert got.legs[0].net == ExternalNet(
        vnic_id=P1, plugin_type="LINUX_BRIDGE", network_id=NET1, network_type="vxlan", segmentation_id=7,
        security_groups=[],
    )  # fmt: skip
    assert got.gateway_ip == "203.0.113.1" and got.snat is False
    assert got.floating_ips == [FloatingIpSpec(id="f1", floating_ip="203.0.113.20", fixed_ip="10.0.1.5")]
    assert got.routes == [StaticRoute(destination="192.168.50.0/24", nexthop="10.0.1.254")]
    # a router that is down: its legs plugged, without an address, route or NAT (nothing answers)
    assert specs["down"] == RouterSpec(
        router_id="down",
        legs=[RouterLeg(port_id="pd", kind="internal", mac="fa:16:3e:00:00:04", mtu=1450, net=got.legs[0].net.model_copy(update={"vnic_id": "pd"}))],
    )  # fmt: skip
