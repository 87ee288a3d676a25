"""Router advertisements into a filtered port: from the link-local addresses the firewall knows
for the port's network, else (nothing known, e.g. no provider link) from any link-local address."""

from __future__ import annotations

from neutrino.agent.datapath.firewall import Firewall, PortFilter, render
from neutrino.agent.datapath.memory import MemoryNet
from neutrino.agent_api.schema import SecurityGroupSpec

GROUPS = {"web": SecurityGroupSpec()}
RA = "-p ipv6-icmp -m icmp6 --icmpv6-type 134 -j RETURN"
ON_N1 = PortFilter("tapabc", "56:6f:1a:2b:3c:01", ("web",), "n1")
ON_N2 = PortFilter("tapdef", "56:6f:1a:2b:3c:02", ("web",), "n2")


def ra_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if RA in line]


def test_router_advertisements_come_only_from_the_networks_known_routers() -> None:
    sources = {"n1": ("fe80::f816:3eff:fe00:2", "fe80::f816:3eff:fe00:10"), "n2": ()}
    lines, digest = render([ON_N1, ON_N2], GROUPS, None, 6, sources)
    assert ra_lines(lines) == [
        f"-A nsg-iabc -s fe80::f816:3eff:fe00:2/128 {RA}",
        f"-A nsg-iabc -s fe80::f816:3eff:fe00:10/128 {RA}",
    ]  # none into tapdef: its network has no DHCP port (yet)
    # the accept sits with the other ICMPv6 accepts, ahead of conntrack and the group's rules
    i = lines.index(f"-A nsg-iabc -s fe80::f816:3eff:fe00:2/128 {RA}")
    assert lines[i + 2] == "-A nsg-iabc -s fe80::/10 -p udp -m udp --sport 547 --dport 546 -j RETURN"
    # unknown network, or a port whose network is not said: any link-local address, as before
    anywhere = render([ON_N1, PortFilter("tapghi", "56:6f:1a:2b:3c:03", ("web",))], GROUPS, None, 6, {})[0]
    assert ra_lines(anywhere) == [f"-A nsg-iabc -s fe80::/10 {RA}", f"-A nsg-ighi -s fe80::/10 {RA}"]
    assert render([ON_N1, ON_N2], GROUPS, None, 6, {**sources, "n2": ("fe80::1",)})[1] != digest
    assert ra_lines(render([ON_N1], GROUPS, None, 4, sources)[0]) == []  # nothing in the IPv4 table


def test_set_port_records_the_network_and_the_sources_apply() -> None:
    net = MemoryNet()
    fw = Firewall(net)
    fw.groups = dict(GROUPS)
    fw.ra_sources = {"n1": ("fe80::1",)}
    fw.set_port("tapabc", "56:6f:1a:2b:3c:01", ["web"], "n1")
    assert fw.ports["tapabc"].network == "n1"
    assert f"-A nsg-iabc -s fe80::1/128 {RA}" in net.ip6tables_save()
