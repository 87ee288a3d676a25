"""Fault drills in CI: five seeded drills (``drills.py``), each killing the engine, the provider or an agent during
a run, a hot-plug, a migration or a removal; all must end clean. ``NEUTRINO_DRILL_SEED`` replays another seed
(every drill prints the seed it ran with); ``bench/fault_drills.py`` runs fifty."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from tests.e2e.lifecycle.conftest import Agent
from tests.e2e.lifecycle.drills import drill_stack

DRILLS = 5
SEED = int(os.environ.get("NEUTRINO_DRILL_SEED", "1515"))


def auth(agent: Agent) -> dict[str, str]:
    return {"Authorization": f"Bearer {agent.token}"}


def test_fault_drills_end_clean(tmp_path: Path) -> None:
    print(f"fault drills: seed {SEED}")
    with drill_stack(tmp_path, SEED) as drills:
        done = [drills.drill(n) for n in range(1, DRILLS + 1)]
        # the checks see what they look for: a VM left on a host that the engine does not have is named (the
        # engine leaves VMs it does not know alone, so nothing races the check)
        agent = next(iter(drills.agents.values()))
        left = {"vm_id": "drill-left-behind", "name": "left", "nics": []}
        httpx.post(f"{agent.url}/vms", json=left, headers=auth(agent), timeout=30).raise_for_status()
        assert (
            f"host {agent.host_name} still runs VM drill-left-behind, which the engine removed"
            in drills.problems()
        )
        httpx.delete(f"{agent.url}/vms/drill-left-behind", headers=auth(agent), timeout=30).raise_for_status()
    for drill in done:
        print(drill.line())
    broken = [drill.line() for drill in done if drill.problems]
    assert not broken, f"seed {SEED}: " + "\n".join(broken)
