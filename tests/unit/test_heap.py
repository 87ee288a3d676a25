"""heap.settled: what a program built to start leaves the collector's scans while it serves; what comes later
is collected, and all of it again once it stops."""

from __future__ import annotations

import gc
import weakref

from neutrino import heap


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_what_lives_at_start_is_frozen_while_serving_and_collected_after() -> None:
    kept = _Node()
    ref = weakref.ref(kept)
    with heap.settled():
        assert gc.get_freeze_count() > 0
        assert not any(obj is kept for obj in gc.get_objects())  # frozen: out of every generation
        later = weakref.ref(_Node())
        gc.collect()
        assert later() is None
        del kept
        gc.collect()
        assert ref() is not None  # frozen: not even looked at
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert ref() is None
