"""``bench/l3_routing.py`` at CI size (3 floating IP associations, one 1 s iperf3 test per path):
the bench runs and measures what it says; the figures themselves are the full run's to report."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import _require
from tests.support.netlab import root_reason

pytestmark = pytest.mark.root


def test_the_l3_bench_runs_at_ci_size(tmp_path: Path) -> None:
    _require(root_reason())
    _require(None if shutil.which("iperf3") and shutil.which("conntrack") else "iperf3 or conntrack missing")
    from bench.l3_routing import run

    result = run("builtin", runs=3, seconds=1, tcp_runs=1, workdir=tmp_path)
    latency = result["fip_associate_to_reachable_ms"]
    assert len(latency["runs"]) == 3 and 0 < latency["min"] <= latency["median"] <= latency["max"] < 10_000
    tcp = result["tcp_gbps"]
    assert tcp["same_network_median"] > 0 and tcp["routed_median"] > 0
    assert result["routed_to_same_network"] > 0
    print(result)
