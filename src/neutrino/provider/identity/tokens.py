"""Self-contained signed tokens, checked against persisted revocation events.

A token is ``base64url(json claims) . base64url(hmac-sha256)`` with a secret kept in a 0600 key file
(see :mod:`neutrino.provider.identity.keyfile`), so tokens survive restarts. Validating one is an HMAC
check and a look through the revocation events in memory: no query per request.

Revocation works as Keystone's revocation events do: an event names a user, a project or one token (its
audit id) and a time; every token matching it issued at or before that time is dead. Events are rows of
``revocation_events`` (they survive restarts), written in the unit of work that changes the user or project
(password change, disabled, deleted) and added to this process's memory when that unit commits; other
processes on the same database read the new rows within :data:`REFRESH_SECONDS`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from neutrino.provider.store import tables as t

if TYPE_CHECKING:
    from neutrino.provider.store.db import Database, UnitOfWork

#: How often a process reads the events other processes (sharing the database) have written.
REFRESH_SECONDS = 5.0


@dataclass(frozen=True)
class TokenClaims:
    user_id: str
    user_name: str
    project_id: str | None
    project_name: str | None
    roles: tuple[str, ...]
    issued_at: float
    expires_at: float
    audit_id: str
    #: the authentication methods that produced the token (Keystone's ``token.methods``)
    methods: tuple[str, ...] = ("password",)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


@dataclass(frozen=True)
class RevocationEvent:
    """Tokens matching every field that is set, issued at or before ``issued_before``, are revoked."""

    issued_before: float
    #: when no token this event can match is still alive (the event may be forgotten then)
    expires_at: float
    user_id: str | None = None
    project_id: str | None = None
    audit_id: str | None = None

    def matches(self, claims: TokenClaims) -> bool:
        if claims.issued_at > self.issued_before:
            return False
        return (
            (self.user_id is None or self.user_id == claims.user_id)
            and (self.project_id is None or self.project_id == claims.project_id)
            and (self.audit_id is None or self.audit_id == claims.audit_id)
        )


class Revocations:
    """The live revocation events, indexed by what they name, mirrored from ``revocation_events``."""

    def __init__(self, db: Database | None = None) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()
        # sets: an event this process recorded comes back once more when it reads the table
        self._by_user: dict[str, set[RevocationEvent]] = {}
        self._by_project: dict[str, set[RevocationEvent]] = {}
        self._by_audit: dict[str, RevocationEvent] = {}
        self._last_id = 0
        self._read_at = 0.0
        if db is not None:
            self.refresh(force=True)

    def record(self, uow: UnitOfWork, event: RevocationEvent) -> None:
        """Write ``event`` in ``uow``; it takes effect in this process as soon as ``uow`` commits."""
        uow.execute(
            sa.insert(t.revocation_events).values(
                user_id=event.user_id,
                project_id=event.project_id,
                audit_id=event.audit_id,
                issued_before=event.issued_before,
                expires_at=event.expires_at,
            )
        )
        uow.after_commit(lambda: self._add([event]))

    def refresh(self, *, force: bool = False) -> None:
        """Read the events written since the last read (by any process), at most every REFRESH_SECONDS."""
        now = time.time()
        if self._db is None or (not force and now - self._read_at < REFRESH_SECONDS):
            return
        if not self._refreshing.acquire(blocking=force):
            return  # another thread is reading them right now
        try:
            self._read_at = now
            with self._db.reader() as uow:
                rows = uow.rows(
                    sa.select(t.revocation_events)
                    .where(t.revocation_events.c.id > self._last_id, t.revocation_events.c.expires_at > now)
                    .order_by(t.revocation_events.c.id)
                )
        finally:
            self._refreshing.release()
        if rows:
            self._last_id = max(self._last_id, rows[-1].id)
            self._add(
                RevocationEvent(
                    issued_before=row.issued_before,
                    expires_at=row.expires_at,
                    user_id=row.user_id,
                    project_id=row.project_id,
                    audit_id=row.audit_id,
                )
                for row in rows
            )

    def _add(self, events: Iterable[RevocationEvent]) -> None:
        with self._lock:
            for event in events:
                if event.audit_id is not None:
                    self._by_audit[event.audit_id] = event
                elif event.user_id is not None:
                    self._by_user.setdefault(event.user_id, set()).add(event)
                elif event.project_id is not None:
                    self._by_project.setdefault(event.project_id, set()).add(event)

    def revoked(self, claims: TokenClaims) -> bool:
        self.refresh()
        with self._lock:
            candidates = [
                *self._by_user.get(claims.user_id, ()),
                *self._by_project.get(claims.project_id or "", ()),
            ]
        by_audit = self._by_audit.get(claims.audit_id)
        if by_audit is not None:
            candidates.append(by_audit)
        return any(event.matches(claims) for event in candidates)


def purge_expired(uow: UnitOfWork, now: float) -> None:
    """Forget the events no live token can match any more (called at start)."""
    uow.execute(sa.delete(t.revocation_events).where(t.revocation_events.c.expires_at <= now))


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    _CACHE_LIMIT = 10_000

    def __init__(self, secret: bytes, revocations: Revocations | None = None) -> None:
        self._secret = secret
        self.revocations = revocations or Revocations()
        self._cache: dict[str, TokenClaims] = {}
        self._lock = threading.Lock()

    def issue(self, claims: TokenClaims) -> str:
        payload: dict[str, Any] = {
            "u": claims.user_id,
            "un": claims.user_name,
            "p": claims.project_id,
            "pn": claims.project_name,
            "r": list(claims.roles),
            "iat": claims.issued_at,
            "exp": claims.expires_at,
            "a": claims.audit_id,
            "m": list(claims.methods),
        }
        body = _b64e(json.dumps(payload, separators=(",", ":")).encode())
        return f"{body}.{self._sign(body)}"

    def _sign(self, body: str) -> str:
        return _b64e(hmac.new(self._secret, body.encode(), hashlib.sha256).digest())

    def validate(self, token: str, *, expired_window: float = 0.0) -> TokenClaims | None:
        """The token's claims, or None when it is forged, revoked or expired (more than
        ``expired_window`` seconds ago: Keystone's ``allow_expired``)."""
        claims = self._cache.get(token)
        if claims is None:
            claims = self._decode(token)
            if claims is None:
                return None
            with self._lock:
                if len(self._cache) >= self._CACHE_LIMIT:
                    self._cache.clear()
                self._cache[token] = claims
        if claims.expires_at + expired_window <= time.time() or self.revocations.revoked(claims):
            return None
        return claims

    def _decode(self, token: str) -> TokenClaims | None:
        body, _, signature = token.partition(".")
        if not signature or not hmac.compare_digest(signature, self._sign(body)):
            return None
        try:
            data = json.loads(_b64d(body))
            return TokenClaims(
                user_id=data["u"],
                user_name=data["un"],
                project_id=data["p"],
                project_name=data["pn"],
                roles=tuple(data["r"]),
                issued_at=float(data["iat"]),
                expires_at=float(data["exp"]),
                audit_id=data["a"],
                methods=tuple(data.get("m") or ("password",)),
            )
        except (ValueError, KeyError, TypeError):
            return None
