"""A port's security groups changed on the provider after the plug (``openstack port set
--security-group`` / ``--no-security-group`` / ``--disable-port-security``) reach the running
guest within 5 s, like Neutron's L2 agent does it: on a real kernel with agent processes that sync
with the embedded provider, for ``linux_bridge`` vNICs across two hosts and for ``open_vswitch``
ones, which move between the plain and the hybrid plug on Open vSwitch's userspace datapath."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import _require
from tests.support.netlab import Lab, sh
from tests.support.provider_lab import openstack_reason, provider_on_underlay

from .test_dhcp import wait_for
from .test_open_vswitch import require_ovs
from .test_provider_sync import PROPAGATION, SERVER, Scenario, eventually

pytestmark = pytest.mark.root


class FollowScenario(Scenario):
    def run_ovs_vm(self, name: str, host: str, network: dict[str, Any], groups: list[str]) -> None:
        """:meth:`run_vm` for an OPEN_VSWITCH vNIC."""
        port = self.provider.create(
            "ports", "port", network_id=network["id"], device_owner="oVirt", device_id=str(uuid.uuid4()),
            security_groups=groups, **{"binding:host_id": host},
        )  # fmt: skip
        self.ips[name] = port["fixed_ips"][0]["ip_address"]
        self.nics[name] = {
            "nic_id": port["device_id"], "name": "nic1", "mac": port["mac_address"], "mtu": network["mtu"],
            "external": {"vnic_id": port["id"], "plugin_type": "OPEN_VSWITCH", "network_id": network["id"],
                         "network_type": "vxlan", "segmentation_id": network["provider:segmentation_id"],
                         "security_groups": port["security_groups"]},
        }  # fmt: skip
        body = {"vm_id": name, "name": name, "nics": [self.nics[name]]}
        created = self.agents[host].call("POST", "/vms", body)
        assert created.status_code == 201, created.text
        self.guests[name] = f"{self.lab.prefix}{host}-{name}"

    def port_id(self, name: str) -> str:
        return str(self.nics[name]["external"]["vnic_id"])

    def plugged(self, name: str, host: str) -> dict[str, Any]:
        vm = self.agents[host].get(f"/vms/{name}").json()
        plugged: dict[str, Any] = vm["nics"][0]["plugged"]
        sent = self.nics[name]["external"]["security_groups"]
        assert vm["status"] == "Up" and vm["nics"][0]["spec"]["external"]["security_groups"] == sent
        return plugged

    def port_set(self, name: str, *args: str) -> None:
        self.provider.openstack("port set", *args, self.port_id(name))

    def group(self, name: str, *ingress: str) -> str:
        group_id = str(self.provider.create("security-groups", "security_group", name=name)["id"])
        for protocol in ingress:
            self.rule("--ingress", "--protocol", protocol, group_id)
        return group_id

    def serve_tcp22(self, name: str) -> None:
        subprocess.Popen(["ip", "netns", "exec", self.guests[name], sys.executable, "-c", SERVER])


def agent_args(provider_url: str, name: str, ip: str, prefix: str, *driver: str) -> list[str]:
    return [
        "--host-net", "kernel", "--vm-backend", "netns", "--tunnel-ip", ip,
        "--netns-prefix", f"{prefix}{name}-", "--provider-url", provider_url,
        "--provider-password", "pw", "--report-interval", "0.5", *driver,
    ]  # fmt: skip


def requirements() -> None:
    _require(None if shutil.which("dnsmasq") and shutil.which("busybox") else "dnsmasq/busybox missing")
    _require(None if shutil.which("iptables-restore") else "iptables missing (Debian iptables)")
    _require(openstack_reason())


@pytest.fixture
def two_hosts(lab: Lab) -> Iterator[FollowScenario]:
    requirements()
    hosts = lab.underlay({"h1": "1", "h2": "2"})
    provider = provider_on_underlay(lab)
    try:
        agents = {
            name: lab.agent(hosts[name], name, *agent_args(provider.url, name, ip, lab.prefix,
                                                            "--vnic-driver", "LINUX_BRIDGE=linux_bridge"))
            for name, ip in (("h1", "10.199.0.1"), ("h2", "10.199.0.2"))
        }  # fmt: skip
        yield FollowScenario(lab, provider, agents)
    finally:
        for agent in lab.agents:
            agent.stop()
        provider.stop()


@pytest.fixture
def ovs_host(lab: Lab) -> Iterator[FollowScenario]:
    requirements()
    require_ovs()
    hosts = lab.underlay({"h1": "1"})
    db = lab.ovs(hosts["h1"], "h1")
    provider = provider_on_underlay(lab)
    try:
        driver = [
            "--vnic-driver",
            "OPEN_VSWITCH=open_vswitch",
            "--ovs-db",
            db,
            "--ovs-datapath-type",
            "netdev",
        ]
        agent = lab.agent(
            hosts["h1"], "h1", *agent_args(provider.url, "h1", "10.199.0.1", lab.prefix, *driver)
        )
        yield FollowScenario(lab, provider, {"h1": agent})
    finally:
        for agent in lab.agents:
            agent.stop()
        provider.stop()


def network(s: Scenario, name: str, cidr: str) -> dict[str, Any]:
    net = s.provider.create("networks", "network", name=name, **{"provider:network_type": "vxlan"})
    s.provider.create("subnets", "subnet", network_id=net["id"], cidr=cidr, ip_version=4)
    return net


def test_linux_bridge_vnics_follow_their_ports_groups_within_5_s(two_hosts: FollowScenario) -> None:
    s = two_hosts
    net = network(s, "follow", "10.21.0.0/24")
    closed = s.group("closed")  # the provider's default egress rules only
    icmp = s.group("icmp", "icmp")
    s.run_vm("vm1", "h1", net, [closed])
    s.run_vm("vm2", "h2", net, [icmp])
    for name in ("vm1", "vm2"):
        wait_for(s.guests[name], f"{s.ips[name]}/24", 1450, timeout=30)
    s.serve_tcp22("vm1")
    eventually("vm1 pings vm2 across hosts", lambda: s.ping("vm1", "vm2"), within=10)
    assert not s.ping("vm2", "vm1") and not s.tcp22("vm2", "vm1")
    assert s.plugged("vm1", "h1")["security_groups"] == [closed]

    # a second group on the port: ICMP gets in, TCP 22 still not
    s.port_set("vm1", "--security-group", icmp)
    s.timings["group added"] = eventually("ICMP into vm1", lambda: s.ping("vm2", "vm1"))
    assert not s.tcp22("vm2", "vm1")
    assert s.plugged("vm1", "h1")["security_groups"] == sorted([closed, icmp])

    # no group at all: vm1 is not filtered (TCP 22 gets in too) and h1 has no rule for it
    s.port_set("vm1", "--no-security-group")
    s.timings["no group"] = eventually("vm1 unfiltered", lambda: s.tcp22("vm2", "vm1"))
    assert s.plugged("vm1", "h1")["security_groups"] == []
    tap = "tap" + s.port_id("vm1")[:11]
    assert tap not in sh("ip", "netns", "exec", f"{s.lab.prefix}h1", "iptables-save").stdout

    # and filtered again
    s.port_set("vm1", "--security-group", closed)
    s.timings["filtered again"] = eventually("vm1 filtered again", lambda: not s.ping("vm2", "vm1"))
    assert not s.tcp22("vm2", "vm1") and s.ping("vm1", "vm2")
    assert s.plugged("vm1", "h1")["security_groups"] == [closed]

    # port security off and on
    s.port_set("vm1", "--no-security-group", "--disable-port-security")
    s.timings["port security off"] = eventually("vm1 unfiltered", lambda: s.ping("vm2", "vm1"))
    s.port_set("vm1", "--enable-port-security", "--security-group", closed)
    s.timings["port security on"] = eventually("vm1 filtered", lambda: not s.ping("vm2", "vm1"))
    assert s.ping("vm1", "vm2")  # its DHCP lease, its egress: all still there
    assert all(t <= PROPAGATION for t in s.timings.values())
    print("propagation (s):", {k: round(v, 2) for k, v in s.timings.items()})


def test_open_vswitch_vnics_move_between_the_plain_and_the_hybrid_plug(ovs_host: FollowScenario) -> None:
    s = ovs_host
    net = network(s, "follow-ovs", "10.22.0.0/24")
    closed = s.group("closed")
    s.run_ovs_vm("vm1", "h1", net, [closed])
    s.run_ovs_vm("vm2", "h1", net, [])
    for name in ("vm1", "vm2"):
        wait_for(s.guests[name], f"{s.ips[name]}/24", 1450, timeout=30)
    qbr = "qbr" + s.port_id("vm1")[:11]
    assert s.plugged("vm1", "h1")["bridge"] == qbr and s.plugged("vm2", "h1")["bridge"] == "br-int"
    eventually("vm1 pings vm2", lambda: s.ping("vm1", "vm2"), within=10)
    assert not s.ping("vm2", "vm1")

    host = f"{s.lab.prefix}h1"

    def links() -> str:
        return sh("ip", "-n", host, "link", "show").stdout

    # vm1 unfiltered: its tap back on br-int, the hybrid plug gone
    s.port_set("vm1", "--no-security-group")
    s.timings["plain plug"] = eventually("vm1 unfiltered", lambda: s.ping("vm2", "vm1"))
    plugged = s.plugged("vm1", "h1")
    assert (plugged["bridge"], plugged["security_groups"]) == ("br-int", [])
    assert qbr not in links() and "qvo" + s.port_id("vm1")[:11] not in links()

    # vm2 filtered: onto a new hybrid plug
    s.port_set("vm2", "--security-group", closed)
    s.timings["hybrid plug"] = eventually("vm2 filtered", lambda: not s.ping("vm1", "vm2"))
    assert s.plugged("vm2", "h1")["bridge"] == "qbr" + s.port_id("vm2")[:11]
    assert s.ping("vm2", "vm1")  # its egress and the replies through qbr, qvb/qvo and br-int
    assert all(t <= PROPAGATION for t in s.timings.values())
    print("propagation (s):", {k: round(v, 2) for k, v in s.timings.items()})
