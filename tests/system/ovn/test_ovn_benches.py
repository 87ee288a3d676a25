"""The OVN benches (``bench/ovn_*.py``, issue 11; ``bench/l3_routing.py --backend ovn``, issue 12) at CI
size on the session's OVN lab, so they keep working: each measures what it measures at full size and
checks its own results (every port ACTIVE and bound to the rig's chassis, every echo answered, the
northbound holding every port after the resync, every create answered 201, a floating IP reached and
TCP through the router). Their timing targets are printed by the benches at full size on a quiet
machine, not asserted here."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from pathlib import Path

import pytest
from bench import l3_routing, ovn_first_ping, ovn_nb_resync, ovn_port_creates, ovn_ports_at_scale
from bench.ovn_rig import ovn_rig
from bench.ovn_routed import ovn_routed

from tests.support.netlab import Lab
from tests.support.ovn_lab import OvnLab

pytestmark = pytest.mark.root


def nothing_left(ovn_lab: OvnLab, hosts: AbstractSet[str] = frozenset()) -> None:
    """The provider's rows gone from the northbound, the rig's chassis from the southbound."""
    assert not [s for s in ovn_lab.nbctl("--bare", "--columns=name", "list", "Logical_Switch").split()
                if s.startswith("neutron-")]  # fmt: skip
    assert not hosts & ovn_lab.sb_chassis()


def test_first_ping_and_ports_at_scale_on_two_chassis(ovn_lab: OvnLab, lab: Lab, tmp_path: Path) -> None:
    with ovn_rig(ovn_lab, lab, tmp_path) as rig:
        hosts = set(rig.hosts)
        pings = ovn_first_ping.measure(rig, runs=3)
        scale = ovn_ports_at_scale.measure(rig, ports=32, concurrency=16, stages=True)
    assert len(pings.samples) == 3
    assert all(0 < s.api < s.ping and s.active > 0 for s in pings.samples)
    assert "median / target 250 ms" in pings.report()
    assert len(scale.samples) == 32
    assert all(0 < s.api < s.active for s in scale.samples)
    assert "p95 / target 500 ms" in scale.report()
    # every port seen at every stage by the monitors (--stages)
    for stage in (
        "NB LSP inserted",
        "SB Port_Binding made",
        "OVS ofport set",
        "SB chassis claimed",
        "NB LSP up",
    ):
        (line,) = [x for x in scale.stages.splitlines() if x.strip().startswith(stage)]
        assert line.endswith("n 32"), line
    print(pings.report(), scale.report(), sep="\n")
    nothing_left(ovn_lab, hosts)


def test_full_northbound_resync(ovn_lab: OvnLab, tmp_path: Path) -> None:
    # the counts below are of a resync from nothing: a row a stopping provider of an earlier test wrote after
    # its test's cleanup (its drop group, once, in a loaded run) would be found, not created
    ovn_lab.forget_neutron()
    result = ovn_nb_resync.run(ovn_lab, tmp_path, ports=200)  # checks the northbound with ovn-nbctl
    assert result.repaired["port created"] == 200
    assert result.repaired["port_group created"] == 2
    print(result.report())
    nothing_left(ovn_lab)


def test_port_creates_ovn_against_builtin(ovn_lab: OvnLab, tmp_path: Path) -> None:
    result = ovn_port_creates.run(ovn_lab, tmp_path, creates=30)
    assert len(result.builtin.latencies) == len(result.ovn.latencies) == 30
    assert result.ratio > 0
    print(result.report())
    nothing_left(ovn_lab)


def test_l3_routing_on_ovn(ovn_lab: OvnLab, lab: Lab, tmp_path: Path) -> None:
    with ovn_routed(ovn_lab, lab, tmp_path) as site:
        result = l3_routing.measure(site, runs=3, seconds=1, tcp_runs=1, outside_arp_ms=20)
    assert len(result["fip_associate_to_reachable_ms"]["runs"]) == 3
    assert result["tcp_gbps"]["routed_median"] > 0 and result["tcp_gbps"]["same_network_median"] > 0
    assert len(result["router_host"]) == 1 and result["router_host"][0] in site.rig.hosts
    print(result)
    nothing_left(ovn_lab)
