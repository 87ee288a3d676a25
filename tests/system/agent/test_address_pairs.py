"""allowed-address-pairs and port-security on the builtin backend, on a real kernel: agent
processes that follow the embedded provider, netns guests on two linux_bridge hosts.

A keepalived-style VIP in the ports' ``allowed_address_pairs`` answers from VM1, then moves to
VM2 (announced by gratuitous ARP, as keepalived does), and a client reaches it both times; without
the pair the anti-spoofing drops the VIP's answers. A port with port security off sends from any
address.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.netlab import Lab, sh
from tests.support.provider_lab import linux_bridge_agents, provider_on_underlay

from .test_dhcp import wait_for
from .test_port_groups_follow import network, requirements
from .test_provider_sync import PROPAGATION, Scenario, eventually

pytestmark = pytest.mark.root

VIP = "10.31.0.250"
FOREIGN = "10.31.0.99"  # an address no port has


@pytest.fixture
def scenario(lab: Lab) -> Iterator[Scenario]:
    requirements()
    hosts = lab.underlay({"h1": "1", "h2": "2"})
    provider = provider_on_underlay(lab)
    try:
        yield Scenario(lab, provider, linux_bridge_agents(lab, hosts, provider))
    finally:
        for agent in lab.agents:
            agent.stop()
        provider.stop()


def _set_port(s: Scenario, name: str, **body: object) -> None:
    port_id = s.nics[name]["external"]["vnic_id"]
    response = s.provider.request("PUT", f"/v2.0/ports/{port_id}", {"port": body})
    assert response.status_code == 200, response.text


def _neighbour_mac(s: Scenario, name: str, address: str) -> str:
    out = sh("ip", "-n", s.guests[name], "neigh", "show", address).stdout.split()
    return out[out.index("lladdr") + 1] if "lladdr" in out else ""


def _take_vip(s: Scenario, name: str) -> None:
    """What keepalived does on becoming master: the VIP on its interface, then gratuitous ARP."""
    guest = s.guests[name]
    sh("ip", "-n", guest, "addr", "add", f"{VIP}/24", "dev", "eth0")
    s.lab.in_ns(guest, "busybox", "arping", "-U", "-c", "2", "-I", "eth0", "-s", VIP, VIP, check=False)


def test_a_vip_moves_between_two_vms_and_port_security_off_sends_from_anywhere(scenario: Scenario) -> None:
    s = scenario
    net = network(s, "pairs", "10.31.0.0/24")
    group = s.provider.create("security-groups", "security_group", name="icmp")["id"]
    s.provider.create(
        "security-group-rules",
        "security_group_rule",
        security_group_id=group,
        direction="ingress",
        protocol="icmp",
    )
    s.run_vm("vm1", "h1", net, [group])
    s.run_vm("vm2", "h2", net, [group])
    s.run_vm("client", "h1", net, [group])
    for name in ("vm1", "vm2", "client"):
        wait_for(s.guests[name], f"{s.ips[name]}/24", 1450, timeout=30)
    eventually("the client reaches vm2 across hosts", lambda: s.ping("client", "vm2"), within=10)

    # the VIP without a pair: vm1 answers ARP for it, but its replies from the VIP are spoofed
    _take_vip(s, "vm1")
    assert not s.lab.ping(s.guests["client"], VIP, count=2)

    for name in ("vm1", "vm2"):
        _set_port(s, name, allowed_address_pairs=[{"ip_address": VIP}])
    s.timings["pair admitted"] = eventually(
        "vm1 answers for the VIP", lambda: s.lab.ping(s.guests["client"], VIP, 1)
    )
    assert _neighbour_mac(s, "client", VIP) == s.nics["vm1"]["mac"]

    # failover: vm1 drops the VIP, vm2 takes it and announces it
    sh("ip", "-n", s.guests["vm1"], "addr", "del", f"{VIP}/24", "dev", "eth0")
    _take_vip(s, "vm2")
    s.timings["vip moved"] = eventually(
        "vm2 answers for the VIP", lambda: s.lab.ping(s.guests["client"], VIP, 1)
    )
    assert _neighbour_mac(s, "client", VIP) == s.nics["vm2"]["mac"]

    # a pair with a MAC of its own (keepalived's use_vmac): the kernel takes the MAC-bound rules
    vmac = "00:00:5e:00:01:07"
    _set_port(s, "vm1", allowed_address_pairs=[{"ip_address": VIP}, {"ip_address": VIP, "mac_address": vmac}])

    def vmac_applied() -> bool:
        return (
            f"--mac-source {vmac}" in sh("ip", "netns", "exec", f"{s.lab.prefix}h1", "iptables-save").stdout
        )

    eventually("h1 admits the pair's MAC", vmac_applied)
    assert s.ping("client", "vm1") and s.lab.ping(s.guests["client"], VIP, 1)

    # port security off: the client may send from an address that is not its own
    sh("ip", "-n", s.guests["client"], "addr", "add", f"{FOREIGN}/32", "dev", "eth0")

    def from_foreign() -> bool:
        proc = s.lab.in_ns(
            s.guests["client"], "ping", "-c", "1", "-W", "1", "-I", FOREIGN, s.ips["vm1"], check=False
        )
        return proc.returncode == 0

    assert not from_foreign()  # anti-spoofing
    _set_port(s, "client", port_security_enabled=False, security_groups=[])
    s.timings["port security off"] = eventually("the client sends from anywhere", from_foreign)
    assert all(t <= PROPAGATION for t in s.timings.values())
    print("propagation (s):", {k: round(v, 2) for k, v in s.timings.items()})
