"""``bench/datapath_throughput.py`` once at its smallest (one short iperf3 test per path), so it keeps
working; its figures (ratios to a plain veth pair) are printed at full size by hand, not asserted here."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import _require
from tests.support.netlab import netns_names, root_reason

pytestmark = pytest.mark.root

ROOT = Path(__file__).resolve().parents[3]


def test_the_throughput_bench_runs_every_path() -> None:
    _require(root_reason())
    before = netns_names()
    done = subprocess.run(
        [sys.executable, "bench/datapath_throughput.py", "--seconds", "1", "--runs", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    paths = re.findall(r"^  (.+?)\s+(\d+\.\d+) Gbit/s .*x plain veth$", done.stdout, re.M)
    assert [label for label, _ in paths] == [
        "plain veth pair", "same host (bridge)", "two hosts (VXLAN)",
        "same host (bridge, security group)", "two hosts (VXLAN, security group)",
    ], done.stdout  # fmt: skip
    assert all(float(gbits) > 0 for _, gbits in paths), done.stdout
    assert netns_names() == before  # the bench's namespaces are gone with it
