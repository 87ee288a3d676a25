"""The whole loop on a real kernel: the embedded provider on the underlay, host agents that report
to it and learn each other's tunnel addresses from it (no static ``--vxlan-peer``), guests on one
VXLAN network ping across hosts; peers that die or move are forgotten, and addresses no host can
be reached at are refused."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.support.netlab import AgentProcess, Lab, sh
from tests.support.provider_lab import provider_on_underlay

pytestmark = pytest.mark.root


def test_agents_learn_their_vxlan_peers_from_the_provider(lab: Lab) -> None:
    hosts = lab.underlay({"h1": "1", "h2": "2"})
    provider = provider_on_underlay(lab)  # fails unless it lists the agent-report extension
    try:
        agents = {}
        for name, ip in (("h1", "10.199.0.1"), ("h2", "10.199.0.2")):
            agents[name] = lab.agent(
                hosts[name], name, "--host-net", "kernel", "--vm-backend", "netns",
                "--vnic-driver", "LINUX_BRIDGE=linux_bridge", "--tunnel-ip", ip,
                "--netns-prefix", f"{lab.prefix}{name}-", "--no-guest-dhcp",
                "--provider-url", provider.url, "--provider-password", "pw", "--report-interval", "0.5",
            )  # fmt: skip
        red = str(uuid.uuid4())
        for n, name in enumerate(("h1", "h2"), 1):
            nic = {"nic_id": f"n{n}", "name": "nic1", "mac": f"56:6f:1a:00:05:{n:02x}", "mtu": 1450,
                   "external": {"vnic_id": str(uuid.uuid4()), "plugin_type": "LINUX_BRIDGE", "network_id": red,
                                "network_type": "vxlan", "segmentation_id": 3001}}  # fmt: skip
            created = agents[name].call("POST", "/vms", {"vm_id": f"vm{n}", "name": f"vm{n}", "nics": [nic]})
            assert created.status_code == 201, created.text
            sh("ip", "-n", f"{lab.prefix}{name}-vm{n}", "addr", "add", f"10.77.0.{n}/24", "dev", "eth0")
        deadline = time.monotonic() + 15
        fdb = ""
        while time.monotonic() < deadline:
            fdb = sh("bridge", "-n", hosts["h1"], "fdb", "show", "dev", "vxlan-3001").stdout
            if "dst 10.199.0.2" in fdb:
                break
            time.sleep(0.3)
        assert "00:00:00:00:00:00 dst 10.199.0.2" in fdb
        assert lab.ping(f"{lab.prefix}h1-vm1", "10.77.0.2")
    finally:
        for agent in lab.agents:
            agent.stop()
        provider.stop()


def _agent(lab: Lab, ns: str, name: str, ip: str, provider_url: str) -> AgentProcess:
    return lab.agent(
        ns, name, "--host-net", "kernel", "--vm-backend", "netns", "--vnic-driver", "LINUX_BRIDGE=linux_bridge",
        "--tunnel-ip", ip, "--netns-prefix", f"{lab.prefix}{name}-", "--no-guest-dhcp",
        "--provider-url", provider_url, "--provider-password", "pw", "--report-interval", "0.5",
    )  # fmt: skip


def _flood(lab: Lab, ns: str, device: str) -> set[str]:
    shown = sh("bridge", "-n", ns, "fdb", "show", "dev", device).stdout
    return {
        line.split(" dst ")[1].split()[0]
        for line in shown.splitlines()
        if line.startswith("00:00:00:00:00:00")
    }


def _wait_flood(lab: Lab, ns: str, device: str, wanted: set[str], timeout: float = 20) -> set[str]:
    deadline = time.monotonic() + timeout
    found = _flood(lab, ns, device)
    while found != wanted and time.monotonic() < deadline:
        time.sleep(0.3)
        found = _flood(lab, ns, device)
    return found


def test_peers_come_from_live_agents_only(lab: Lab) -> None:
    """A host that dies or changes address is no peer any more, and a report of an address no host can be
    reached at (loopback, another live host's) is refused: no VXLAN floods toward it (issue 15)."""
    hosts = lab.underlay({"h1": "1", "h2": "2", "h3": "3"})
    provider = provider_on_underlay(lab, args=["--agent-down-time", "3"])
    try:
        agents = {name: _agent(lab, hosts[name], name, f"10.199.0.{name[1]}", provider.url) for name in hosts}
        red = str(uuid.uuid4())
        for n, name in enumerate(("h1", "h2"), 1):
            nic = {"nic_id": f"n{n}", "name": "nic1", "mac": f"56:6f:1a:00:06:{n:02x}", "mtu": 1450,
                   "external": {"vnic_id": str(uuid.uuid4()), "plugin_type": "LINUX_BRIDGE", "network_id": red,
                                "network_type": "vxlan", "segmentation_id": 3002}}  # fmt: skip
            created = agents[name].call("POST", "/vms", {"vm_id": f"vm{n}", "name": f"vm{n}", "nics": [nic]})
            assert created.status_code == 201, created.text
            sh("ip", "-n", f"{lab.prefix}{name}-vm{n}", "addr", "add", f"10.78.0.{n}/24", "dev", "eth0")
        assert _wait_flood(lab, hosts["h1"], "vxlan-3002", {"10.199.0.2", "10.199.0.3"}) == {
            "10.199.0.2", "10.199.0.3"
        }  # fmt: skip

        agents["h3"].stop()  # h3 dies: not alive after 3 s, no peer
        assert _wait_flood(lab, hosts["h1"], "vxlan-3002", {"10.199.0.2"}) == {"10.199.0.2"}

        # h2 comes back on another address: the old one is no peer, the new one is, guests reach each other
        agents["h2"].stop()
        sh("ip", "-n", hosts["h2"], "addr", "add", "10.199.0.12/24", "dev", "ul0")
        _agent(lab, hosts["h2"], "h2", "10.199.0.12", provider.url)
        assert _wait_flood(lab, hosts["h1"], "vxlan-3002", {"10.199.0.12"}) == {"10.199.0.12"}
        assert lab.ping(f"{lab.prefix}h1-vm1", "10.78.0.2", count=3)

        # addresses no other host can flood toward are refused when reported
        for address in ("127.0.0.1", "10.199.0.1"):
            report = {"host": "h9", "agent_type": "Linux bridge agent",
                      "configurations": {"tunneling_ip": address, "tunnel_types": ["vxlan"]}}  # fmt: skip
            refused = provider.request("POST", "/v2.0/agent-reports", {"agent_report": report})
            assert refused.status_code == 400, refused.text
            assert "configurations.tunneling_ip" in refused.json()["NeutronError"]["message"]
        time.sleep(1.5)  # three report rounds of h1
        assert _flood(lab, hosts["h1"], "vxlan-3002") == {"10.199.0.12"}
    finally:
        for agent in lab.agents:
            agent.stop()
        provider.stop()
