"""The open_vswitch driver on Open vSwitch's userspace datapath: two host namespaces, each with
its own ovsdb-server/ovs-vswitchd, guests on one VXLAN network talk across hosts through
``br-int`` and kernel VXLAN ports; a guest on another network (another local VLAN) cannot."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from neutrino.agent.app import build_agent
from neutrino.agent.datapath.iproute import IpRouteNet
from neutrino.agent.host_agent import HostAgent
from neutrino.agent.settings import AgentSettings
from neutrino.agent_api.schema import DhcpSpec, SecurityGroupSpec, VmSpec
from tests.conftest import _require
from tests.support.netlab import Lab, sh

pytestmark = pytest.mark.root


def nic(n: int, network_id: str, vni: int) -> dict[str, Any]:
    return {
        "nic_id": f"nic-{n}", "name": f"nic{n}", "mac": f"56:6f:1a:00:04:{n:02x}", "mtu": 1450,
        "external": {"vnic_id": str(uuid.uuid4()), "plugin_type": "OPEN_VSWITCH", "network_id": network_id,
                     "network_type": "vxlan", "segmentation_id": vni},
    }  # fmt: skip


def host_agent(lab: Lab, tmp_path: Path, ns: str, name: str, me: str, peer: str, db: str,
               guest_dhcp: bool = False) -> HostAgent:  # fmt: skip
    settings = AgentSettings(
        data_dir=tmp_path / name, token=SecretStr("t"), vm_backend="netns", host_net="kernel",
        vnic_drivers={"OPEN_VSWITCH": "open_vswitch"}, tunnel_ip=me, vxlan_peers=[peer],
        netns_prefix=f"{lab.prefix}{name}-", guest_dhcp=guest_dhcp, ovs_db=db, ovs_datapath_type="netdev",
    )  # fmt: skip
    agent = build_agent(settings, host_net=IpRouteNet(ns))
    lab.on_cleanup.append(agent.stop)  # its Open vSwitch connection closed before the lab's switch stops
    return agent


def require_ovs() -> None:
    missing = [
        t for t in ("ovs-vsctl", "ovsdb-server", "ovs-vswitchd", "ovsdb-tool") if shutil.which(t) is None
    ]
    _require(f"Open vSwitch missing: {missing} (Debian openvswitch-switch)" if missing else None)


def test_guests_on_br_int_reach_each_other_across_hosts_and_nobody_else(lab: Lab, tmp_path: Path) -> None:
    require_ovs()
    hosts = lab.underlay({"h1": "1", "h2": "2"})
    h1 = host_agent(lab, tmp_path, hosts["h1"], "h1", "10.199.0.1", "10.199.0.2", lab.ovs(hosts["h1"], "h1"))
    h2 = host_agent(lab, tmp_path, hosts["h2"], "h2", "10.199.0.2", "10.199.0.1", lab.ovs(hosts["h2"], "h2"))
    red, blue = str(uuid.uuid4()), str(uuid.uuid4())
    placements = {"a": (h1, "h1", nic(1, red, 2001), "10.254.0.1"), "b": (h2, "h2", nic(2, red, 2001), "10.254.0.2"),
                  "c": (h2, "h2", nic(3, blue, 2002), "10.254.0.3")}  # fmt: skip
    guests = {}
    for name, (agent, host, spec, address) in placements.items():
        vm, created = agent.vms.create_vm(
            VmSpec.model_validate({"vm_id": name, "name": name, "nics": [spec]})
        )
        assert created and vm.status == "Up", vm
        guests[name] = f"{lab.prefix}{host}-{name}"
        sh("ip", "-n", guests[name], "addr", "add", f"{address}/24", "dev", "eth0")
    shown = json.loads(sh("ovs-vsctl", f"--db=unix:{tmp_path}/ovs-h2/db.sock", "--format=json",
                          "--columns=name,tag", "list", "Port").stdout)["data"]  # fmt: skip
    tags = {row[0]: row[1] for row in shown}
    assert tags["vxlan-2001"] != tags["vxlan-2002"]

    assert lab.ping(guests["a"], "10.254.0.2", count=3)
    assert not lab.ping(guests["a"], "10.254.0.3", count=1)
    assert not lab.ping(guests["c"], "10.254.0.2", count=1)

    # the hybrid plug: d on h2 (red) accepts only ssh; its egress is open
    h2.security.set_security_group("ssh", SecurityGroupSpec.model_validate(
        {"rules": [{"direction": "ingress", "protocol": "tcp", "port_range_min": 22}, {"direction": "egress"}]}
    ))  # fmt: skip
    spec = nic(4, red, 2001)
    spec["external"]["security_groups"] = ["ssh"]
    vm, _ = h2.vms.create_vm(VmSpec.model_validate({"vm_id": "d", "name": "d", "nics": [spec]}))
    assert (
        vm.nics[0].plugged is not None
        and vm.nics[0].plugged.bridge == "qbr" + spec["external"]["vnic_id"][:11]
    )
    guest_d = f"{lab.prefix}h2-d"
    sh("ip", "-n", guest_d, "addr", "add", "10.254.0.4/24", "dev", "eth0")
    assert lab.ping(guest_d, "10.254.0.1")
    assert not lab.ping(guests["a"], "10.254.0.4", count=1)

    h1.vms.destroy_vm("a")
    assert "vxlan-2001" not in sh("ip", "-n", hosts["h1"], "link", "show").stdout


SSH_LIKE = (  # a listener on TCP 22 in the guest, standing in for sshd
    "import socket\n"
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('0.0.0.0', 22)); s.listen(8)\n"
    "while True:\n    c, _ = s.accept(); c.sendall(b'SSH-2.0-x\\r\\n'); c.close()\n"
)


def has_address(ns: str, cidr: str) -> bool:
    return cidr in sh("ip", "-n", ns, "-4", "addr", "show", "dev", "eth0").stdout


def test_dhcp_and_tcp_reach_guests_on_the_userspace_datapath(lab: Lab, tmp_path: Path) -> None:
    """ovs-vswitchd (netdev) forwards veth frames as it reads them: a TCP/UDP checksum left to offload by the
    sender stays incomplete, so dnsmasq's DHCP reply was dropped as conntrack INVALID on the hybrid plug's qbr
    (and ignored by udhcpc behind a plain port). The driver makes the senders into br-int compute them."""
    require_ovs()
    _require(None if shutil.which("dnsmasq") and shutil.which("busybox") else "dnsmasq/busybox missing")
    hosts = lab.underlay({"h1": "1"})
    agent = host_agent(lab, tmp_path, hosts["h1"], "h1", "10.199.0.1", "10.199.0.2",
                       lab.ovs(hosts["h1"], "h1"), guest_dhcp=True)  # fmt: skip
    red = str(uuid.uuid4())
    agent.security.set_security_group("ssh", SecurityGroupSpec.model_validate(
        {"rules": [{"direction": "ingress", "protocol": "tcp", "port_range_min": 22}, {"direction": "egress"}]}
    ))  # fmt: skip
    plain, filtered = nic(1, red, 2001), nic(2, red, 2001)
    filtered["external"]["security_groups"] = ["ssh"]
    agent.dhcp.setup_dhcp(DhcpSpec.model_validate({
        "network_id": red, "plugin_type": "OPEN_VSWITCH", "network_type": "vxlan", "segmentation_id": 2001,
        "cidr": "10.253.0.0/24", "server_ip": "10.253.0.254", "mtu": 1450,
        "hosts": [{"mac": plain["mac"], "ip": "10.253.0.11"}, {"mac": filtered["mac"], "ip": "10.253.0.12"}],
    }))  # fmt: skip
    for name, spec in (("p", plain), ("f", filtered)):
        vm, created = agent.vms.create_vm(
            VmSpec.model_validate({"vm_id": name, "name": name, "nics": [spec]})
        )
        assert created and vm.status == "Up", vm
    guest_p, guest_f = f"{lab.prefix}h1-p", f"{lab.prefix}h1-f"
    deadline = time.monotonic() + 20
    while not (has_address(guest_p, "10.253.0.11/24") and has_address(guest_f, "10.253.0.12/24")):
        assert time.monotonic() < deadline, sh("ip", "-n", hosts["h1"], "link", "show").stdout
        time.sleep(0.2)

    server = subprocess.Popen(["ip", "netns", "exec", guest_f, sys.executable, "-c", SSH_LIKE])
    try:
        code = "import socket; print(socket.create_connection(('10.253.0.12', 22), timeout=2).recv(64))"
        for _ in range(20):  # the listener needs a moment to start
            got = subprocess.run(["ip", "netns", "exec", guest_p, sys.executable, "-c", code],
                                 capture_output=True, text=True, check=False)  # fmt: skip
            if got.returncode == 0:
                break
            time.sleep(0.2)
        # TCP both ways through br-int, qvo/qvb and the firewall on qbr
        assert "SSH-2.0-x" in got.stdout, got.stderr
    finally:
        server.kill()
    assert not lab.ping(guest_p, "10.253.0.12", count=1)  # the group lets only TCP 22 in
    assert lab.ping(guest_f, "10.253.0.11")
