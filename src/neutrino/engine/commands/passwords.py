"""Password hashing and the gate every password check of the engine goes through.

A password check costs a scrypt hash (tens of milliseconds of CPU), so :class:`PasswordChecks` makes sure
it is paid only when it must be:

- a login locked by too many failures (per user name and per client address, ``neutrino.login_throttle``)
  is refused before any hash (:class:`LoginLocked`: the API answers 401 with ``Retry-After``);
- an unknown user costs one hash, as a known one does, so timing does not tell which names exist;
- HTTP Basic credentials verified in the last ``cache_seconds`` are answered from memory: a client sending
  Basic on every call hashes once a minute, not once a call. Bearer tokens and SSO sessions never hash at
  all (they are looked up by a SHA-256 of the token).

``verify`` is the seam tests count hash calls at.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from neutrino.login_throttle import LoginThrottle, ThrottleLimits

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}

#: What oVirt answers a login to a locked account.
LOCKED_TEXT = "Cannot Login. User Account is Disabled or Locked, Please contact your system administrator."


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **_SCRYPT)
    return hmac.compare_digest(candidate.hex(), digest)


#: Hashed against when the user does not exist: the same scrypt work, and never a match.
_NOBODY = f"scrypt${'00' * 16}${'00' * 64}"


class LoginLocked(Exception):
    """Too many failed logins for this user name or client address; retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(LOCKED_TEXT)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Verified:
    """Whom recently verified Basic credentials belong to."""

    user_id: str
    principal: str


class PasswordChecks:
    def __init__(
        self,
        limits: ThrottleLimits | None = None,
        *,
        cache_seconds: float = 60.0,
        cache_size: int = 4096,
        verify: Callable[[str, str], bool] = verify_password,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.throttle = LoginThrottle(limits or ThrottleLimits(), clock)
        self.cache_seconds = cache_seconds
        self.cache_size = cache_size
        self._verify = verify
        self._clock = clock
        # credentials are keyed by an HMAC under a key of this process: the cache holds no password
        self._key = secrets.token_bytes(32)
        self._cache: OrderedDict[bytes, tuple[float, Verified]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, principal: str, password: str, stored_hash: str | None, source: str) -> bool:
        """Whether ``password`` matches ``stored_hash`` (None: no such user, still one hash of work).

        Raises :class:`LoginLocked`, before hashing, while ``principal`` or ``source`` is locked."""
        wait = self.throttle.retry_after(principal, source)
        if wait is not None:
            raise LoginLocked(wait)
        good = self._verify(password, stored_hash if stored_hash is not None else _NOBODY)
        good = good and stored_hash is not None
        if good:
            self.throttle.succeeded(principal, source)
        else:
            self.throttle.failed(principal, source)
        return good

    def recent(self, principal: str, password: str) -> Verified | None:
        """Whom these credentials were verified to be less than ``cache_seconds`` ago, else None."""
        key = self._cache_key(principal, password)
        now = self._clock()
        with self._lock:
            found = self._cache.get(key)
            if found is None:
                return None
            if found[0] <= now:
                del self._cache[key]
                return None
            self._cache.move_to_end(key)
            return found[1]

    def remember(self, principal: str, password: str, verified: Verified) -> None:
        key = self._cache_key(principal, password)
        with self._lock:
            self._cache[key] = (self._clock() + self.cache_seconds, verified)
            self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def _cache_key(self, principal: str, password: str) -> bytes:
        return hmac.new(self._key, f"{principal}\0{password}".encode(), hashlib.sha256).digest()
