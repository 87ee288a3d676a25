"""A flat provider network on linux_bridge: each host's mapped interface joins the network's
bridge; guests on two hosts talk over the shared physical segment, untagged."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr

from neutrino.agent.app import build_agent
from neutrino.agent.datapath.iproute import IpRouteNet
from neutrino.agent.settings import AgentSettings
from neutrino.agent_api.schema import VmSpec
from tests.support.netlab import Lab, sh

pytestmark = pytest.mark.root


def test_guests_on_a_flat_network_reach_each_other_over_the_mapped_interfaces(
    lab: Lab, tmp_path: Path
) -> None:
    hosts = lab.underlay({"h1": "1", "h2": "2"})
    ul = f"{lab.prefix}ul"
    sh("ip", "-n", ul, "link", "add", "phys", "type", "bridge")  # the physical segment
    sh("ip", "-n", ul, "link", "set", "phys", "up")
    net = str(uuid.uuid4())
    agents = {}
    for name, ns in hosts.items():
        sh("ip", "-n", ns, "link", "add", "eth9", "type", "veth", "peer", "name", f"f-{name}", "netns", ul)
        sh("ip", "-n", ul, "link", "set", f"f-{name}", "master", "phys", "up")
        settings = AgentSettings(
            data_dir=tmp_path / name, token=SecretStr("t"), vm_backend="netns", host_net="kernel",
            vnic_drivers={"LINUX_BRIDGE": "linux_bridge"}, physical_interface_mappings={"physnet1": "eth9"},
            netns_prefix=f"{lab.prefix}{name}-", guest_dhcp=False,
        )  # fmt: skip
        agents[name] = build_agent(settings, host_net=IpRouteNet(ns))
    for n, name in enumerate(("h1", "h2"), 1):
        nic = {"nic_id": f"n{n}", "name": "nic1", "mac": f"56:6f:1a:00:06:{n:02x}",
               "external": {"vnic_id": str(uuid.uuid4()), "plugin_type": "LINUX_BRIDGE", "network_id": net,
                            "network_type": "flat", "physical_network": "physnet1"}}  # fmt: skip
        vm, created = agents[name].vms.create_vm(
            VmSpec.model_validate({"vm_id": f"vm{n}", "name": "g", "nics": [nic]})
        )
        assert created and vm.status == "Up", vm
        sh("ip", "-n", f"{lab.prefix}{name}-vm{n}", "addr", "add", f"10.66.0.{n}/24", "dev", "eth0")
    assert "master brq" + net[:11] in sh("ip", "-n", hosts["h1"], "link", "show", "dev", "eth9").stdout
    assert lab.ping(f"{lab.prefix}h1-vm1", "10.66.0.2")
    agents["h1"].vms.destroy_vm("vm1")
    eth9 = sh("ip", "-n", hosts["h1"], "link", "show", "dev", "eth9").stdout
    assert "master" not in eth9  # released, not deleted, with the network's bridge
