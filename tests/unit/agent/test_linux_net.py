"""The idempotent host operations, on the in-memory host model."""

from __future__ import annotations

import pytest

from neutrino.agent.datapath import linux_net
from neutrino.agent.datapath.hostnet import HostNetError, LinkChange, VxlanSpec
from neutrino.agent.datapath.memory import MemoryNet


def test_device_names_follow_neutrino_and_neutron_conventions() -> None:
    port = "0f3e2d1c-aaaa-bbbb-cccc-111122223333"
    assert linux_net.tap_name(port) == "tap0f3e2d1c-aa"
    assert linux_net.brq_name(port) == "brq0f3e2d1c-aa"
    assert linux_net.qbr_name(port) == "qbr0f3e2d1c-aa"
    assert linux_net.vxlan_name(16777215) == "vxlan-16777215"
    assert all(len(n) <= 15 for n in (linux_net.tap_name(port), linux_net.vxlan_name(16777215)))


def test_ensure_bridge_twice_changes_nothing_the_second_time() -> None:
    net = MemoryNet()
    linux_net.ensure_bridge(net, "br0", 1450)
    calls = net.world.calls
    link = linux_net.ensure_bridge(net, "br0", 1450)
    assert net.world.calls == calls
    assert (link.kind, link.mtu, link.up) == ("bridge", 1450, True)


def test_ensure_bridge_corrects_mtu_and_state() -> None:
    net = MemoryNet()
    linux_net.ensure_bridge(net, "br0")
    net.set_link("br0", LinkChange(mtu=9000, up=False))
    link = linux_net.ensure_bridge(net, "br0", 1400)
    assert (link.mtu, link.up, link.alias) == (1400, True, linux_net.OWNER_MARK)
    assert net.link("br0") == link  # what it returns is what the host has


def test_ensure_bridge_refuses_a_device_of_another_kind() -> None:
    net = MemoryNet()
    linux_net.ensure_veth(net, "br0", "peer0", None)
    with pytest.raises(HostNetError, match="not a bridge"):
        linux_net.ensure_bridge(net, "br0")


def test_what_the_agent_did_not_create_it_neither_adopts_nor_deletes() -> None:
    net = MemoryNet()
    net.add_bridge("ovirtmgmt", 1500)  # a host admin's bridge: no mark
    net.add_vxlan("vx", VxlanSpec(vni=5, local=None))
    net.add_veth("tapx", "eth0")
    calls = net.world.calls
    with pytest.raises(linux_net.ForeignDevice, match="device ovirtmgmt .* not created by Neutrino"):
        linux_net.ensure_bridge(net, "ovirtmgmt", 1400)
    with pytest.raises(linux_net.ForeignDevice, match="device vx "):
        linux_net.ensure_vxlan(net, "vx", VxlanSpec(vni=6, local=None))
    with pytest.raises(linux_net.ForeignDevice, match="device tapx "):
        linux_net.ensure_veth(net, "tapx", "eth1", None)
    for name in ("ovirtmgmt", "vx", "tapx"):
        linux_net.delete_link(net, name)
    assert net.world.calls == calls  # nothing changed, nothing deleted
    link = net.link("ovirtmgmt")
    assert link is not None and (link.mtu, link.up) == (1500, False)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "1 to 15 characters"),
        ("a" * 16, "1 to 15 characters"),
        ("br 0", "only letters"),
        ("br/0", "only letters"),
        ("br;rm", "only letters"),
        ("..", "only letters"),
        ("brü", "only letters"),
    ],
)
def test_device_names_are_checked_before_reaching_the_kernel(name: str, problem: str) -> None:
    assert problem in (linux_net.device_name_problem(name) or "")
    with pytest.raises(HostNetError, match="invalid device name"):
        linux_net.ensure_bridge(MemoryNet(), name)


def test_valid_device_names() -> None:
    assert [linux_net.device_name_problem(n) for n in ("ovirtmgmt", "br-int", "a.b_c", "x" * 15)] == [
        None
    ] * 4


def test_ensure_vxlan_recreates_a_device_with_another_vni() -> None:
    net = MemoryNet()
    linux_net.ensure_bridge(net, "br0")
    linux_net.ensure_vxlan(net, "vx", VxlanSpec(vni=5, local="192.0.2.1"), "br0")
    link = linux_net.ensure_vxlan(net, "vx", VxlanSpec(vni=6, local="192.0.2.1"), "br0")
    assert (link.vxlan_id, link.master, link.up) == (6, "br0", True)
    assert net.link("vx") == link
    calls = net.world.calls
    linux_net.ensure_vxlan(net, "vx", VxlanSpec(vni=6, local="192.0.2.1"), "br0")
    assert net.world.calls == calls


def test_flood_entries_are_added_once_and_pruned_only_when_exclusive() -> None:
    net = MemoryNet()
    linux_net.ensure_vxlan(net, "vx", VxlanSpec(vni=5, local=None))
    linux_net.ensure_flood_entries(net, "vx", ["192.0.2.2", "192.0.2.3"])
    calls = net.world.calls
    linux_net.ensure_flood_entries(net, "vx", ["192.0.2.3", "192.0.2.2"])
    assert net.world.calls == calls
    linux_net.ensure_flood_entries(net, "vx", ["192.0.2.2"])
    assert net.flood_entries("vx") == {"192.0.2.2", "192.0.2.3"}
    linux_net.ensure_flood_entries(net, "vx", ["192.0.2.2"], exclusive=True)
    assert net.flood_entries("vx") == {"192.0.2.2"}


def test_delete_of_what_is_gone_is_a_no_op() -> None:
    net = MemoryNet()
    linux_net.delete_link(net, "nothing")
    linux_net.delete_netns(net, "nothing")
    linux_net.ensure_detached(net, "nothing")
    assert net.world.calls == 0


def test_ensure_veth_puts_the_peer_in_the_guest_and_recreates_a_half_pair() -> None:
    net = MemoryNet()
    linux_net.ensure_netns(net, "guest")
    linux_net.ensure_veth(net, "tapx", "eth0", "guest")
    calls = net.world.calls
    linux_net.ensure_veth(net, "tapx", "eth0", "guest")
    assert net.world.calls == calls
    guest = net.in_netns("guest")
    assert guest.link("eth0") is not None
    guest.delete_link("eth0")  # deleting one end deletes the pair
    assert net.link("tapx") is None
    linux_net.ensure_veth(net, "tapx", "eth0", "guest")
    assert guest.link("eth0") is not None and net.link("tapx") is not None


def test_deleting_a_namespace_takes_the_host_end_of_its_veths() -> None:
    net = MemoryNet()
    linux_net.ensure_netns(net, "guest")
    linux_net.ensure_veth(net, "tapx", "eth0", "guest")
    linux_net.delete_netns(net, "guest")
    assert net.link("tapx") is None


def test_names_longer_than_the_kernel_allows_are_refused() -> None:
    with pytest.raises(HostNetError, match="invalid device name"):
        linux_net.ensure_bridge(MemoryNet(), "a-very-long-bridge-name")


def test_bridge_ports_lists_the_enslaved_devices() -> None:
    net = MemoryNet()
    linux_net.ensure_bridge(net, "br0")
    net.add_veth("a", "a-peer")
    linux_net.ensure_link_state(net, "a", master="br0")
    assert linux_net.bridge_ports(net, "br0") == ["a"]
    linux_net.ensure_detached(net, "a")
    assert linux_net.bridge_ports(net, "br0") == []
