"""Security groups on the real kernel: iptables over br_netfilter between netns guests on one
linux_bridge host (the agent runs in this process, aimed at the host namespace)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from neutrino.agent.app import build_agent
from neutrino.agent.settings import AgentSettings
from neutrino.agent_api.schema import SecurityGroupSpec, VmSpec
from tests.conftest import _require
from tests.support.netlab import Lab, sh

from .test_kernel_datapath import CountingNet

pytestmark = pytest.mark.root

ICMP_FROM_A = {"direction": "ingress", "protocol": "icmp", "remote_ip_prefix": "10.253.0.1/32"}


class RecordingNet(CountingNet):
    def iptables_restore(self, text: str) -> None:
        self.changes.append("iptables-restore")
        super().iptables_restore(text)

    def ip6tables_restore(self, text: str) -> None:
        self.changes.append("ip6tables-restore")
        super().ip6tables_restore(text)

    def raw_restore(self, version: int, text: str) -> None:
        self.changes.append(f"raw-restore {version}")
        super().raw_restore(version, text)

    def restore_tables(self, texts: Mapping[int, Sequence[str]]) -> None:
        self.changes.append(f"restore-tables {sorted(texts)}")
        super().restore_tables(texts)

    def in_netns(self, name: str) -> RecordingNet:
        return RecordingNet(name, self.changes)


def nic(n: int, network_id: str, groups: list[str] | None, vni: int = 9) -> dict[str, Any]:
    return {
        "nic_id": f"nic-{n}", "name": f"nic{n}", "mac": f"56:6f:1a:00:03:{n:02x}", "mtu": 1450,
        "external": {"vnic_id": str(uuid.uuid4()), "plugin_type": "LINUX_BRIDGE", "network_id": network_id,
                     "network_type": "vxlan", "segmentation_id": vni, "security_groups": groups},
    }  # fmt: skip


def agent_settings(lab: Lab, tmp_path: Path) -> AgentSettings:
    """An agent in this process, aimed at the host namespace ``<prefix>h``, guests ``<prefix>g-<vm>``."""
    _require(None if shutil.which("iptables-restore") else "iptables missing (Debian iptables)")
    return AgentSettings(
        data_dir=tmp_path / "agent", token=SecretStr("t"), vm_backend="netns", host_net="kernel",
        vnic_drivers={"LINUX_BRIDGE": "linux_bridge"}, tunnel_ip="10.199.0.1",
        netns_prefix=f"{lab.prefix}g-", guest_dhcp=False,
    )  # fmt: skip


def test_security_groups_filter_bridged_traffic(lab: Lab, tmp_path: Path) -> None:
    host = RecordingNet(lab.netns("h"), [])
    settings = agent_settings(lab, tmp_path)
    agent = build_agent(settings, host_net=host)
    agent.security.set_security_group("ssh", SecurityGroupSpec.model_validate(
        {"rules": [{"direction": "ingress", "protocol": "tcp", "port_range_min": 22}, {"direction": "egress"}]}
    ))  # fmt: skip
    net = str(uuid.uuid4())
    agent.vms.create_vm(VmSpec.model_validate({"vm_id": "a", "name": "a", "nics": [nic(1, net, None)]}))
    vm_b, _ = agent.vms.create_vm(
        VmSpec.model_validate({"vm_id": "b", "name": "b", "nics": [nic(2, net, ["ssh"])]})
    )
    assert vm_b.nics[0].plugged is not None and vm_b.nics[0].plugged.security_groups == ["ssh"]
    guest_a, guest_b = f"{lab.prefix}g-a", f"{lab.prefix}g-b"
    sh("ip", "-n", guest_a, "addr", "add", "10.253.0.1/24", "dev", "eth0")
    sh("ip", "-n", guest_b, "addr", "add", "10.253.0.2/24", "dev", "eth0")

    assert not lab.ping(guest_a, "10.253.0.2", count=1)  # no ICMP allowed into b
    assert lab.ping(guest_b, "10.253.0.1")  # b's egress is open; replies are established

    agent.security.set_security_group("ssh", SecurityGroupSpec.model_validate(
        {"rules": [ICMP_FROM_A, {"direction": "egress"}]}
    ))  # fmt: skip
    assert lab.ping(guest_a, "10.253.0.2")

    # a restarted agent finds the rules current and changes nothing
    host.changes.clear()
    build_agent(settings, host_net=host).recover()
    assert host.changes == []

    # anti-spoofing: b may only send from its own MAC
    sh("ip", "-n", guest_b, "link", "set", "eth0", "address", "56:6f:1a:00:03:99")
    assert not lab.ping(guest_b, "10.253.0.1", count=1)

    agent.vms.destroy_vm("b")
    assert "nsg-" not in sh("ip", "netns", "exec", host.netns or "", "iptables-save", "-t", "filter").stdout
    agent.vms.destroy_vm("a")


UDP_SEND = (
    "import socket, sys; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((sys.argv[1], int(sys.argv[2]))); "
    "s.sendto(b'x', (sys.argv[3], int(sys.argv[4])))"
)
UDP_RECEIVE = (
    "import socket, sys; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], int(sys.argv[2]))); "
    "s.settimeout(float(sys.argv[3])); print(s.recvfrom(64)[0].decode())"
)


def udp(lab: Lab, sender: str, source: tuple[str, int], receiver: str, destination: tuple[str, int]) -> bool:
    """Whether one UDP datagram from ``source`` in namespace ``sender`` reaches ``destination`` in ``receiver``."""
    listen = subprocess.Popen(
        ["ip", "netns", "exec", receiver, sys.executable, "-c", UDP_RECEIVE, destination[0], str(destination[1]), "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(0.3)  # the listener binds
        lab.in_ns(sender, sys.executable, "-c", UDP_SEND, source[0], str(source[1]), *map(str, destination))
        out, _ = listen.communicate(timeout=10)
    finally:
        if listen.poll() is None:
            listen.kill()
            listen.wait(5)
    return out.strip() == "x"


def test_connection_tracking_is_separate_per_network(lab: Lab, tmp_path: Path) -> None:
    """Two networks that share a CIDR on one host: a flow seen on one must not make a packet on the other
    "established" (issue 15: VM2 on A sends to .13; VM3 on B, also .13, then gets UDP through to VM4, .11 on B,
    whose group allows no UDP). Each network gets its own conntrack zone, as in Neutron's iptables firewall."""
    host = RecordingNet(lab.netns("h"), [])
    agent = build_agent(agent_settings(lab, tmp_path), host_net=host)
    agent.security.set_security_group(
        "out", SecurityGroupSpec.model_validate({"rules": [{"direction": "egress"}]})
    )
    agent.security.set_security_group("udp", SecurityGroupSpec.model_validate(
        {"rules": [{"direction": "egress"}, {"direction": "ingress", "protocol": "udp"}]}
    ))  # fmt: skip
    net_a, net_b = str(uuid.uuid4()), str(uuid.uuid4())
    guests = {}
    for n, (vm, net, vni, groups, address) in enumerate(
        [("vm1", net_a, 21, None, "10.254.8.13"), ("vm2", net_a, 21, ["out"], "10.254.8.11"),
         ("vm3", net_b, 22, ["udp"], "10.254.8.13"), ("vm4", net_b, 22, ["out"], "10.254.8.11")], start=1
    ):  # fmt: skip
        agent.vms.create_vm(
            VmSpec.model_validate({"vm_id": vm, "name": vm, "nics": [nic(n, net, groups, vni)]})
        )
        guests[vm] = f"{lab.prefix}g-{vm}"
        sh("ip", "-n", guests[vm], "addr", "add", f"{address}/24", "dev", "eth0")

    # within network B, the reply to vm4's own datagram is established and comes in
    assert udp(lab, guests["vm4"], ("10.254.8.11", 40001), guests["vm3"], ("10.254.8.13", 50001))
    assert udp(lab, guests["vm3"], ("10.254.8.13", 50001), guests["vm4"], ("10.254.8.11", 40001))
    # vm4 allows no UDP in: a datagram that answers nothing vm4 sent is dropped
    assert not udp(lab, guests["vm3"], ("10.254.8.13", 50002), guests["vm4"], ("10.254.8.11", 40002))

    # the same addresses and ports seen on network A answer nothing on network B
    assert udp(lab, guests["vm2"], ("10.254.8.11", 40003), guests["vm1"], ("10.254.8.13", 50003))
    assert not udp(lab, guests["vm3"], ("10.254.8.13", 50003), guests["vm4"], ("10.254.8.11", 40003))

    assert "CT --zone" in sh("ip", "netns", "exec", host.netns or "", "iptables-save", "-t", "raw").stdout
    for vm in guests:
        agent.vms.destroy_vm(vm)
    assert "CT --zone" not in sh("ip", "netns", "exec", host.netns or "", "iptables-save", "-t", "raw").stdout
