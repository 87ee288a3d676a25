"""The netns VM backend on the in-memory host: guests, slots, MACs, clean destroy."""

from __future__ import annotations

from pathlib import Path

from neutrino.agent.app import build_agent
from neutrino.agent.datapath import linux_net
from neutrino.agent.datapath.memory import MemoryNet
from neutrino.agent.settings import AgentSettings
from neutrino.agent_api.schema import NicSpec, VmSpec

from .helpers import ext_nic, vm


def test_guest_nics_take_the_lowest_free_slot_and_carry_the_vnic_mac(tmp_path: Path) -> None:
    host = MemoryNet()
    settings = AgentSettings.model_validate(
        {"data_dir": tmp_path, "token": "t", "host_net": "memory", "vm_backend": "netns",
         "vnic_drivers": {"LINUX_BRIDGE": "linux_bridge"}, "netns_prefix": "g-"}
    )  # fmt: skip
    agent = build_agent(settings, host_net=host)
    agent.vms.create_vm(VmSpec.model_validate(vm("vm-1", ext_nic(1), ext_nic(2))))
    guest = host.in_netns("g-vm-1")
    assert {link.name: link.address for link in guest.links() if link.name != "lo"} == {
        "eth0": "56:6f:1a:2b:3c:01",
        "eth1": "56:6f:1a:2b:3c:02",
    }
    tap = linux_net.tap_name(ext_nic(1)["external"]["vnic_id"])
    link = host.link(tap)
    assert link is not None and link.master == linux_net.brq_name(ext_nic(1)["external"]["network_id"])

    agent.vms.unplug_nic("vm-1", "nic-1")
    assert guest.link("eth0") is None and host.link(tap) is None
    state, _ = agent.vms.plug_nic("vm-1", NicSpec.model_validate(ext_nic(3)))
    assert guest.link("eth0") is not None and guest.link("eth0").address == "56:6f:1a:2b:3c:03"  # type: ignore[union-attr]
    assert state.state == "plugged"

    agent.vms.destroy_vm("vm-1")
    assert "g-vm-1" not in host.netns_names()
    assert host.links() == []
