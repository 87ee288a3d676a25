"""The benches no other test runs, each once at its smallest so it keeps working (the repository's rule:
every benchmark once in a small size in CI). Their figures are printed at full size by hand; here only that
they run and print what they measure. (``bench/neutron_tempest_plugin.py`` is a conformance run in a venv of
its own, by hand; ``bench/fuzz_routes.py``'s engine is ``tests/support/route_fuzz.py``, which
``test_route_fuzz.py`` runs.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from bench import provider_tags

ROOT = Path(__file__).resolve().parents[3]


def test_agent_plug_bench_in_memory() -> None:
    done = subprocess.run(
        [sys.executable, "bench/agent_plug.py", "--vms", "3", "--nics", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    for verb in ("create", "destroy"):
        assert f"memory {verb} VM with 1 vNICs: median" in done.stdout and "over 3" in done.stdout, (
            done.stdout
        )


def test_provider_tags_bench(database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the ratio it judges is noise at this size: only that both listings ran and found the same rows
    provider_tags.bench_backend("ci", database_url, tmp_path, ports=50)
    out = capsys.readouterr().out
    assert "list_ports tags=t0" in out and "list_ports tags-any=t0,t1,t2" in out, out
    assert "    10 ports" in out and "    30 ports" in out, out
