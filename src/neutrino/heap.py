"""The programs' heap after start: what they built to start is kept out of the garbage collector's scans."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def settled() -> Iterator[None]:
    """While a started program serves (its app built, its state recovered): everything alive at its start
    is in the collector's permanent generation (``gc.freeze``), so a full collection scans only what came
    later. Without it a full collection in the engine took about 100 ms (SQLAlchemy's mappers and caches,
    the API's trees), stalling every request in flight (issue 17's run bench: two per run of the bench).
    When it stops serving they go back to the collector (``gc.unfreeze``): a process that starts and stops
    apps (the tests) would otherwise keep each one's objects for good."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
