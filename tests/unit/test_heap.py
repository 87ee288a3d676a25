"""heap.settle: what a program built to start leaves the collector's scans; what comes later is collected."""

from __future__ import annotations

import gc
import weakref

from neutrino import heap


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_what_lives_at_start_is_frozen_and_later_garbage_still_collected() -> None:
    try:
        kept = _Node()
        heap.settle()
        assert gc.get_freeze_count() > 0
        assert not any(obj is kept for obj in gc.get_objects())  # frozen: out of every generation
        later = weakref.ref(_Node())
        gc.collect()
        assert later() is None
    finally:
        gc.unfreeze()
