"""IPv6 on a real kernel, with the embedded provider: two hosts (each a namespace with its own
agent process, linux_bridge vNICs, netns guests) on VXLAN networks with IPv6 subnets. The agents'
dnsmasq servers advertise the prefixes, the guests' kernels configure the addresses the provider
allocated (EUI-64) on ``slaac`` and ``dhcpv6-stateless`` subnets, ``dhclient -6`` gets the leased
ones on ``dhcpv6-stateful`` subnets, and security groups hold for IPv6 as for IPv4: nothing gets
in without a rule (link-local traffic included), a rule created with the ``openstack`` CLI
reaches the guests within 5 s, ``remote_group_id`` rules match the members' IPv6 addresses, and a
guest cannot send from an address that is not its own."""

from __future__ import annotations

import ipaddress
import json
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from neutrino.agent.datapath.firewall import link_local
from tests.conftest import _require
from tests.support.netlab import Lab, sh
from tests.support.provider_lab import linux_bridge_agents, openstack_reason, provider_on_underlay

from .test_provider_sync import PROPAGATION, Scenario, eventually

pytestmark = pytest.mark.root

PREFIX = "2001:db8:30::"
LISTENER = (
    "import socket, sys\n"
    "s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n"
    "s.bind(('::', 5000))\n"
    "while True:\n"
    "    _, peer = s.recvfrom(100)\n"
    "    with open(sys.argv[1], 'a') as f:\n"
    "        f.write(peer[0] + '\\n')\n"
)


class Ipv6Scenario(Scenario):
    def run_guest(self, name: str, host: str, network: dict[str, Any], groups: list[str]) -> dict[str, str]:
        """A VM with one vNIC on ``network``; returns its port's addresses by subnet id (and names
        them ``<vm>/4``, ``<vm>/6`` (the first of each version) and ``<vm>/ll`` in :attr:`ips`)."""
        self.run_vm(name, host, network, groups)
        port = self.provider.get(f"/v2.0/ports/{self.nics[name]['external']['vnic_id']}")["port"]
        for fixed in reversed(port["fixed_ips"]):
            self.ips[f"{name}/{6 if ':' in fixed['ip_address'] else 4}"] = fixed["ip_address"]
        self.ips[name + "/ll"] = link_local(port["mac_address"]) + "%eth0"
        return {f["subnet_id"]: f["ip_address"] for f in port["fixed_ips"]}

    def global6(self, name: str) -> set[str]:
        """The guest's global IPv6 addresses that passed duplicate address detection."""
        out = json.loads(sh("ip", "-n", self.guests[name], "-j", "-6", "addr", "show", "dev", "eth0").stdout)
        return {
            a["local"]
            for item in out
            for a in item.get("addr_info", [])
            if a.get("scope") == "global" and not a.get("tentative")
        }

    def in_prefix(self, name: str, prefix: str) -> set[str]:
        return {a for a in self.global6(name) if ipaddress.ip_address(a) in ipaddress.ip_network(prefix)}

    def ping6(self, src: str, dst: str, source: str | None = None) -> bool:
        via = ["-I", source] if source else []
        proc = self.lab.in_ns(
            self.guests[src], "ping", "-6", "-c", "1", "-W", "1", *via, self.ips.get(dst, dst), check=False
        )
        return proc.returncode == 0

    def send_udp(self, src: str, dst: str, source: str) -> None:
        code = (
            "import socket, sys; s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); "
            "s.bind((sys.argv[1], 0)); s.sendto(b'hi', (sys.argv[2], 5000))"
        )
        self.lab.in_ns(self.guests[src], sys.executable, "-c", code, source, self.ips[dst])


@pytest.fixture
def v6(lab: Lab) -> Iterator[Ipv6Scenario]:
    _require(None if shutil.which("dnsmasq") and shutil.which("busybox") else "dnsmasq/busybox missing")
    _require(None if shutil.which("ip6tables-restore") else "ip6tables missing (Debian iptables)")
    _require(openstack_reason())
    hosts = lab.underlay({"h1": "1", "h2": "2"})
    provider = provider_on_underlay(lab)
    try:
        agents = linux_bridge_agents(lab, hosts, provider)
        yield Ipv6Scenario(lab, provider, agents)
    finally:
        for agent in lab.agents:
            agent.stop()
        provider.stop()


def test_guests_configure_slaac_addresses_and_security_groups_filter_ipv6(
    v6: Ipv6Scenario, tmp_path: Path
) -> None:
    s, p = v6, v6.provider
    net = p.create("networks", "network", name="dual", **{"provider:network_type": "vxlan"})
    p.create("subnets", "subnet", network_id=net["id"], cidr="10.30.0.0/24", ip_version=4)
    p.create("subnets", "subnet", network_id=net["id"], cidr=f"{PREFIX}/64", ip_version=6,
             ipv6_ra_mode="slaac", ipv6_address_mode="slaac")  # fmt: skip
    server = p.create("security-groups", "security_group", name="server")["id"]  # egress only
    client = p.create("security-groups", "security_group", name="client")["id"]
    s.run_guest("vm1", "h1", net, [server])
    s.run_guest("vm2", "h2", net, [client])

    # -- SLAAC: each guest's kernel configures the EUI-64 address the provider allocated, from the
    # router advertisements of the agents' dnsmasq (no default route: nothing routes here)
    for name in ("vm1", "vm2"):
        eventually(f"{name} has its SLAAC address", lambda n=name: s.ips[n + "/6"] in s.global6(n), within=30)
        routes = sh("ip", "-n", s.guests[name], "-6", "route", "show").stdout
        assert f"{PREFIX}/64 dev eth0" in routes and "default" not in routes, routes
    # the hosts' bridges take no address from those advertisements
    for host in ("h1", "h2"):
        bridge = "brq" + net["id"][:11]
        assert "inet6" not in sh("ip", "-n", f"{s.lab.prefix}{host}", "addr", "show", "dev", bridge).stdout

    # -- no ingress rule: no ICMPv6 echo gets in, over global or link-local addresses
    assert not s.ping6("vm2", "vm1/6") and not s.ping6("vm1", "vm2/6")
    assert not s.ping6("vm2", "vm1/ll") and not s.ping6("vm1", "vm2/ll")

    # -- an IPv6 ICMP ingress rule (openstack CLI) opens vm1 within 5 s; IPv4 stays closed
    s.rule("--ingress", "--ethertype", "IPv6", "--protocol", "ipv6-icmp", server)
    s.timings["ipv6 icmp rule"] = eventually("ICMPv6 into vm1 allowed", lambda: s.ping6("vm2", "vm1/6"))
    assert s.ping6("vm2", "vm1/ll")  # from vm2's own link-local address
    assert not s.ping("vm2", "vm1")
    assert not s.ping6("vm1", "vm2/6")  # vm2's group still lets nothing in

    # -- anti-spoofing: vm2 may send from its own addresses only
    received = tmp_path / "received"
    received.touch()
    s.lab.spawn(s.guests["vm1"], sys.executable, "-c", LISTENER, str(received))
    s.rule("--ingress", "--ethertype", "IPv6", "--protocol", "udp", "--dst-port", "5000", server)

    def genuine_arrives() -> bool:
        s.send_udp("vm2", "vm1/6", s.ips["vm2/6"])
        time.sleep(0.2)
        return s.ips["vm2/6"] in received.read_text()

    eventually("UDP 5000 into vm1 allowed", genuine_arrives)
    before = received.read_text().count(s.ips["vm2/6"])
    spoofed = f"{PREFIX}99"
    guest2 = s.guests["vm2"]
    sh("ip", "-n", guest2, "addr", "add", f"{spoofed}/64", "dev", "eth0", "nodad")
    # vm2 knows vm1's MAC already: the spoofed datagram leaves vm2 without neighbour discovery
    sh("ip", "-n", guest2, "neigh", "replace", s.ips["vm1/6"], "lladdr", s.nics["vm1"]["mac"], "dev", "eth0")
    for _ in range(3):
        s.send_udp("vm2", "vm1/6", spoofed)
    s.send_udp("vm2", "vm1/6", s.ips["vm2/6"])  # a genuine one after them, as a marker
    eventually("the marker arrived", lambda: received.read_text().count(s.ips["vm2/6"]) > before)
    time.sleep(0.5)
    assert spoofed not in received.read_text().split()
    assert not s.ping6("vm2", "vm1/6", source=spoofed)
    sh("ip", "-n", guest2, "addr", "del", f"{spoofed}/64", "dev", "eth0")
    assert s.ping6("vm2", "vm1/6")
    print(f"propagation (s, within {PROPAGATION}):", {k: round(v, 2) for k, v in s.timings.items()})


def peers_group(s: Ipv6Scenario) -> str:
    """A group letting ICMPv6 in from its members: their IPv6 fixed IPs, not their link-local
    addresses."""
    group = s.provider.create("security-groups", "security_group", name="peers")["id"]
    s.rule("--ingress", "--ethertype", "IPv6", "--protocol", "ipv6-icmp", "--remote-group", group, group)
    return group


def test_an_ipv6_only_network_with_a_dhcpv6_stateless_subnet(v6: Ipv6Scenario) -> None:
    s, p = v6, v6.provider
    net = p.create("networks", "network", name="v6only", **{"provider:network_type": "vxlan"})
    p.create("subnets", "subnet", network_id=net["id"], cidr="2001:db8:40::/64", ip_version=6,
             ipv6_ra_mode="dhcpv6-stateless", ipv6_address_mode="dhcpv6-stateless")  # fmt: skip
    group = peers_group(s)
    s.run_guest("vm1", "h1", net, [group])
    s.run_guest("vm2", "h2", net, [group])

    # the address by SLAAC (EUI-64), as the provider allocated it; DHCPv6 serves options only
    for name in ("vm1", "vm2"):
        eventually(f"{name} has its SLAAC address", lambda n=name: s.ips[n + "/6"] in s.global6(n), within=30)
    assert s.ping6("vm1", "vm2/6") and s.ping6("vm2", "vm1/6")  # members of the remote group
    assert not s.ping6("vm1", "vm2/ll")  # a link-local address is no member's address


def test_a_dhcpv6_stateful_subnet_leases_the_providers_addresses(v6: Ipv6Scenario) -> None:
    _require(None if shutil.which("dhclient") else "ISC dhclient missing (Debian isc-dhcp-client)")
    s, p = v6, v6.provider
    net = p.create("networks", "network", name="stateful", **{"provider:network_type": "vxlan"})
    p.create("subnets", "subnet", network_id=net["id"], cidr="2001:db8:41::/64", ip_version=6,
             ipv6_ra_mode="dhcpv6-stateful", ipv6_address_mode="dhcpv6-stateful")  # fmt: skip
    group = peers_group(s)
    s.run_guest("vm1", "h1", net, [group])
    s.run_guest("vm2", "h2", net, [group])

    # the guests' dhclient -6 gets exactly the provider's address from the agents' dnsmasq (the
    # advertisements carry the prefix, on-link, but no SLAAC)
    for name in ("vm1", "vm2"):
        eventually(
            f"{name} has its DHCPv6 address",
            lambda n=name: s.in_prefix(n, "2001:db8:41::/64") == {s.ips[n + "/6"]},
            within=30,
        )
    assert s.ping6("vm1", "vm2/6") and s.ping6("vm2", "vm1/6")
