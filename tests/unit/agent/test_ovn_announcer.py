"""The NAT announcer's decisions (which addresses this chassis announces, when, in what frame); the
real southbound and wire are exercised by ``tests/system/ovn/test_ovn_routing.py``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from neutrino.agent.datapath.vswitch import MemoryOvsDb
from neutrino.agent.ovn_announcer import (
    Announcement,
    BindingView,
    NatAnnouncer,
    garp_frame,
    parse_nat_addresses,
    resident_announcements,
)
from neutrino.agent.ovn_chassis import OvnChassis, OvnConfig

from .test_ovn_chassis import FakeLauncher

MAC = "fa:16:3e:00:00:01"
CR = "cr-lrp-r1"


def test_a_nat_addresses_entry_gives_its_mac_ipv4_addresses_and_resident_port() -> None:
    entry = f'{MAC} 203.0.113.10 203.0.113.11 2001:db8::5 is_chassis_resident("{CR}")'
    assert parse_nat_addresses(entry) == (MAC, ["203.0.113.10", "203.0.113.11"], CR)
    assert parse_nat_addresses(f"{MAC} 198.51.100.7") == (MAC, ["198.51.100.7"], None)
    with pytest.raises(ValueError):
        parse_nat_addresses("  ")
    with pytest.raises(ValueError):
        parse_nat_addresses(f"{MAC} not-an-address")


def bindings(chassis: str | None, tag: int | None = None, network: str = "physnet1") -> list[BindingView]:
    return [
        BindingView("provnet-1", "localnet", None, "dp-ext", network_name=network, tag=tag),
        BindingView(CR, "chassisredirect", chassis, "dp-router"),
        BindingView("lsp-gw", "patch", None, "dp-ext",
                    nat_addresses=(f'{MAC} 203.0.113.10 203.0.113.11 is_chassis_resident("{CR}")',)),
        BindingView("vm-port", "", chassis, "dp-ext"),
    ]  # fmt: skip


def test_only_the_chassis_holding_the_gateway_announces_on_the_mapped_bridge() -> None:
    mappings = {"physnet1": "br-prov"}
    here = resident_announcements("ch1", bindings("ch1", tag=42), mappings)
    assert here == {
        Announcement("br-prov", 42, MAC, "203.0.113.10"),
        Announcement("br-prov", 42, MAC, "203.0.113.11"),
    }
    assert resident_announcements("ch2", bindings("ch1"), mappings) == set()  # bound elsewhere
    assert resident_announcements("ch1", bindings(None), mappings) == set()  # not bound yet
    assert resident_announcements("ch1", bindings("ch1", network="physnet9"), mappings) == set()  # unmapped


def test_a_gratuitous_arp_is_a_broadcast_request_whose_sender_and_target_are_the_address() -> None:
    frame = garp_frame(MAC, "203.0.113.11")
    mac, ip = bytes.fromhex(MAC.replace(":", "")), bytes([203, 0, 113, 11])
    assert (
        len(frame) == 60 and frame[:6] == b"\xff" * 6 and frame[6:12] == mac and frame[12:14] == b"\x08\x06"
    )
    arp = frame[14:42]
    assert arp[6:8] == b"\x00\x01"  # a request
    assert (arp[8:14], arp[14:18], arp[18:24], arp[24:28]) == (mac, ip, b"\x00" * 6, ip)
    with pytest.raises(ValueError):
        garp_frame("fa:16:3e", "203.0.113.11")


def config(tmp_path: Path) -> OvnConfig:
    return OvnConfig(system_id="ch1", remote="tcp:192.0.2.10:6642", encap_ip="192.0.2.11", run_dir=tmp_path)


def test_each_address_is_announced_once_when_it_arrives_and_again_if_it_comes_back(tmp_path: Path) -> None:
    sent: list[list[Announcement]] = []

    def send(todo: Iterable[Announcement]) -> None:
        sent.append(list(todo))

    gw, fip = (
        Announcement("br-prov", None, MAC, "203.0.113.10"),
        Announcement("br-prov", None, MAC, "203.0.113.11"),
    )
    announcer = NatAnnouncer(config(tmp_path), send=send)
    announcer.update({gw})
    announcer.update({gw, fip})
    announcer.update({gw, fip})  # nothing new: nothing sent
    announcer.update({gw})  # the floating IP disassociated
    announcer.update({gw, fip})  # and associated again
    assert sent == [[gw], [fip], [fip]]


def test_an_announcement_that_fails_is_logged_and_the_announcer_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tries: list[list[Announcement]] = []

    def send(todo: Iterable[Announcement]) -> None:
        tries.append(list(todo))
        if len(tries) == 1:
            raise OSError("ovs-ofctl: no such bridge")

    fip = Announcement("br-prov", None, MAC, "203.0.113.11")
    announcer = NatAnnouncer(config(tmp_path), send=send)
    announcer.update({fip})
    assert "cannot announce 203.0.113.11" in caplog.text
    announcer.update({fip})  # the next change of the southbound: what failed is sent again
    assert tries == [[fip], [fip]]
    announcer.update({fip})
    assert len(tries) == 2


class FakeAnnouncer:
    def __init__(self) -> None:
        self.running = False

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False


def test_the_announcer_runs_while_the_chassis_does(tmp_path: Path) -> None:
    announcer = FakeAnnouncer()
    chassis = OvnChassis(config(tmp_path), MemoryOvsDb(), FakeLauncher(), interval=3600, announcer=announcer)
    chassis.start()
    assert announcer.running
    chassis.stop()
    assert not announcer.running
