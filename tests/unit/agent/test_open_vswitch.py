"""The open_vswitch vNIC driver on the in-memory host and OVSDB."""

from __future__ import annotations

from typing import Any

import pytest

from neutrino.agent.datapath import linux_net
from neutrino.agent.datapath.firewall import Firewall
from neutrino.agent.datapath.memory import MemoryNet
from neutrino.agent.datapath.vswitch import MemoryOvsDb, OvsPort
from neutrino.agent.vnic.base import DriverContext, Vif, VnicDriverError
from neutrino.agent.vnic.open_vswitch import NotOurs, OpenVSwitchDriver, local_vlan
from neutrino.agent_api.schema import ExternalNet, SecurityGroupSpec

from .helpers import NET_A, NET_B, ext_nic


def vif(n: int, **external: Any) -> Vif:
    spec = ext_nic(n, plugin_type="OPEN_VSWITCH", **external)
    net = ExternalNet.model_validate(spec["external"])
    return Vif(
        nic_id=spec["nic_id"], mac=spec["mac"], mtu=None, device=linux_net.tap_name(net.vnic_id), net=net
    )


@pytest.fixture
def setup() -> tuple[OpenVSwitchDriver, MemoryNet, MemoryOvsDb]:
    net, ovs = MemoryNet(), MemoryOvsDb()
    ctx = DriverContext(
        host_net=net, tunnel_ip="192.0.2.1", vxlan_peers=("192.0.2.2",), ovs=ovs, ovs_datapath_type="netdev"
    )
    return OpenVSwitchDriver(ctx), net, ovs


def test_local_vlans_are_per_network_and_reused() -> None:
    ports = [
        OvsPort("a", "br-int", 1, {"neutrino-net": "n1"}),
        OvsPort("b", "br-int", 3, {"neutrino-net": "n3"}),
    ]
    assert local_vlan(ports, "n1") == 1
    assert local_vlan(ports, "n2") == 2
    assert local_vlan([], "n1") == 1


def test_vnics_join_br_int_tagged_per_network_with_iface_id(setup: Any) -> None:
    driver, net, ovs = setup
    one, two, other = vif(1), vif(2), vif(3, network_id=NET_B, segmentation_id=200)
    plugged = [driver.plug(v) for v in (one, two, other)]
    assert ovs.datapath_types["br-int"] == "netdev"
    ports = {p.name: p for p in ovs.ports("br-int")}
    assert ports[one.device].tag == ports[two.device].tag == ports["vxlan-100"].tag == 1
    assert ports[other.device].tag == ports["vxlan-200"].tag == 2
    assert ports[one.device].external_ids["iface-id"] == one.net.vnic_id
    assert ports[one.device].external_ids["attached-mac"] == one.mac
    assert plugged[0].bridge == "br-int" and plugged[0].details["tag"] == 1
    assert net.flood_entries("vxlan-100") == {"192.0.2.2"}
    assert net.link("vxlan-100").master is None


def test_replugging_changes_nothing_and_the_last_unplug_removes_the_tunnel(setup: Any) -> None:
    driver, net, ovs = setup
    one, two = vif(1), vif(2)
    driver.plug(one)
    driver.plug(two)
    calls = (net.world.calls, ovs.calls)
    driver.plug(one)
    assert (net.world.calls, ovs.calls) == calls
    driver.unplug(one, network_in_use=True)
    assert net.link("vxlan-100") is not None
    driver.unplug(two, network_in_use=False)
    assert net.link("vxlan-100") is None and ovs.ports("br-int") == []


def test_open_vswitch_advertises_and_refuses(setup: Any) -> None:
    driver, _, _ = setup
    info = driver.describe()
    assert info.plugin_types == ("OPEN_VSWITCH",) and info.network_types == ("local", "vxlan")
    assert info.security_groups is False
    with pytest.raises(VnicDriverError, match="security groups"):
        driver.plug(vif(1, security_groups=["sg"]))
    with pytest.raises(VnicDriverError, match="cannot carry vlan"):
        driver.plug(vif(1, network_type="vlan"))
    assert NET_A  # the helpers' default network


def test_a_vnic_with_groups_gets_the_hybrid_plug() -> None:
    net, ovs = MemoryNet(), MemoryOvsDb()
    fw = Firewall(net)
    fw.groups = {"web": SecurityGroupSpec(rules=[])}
    driver = OpenVSwitchDriver(DriverContext(host_net=net, tunnel_ip="192.0.2.1", ovs=ovs, firewall=fw))
    assert driver.describe().security_groups is True
    v = vif(1, security_groups=["web"])
    port = v.net.vnic_id
    net.add_veth(v.device, "guest-end")
    plugged = driver.plug(v)
    qbr, qvb, qvo = "qbr" + port[:11], "qvb" + port[:11], "qvo" + port[:11]
    assert plugged.bridge == qbr and plugged.security_groups == ["web"]
    assert net.link(v.device).master == qbr and net.link(qvb).master == qbr  # type: ignore[union-attr]
    ports = {p.name: p for p in ovs.ports("br-int")}
    assert v.device not in ports and ports[qvo].external_ids["iface-id"] == port
    assert f"--physdev-out {v.device} --physdev-is-bridged" in net.iptables_save()
    assert f"-i {qbr} " in net.raw_save(4)  # the per-vNIC bridge is in the network's conntrack zone
    calls = (net.world.calls, ovs.calls)
    driver.plug(v)
    assert (net.world.calls, ovs.calls) == calls
    driver.unplug(v, network_in_use=False)
    assert net.link(qbr) is None and net.link(qvb) is None and net.link(qvo) is None
    assert ovs.ports("br-int") == [] and v.device not in net.iptables_save()


def test_the_integration_bridge_is_configurable() -> None:
    net, ovs = MemoryNet(), MemoryOvsDb()
    driver = OpenVSwitchDriver(DriverContext(host_net=net, ovs=ovs, integration_bridge="br-vm"))
    plugged = driver.plug(vif(1, network_type="local", segmentation_id=None))
    assert plugged.bridge == "br-vm" and [p.bridge for p in ovs.ports("br-vm")] == ["br-vm"]
    assert driver.describe().details["integration_bridge"] == "br-vm"


@pytest.mark.parametrize("datapath_type", ["netdev", None])
def test_on_the_userspace_datapath_veth_peers_complete_their_checksums(datapath_type: str | None) -> None:
    """ovs-vswitchd (netdev) forwards a veth port's frames as read: a checksum the sender left to
    offload stays incomplete and receivers drop the frame (the DHCP reply to a hybrid-plugged
    guest was dropped by conntrack as INVALID). The senders into br-int compute them instead."""
    net, ovs = MemoryNet(), MemoryOvsDb()
    fw = Firewall(net)
    fw.groups = {"web": SecurityGroupSpec(rules=[])}
    driver = OpenVSwitchDriver(
        DriverContext(host_net=net, ovs=ovs, firewall=fw, ovs_datapath_type=datapath_type)
    )
    plain, filtered = vif(1), vif(2, security_groups=["web"])
    for v, ns in ((plain, "guest-1"), (filtered, "guest-2")):
        net.add_netns(ns)
        net.add_veth(v.device, "eth0", ns)
    net.add_netns("dhcp")
    net.add_veth("dh-net-a", "eth0", "dhcp")  # a DHCP server's port: the driver plugs it like a vNIC
    server = Vif(nic_id="dhcp-net-a", mac="", mtu=None, device="dh-net-a", net=plain.net)
    for v in (plain, filtered, server):
        driver.plug(v)
    qvb = "qvb" + filtered.net.vnic_id[:11]
    userspace = datapath_type == "netdev"
    assert net.in_netns("guest-1").tx_checksum("eth0") is not userspace  # a tap on br-int: the guest's end
    assert net.in_netns("dhcp").tx_checksum("eth0") is not userspace  # dnsmasq's end
    assert net.tx_checksum(qvb) is not userspace  # the hybrid plug: qbr's end of qvb/qvo
    assert net.in_netns("guest-2").tx_checksum("eth0")  # on qbr: qvb completes what it forwards
    assert net.tx_checksum(plain.device) and net.tx_checksum(filtered.device)  # OVS sends complete frames
    calls = (net.world.calls, ovs.calls)
    for v in (plain, filtered, server):
        driver.plug(v)  # replayed after a restart: nothing changes
    assert (net.world.calls, ovs.calls) == calls


@pytest.mark.parametrize("ovn", [False, True])
def test_ports_of_someone_else_are_never_changed_or_removed(ovn: bool) -> None:
    net, ovs = MemoryNet(), MemoryOvsDb()
    ctx = DriverContext(host_net=net, tunnel_ip="192.0.2.1", vxlan_peers=("192.0.2.2",), ovs=ovs, ovn=ovn)
    driver = OpenVSwitchDriver(ctx)
    ovs.ensure_bridge("br-int")
    tunnel = {"ovn-chassis-id": "chassis-2", "ovn-chassis-ip": "192.0.2.2"}  # ovn-controller's
    ovs.ensure_port("br-int", "ovn-chassi-0", None, tunnel)
    one, two = vif(1), vif(2)
    plugged = driver.plug(one)
    ours = ovs.interface_external_ids(one.device)
    assert ours is not None and ours["neutrino-owner"] == "neutrino" and plugged.device == one.device
    # a foreign port under the name the second vNIC needs: refused naming it, left exactly as it was
    ovs.ensure_port("br-int", two.device, None, {"owner": "admin"})
    with pytest.raises(NotOurs, match=f"port {two.device} that is not Neutrino's"):
        driver.plug(two)
    driver.unplug(two, network_in_use=True)
    driver.unplug(one, network_in_use=False)
    left = {p.name: p.external_ids for p in ovs.ports("br-int")}
    assert left == {"ovn-chassi-0": tunnel, two.device: {"owner": "admin"}}


def test_ports_an_older_agent_made_are_still_its_own(setup: Any) -> None:
    driver, _, ovs = setup
    one = vif(1)
    ovs.ensure_bridge("br-int")
    ovs.ensure_port(
        "br-int", one.device, 1, {"iface-id": one.net.vnic_id, "neutrino-net": one.net.network_id}
    )
    driver.plug(one)  # adopted, and marked now
    assert ovs.interface_external_ids(one.device)["neutrino-owner"] == "neutrino"  # type: ignore[index]
    driver.unplug(one, network_in_use=False)
    assert ovs.ports("br-int") == []
