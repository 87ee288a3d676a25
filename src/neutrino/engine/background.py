"""The engine's periodic jobs (provider synchronization), run in a thread beside the API server."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Run ``job`` every ``interval`` seconds until stopped; a failing run is logged, the next one still runs."""

    def __init__(self, name: str, interval: float, job: Callable[[], None]) -> None:
        self.name, self.interval, self.job = name, interval, job
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.job()
            except Exception:
                log.exception("periodic job %s failed", self.name)
