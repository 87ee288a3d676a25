"""``bench/agent_feed.py sim`` at CI size (10 simulated agents, a few seconds per phase): the bench runs
and measures what it says; the figures themselves are the full run's to report."""

from __future__ import annotations

import argparse
from pathlib import Path


def test_the_agent_feed_bench_runs_at_ci_size(tmp_path: Path) -> None:
    from bench.agent_feed import run_sim

    args = argparse.Namespace(
        agents=10,
        idle=3,
        warmup=1,
        changes=1,
        feed_wait=5,
        resync=1,  # resyncs within the idle seconds: each one request while nothing is written
        heartbeat=30,
        list_samples=5,
        rounds=1,
        shared_client=False,
    )
    result = run_sim(args, tmp_path)
    summary = result["summary"]
    for mode in ("feed", "poll"):
        [phase] = result[mode]
        assert [r["reached"] for r in phase["rule_reach"]] == [10]  # every agent read the new rule
        assert 0 < phase["list_networks_ms"]["median"] <= phase["list_networks_ms"]["max"]
    # polling reads 5 times per agent every 2 s; the feed renews each agent's wait every 5 s here
    assert 0 <= summary["feed"]["idle_requests_per_s"] < summary["poll"]["idle_requests_per_s"]
    assert result["feed"][0]["rule_reach"][0]["feed_told_all_s"] is not None  # the feed named it to all
    # idle, the agents following the feed asked only the feed (their long polls, their resyncs'
    # state) and the agents (the reporter's resync): no full round, nothing was written
    idle = result["feed"][0]["idle"]["requests_per_s_by_path"]
    assert idle.get("GET /v2.0/changes (at once)", 0) > 0, idle
    assert set(idle) <= {"GET /v2.0/changes (at once)", "GET /v2.0/changes (timed out)", "GET /v2.0/agents"}
    print(summary)
