"""The topology view's JavaScript (data shaping and layout) under Node's own test runner: ``node --test tests/js/``
(Debian's ``nodejs``; no npm package is needed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support.require import require

ROOT = Path(__file__).resolve().parents[2]


def test_topology_model_and_layout() -> None:
    node = shutil.which("node")
    if node is None:
        require("Node.js is not installed (apt-get install nodejs)")
    done = subprocess.run(
        [str(node), "--test", str(ROOT / "tests" / "js")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout and "# pass 0" not in done.stdout, done.stdout[-2000:]
