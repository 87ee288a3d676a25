"""Resources kept rendered, by their version, for the lists that send thousands of them again and again.

A resource's version is what changes whenever anything it renders changes: its ``id`` (a new resource
has a new one: ids are never chosen by clients), its ``revision_number`` (bumped by every change of
the resource or of its child rows, as Neutron's standard attributes are) and its ``status`` (which the
OVN backend writes when OVN reports a port up or down, without a revision). A list reads the
versions of its page (a few narrow columns), takes what is kept, and reads, renders and keeps only
the rest: the second list of 10,000 unchanged ports renders none of them. What a version renders
does not depend on who asks: only the full record (an admin's, every field) is kept.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import orjson

#: a resource's version: what changes whenever anything it renders changes
Version = tuple[Any, ...]

#: What a process keeps rendered at most (the oldest kept first to go): ~1.1 kB per port with every
#: extension field, so some 60,000 ports.
DEFAULT_LIMIT_BYTES = 64 * 1024 * 1024


class RenderCache:
    """Rendered JSON of resources (``orjson.Fragment``), by version, up to ``limit_bytes``."""

    def __init__(self, limit_bytes: int = DEFAULT_LIMIT_BYTES) -> None:
        self.limit_bytes = limit_bytes
        self._kept: dict[Version, tuple[orjson.Fragment, int]] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._kept)

    @property
    def size(self) -> int:
        """The bytes kept now."""
        return self._bytes

    def get(self, version: Version) -> orjson.Fragment | None:
        found = self._kept.get(version)
        return None if found is None else found[0]

    def keep(self, rendered: Iterable[tuple[Version, bytes]]) -> dict[Version, orjson.Fragment]:
        """Keep each ``(version, JSON)``; the oldest kept go when over the limit. Returns the fragments."""
        out: dict[Version, orjson.Fragment] = {}
        with self._lock:
            kept = self._kept
            for version, text in rendered:
                fragment = out[version] = orjson.Fragment(text)
                size = len(text)
                if size > self.limit_bytes:
                    continue
                old = kept.pop(version, None)
                if old is not None:
                    self._bytes -= old[1]
                kept[version] = (fragment, size)
                self._bytes += size
            while self._bytes > self.limit_bytes:  # dicts keep insertion order: the first is the oldest
                self._bytes -= kept.pop(next(iter(kept)))[1]
        return out
