"""Security groups on the real kernel: iptables over br_netfilter between netns guests on one
linux_bridge host (the agent runs in this process, aimed at the host namespace)."""

from __future__ import annotations

import shutil
import uuid
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

    def in_netns(self, name: str) -> RecordingNet:
        return RecordingNet(name, self.changes)


def nic(n: int, network_id: str, groups: list[str] | None) -> dict[str, Any]:
    return {
        "nic_id": f"nic-{n}", "name": f"nic{n}", "mac": f"56:6f:1a:00:03:{n:02x}", "mtu": 1450,
        "external": {"vnic_id": str(uuid.uuid4()), "plugin_type": "LINUX_BRIDGE", "network_id": network_id,
                     "network_type": "vxlan", "segmentation_id": 9, "security_groups": groups},
    }  # fmt: skip


def test_security_groups_filter_bridged_traffic(lab: Lab, tmp_path: Path) -> None:
    _require(None if shutil.which("iptables-restore") else "iptables missing (Debian iptables)")
    host = RecordingNet(lab.netns("h"), [])
    settings = AgentSettings(
        data_dir=tmp_path / "agent", token=SecretStr("t"), vm_backend="netns", host_net="kernel",
        vnic_drivers={"LINUX_BRIDGE": "linux_bridge"}, tunnel_ip="10.199.0.1",
        netns_prefix=f"{lab.prefix}g-", guest_dhcp=False,
    )  # fmt: skip
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
