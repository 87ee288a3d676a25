"""DHCP across hosts: dnsmasq served by one host's agent, netns guests on both hosts get their
static lease and the MTU from their DHCP client (dhclient, else ``udhcpc -O mtu``) over VXLAN."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _require
from tests.support.netlab import Lab, sh

from .test_two_hosts import agent_args

pytestmark = pytest.mark.root

VNI = 1001


def guest_eth0(ns: str) -> tuple[set[str], int]:
    item = json.loads(sh("ip", "-n", ns, "-j", "addr", "show", "dev", "eth0").stdout)[0]
    addrs = {f"{a['local']}/{a['prefixlen']}" for a in item.get("addr_info", []) if a.get("family") == "inet"}
    return addrs, item["mtu"]


def wait_for(ns: str, cidr: str, mtu: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    seen: tuple[set[str], int] = (set(), 0)
    while time.monotonic() < deadline:
        seen = guest_eth0(ns)
        if seen == ({cidr}, mtu):
            return
        time.sleep(0.2)
    clients = [line for line in sh("ps", "-eo", "pid,args").stdout.splitlines() if "dhc" in line]
    raise AssertionError(f"{ns}: eth0 has {seen}, expected {cidr} with MTU {mtu}; DHCP clients: {clients}")


def test_guests_get_their_lease_and_mtu_from_the_networks_dhcp_server(lab: Lab) -> None:
    _require(
        None
        if shutil.which("dnsmasq") and shutil.which("busybox")
        else "dnsmasq/busybox missing (Debian dnsmasq-base, busybox)"
    )
    hosts = lab.underlay({"h1": "1", "h2": "2"})
    args = {
        h: [a for a in agent_args(lab, h, me, peer) if a != "--no-guest-dhcp"]
        for h, me, peer in (("h1", "10.199.0.1", "10.199.0.2"), ("h2", "10.199.0.2", "10.199.0.1"))
    }
    h1 = lab.agent(hosts["h1"], "h1", *args["h1"])
    h2 = lab.agent(hosts["h2"], "h2", *args["h2"])
    red = str(uuid.uuid4())
    nics: dict[str, dict[str, Any]] = {}
    for name, n in (("a", 1), ("b", 2)):
        nics[name] = {
            "nic_id": str(uuid.uuid4()), "name": "nic1", "mac": f"56:6f:1a:00:02:{n:02x}",
            "external": {"vnic_id": str(uuid.uuid4()), "plugin_type": "LINUX_BRIDGE", "network_id": red,
                         "network_type": "vxlan", "segmentation_id": VNI},
        }  # fmt: skip
    dhcp = {
        "plugin_type": "LINUX_BRIDGE", "network_type": "vxlan", "segmentation_id": VNI,
        "cidr": "10.252.0.0/24", "server_ip": "10.252.0.254", "mtu": 1400,
        "hosts": [{"mac": nics["a"]["mac"], "ip": "10.252.0.11"}, {"mac": nics["b"]["mac"], "ip": "10.252.0.12"}],
    }  # fmt: skip
    response = h1.call("PUT", f"/dhcp/{red}", dhcp)
    assert response.status_code == 201, response.text
    assert h1.call("PUT", f"/dhcp/{red}", dhcp).status_code == 200

    for agent, name in ((h1, "a"), (h2, "b")):
        created = agent.call("POST", "/vms", {"vm_id": f"vm-{name}", "name": name, "nics": [nics[name]]})
        assert created.status_code == 201, created.text
    guest_a, guest_b = f"{lab.prefix}h1-vm-a", f"{lab.prefix}h2-vm-b"
    wait_for(guest_a, "10.252.0.11/24", 1400)
    wait_for(guest_b, "10.252.0.12/24", 1400)  # across the VXLAN tunnel
    assert lab.ping(guest_b, "10.252.0.11")

    # a restarted agent keeps the running server (same leases: same process)
    pidfile = lab.workdir / "h1" / "dhcp" / f"{red}.pid"
    pid = pidfile.read_text().strip()
    h1.stop()
    h1.start()
    assert pidfile.read_text().strip() == pid and Path(f"/proc/{pid}").exists()

    # the server goes; the network stays on h1 while vm-a uses it
    assert h1.call("DELETE", f"/dhcp/{red}").status_code == 204
    names = sh("ip", "netns", "list").stdout
    assert f"{lab.prefix}h1-dhcp-{red[:11]}" not in names
    assert lab.ping(guest_b, "10.252.0.11")
    assert h1.call("DELETE", "/vms/vm-a").json()["warnings"] == []
    assert not [line for line in sh("ps", "-eo", "args").stdout.splitlines() if "run/vm-a/" in line]
    assert "brq" + red[:11] not in sh("ip", "-n", hosts["h1"], "link", "show").stdout
