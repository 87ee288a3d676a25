"""Security groups and DHCP from the network provider itself, on a real kernel: two hosts (each a
namespace with its own agent process, linux_bridge vNICs, netns guests that configure themselves
by DHCP) and the embedded provider on their underlay. Nobody calls the agents' ``PUT /dhcp`` or
``PUT /security-groups``: the agents read both from the provider, like Neutron's L2 and DHCP
agents, and rule changes made with the ``openstack`` CLI reach running guests within 5 s."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import _require
from tests.support.netlab import AgentProcess, Lab, sh
from tests.support.provider_lab import Provider, linux_bridge_agents, openstack_reason, provider_on_underlay

from .test_dhcp import wait_for

pytestmark = pytest.mark.root

PROPAGATION = 5.0  # seconds within which a change on the provider must reach the guests
SERVER = (
    "import socket\n"
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('0.0.0.0', 22)); s.listen(8)\n"
    "while True:\n    c, _ = s.accept(); c.close()\n"
)


def eventually(what: str, check: Callable[[], bool], within: float = PROPAGATION) -> float:
    """Seconds until ``check()`` held; fails after ``within``."""
    start = time.monotonic()
    while True:
        if check():
            return time.monotonic() - start
        if time.monotonic() - start > within:
            raise AssertionError(f"not within {within} s: {what}")
        time.sleep(0.1)


class Scenario:
    """The lab, the provider and the helpers the test steps share."""

    def __init__(self, lab: Lab, provider: Provider, agents: dict[str, AgentProcess]) -> None:
        self.lab, self.provider, self.agents = lab, provider, agents
        self.ips: dict[str, str] = {}
        self.guests: dict[str, str] = {}
        self.nics: dict[str, dict[str, Any]] = {}
        self.timings: dict[str, float] = {}

    def run_vm(self, name: str, host: str, network: dict[str, Any], groups: list[str]) -> None:
        """What the engine does: a port on the provider, then the agent's create-VM verb."""
        nic_id = str(uuid.uuid4())
        port = self.provider.create(
            "ports", "port", network_id=network["id"], device_owner="oVirt", device_id=nic_id,
            security_groups=groups, **{"binding:host_id": host},
        )  # fmt: skip
        self.ips[name] = port["fixed_ips"][0]["ip_address"]
        self.nics[name] = {
            "nic_id": nic_id, "name": "nic1", "mac": port["mac_address"], "mtu": network["mtu"],
            "external": {"vnic_id": port["id"], "plugin_type": "LINUX_BRIDGE", "network_id": network["id"],
                         "network_type": network["provider:network_type"],
                         "segmentation_id": network["provider:segmentation_id"],
                         "security_groups": port["security_groups"]},
        }  # fmt: skip
        created = self.agents[host].call(
            "POST", "/vms", {"vm_id": name, "name": name, "nics": [self.nics[name]]}
        )
        assert created.status_code == 201, created.text
        self.guests[name] = f"{self.lab.prefix}{host}-{name}"

    def ping(self, src: str, dst: str) -> bool:
        return self.lab.ping(self.guests[src], self.ips.get(dst, dst), count=1)

    def tcp22(self, src: str, dst: str) -> bool:
        code = f"import socket; socket.create_connection(('{self.ips[dst]}', 22), timeout=1).close()"
        proc = self.lab.in_ns(self.guests[src], sys.executable, "-c", code, check=False)
        return proc.returncode == 0

    def rule(self, *args: str) -> str:
        """``openstack security group rule create ARGS``; returns the rule id."""
        return json.loads(self.provider.openstack("security group rule create", *args, "-f", "json"))["id"]

    def egress_rules_of(self, group_id: str) -> list[str]:
        group = self.provider.get(f"/v2.0/security-groups/{group_id}")["security_group"]
        return [r["id"] for r in group["security_group_rules"] if r["direction"] == "egress"]

    def dhcp_ports(self) -> set[str]:
        ports = self.provider.get("/v2.0/ports", device_owner="network:dhcp")["ports"]
        return {p["device_id"] for p in ports}


@pytest.fixture
def scenario(lab: Lab) -> Iterator[Scenario]:
    _require(None if shutil.which("dnsmasq") and shutil.which("busybox") else "dnsmasq/busybox missing")
    _require(None if shutil.which("iptables-restore") else "iptables missing (Debian iptables)")
    _require(openstack_reason())
    hosts = lab.underlay({"h1": "1", "h2": "2"})
    provider = provider_on_underlay(lab)
    try:
        agents = linux_bridge_agents(lab, hosts, provider)
        yield Scenario(lab, provider, agents)
    finally:
        for agent in lab.agents:
            agent.stop()
        provider.stop()


def test_guests_get_addresses_and_security_groups_from_the_provider(scenario: Scenario) -> None:
    s, p = scenario, scenario.provider
    net_a = p.create("networks", "network", name="a", **{"provider:network_type": "vxlan"})
    net_b = p.create("networks", "network", name="b", **{"provider:network_type": "vxlan"})
    assert net_a["mtu"] == 1450
    p.create("subnets", "subnet", network_id=net_a["id"], cidr="10.10.0.0/24", ip_version=4)
    # B overlaps A (legal across networks); its addresses start at .100 so no address of B is one of A's
    p.create("subnets", "subnet", network_id=net_b["id"], cidr="10.10.0.0/24", ip_version=4,
             allocation_pools=[{"start": "10.10.0.100", "end": "10.10.0.200"}])  # fmt: skip
    server = p.create("security-groups", "security_group", name="server")["id"]
    client = p.create("security-groups", "security_group", name="client")["id"]
    other = p.create("security-groups", "security_group", name="other")["id"]
    p.create("security-group-rules", "security_group_rule", security_group_id=server, direction="ingress",
             protocol="tcp", port_range_min=22, port_range_max=22)  # fmt: skip
    for group in (client, other):
        p.create("security-group-rules", "security_group_rule", security_group_id=group,
                 direction="ingress", protocol="icmp")  # fmt: skip

    s.run_vm("vm1", "h1", net_a, [server])
    s.run_vm("vm2", "h2", net_a, [client])
    s.run_vm("vm3", "h2", net_b, [other])
    s.run_vm("vm4", "h1", net_a, [other])

    # -- DHCP: the provider's addresses and the VXLAN MTU, from DHCP servers the agents run on
    # their own provider ports; no one asked the agents to serve DHCP
    for name in ("vm1", "vm2", "vm3", "vm4"):
        wait_for(s.guests[name], f"{s.ips[name]}/24", 1450, timeout=30)
    assert s.dhcp_ports() == {f"dhcph1-{net_a['id']}", f"dhcph2-{net_a['id']}", f"dhcph2-{net_b['id']}"}
    for agent in s.agents.values():
        assert agent.get("/dhcp").status_code == 200
    subprocess.Popen(["ip", "netns", "exec", s.guests["vm1"], sys.executable, "-c", SERVER])

    # -- across the VXLAN (once the agents learned each other from the provider); B is apart
    eventually("vm1 pings vm2 across hosts", lambda: s.ping("vm1", "vm2"), within=10)  # client lets ICMP in
    assert s.ping("vm2", "vm4")
    assert not s.ping("vm3", "vm1") and not s.ping("vm3", "vm2") and not s.ping("vm3", "vm4")

    # -- only TCP 22 allowed into vm1: no ping, but ssh
    assert not s.ping("vm2", "vm1")
    eventually("vm2 reaches vm1's TCP 22", lambda: s.tcp22("vm2", "vm1"), within=10)

    # -- a rule created with the openstack CLI reaches the running guests; deleting it too
    icmp = s.rule("--ingress", "--protocol", "icmp", server)
    s.timings["rule created"] = eventually("ICMP into vm1 allowed", lambda: s.ping("vm2", "vm1"))
    s.provider.openstack("security group rule delete", icmp)
    s.timings["rule deleted"] = eventually("ICMP into vm1 refused", lambda: not s.ping("vm2", "vm1"))

    # -- egress: without an egress rule vm2 cannot open TCP 22; with one it can
    for rule_id in s.egress_rules_of(client):
        s.provider.delete("security-group-rules", rule_id)
    eventually("vm2's egress closed", lambda: not s.tcp22("vm2", "vm1"))
    s.rule("--egress", "--protocol", "tcp", "--dst-port", "22", client)
    s.timings["egress rule"] = eventually("vm2's TCP 22 egress allowed", lambda: s.tcp22("vm2", "vm1"))
    assert not s.ping("vm2", "vm4")  # still no ICMP out of vm2

    # -- remote_group_id: ICMP into vm1 from members of client (vm2), not from vm4
    s.rule("--egress", "--protocol", "icmp", client)
    eventually("vm2's ICMP egress allowed", lambda: s.ping("vm2", "vm4"))
    assert not s.ping("vm2", "vm1")
    s.rule("--ingress", "--protocol", "icmp", "--remote-group", client, server)
    s.timings["remote group rule"] = eventually("ICMP from client members", lambda: s.ping("vm2", "vm1"))
    assert not s.ping("vm4", "vm1")

    # -- anti-spoofing: a guest answering from another address than its port's is cut off
    guest2 = s.guests["vm2"]

    def readdress(cidr: str) -> None:
        sh("ip", "-n", guest2, "addr", "flush", "dev", "eth0")
        sh("ip", "-n", guest2, "addr", "add", cidr, "dev", "eth0")

    assert s.ping("vm1", "vm2")
    readdress("10.10.0.99/24")
    assert not s.ping("vm1", "10.10.0.99")
    # vm2 does hold the address (its ARP answer got through): only its IP packets are dropped
    neigh = sh("ip", "-n", s.guests["vm1"], "neigh", "show", "10.10.0.99").stdout
    assert s.nics["vm2"]["mac"] in neigh, neigh
    readdress(f"{s.ips['vm2']}/24")
    assert s.ping("vm1", "vm2")

    # -- hot-unplug cuts vm2 off, and h2 stops serving A; hot-plug restores it with its address
    h2 = s.agents["h2"]
    assert h2.call("DELETE", f"/vms/vm2/nics/{s.nics['vm2']['nic_id']}").status_code == 204
    assert not s.ping("vm1", "vm2")
    eventually("h2 released its DHCP port on A", lambda: f"dhcph2-{net_a['id']}" not in s.dhcp_ports())
    assert f"{s.lab.prefix}h2-dhcp-{net_a['id'][:11]}" not in sh("ip", "netns", "list").stdout
    sh("ip", "-n", guest2, "addr", "flush", "dev", "eth0", check=False)  # the guest forgets its lease
    assert h2.call("POST", "/vms/vm2/nics", s.nics["vm2"]).status_code == 201
    wait_for(guest2, f"{s.ips['vm2']}/24", 1450, timeout=30)
    eventually("vm2 back", lambda: s.ping("vm1", "vm2"), within=10)

    # -- the last vNIC of B on h2 goes: so do B's DHCP server and port there
    assert h2.call("DELETE", "/vms/vm3").status_code == 200
    eventually("h2 released its DHCP port on B", lambda: f"dhcph2-{net_b['id']}" not in s.dhcp_ports())
    assert "brq" + net_b["id"][:11] not in sh("ip", "-n", f"{s.lab.prefix}h2", "link", "show").stdout
    print("propagation (s):", {k: round(v, 2) for k, v in s.timings.items()})
