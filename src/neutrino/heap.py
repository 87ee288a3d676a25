"""The programs' heap after start: what they built to start is kept out of the garbage collector's scans."""

from __future__ import annotations

import gc


def settle() -> None:
    """Once a program has started (its app built, its state recovered): everything alive now is moved to
    the collector's permanent generation (``gc.freeze``), so a full collection scans only what came later.
    Without it a full collection in the engine took about 100 ms (SQLAlchemy's mappers and caches, the
    API's trees), stalling every request in flight (issue 17's run bench: two per run of the bench)."""
    gc.collect()
    gc.freeze()
