"""The whole loop on a real kernel: the embedded provider on the underlay, two host agents that
report to it and learn each other's tunnel addresses from it (no static ``--vxlan-peer``), guests
on one VXLAN network ping across hosts."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.support.netlab import Lab, sh
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
