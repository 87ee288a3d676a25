"""The vNIC drivers on the in-memory host model, and their registration by entry point."""

from __future__ import annotations

from typing import Any

import pytest

from neutrino.agent.datapath import linux_net
from neutrino.agent.datapath.firewall import Firewall
from neutrino.agent.datapath.hostnet import HostNetError, LinkInfo
from neutrino.agent.datapath.memory import MemoryNet
from neutrino.agent.vnic.base import DriverContext, Vif, VnicDriverError, available_drivers, load_drivers
from neutrino.agent.vnic.linux_bridge import LinuxBridgeDriver
from neutrino.agent.vnic.noop import NoopDriver
from neutrino.agent_api.schema import ExternalNet

from .helpers import NET_A, ext_nic


def vif(n: int = 1, **external: Any) -> Vif:
    spec = ext_nic(n, **external)
    net = ExternalNet.model_validate(spec["external"])
    return Vif(
        nic_id=spec["nic_id"], mac=spec["mac"], mtu=None, device=linux_net.tap_name(net.vnic_id), net=net
    )


def lb(net: MemoryNet, **ctx: Any) -> LinuxBridgeDriver:
    return LinuxBridgeDriver(
        DriverContext(host_net=net, tunnel_ip="192.0.2.1", vxlan_peers=("192.0.2.2",), **ctx)
    )


def test_both_drivers_are_registered_by_entry_point() -> None:
    drivers = available_drivers()
    assert drivers["noop"] is NoopDriver
    assert drivers["linux_bridge"] is LinuxBridgeDriver


def test_load_drivers_shares_one_instance_per_driver_and_rejects_unknown_names() -> None:
    ctx = DriverContext(host_net=MemoryNet())
    loaded = load_drivers({"LINUX_BRIDGE": "noop", "OPEN_VSWITCH": "noop"}, ctx)
    assert loaded["LINUX_BRIDGE"] is loaded["OPEN_VSWITCH"]
    with pytest.raises(VnicDriverError, match="unknown vNIC driver 'nope'"):
        load_drivers({"LINUX_BRIDGE": "nope"}, ctx)


def test_noop_records_the_plug_and_touches_nothing() -> None:
    net = MemoryNet()
    driver = NoopDriver(DriverContext(host_net=net))
    plugged = driver.plug(vif(security_groups=["sg-1"]))
    driver.unplug(vif(), network_in_use=False)
    assert net.world.calls == 0
    assert plugged.security_groups == ["sg-1"]
    assert driver.describe().security_groups is True


def test_linux_bridge_advertises_vxlan_and_flat_but_not_vlan() -> None:
    info = lb(MemoryNet()).describe()
    assert info.plugin_types == ("LINUX_BRIDGE",)
    assert {"vxlan", "flat"} <= set(info.network_types) and "vlan" not in info.network_types
    assert info.security_groups is False  # no firewall in its context
    net = MemoryNet()
    assert lb(net, firewall=Firewall(net)).describe().security_groups is True


def test_linux_bridge_plugs_a_vxlan_vnic_onto_brq_with_flood_entries() -> None:
    net = MemoryNet()
    v = vif(tunnel_peers=["192.0.2.3", "192.0.2.1"])
    net.add_veth(v.device, "guest-end")
    plugged = lb(net).plug(v)
    bridge = linux_net.brq_name(NET_A)
    assert plugged.bridge == bridge and plugged.device == v.device
    assert net.link(bridge).mtu == 1450  # type: ignore[union-attr]
    vx = net.link("vxlan-100")
    assert vx is not None and (vx.vxlan_id, vx.vxlan_local, vx.master, vx.up) == (
        100,
        "192.0.2.1",
        bridge,
        True,
    )
    assert net.flood_entries("vxlan-100") == {"192.0.2.2", "192.0.2.3"}  # never toward itself
    tap = net.link(v.device)
    assert tap is not None and (tap.master, tap.up, tap.mtu) == (bridge, True, 1450)


def test_replugging_changes_nothing() -> None:
    net = MemoryNet()
    v = vif()
    net.add_veth(v.device, "guest-end")
    driver = lb(net)
    first = driver.plug(v)
    calls = net.world.calls
    assert driver.plug(v) == first
    assert net.world.calls == calls


class ReadCounting(MemoryNet):
    """The in-memory host, counting the devices it is asked about."""

    reads = 0

    def link(self, name: str) -> LinkInfo | None:
        self.reads += 1
        return super().link(name)


@pytest.mark.parametrize(
    "external",
    [{}, {"network_type": "flat", "segmentation_id": None, "physical_network": "phys"}],
    ids=["vxlan", "flat"],
)
def test_within_one_pass_a_networks_devices_are_ensured_once(external: dict[str, Any]) -> None:
    net = ReadCounting()
    net.add_veth("eth9", "eth9-peer")
    driver = lb(net, physical_interfaces={"phys": "eth9"})
    first, second = vif(1, **external), vif(2, **external)
    with linux_net.one_pass():
        driver.plug(first)
        before = net.reads
        plugged = driver.plug(
            second
        )  # the DHCP port after the guest's vNIC, say: only its own device is read
        assert net.reads - before == 1 and plugged.bridge == linux_net.brq_name(NET_A)
    bridge = plugged.bridge or ""
    net.delete_link(bridge)  # outside a pass every plug ensures the network's devices again
    driver.plug(second)
    assert net.link(bridge) is not None
    with linux_net.one_pass():  # a new pass ensures them again too
        before = net.reads
        driver.plug(second)
        assert net.reads - before > 1


def test_a_failed_ensure_is_not_taken_as_done_in_its_pass() -> None:
    tries: list[int] = []

    def fails_once() -> None:
        tries.append(1)
        if len(tries) == 1:
            raise HostNetError("no")

    with linux_net.one_pass():
        with pytest.raises(HostNetError):
            linux_net.once_per_pass("key", fails_once)
        linux_net.once_per_pass("key", fails_once)
        linux_net.once_per_pass("key", fails_once)
    assert len(tries) == 2


def test_a_tap_that_does_not_exist_yet_is_left_to_the_vm_backend() -> None:
    net = MemoryNet()
    plugged = lb(net).plug(vif())
    assert net.link(plugged.bridge or "") is not None
    assert net.link(plugged.device or "") is None


def test_unplugging_keeps_a_network_in_use_and_removes_the_last_one() -> None:
    net = MemoryNet()
    driver = lb(net)
    one, two = vif(1), vif(2)
    for v in (one, two):
        net.add_veth(v.device, f"g{v.nic_id}")
        driver.plug(v)
    driver.unplug(one, network_in_use=True)
    assert net.link(one.device).master is None  # type: ignore[union-attr]
    assert net.link("vxlan-100") is not None
    driver.unplug(two, network_in_use=False)
    assert net.link("vxlan-100") is None and net.link(linux_net.brq_name(NET_A)) is None
    driver.unplug(two, network_in_use=False)  # again: nothing left to do, no error


def test_flat_networks_use_the_mapped_host_interface_and_release_it() -> None:
    net = MemoryNet()
    net.add_veth("eth9", "eth9-peer")
    driver = lb(net, physical_interfaces={"physnet1": "eth9"})
    v = vif(network_type="flat", segmentation_id=None, physical_network="physnet1")
    plugged = driver.plug(v)
    assert net.link("eth9").master == plugged.bridge  # type: ignore[union-attr]
    driver.unplug(v, network_in_use=False)
    assert net.link("eth9") is not None and net.link("eth9").master is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("external", "message"),
    [
        ({"network_type": "vlan"}, "cannot carry vlan"),
        ({"network_type": None, "segmentation_id": None}, "no known network type"),
        ({"security_groups": ["sg-1"]}, "applies no security groups"),
        ({"network_type": "flat", "physical_network": "physnet9"}, "no host interface is mapped"),
    ],
)
def test_linux_bridge_refuses_what_it_cannot_do(external: dict[str, Any], message: str) -> None:
    net = MemoryNet()
    with pytest.raises(VnicDriverError, match=message):
        lb(net).plug(vif(**external))
    assert net.links() == []


def test_an_unspecified_or_empty_group_list_is_fine_for_linux_bridge() -> None:
    net = MemoryNet()
    assert lb(net).plug(vif(security_groups=[])).security_groups == []
    assert lb(net).plug(vif(security_groups=None)).security_groups == []
