"""The import and scale benches (bench/engine_import_networks.py, bench/engine_scale.py) at CI size, so they
cannot rot: each runs once small and must produce sane figures. Their targets (issue 17) are the full-size
benches' business, not asserted here; the counts are, since they do not depend on the machine's load."""

from __future__ import annotations

from bench.engine_import_networks import measure as measure_import
from bench.engine_scale import measure as measure_scale
from bench.engine_scale import report


def test_import_bench_at_ci_size() -> None:
    result = measure_import(networks=40)
    print(result.report())
    assert result.networks == 40
    assert min(result.discover, result.imported, result.baseline) > 0
    # the discovery's list (and the engine's Keystone token) are the only provider calls: each import reads the
    # network from that listing
    assert result.provider_calls <= 2, result.report()
    # a read transaction (BEGIN, the provider) and a write one (BEGIN, the data center, the network, its profile,
    # the event: the unique constraints are the checks) per import, plus the discovery's few
    assert result.statements <= 7 * 40 + 10, result.report()


def test_scale_bench_at_ci_size() -> None:
    result = measure_scale(vms=24, parallel=4, agents=2, window=8)
    print(report(result))
    assert [w.vms for w in result.windows] == [8, 8, 8]
    assert all(w.rate > 0 and 0 < w.p50 <= w.p95 for w in result.windows)
    # the same SQL work per VM in every window after the first (which may also fetch a Keystone token); the
    # provider's count also holds requests that are not a run's (the agents' reports and change feed, a token
    # renewed), which land in one window or the next, so it is held to the full bench's flatness bound
    statements = [w.statements for w in result.windows[1:]]
    assert max(statements) - min(statements) <= 2, report(result)
    calls = [w.provider_calls for w in result.windows[1:]]
    assert max(calls) <= 1.2 * min(calls), report(result)
    # at least one find for the VM's vNICs and a create per vNIC (runs started together share their read of the
    # networks: commands.listings.NetworkReads)
    assert all(w.calls_per_vm >= 3 for w in result.windows)
