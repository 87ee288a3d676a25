"""``bench/engine_run_vms.py`` at CI size (3 VMs, 1 agent): `neutrino up` and an agent as processes, the run,
hot-plug and stop phases each against its frozen baseline. Checks that the bench measures what it says (every
VM Up, then Down, each vNIC's port made by the engine, one time per VM per phase on each side, sane figures),
not that the engine meets its targets: the figures are the full run's to report."""

from __future__ import annotations

import math

from bench.engine_run_vms import run


def test_the_engine_run_bench_runs_at_ci_size() -> None:
    figures = run(vms=3, parallel=2, agents=1, rounds=2)
    print(figures.report())
    assert set(figures.phases) == {"run", "hot plug", "stop"}
    for phase in figures.phases.values():
        assert len(phase.engine) == len(phase.baseline) == 3, phase.name
        assert all(0 < t < 60 for t in phase.engine + phase.baseline), phase.name
        assert phase.baseline_wall > 0 and phase.engine_wall > 0, phase.name
        assert math.isfinite(phase.ratio_median) and phase.ratio_median > 0, phase.name
        assert math.isfinite(phase.ratio_total) and phase.ratio_total > 0, phase.name
    assert figures.phases["stop"].slack == 0.020
