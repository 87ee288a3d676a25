"""Connection tracking zones per network: allocation, the raw table, and the firewall keeping them
(through the in-memory host)."""

from __future__ import annotations

import pytest

from neutrino.agent.datapath import conntrack_zones, linux_net
from neutrino.agent.datapath.conntrack_zones import FIRST_ZONE, ZonesExhausted, assign_zones, render_zones
from neutrino.agent.datapath.firewall import Firewall
from neutrino.agent.datapath.hostnet import HostNetError
from neutrino.agent.datapath.memory import MemoryNet
from neutrino.agent.vnic.base import DriverContext, Vif
from neutrino.agent.vnic.linux_bridge import LinuxBridgeDriver
from neutrino.agent_api.schema import ExternalNet, SecurityGroupRule, SecurityGroupSpec

from .helpers import NET_A, NET_B, ext_nic

OPEN = SecurityGroupSpec(rules=[SecurityGroupRule(direction="egress")])
MAC = "56:6f:1a:2b:3c:01"


def test_a_network_keeps_its_zone_and_a_new_one_takes_the_lowest_free() -> None:
    assert assign_zones(["b", "a"], {}) == {"a": FIRST_ZONE, "b": FIRST_ZONE + 1}
    assert assign_zones(["b", "c"], {"a": FIRST_ZONE, "b": FIRST_ZONE + 1}) == {
        "b": FIRST_ZONE + 1,
        "c": FIRST_ZONE,
    }


def test_no_free_zone_is_a_clear_error() -> None:
    every = {f"n{z}": z for z in range(FIRST_ZONE, conntrack_zones.LAST_ZONE + 1)}
    with pytest.raises(ZonesExhausted, match="no connection tracking zone is free for network new"):
        assign_zones([*every, "new"], every)


def test_the_raw_chain_zones_each_bridge_and_reads_back() -> None:
    lines, digest = render_zones(
        {"brqa": "net-a", "qbr1": "net-b", "qbr2": "net-b"}, {"net-a": 4097, "net-b": 4098}
    )
    assert lines[1:] == [
        '-A neutrino-ct -i brqa -m comment --comment "nz:net-a" -j CT --zone 4097',
        '-A neutrino-ct -i qbr1 -m comment --comment "nz:net-b" -j CT --zone 4098',
        '-A neutrino-ct -i qbr2 -m comment --comment "nz:net-b" -j CT --zone 4098',
    ]
    text = conntrack_zones.restore_text(lines, digest, "*raw\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n")
    assert text is not None and "-I PREROUTING 1 -j neutrino-ct" in text
    assert conntrack_zones.zones_in(text) == {"net-a": 4097, "net-b": 4098}
    saved = text.replace("-I PREROUTING 1", "-A PREROUTING")  # as iptables-save shows it
    assert conntrack_zones.restore_text(lines, digest, saved) is None


def _firewall(net: MemoryNet) -> Firewall:
    fw = Firewall(net)
    fw.groups = {"open": OPEN}
    return fw


def test_each_network_gets_its_own_zone_on_its_bridge_in_both_families() -> None:
    net = MemoryNet()
    fw = _firewall(net)
    fw.set_port("tapa1", MAC, ["open"], NET_A, bridge="brqa")
    fw.set_port("tapa2", MAC, ["open"], NET_A, bridge="brqa")
    fw.set_port("tapb1", MAC, ["open"], NET_B, bridge="brqb")
    for version in (4, 6):
        saved = net.raw_save(version)
        assert "-A PREROUTING -j neutrino-ct" in saved
        assert conntrack_zones.zones_in(saved) == {NET_A: FIRST_ZONE, NET_B: FIRST_ZONE + 1}
        assert saved.count("-j CT --zone") == 2  # one rule per bridge, not per port


def test_a_restarted_agent_reads_the_zones_back_and_changes_nothing() -> None:
    net = MemoryNet()
    fw = _firewall(net)
    fw.set_port("tapb1", MAC, ["open"], NET_B, bridge="brqb")
    fw.set_port("tapa1", MAC, ["open"], NET_A, bridge="brqa")
    fw.set_port("tapb1", MAC, [])  # B gives its zone up; A keeps the second one
    calls = net.world.calls
    again = _firewall(net)
    again.ports = dict(fw.ports)
    again.apply()
    assert net.world.calls == calls
    assert again.zones == {NET_A: FIRST_ZONE + 1}


def test_a_zone_given_up_loses_its_tracked_connections() -> None:
    net = MemoryNet()
    fw = _firewall(net)
    fw.set_port("tapa1", MAC, ["open"], NET_A, bridge="brqa")
    fw.set_port("tapb1", MAC, ["open"], NET_B, bridge="brqb")
    fw.set_port("tapa1", MAC, [])
    assert net.world.forgotten_zones == [(None, FIRST_ZONE)]
    fw.set_port("tapb1", MAC, [])
    assert net.world.forgotten_zones == [(None, FIRST_ZONE), (None, FIRST_ZONE + 1)]
    assert "-j CT" not in net.raw_save(4) and "-j CT" not in net.raw_save(6)


def test_a_host_that_never_filtered_keeps_its_raw_table() -> None:
    net = MemoryNet()
    _firewall(net).apply()
    assert net.world.raw == {4: {}, 6: {}} and net.world.calls == 0


def test_the_linux_bridge_driver_zones_the_networks_bridge() -> None:
    net = MemoryNet()
    fw = _firewall(net)
    driver = LinuxBridgeDriver(DriverContext(host_net=net, tunnel_ip="192.0.2.1", firewall=fw))
    spec = ext_nic(1, security_groups=["open"])
    ext = ExternalNet.model_validate(spec["external"])
    driver.plug(Vif(nic_id="n", mac=spec["mac"], mtu=None, device=linux_net.tap_name(ext.vnic_id), net=ext))
    assert f"-i {linux_net.brq_name(NET_A)} " in net.raw_save(4)


def test_a_zone_whose_release_was_not_written_is_released_at_the_next_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    net = MemoryNet()
    fw = _firewall(net)
    fw.set_port("tapa1", MAC, ["open"], NET_A, bridge="brqa")
    fw.set_port("tapb1", MAC, ["open"], NET_B, bridge="brqb")
    written = net.restore_tables

    def refused(texts: object) -> None:
        raise HostNetError("iptables-restore: the table is locked")

    monkeypatch.setattr(net, "restore_tables", refused)
    with pytest.raises(HostNetError):
        fw.set_port("tapa1", MAC, [])  # A's zone is given up, but the tables are not written
    assert net.world.forgotten_zones == []
    monkeypatch.setattr(net, "restore_tables", written)
    fw.apply()
    assert net.world.forgotten_zones == [(None, FIRST_ZONE)]  # released once the tables say so
