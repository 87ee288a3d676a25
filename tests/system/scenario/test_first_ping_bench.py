"""``bench/engine_first_ping.py`` (issue 17's run → ping) once at CI size, so it keeps working: a fresh VM
started through the engine and the same made directly, each getting its DHCP lease and an echo reply from the
peer on the other host. The figures are checked for sanity, not against the target (a full run on a quiet
machine says that)."""

from __future__ import annotations

import secrets

import pytest
from bench import engine_first_ping

from tests.conftest import _require
from tests.support.engine_stack import require_tools
from tests.support.netlab import netns_names, root_reason

pytestmark = pytest.mark.root


def test_the_first_ping_bench_measures_both_paths_once() -> None:
    _require(root_reason())
    _require(require_tools())
    prefix = f"fp{secrets.token_hex(2)}"
    rows = engine_first_ping.measure(1, peer_open=True, prefix=prefix)
    assert set(rows) == {"engine", "baseline"}
    for path, found in rows.items():
        [(returned, leased, pinged)] = found
        # the guest's lease comes before its first echo reply (it may come before the call's answer reaches
        # the client: the agent serves it before the guest starts), all within a few seconds here
        assert 0 < returned < 20 and 0 < leased <= pinged < 20, (path, found)
    # the lab's namespaces are gone (only its own: the other worker's tests make theirs meanwhile)
    assert not [ns for ns in netns_names() if ns.startswith(prefix)]
