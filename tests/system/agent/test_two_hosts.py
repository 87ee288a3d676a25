"""Two hosts, each a namespace running its own agent process (netns guests, linux_bridge vNICs),
joined by an underlay bridge: guests on one VXLAN network talk across hosts, others cannot."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.support.netlab import Lab, sh

pytestmark = pytest.mark.root

RED_VNI, BLUE_VNI = 1001, 1002


def nic(n: int, network_id: str, vni: int) -> dict[str, Any]:
    return {
        "nic_id": str(uuid.uuid4()),
        "name": f"nic{n}",
        "mac": f"56:6f:1a:00:00:{n:02x}",
        "mtu": 1450,
        "external": {
            "vnic_id": str(uuid.uuid4()),
            "plugin_type": "LINUX_BRIDGE",
            "network_id": network_id,
            "network_type": "vxlan",
            "segmentation_id": vni,
        },
    }


def links(ns: str) -> dict[str, dict[str, Any]]:
    return {link["ifname"]: link for link in json.loads(sh("ip", "-n", ns, "-j", "link", "show").stdout)}


def agent_args(lab: Lab, host: str, me: str, peer: str) -> list[str]:
    return [
        "--host-net",
        "kernel",
        "--vm-backend",
        "netns",
        "--vnic-driver",
        "LINUX_BRIDGE=linux_bridge",
        "--tunnel-ip",
        me,
        "--vxlan-peer",
        peer,
        "--netns-prefix",
        f"{lab.prefix}{host}-",
        "--no-guest-dhcp",
    ]


def test_guests_on_one_network_reach_each_other_across_hosts_and_nobody_else(lab: Lab) -> None:
    hosts = lab.underlay({"h1": "1", "h2": "2"})
    h1 = lab.agent(hosts["h1"], "h1", *agent_args(lab, "h1", "10.199.0.1", "10.199.0.2"))
    h2 = lab.agent(hosts["h2"], "h2", *agent_args(lab, "h2", "10.199.0.2", "10.199.0.1"))
    red, blue = str(uuid.uuid4()), str(uuid.uuid4())
    vms = {
        "a": (h1, nic(1, red, RED_VNI), "10.250.0.1"),
        "b": (h2, nic(2, red, RED_VNI), "10.250.0.2"),
        "c": (h2, nic(3, blue, BLUE_VNI), "10.250.0.3"),
    }
    guests = {}
    for name, (agent, spec, address) in vms.items():
        response = agent.call("POST", "/vms", {"vm_id": f"vm-{name}", "name": name, "nics": [spec]})
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "Up"
        guest = f"{lab.prefix}{agent.name}-vm-{name}"
        eth0 = links(guest)["eth0"]
        assert eth0["address"] == spec["mac"] and eth0["mtu"] == 1450
        sh("ip", "-n", guest, "addr", "add", f"{address}/24", "dev", "eth0")
        guests[name] = guest

    # the datapath each agent built: tap on brq, vxlan-<vni> on brq, flood entry toward the peer
    h2_links = links(hosts["h2"])
    tap_b = "tap" + vms["b"][1]["external"]["vnic_id"][:11]
    assert h2_links[tap_b]["master"] == "brq" + red[:11]
    assert h2_links[f"vxlan-{RED_VNI}"]["master"] == "brq" + red[:11]
    fdb = sh("bridge", "-n", hosts["h2"], "fdb", "show", "dev", f"vxlan-{RED_VNI}").stdout
    assert "00:00:00:00:00:00 dst 10.199.0.1" in fdb

    assert lab.ping(guests["a"], "10.250.0.2")
    assert lab.ping(guests["b"], "10.250.0.1")
    assert not lab.ping(guests["a"], "10.250.0.3", count=1)
    assert not lab.ping(guests["c"], "10.250.0.2", count=1)

    # a restarted agent re-plugs what it had and changes nothing
    tap_a = "tap" + vms["a"][1]["external"]["vnic_id"][:11]
    before = links(hosts["h1"])
    h1.stop()
    h1.start()
    after = links(hosts["h1"])
    assert {n: (link["ifindex"], link.get("master")) for n, link in after.items()} == {
        n: (link["ifindex"], link.get("master")) for n, link in before.items()
    }
    assert h1.get("/vms/vm-a").json()["status"] == "Up"
    assert lab.ping(guests["a"], "10.250.0.2")

    # destroying the last VM on a network removes the guest and the network's devices there
    assert h1.call("DELETE", "/vms/vm-a").json()["warnings"] == []
    h1_links = links(hosts["h1"])
    assert tap_a not in h1_links and f"vxlan-{RED_VNI}" not in h1_links and "brq" + red[:11] not in h1_links
    assert guests["a"] not in sh("ip", "netns", "list").stdout
    caps = h2.get("/capabilities").json()
    assert {n["network_id"] for n in caps["networks"]["external"]} == {red, blue}
