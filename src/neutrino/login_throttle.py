"""Failed-login throttling, per user name and per client address, shared by the engine and Keystone.

A key (a user name, or a client address) may fail at most ``max_failures`` times in any ``window`` seconds;
past that it is locked until its oldest counted failure leaves the window, and a locked login is refused
*before* the password is hashed: guessing costs the attacker time and the server no CPU. A success clears
the user's failures (not the address's: one account of one's own must not reset a spraying address).
The per-address limit is the looser one, as many users may share an address (NAT, a proxy).

A lock on a user name would let anyone lock a service account out (the engine's user on the provider) by
failing on purpose, and so would a lock on an address the account logs in from (on one machine everything
comes from 127.0.0.1: 30 failed logins of anyone there would lock the engine out of the provider). So an
address the user logged in from successfully stays trusted for that user for :data:`TRUSTED_SECONDS`, as
OWASP's "device cookie" advice has it for clients that cannot keep cookies: there neither the user's lock nor
the address's applies to that user; the pair has a lock of its own instead, at the per-user limit, counting
only that user's failures from that address (guessing its password from there is no cheaper than elsewhere).
Failures of a trusted pair still count toward the user's and the address's locks, for everyone else.

In memory, per process, bounded (:data:`MAX_KEYS`): a restart forgets the failures, which only gives an
attacker a few more tries per restart. The standard library only (see tests/unit/test_layering.py).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

#: Keys remembered at most; past it expired ones are dropped, then the oldest ones.
MAX_KEYS = 100_000
#: How long a successful login keeps its (user, address) pair out of the user's lock.
TRUSTED_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class ThrottleLimits:
    """Zero turns a limit off."""

    max_failures_per_user: int = 5
    max_failures_per_address: int = 30
    window_seconds: float = 300.0


class LoginThrottle:
    def __init__(self, limits: ThrottleLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._trusted: dict[tuple[str, str], float] = {}  # (user, address) -> until

    def retry_after(self, user: str, address: str) -> int | None:
        """Whole seconds until this login may be tried again, or None when it may be tried now."""
        now = self._clock()
        user = user.lower()
        if self._is_trusted(user, address, now):
            waits = [self._wait(("pair", f"{user}\n{address}"), self.limits.max_failures_per_user, now)]
        else:
            waits = [
                self._wait(("address", address), self.limits.max_failures_per_address, now),
                self._wait(("user", user), self.limits.max_failures_per_user, now),
            ]
        longest = max((w for w in waits if w is not None), default=None)
        return None if longest is None else max(1, math.ceil(longest))

    def failed(self, user: str, address: str) -> None:
        now = self._clock()
        user = user.lower()
        keys = [
            (("user", user), self.limits.max_failures_per_user),
            (("address", address), self.limits.max_failures_per_address),
        ]
        if self._is_trusted(user, address, now):
            keys.append((("pair", f"{user}\n{address}"), self.limits.max_failures_per_user))
        with self._lock:
            self._make_room(now)
            for key, limit in keys:
                if limit > 0:
                    self._failures.setdefault(key, deque(maxlen=limit)).append(now)

    def succeeded(self, user: str, address: str) -> None:
        now = self._clock()
        user = user.lower()
        with self._lock:
            self._failures.pop(("user", user), None)
            self._failures.pop(("pair", f"{user}\n{address}"), None)
            if len(self._trusted) >= MAX_KEYS:
                self._trusted = {k: until for k, until in self._trusted.items() if until > now}
                while len(self._trusted) >= MAX_KEYS:
                    del self._trusted[next(iter(self._trusted))]
            self._trusted[(user, address)] = now + TRUSTED_SECONDS

    def _is_trusted(self, user: str, address: str, now: float) -> bool:
        with self._lock:
            return self._trusted.get((user, address), 0.0) > now

    def _wait(self, key: tuple[str, str], limit: int, now: float) -> float | None:
        if limit <= 0:
            return None
        with self._lock:
            failures = self._failures.get(key)
            if failures is None or len(failures) < limit:
                return None
            wait = failures[0] + self.limits.window_seconds - now
        return wait if wait > 0 else None

    def _make_room(self, now: float) -> None:
        if len(self._failures) < MAX_KEYS:
            return
        horizon = now - self.limits.window_seconds
        for key in [k for k, times in self._failures.items() if times[-1] <= horizon]:
            del self._failures[key]
        while len(self._failures) >= MAX_KEYS:
            del self._failures[next(iter(self._failures))]
