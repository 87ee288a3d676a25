"""The topology bench (bench/ui_topology.py) at CI size: a seeded `neutrino up` of 20 VMs, 4 networks and 2 hosts
in Debian's chromium (--disable-gpu). The figures are printed (see them with -s). The picture's own targets of the
full-size bench are checked with twice the slack, since CI shares its two cores: navigation -> layout done
< 1 s, a pan or zoom frame < 100 ms, a click -> its page < 300 ms for a network's node (a light page). A VM
node's click must open its page too, but its time is mostly the Virtual Machines view's own (the bench prints
it as "VM page alone"), so it is reported, not held to the picture's target here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.ui_topology import TARGETS_MS, run

SLACK = 2.0


def test_topology_bench_at_ci_size(tmp_path: Path, browser: Any) -> None:
    fig = run(vms=20, networks=4, hosts=2, repeat=1, directory=tmp_path, browser=browser)
    print(fig.report())
    assert fig.elements > 20 + 40 + 4  # VMs, vNICs, networks (and their edges and host boxes)
    assert all(v > 0 for v in fig.navigation + fig.click_vm + fig.click_network + fig.vm_page)
    own = {
        "navigation": max(fig.navigation),
        "frame": max(fig.zoom_frame + fig.pan_frame + fig.settle_frame),
        "click": max(fig.click_network),
    }
    late = {k: round(v) for k, v in own.items() if v >= SLACK * TARGETS_MS[k]}
    assert not late, f"{late} (ms) against targets {TARGETS_MS} x {SLACK}:\n{fig.report()}"
