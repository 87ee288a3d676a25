"""Router advertisements into a filtered guest come only from its network's DHCP ports (the agents'
dnsmasq, every host's), as Neutron accepts them only from the subnet's router: on a real kernel
with two hosts syncing with the embedded provider, a rogue advertisement sent by another guest
(an unfiltered one: a filtered guest may send none at all) configures an unfiltered bystander
but not a filtered guest, which keeps its SLAAC address from the genuine advertisements."""

from __future__ import annotations

import sys
import time
from functools import partial

import pytest

from neutrino.agent.datapath.firewall import link_local
from tests.support.netlab import sh

from .test_ipv6 import PREFIX, Ipv6Scenario, v6  # noqa: F401 - v6 is the fixture
from .test_provider_sync import eventually

pytestmark = pytest.mark.root

ROGUE_PREFIX = "2001:db8:66::"
# a router advertisement (router lifetime 1800 s: a default route) with an on-link, autonomous
# /64 prefix, sent to all nodes from the guest's link-local address (the kernel fills in the
# ICMPv6 checksum of a raw ICMPv6 socket)
ROGUE_RA = (
    "import socket, struct, sys, time\n"
    "dev, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])\n"
    "s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)\n"
    "s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)\n"
    "index = socket.if_nametoindex(dev)\n"
    "s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)\n"
    "ra = struct.pack('!BBHBBHII', 134, 0, 0, 64, 0, 1800, 0, 0)\n"
    "pi = struct.pack('!BBBBIII', 3, 4, 64, 0xC0, 86400, 14400, 0) + socket.inet_pton(socket.AF_INET6, prefix)\n"
    "for _ in range(count):\n"
    "    s.sendto(ra + pi, ('ff02::1', 0, 0, index))\n"
    "    time.sleep(0.3)\n"
)


def ra_accepted(s: Ipv6Scenario, chain: str) -> list[str]:
    """The sources an ip6tables chain on h1 accepts router advertisements from."""
    saved = sh("ip", "netns", "exec", f"{s.lab.prefix}h1", "ip6tables-save").stdout
    found = [
        line.split()[3]
        for line in saved.splitlines()
        if line.startswith(f"-A {chain} -s ") and " 134 " in line
    ]
    return sorted(found)


def dropped(s: Ipv6Scenario, chain: str) -> int:
    """Packets the final DROP of an ip6tables chain on h1 saw."""
    saved = sh("ip", "netns", "exec", f"{s.lab.prefix}h1", "ip6tables-save", "-c").stdout
    (drop,) = [line for line in saved.splitlines() if line.endswith(f"-A {chain} -j DROP")]
    return int(drop[1:].split(":")[0])


def has_slaac(s: Ipv6Scenario, name: str) -> bool:
    return s.ips[name + "/6"] in s.global6(name)


def default_route(s: Ipv6Scenario, name: str) -> str:
    return str(sh("ip", "-n", s.guests[name], "-6", "route", "show", "default").stdout.strip())


def test_a_rogue_router_advertisement_does_not_reach_a_filtered_guest(v6: Ipv6Scenario) -> None:  # noqa: F811
    s, p = v6, v6.provider
    net = p.create("networks", "network", name="ra", **{"provider:network_type": "vxlan"})
    p.create("subnets", "subnet", network_id=net["id"], cidr="10.31.0.0/24", ip_version=4)
    p.create("subnets", "subnet", network_id=net["id"], cidr=f"{PREFIX}/64", ip_version=6,
             ipv6_ra_mode="slaac", ipv6_address_mode="slaac")  # fmt: skip
    server = p.create("security-groups", "security_group", name="server")["id"]  # egress only
    s.run_guest("victim", "h1", net, [server])
    s.run_guest("bystander", "h1", net, [])  # not filtered
    s.run_guest("rogue", "h2", net, [])  # not filtered: it may send advertisements

    # the genuine advertisements (the DHCP servers', both hosts') still configure everyone
    for name in ("victim", "bystander", "rogue"):
        eventually(f"{name} has its SLAAC address", partial(has_slaac, s, name), within=30)
    assert default_route(s, "victim") == ""  # the genuine ones carry router lifetime 0

    # h1 lets advertisements into the victim from both hosts' DHCP ports, and from nowhere else
    chain = "nsg-i" + ("tap" + s.nics["victim"]["external"]["vnic_id"])[3:14]
    servers = p.get("/v2.0/ports", network_id=net["id"], device_owner="network:dhcp")["ports"]
    assert len(servers) == 2
    expected = sorted(f"{link_local(port['mac_address'])}/128" for port in servers)
    eventually("h1 knows both DHCP servers", lambda: ra_accepted(s, chain) == expected)
    before = dropped(s, chain)
    # the rogue advertises another prefix and itself as default router
    rogue = sh("ip", "netns", "exec", s.guests["rogue"], sys.executable, "-c", ROGUE_RA,
               "eth0", ROGUE_PREFIX, "10", timeout=20)  # fmt: skip
    assert rogue.returncode == 0
    # it works on the unfiltered bystander, across the hosts ...
    eventually(
        "the bystander took the rogue prefix", lambda: bool(s.in_prefix("bystander", f"{ROGUE_PREFIX}/64"))
    )
    assert "fe80::" in default_route(s, "bystander")
    # ... and not on the filtered victim
    time.sleep(1)
    assert s.in_prefix("victim", f"{ROGUE_PREFIX}/64") == set()
    assert default_route(s, "victim") == ""
    routes = sh("ip", "-n", s.guests["victim"], "-6", "route", "show").stdout
    assert ROGUE_PREFIX not in routes and f"{PREFIX}/64 dev eth0" in routes, routes
    assert s.ips["victim/6"] in s.global6("victim")
    # h1 dropped them at the end of the victim's ingress chain (the bystander shows they got there)
    assert dropped(s, chain) - before >= 10
