"""The datapath on a real kernel, in namespaces: ``ensure_*`` idempotence, the linux_bridge
driver, and the netns VM backend driven by the agent in this process."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from neutrino.agent.app import build_agent
from neutrino.agent.datapath import linux_net
from neutrino.agent.datapath.hostnet import HostNetError, LinkChange, VxlanSpec
from neutrino.agent.datapath.iproute import IpRouteNet
from neutrino.agent.errors import PlugFailed
from neutrino.agent.settings import AgentSettings
from neutrino.agent_api.schema import NetworkSpec, NicSpec, VmSpec
from tests.support.netlab import Lab, sh

pytestmark = pytest.mark.root

#: the HostNet calls that change the kernel (netlink messages or commands alike)
MUTATING = (
    "add_bridge", "add_vxlan", "add_veth", "set_link", "delete_link", "add_address", "delete_address",
    "add_flood_entry", "delete_flood_entry", "add_netns", "delete_netns", "set_tx_checksum",
    "replace_route", "delete_route",
)  # fmt: skip


class CountingNet(IpRouteNet):
    """The kernel implementation, recording every call that changes something."""

    def __init__(self, netns: str | None, changes: list[str]) -> None:
        super().__init__(netns)
        self.changes = changes

    def __getattribute__(self, name: str) -> Any:
        found = super().__getattribute__(name)
        if name not in MUTATING:
            return found

        def recorded(*args: Any) -> Any:
            self.changes.append(" ".join([name, *map(str, args)]))
            return found(*args)

        return recorded

    def sysctl(self, key: str, value: str | None = None) -> str:
        if value is not None:
            self.changes.append(f"sysctl {key}={value}")
        return super().sysctl(key, value)

    def in_netns(self, name: str) -> CountingNet:
        return CountingNet(name, self.changes)


@pytest.fixture
def host(lab: Lab) -> CountingNet:
    return CountingNet(lab.netns("h"), [])


def test_ensure_functions_are_idempotent_on_the_kernel(host: CountingNet) -> None:
    def build() -> None:
        linux_net.ensure_bridge(host, "brq-test", 1450)
        linux_net.ensure_vxlan(host, "vxlan-42", VxlanSpec(vni=42, local="10.199.0.1", mtu=1450), "brq-test")
        linux_net.ensure_flood_entries(host, "vxlan-42", ["10.199.0.2", "10.199.0.3"])

    build()
    assert host.changes
    host.changes.clear()
    build()
    assert host.changes == []
    vx = host.link("vxlan-42")
    assert vx is not None and (vx.kind, vx.vxlan_id, vx.master, vx.up) == ("vxlan", 42, "brq-test", True)
    assert host.flood_entries("vxlan-42") == {"10.199.0.2", "10.199.0.3"}
    linux_net.ensure_flood_entries(host, "vxlan-42", ["10.199.0.3"], exclusive=True)
    assert host.flood_entries("vxlan-42") == {"10.199.0.3"}
    linux_net.delete_link(host, "vxlan-42")
    linux_net.delete_link(host, "vxlan-42")
    assert host.link("vxlan-42") is None


def test_kernel_errors_surface_as_host_net_errors(host: CountingNet) -> None:
    with pytest.raises(HostNetError, match="brq-nothing"):
        host.set_link("tap-x", LinkChange(master="brq-nothing"))


def test_veth_peers_and_tx_checksum_offload_on_the_kernel(lab: Lab, host: CountingNet) -> None:
    assert host.netns is not None
    guest = lab.netns("peer")
    linux_net.ensure_veth(host, "tap-x", "eth0", guest)
    linux_net.ensure_veth(host, "qvo-x", "qvb-x", None)
    assert host.veth_peer("tap-x") == (guest, "eth0")
    assert host.veth_peer("qvo-x") == (host.netns, "qvb-x")
    assert host.in_netns(guest).veth_peer("eth0") == (host.netns, "tap-x")
    assert host.veth_peer("lo") is None and host.veth_peer("nothing") is None
    inner = host.in_netns(guest)
    assert inner.tx_checksum("eth0") is True
    assert linux_net.ensure_peer_tx_checksum(host, "tap-x", False) == "eth0"
    assert inner.tx_checksum("eth0") is False and host.tx_checksum("tap-x") is True
    linux_net.ensure_peer_tx_checksum(host, "qvo-x", False)
    assert host.tx_checksum("qvb-x") is False
    with pytest.raises(HostNetError, match="nothing"):
        host.tx_checksum("nothing")


def nic(n: int, network_id: str, vni: int = 7) -> dict[str, Any]:
    return {
        "nic_id": f"nic-{n}",
        "name": f"nic{n}",
        "mac": f"56:6f:1a:00:01:{n:02x}",
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


def test_netns_guests_on_linux_bridge_on_one_host(lab: Lab, host: CountingNet, tmp_path: Path) -> None:
    assert host.netns is not None
    settings = AgentSettings(
        data_dir=tmp_path / "agent",
        token=SecretStr("t"),
        vm_backend="netns",
        host_net="kernel",
        vnic_drivers={"LINUX_BRIDGE": "linux_bridge"},
        tunnel_ip="10.199.0.1",
        netns_prefix=f"{lab.prefix}g-",
        guest_dhcp=False,
    )
    agent = build_agent(settings, host_net=host)
    net = str(uuid.uuid4())
    for name, n in (("a", 1), ("b", 2)):
        vm, created = agent.vms.create_vm(
            VmSpec.model_validate({"vm_id": name, "name": name, "nics": [nic(n, net)]})
        )
        assert created and vm.status == "Up"
    guest_a, guest_b = f"{lab.prefix}g-a", f"{lab.prefix}g-b"
    assert links(guest_a)["eth0"]["address"] == "56:6f:1a:00:01:01"
    sh("ip", "-n", guest_a, "addr", "add", "10.251.0.1/24", "dev", "eth0")
    sh("ip", "-n", guest_b, "addr", "add", "10.251.0.2/24", "dev", "eth0")
    assert lab.ping(guest_a, "10.251.0.2")

    # hot-plug a second NIC on another network into a: eth1, its own bridge
    other = str(uuid.uuid4())
    state, added = agent.vms.plug_nic("a", NicSpec.model_validate(nic(3, other, vni=8)))
    assert added and state.state == "plugged"
    assert links(guest_a)["eth1"]["address"] == "56:6f:1a:00:01:03"
    assert (
        state.plugged is not None
        and links(host.netns)[state.plugged.device or ""]["master"] == "brq" + other[:11]
    )

    # a second agent over the same state re-plugs everything and changes nothing
    host.changes.clear()
    build_agent(settings, host_net=host).recover()
    assert host.changes == []

    agent.vms.unplug_nic("a", "nic-3")
    assert "eth1" not in links(guest_a) and "brq" + other[:11] not in links(host.netns)
    agent.vms.destroy_vm("a")
    agent.vms.destroy_vm("b")
    assert {n for n in links(host.netns) if n != "lo"} == set()
    assert not ({guest_a, guest_b} & set(sh("ip", "netns", "list").stdout.split()))


def test_the_agent_uses_a_host_admins_bridge_as_it_is_and_refuses_to_adopt_a_foreign_one(
    lab: Lab, host: CountingNet, tmp_path: Path
) -> None:
    """oVirt hosts come with ``ovirtmgmt`` made by their admin, carrying the host's own address: a whole
    run/stop cycle of VMs on the engine's ``ovirtmgmt`` network leaves it as it was. A device holding a
    provider network's bridge name is refused, named in the error; the agent's own devices carry its mark."""
    assert host.netns is not None
    # as on a host: a fixed MAC, the uplink (here a veth) enslaved, the host's address on the bridge
    ip = ("ip", "-n", host.netns)
    sh(*ip, "link", "add", "ovirtmgmt", "address", "02:52:00:00:00:01", "type", "bridge")
    sh(*ip, "link", "add", "uplink", "type", "veth", "peer", "name", "uplink-p")
    sh(*ip, "link", "set", "uplink", "master", "ovirtmgmt", "up")
    sh(*ip, "link", "set", "uplink-p", "up")
    sh(*ip, "addr", "add", "10.252.0.1/24", "dev", "ovirtmgmt")
    sh(*ip, "link", "set", "ovirtmgmt", "up")
    before = links(host.netns)["ovirtmgmt"]
    settings = AgentSettings(
        data_dir=tmp_path / "agent",
        token=SecretStr("t"),
        vm_backend="netns",
        host_net="kernel",
        vnic_drivers={"LINUX_BRIDGE": "linux_bridge"},
        tunnel_ip="10.199.0.1",
        netns_prefix=f"{lab.prefix}g-",
        guest_dhcp=False,
    )
    agent = build_agent(settings, host_net=host)
    agent.networks.setup_network("ovirtmgmt", NetworkSpec(mtu=1400))
    internal = {
        "nic_id": "nic-1",
        "name": "nic1",
        "mac": "56:6f:1a:00:02:01",
        "internal": {"network": "ovirtmgmt"},
    }
    vm, _ = agent.vms.create_vm(VmSpec.model_validate({"vm_id": "a", "name": "a", "nics": [internal]}))
    assert vm.status == "Up" and vm.nics[0].plugged is not None and vm.nics[0].plugged.bridge == "ovirtmgmt"
    agent.vms.destroy_vm("a")
    agent.networks.teardown_network("ovirtmgmt")
    after = links(host.netns)["ovirtmgmt"]
    kept = ("mtu", "address", "ifalias")  # carrier and operstate follow the ports on their own
    assert [after.get(k) for k in kept] == [before.get(k) for k in kept] and "UP" in after["flags"]
    assert host.addresses("ovirtmgmt") == {"10.252.0.1/24"}

    net = str(uuid.uuid4())
    brq = linux_net.brq_name(net)
    sh("ip", "-n", host.netns, "link", "add", brq, "type", "bridge")
    with pytest.raises(PlugFailed, match=f"device {brq} \\(bridge\\) exists and was not created by Neutrino"):
        agent.vms.create_vm(VmSpec.model_validate({"vm_id": "b", "name": "b", "nics": [nic(2, net)]}))
    sh("ip", "-n", host.netns, "link", "del", brq)
    agent.vms.create_vm(VmSpec.model_validate({"vm_id": "b", "name": "b", "nics": [nic(2, net)]}))
    mine = links(host.netns)
    assert (
        mine[brq].get("ifalias") == linux_net.OWNER_MARK
        and mine["vxlan-7"].get("ifalias") == linux_net.OWNER_MARK
    )
    agent.vms.destroy_vm("b")
    assert {n for n in links(host.netns) if n != "lo"} == {"ovirtmgmt", "uplink", "uplink-p"}
    assert linux_net.bridge_ports(host, "ovirtmgmt") == ["uplink"]
