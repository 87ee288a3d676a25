"""The agent's one reader of the provider's change feed (``GET /v2.0/changes``, the embedded
provider's extension ``neutrino-changes``): a thread holds one long poll at a time and hands each
answer to the parts that follow the provider (the provider follower, the L3 agent, the reporter's
peers), which wake their own threads; it never reads anything else.

A provider without the extension (a real Neutron answers 404) is told to every subscriber once
(:meth:`Subscriber.feed_unavailable`): they poll as before. While the provider does not answer,
the reader retries every few seconds with the cursor it had: if the provider restarted meanwhile,
the cursor is of another epoch and the answer says everything may have changed.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from neutrino.neutron_client import Changes, NeutronClient, NeutronClientError, NotFound

log = logging.getLogger(__name__)

#: seconds between two tries while the provider does not answer
RETRY = 2.0
#: an answer without change sooner than this (the provider shutting down): wait before the next
QUICK = 1.0


class Subscriber(Protocol):
    def feed_changed(self, changes: Changes) -> None:
        """What changed (``changes.changed`` None: anything may have). Called in the reader's thread:
        note it and return."""

    def feed_unavailable(self) -> None:
        """The provider has no change feed: poll."""


class FeedReader:
    """Follows the change feed for its subscribers (see the module docstring)."""

    def __init__(self, neutron: NeutronClient, wait: float = 300.0) -> None:
        self.neutron = neutron
        self.wait = wait
        self.subscribers: list[Subscriber] = []
        self.cursor: str | None = None
        self.available: bool | None = None  # None until the provider said
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def subscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.append(subscriber)

    def read_once(self) -> Changes | None:
        """One long poll; the answer (None when the provider has no feed), given to the
        subscribers when it says something changed. Raises what the client raised."""
        started = time.monotonic()
        try:
            answer = self.neutron.changes(after=self.cursor, wait=self.wait if self.cursor else 0)
        except NotFound:
            if self.available is not False:
                log.info("the network provider has no change feed: polling it")
                self.available = False
                for subscriber in self.subscribers:
                    subscriber.feed_unavailable()
            return None
        self.available = True
        first = self.cursor is None
        self.cursor = answer.cursor
        if first or answer.changed is None or answer.changed:
            for subscriber in self.subscribers:
                subscriber.feed_changed(answer)
        elif time.monotonic() - started < min(QUICK, self.wait):
            self._stop.wait(QUICK)
        return answer

    def _run(self) -> None:
        last_error = ""
        while not self._stop.is_set():
            try:
                if self.read_once() is None:
                    return  # no feed: the subscribers poll
                if last_error:
                    log.info("the network provider's change feed answers again")
                last_error = ""
            except NeutronClientError as exc:
                level = logging.DEBUG if str(exc) == last_error else logging.WARNING
                log.log(level, "change feed of the network provider: %s", exc)
                last_error = str(exc)
                self._stop.wait(RETRY)
            except Exception:  # the thread must outlive any one bad answer
                log.exception("change feed of the network provider failed")
                self._stop.wait(RETRY)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="provider-changes", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread; a long poll in progress is left to end (the thread is a daemon)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
