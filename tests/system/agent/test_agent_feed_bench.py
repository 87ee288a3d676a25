"""``bench/agent_feed.py cli`` at CI size (2 rounds): a rule made with the ``openstack`` CLI reaches the
iptables of a host whose agent follows the change feed and of one whose agent polls; the figures
themselves are the full run's to report."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import _require
from tests.support.netlab import root_reason
from tests.support.provider_lab import openstack_reason

pytestmark = pytest.mark.root


def test_the_agent_feed_cli_bench_runs_at_ci_size(tmp_path: Path) -> None:
    _require(root_reason())
    _require(None if shutil.which("iptables-save") else "iptables missing (Debian iptables)")
    _require(openstack_reason())
    from bench.agent_feed import run_cli

    result = run_cli(2, tmp_path)
    for key in ("h1_feed", "h2_poll"):
        runs = result["cli_return_to_iptables"][key]["runs"]
        assert len(runs) == 2 and all(0 <= r < 30 for r in runs)
    print(result)
