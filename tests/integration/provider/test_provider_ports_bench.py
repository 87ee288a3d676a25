"""``bench/provider_ports.py`` at CI size on each backend, so it keeps working: creates at the issue's
16 clients and a list of ports carrying every extension field (the bench checks the listed body itself);
on SQLite also its baseline comparison, with this checkout standing in for the baseline. Its timing
targets are printed by the bench at full size, not asserted here."""

from __future__ import annotations

from pathlib import Path

from bench import provider_ports

import neutrino
from tests.support.databases import sqlite_url


def _sane(side: provider_ports.Side, creates: int, listed: int) -> None:
    assert side.rates[provider_ports.TARGET_CLIENTS] and all(r > 0 for r in side.rates[16])
    assert len(side.latencies[16]) == creates and all(0 < s < 60 for s in side.latencies[16])
    assert side.create_cpu and all(c >= 0 for c in side.create_cpu)
    assert side.listed == listed and len(side.lists) == 2
    assert all(0 < seconds < 60 and size > 500 * listed for seconds, size, _ in side.lists)
    # the first list after the creates, and a second provider's first on the same database
    assert side.first_list is not None and side.cold_list is not None and 0 < side.cold_list < 60


def test_the_bench_on_each_backend(database_url: str, tmp_path: Path) -> None:
    result = provider_ports.measure(
        "ci", [database_url], [tmp_path], creates=32, levels=[16], list_ports=120, rounds=1, list_calls=2
    )
    assert result.old is None
    _sane(result.new, 32, 120)
    report = "\n".join(result.report())
    assert "create_port clients=16" in report and "list_ports  all 120" in report and " cold " in report
    print(report)


def test_the_bench_against_a_baseline_checkout(tmp_path: Path) -> None:
    dirs = [tmp_path / "new", tmp_path / "baseline"]
    this_src = Path(neutrino.__file__).resolve().parents[1]
    result = provider_ports.measure(
        "ci",
        [sqlite_url(d) for d in dirs],
        dirs,
        creates=32,
        levels=[16],
        list_ports=130,  # beyond the 104 ports the creates leave, so the bench adds some with every field
        rounds=2,
        list_calls=2,
        baseline_src=this_src,
    )
    assert result.old is not None
    for side in (result.new, result.old):
        assert len(side.rates[16]) == 2
        _sane(side, 64, 130)
    assert "ratio    create_port clients=16" in "\n".join(result.report())
