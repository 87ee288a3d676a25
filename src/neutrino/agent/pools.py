"""The agent's kept thread pools, one per kind of work a plug does beside its caller (provider reads,
making a guest, a DHCP server's namespace): started on first use and kept, since starting threads per
plug costs more than what they overlap on a busy host. Work that waits on work of its own has that
done by another kind of threads, so a full pool never waits on itself."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

_pools: dict[str, ThreadPoolExecutor] = {}
_lock = threading.Lock()


def pool(kind: str, size: int = 8) -> ThreadPoolExecutor:
    """The pool of ``kind`` (its threads are named after it), with ``size`` threads."""
    with _lock:
        if kind not in _pools:
            _pools[kind] = ThreadPoolExecutor(size, thread_name_prefix=kind)
        return _pools[kind]
