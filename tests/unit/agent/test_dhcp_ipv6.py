"""IPv6 address service: the DHCP spec's IPv6 subnets, the dnsmasq arguments they give (router
advertisements for SLAAC, DHCPv6), and the provider sync serving a network's IPv6 subnets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from neutrino.agent.datapath.dhcp import DhcpServers, MemoryLauncher
from neutrino.agent.datapath.memory import MemoryNet, World
from neutrino.agent.host_agent import HostAgent
from neutrino.agent.neutron_follower import NeutronFollower
from neutrino.agent_api.schema import DhcpSpec

from .fake_neutron import FakeNeutron, eui64
from .test_provider_sync import launcher, make_agent, nic_for, run

NET = "9a8b7c6d-1111-2222-3333-444455556666"


def spec(**more: Any) -> DhcpSpec:
    return DhcpSpec.model_validate({"network_id": NET, "plugin_type": "LINUX_BRIDGE", "mtu": 1450, **more})


def subnet6(cidr: str, server: str, mode: str | None, ra: str | None = "same", **more: Any) -> dict[str, Any]:
    return {"cidr": cidr, "server_ip": server, "ipv6_address_mode": mode,
            "ipv6_ra_mode": mode if ra == "same" else ra, **more}  # fmt: skip


def served(dhcp: DhcpSpec) -> tuple[list[str], MemoryNet]:
    """The dnsmasq argv for ``dhcp`` and the server's namespace."""
    world = World()
    net = MemoryNet(world)
    servers = DhcpServers(net, MemoryLauncher(), Path("/nonexistent"), "nvm-")
    servers.ensure_port(dhcp)
    servers.ensure_server(dhcp)
    assert isinstance(servers.launcher, MemoryLauncher)
    return servers.launcher.running[NET][1], net.in_netns(servers.namespace(NET))


# -- the wire model -----------------------------------------------------------------------------
def test_a_network_with_ipv6_subnets_only_needs_no_ipv4_cidr() -> None:
    only6 = spec(ipv6_subnets=[subnet6("2001:db8::/64", "2001:db8::2", "slaac")])
    assert only6.cidr is None and only6.subnets() == []
    assert only6.ipv6_subnets[0].address_mode == "slaac" and not only6.ipv6_subnets[0].stateful


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "cidr or ipv6_subnets"),
        ({"cidr": "10.0.0.0/24"}, "cidr and server_ip go together"),
        ({"ipv6_subnets": [subnet6("2001:db8::/64", "2001:db8:1::2", "slaac")]}, "is not in"),
        ({"ipv6_subnets": [subnet6("2001:db8::/80", "2001:db8::2", "slaac")]}, "needs a /64"),
        ({"ipv6_subnets": [subnet6("2001:db8::/64", "2001:db8::2", "dhcpv6-stateful")],
          "hosts": [{"mac": "56:6f:1a:2b:3c:01", "ip": "2001:db8:1::5"}]}, "is not in"),
        ({"ipv6_subnets": [subnet6("2001:db8::/64", "2001:db8::2", None),
                           subnet6("2001:db8::/56", "2001:db8::3", None)]}, "overlaps"),
        ({"ipv6_subnets": [subnet6("2001:db8::/64", "2001:db8::2", "slaac", dns_servers=["10.0.0.53"])]},
         "dns_servers"),
    ],
)  # fmt: skip
def test_ipv6_dhcp_specs_that_cannot_be_served_are_refused(body: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        spec(**body)


# -- dnsmasq ------------------------------------------------------------------------------------
def test_slaac_gets_router_advertisements_with_the_prefix_and_mtu_and_no_default_route() -> None:
    argv, ns = served(spec(
        cidr="10.0.0.0/24", server_ip="10.0.0.2",
        ipv6_subnets=[subnet6("2001:db8::/64", "2001:db8::f816:3eff:fe00:2", "slaac", dns_servers=["2001:db8::53"])],
    ))  # fmt: skip
    assert "--dhcp-range=set:v0,2001:db8::,ra-only,64,86400s" in argv
    assert "--dhcp-option=tag:v0,option6:dns-server,[2001:db8::53]" in argv
    assert "--ra-param=eth0,mtu:1450,30,0" in argv  # router lifetime 0
    assert "--enable-ra" not in argv
    assert "--dhcp-range=set:s0,10.0.0.0,static,255.255.255.0,86400s" in argv  # IPv4 as before
    assert ns.addresses("eth0") == {"10.0.0.2/24", "2001:db8::f816:3eff:fe00:2/64"}
    for key, value in (("accept_ra", "0"), ("autoconf", "0"), ("accept_dad", "0")):
        assert ns.sysctl(f"net/ipv6/conf/eth0/{key}") == value


def test_dhcpv6_modes_map_to_dnsmasq_ranges() -> None:
    argv, _ = served(spec(
        ipv6_subnets=[subnet6("2001:db8:1::/64", "2001:db8:1::2", "dhcpv6-stateless"),
                      subnet6("2001:db8:2::/64", "2001:db8:2::2", "dhcpv6-stateful")],
        hosts=[{"mac": "56:6f:1a:2b:3c:01", "ip": "2001:db8:2::5"},
               {"mac": "56:6f:1a:2b:3c:01", "ip": "2001:db8:2::6", "hostname": "vm1"}],
    ))  # fmt: skip
    assert "--dhcp-range=set:v0,2001:db8:1::,ra-stateless,64,86400s" in argv
    assert "--dhcp-range=set:v1,2001:db8:2::,static,64,86400s" in argv
    assert "--enable-ra" in argv  # the stateful prefix is advertised too, with the M flag
    assert "--dhcp-host=56:6f:1a:2b:3c:01,host-2001-db8-2--5,[2001:db8:2::5]" in argv
    assert "--dhcp-host=56:6f:1a:2b:3c:01,vm1,[2001:db8:2::6]" in argv
    assert not any(a.startswith("--dhcp-range=set:s") for a in argv)  # no IPv4 subnet


def test_without_ipv6_ra_mode_another_router_advertises() -> None:
    argv, _ = served(spec(
        ipv6_subnets=[subnet6("2001:db8:1::/64", "2001:db8:1::2", "slaac", ra=None),
                      subnet6("2001:db8:2::/64", "2001:db8:2::2", "dhcpv6-stateless", ra=None),
                      subnet6("2001:db8:3::/64", "2001:db8:3::2", None, ra=None)],
    ))  # fmt: skip
    assert not any("2001:db8:1::" in a for a in argv)  # SLAAC from elsewhere: nothing to serve
    assert "--dhcp-range=set:v1,2001:db8:2::,static,64,86400s" in argv  # DHCPv6 options only
    assert "--dhcp-range=set:v2,2001:db8:3::,static,64,86400s" in argv  # Neutron's default: DHCPv6
    assert not any(a.startswith(("--ra-param", "--enable-ra")) for a in argv)


# -- the provider sync -----------------------------------------------------------------------------
@pytest.fixture
def agent(tmp_path: Path) -> tuple[HostAgent, NeutronFollower, FakeNeutron]:
    neutron = FakeNeutron()
    a, sync = make_agent(tmp_path, World(), neutron)
    return a, sync, neutron


def test_the_provider_sync_serves_ipv6_subnets_with_their_modes(
    agent: tuple[HostAgent, NeutronFollower, FakeNeutron],
) -> None:
    a, sync, neutron = agent
    net = neutron.network()
    neutron.subnet(net, "10.0.0.0/24")
    slaac = neutron.subnet(net, "2001:db8:1::/64", gateway=None, ipv6_ra_mode="slaac", ipv6_address_mode="slaac",
                           dns_nameservers=["2001:db8::53", "10.0.0.53"])  # fmt: skip
    stateful = neutron.subnet(net, "2001:db8:2::/64", gateway=None, ipv6_ra_mode="dhcpv6-stateful",
                              ipv6_address_mode="dhcpv6-stateful")  # fmt: skip
    port = neutron.port(net)
    given = {f["subnet_id"]: f["ip_address"] for f in port["fixed_ips"]}
    assert given[slaac] == eui64("2001:db8:1::/64", port["mac_address"])
    run(a, "vm-1", nic_for(port))
    sync.sync_once()

    (dhcp,) = a.dhcp.list_dhcp()
    dhcp_port = next(p for p in neutron.data["ports"].values() if p["device_owner"] == "network:dhcp")
    server = {f["subnet_id"]: f["ip_address"] for f in dhcp_port["fixed_ips"]}
    assert str(dhcp.cidr) == "10.0.0.0/24"
    assert [(str(s.cidr), str(s.server_ip), s.ipv6_ra_mode) for s in dhcp.ipv6_subnets] == [
        ("2001:db8:1::/64", server[slaac], "slaac"),
        ("2001:db8:2::/64", server[stateful], "dhcpv6-stateful"),
    ]
    assert [str(d) for d in dhcp.ipv6_subnets[0].dns_servers] == ["2001:db8::53"]
    # leases: the IPv4 address and the DHCPv6 one; the SLAAC address needs none
    assert {str(h.ip) for h in dhcp.hosts if h.mac == port["mac_address"]} == {
        given[s] for s in given if s != slaac
    }
    argv = launcher(a).running[net][1]
    assert "--dhcp-range=set:v0,2001:db8:1::,ra-only,64,86400s" in argv


def test_a_network_with_only_ipv6_subnets_is_served(
    agent: tuple[HostAgent, NeutronFollower, FakeNeutron],
) -> None:
    a, sync, neutron = agent
    net = neutron.network()
    neutron.subnet(net, "2001:db8:1::/64", gateway=None, ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    run(a, "vm-1", nic_for(neutron.port(net)))
    sync.sync_once()
    (dhcp,) = a.dhcp.list_dhcp()
    assert dhcp.cidr is None and dhcp.hosts == [] and len(dhcp.ipv6_subnets) == 1


def test_a_network_whose_ipv6_subnets_need_no_server_gets_none(
    agent: tuple[HostAgent, NeutronFollower, FakeNeutron],
) -> None:
    a, sync, neutron = agent
    net = neutron.network()
    neutron.subnet(net, "2001:db8:1::/64", gateway=None, ipv6_address_mode="slaac")  # another router's
    neutron.subnet(net, "2001:db8:2::/64", gateway=None, dhcp=False, ipv6_ra_mode="slaac",
                   ipv6_address_mode="slaac")  # fmt: skip
    run(a, "vm-1", nic_for(neutron.port(net)))
    sync.sync_once()
    assert a.dhcp.list_dhcp() == []
