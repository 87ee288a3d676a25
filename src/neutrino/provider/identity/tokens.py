"""Self-contained signed tokens: validation is an HMAC check and a dict lookup, no database.

A token is ``base64url(json claims) . base64url(hmac-sha256)`` with a secret kept in the
database (so tokens survive restarts). Revocation (``DELETE /v3/auth/tokens``) is remembered in
memory until the token would have expired anyway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from typing import Any


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

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    _CACHE_LIMIT = 10_000

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._cache: dict[str, TokenClaims] = {}
        self._revoked: dict[str, float] = {}
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
        }
        body = _b64e(json.dumps(payload, separators=(",", ":")).encode())
        return f"{body}.{self._sign(body)}"

    def _sign(self, body: str) -> str:
        return _b64e(hmac.new(self._secret, body.encode(), hashlib.sha256).digest())

    def validate(self, token: str) -> TokenClaims | None:
        """The token's claims, or None when it is forged, expired or revoked."""
        now = time.time()
        claims = self._cache.get(token)
        if claims is None:
            claims = self._decode(token)
            if claims is None:
                return None
            with self._lock:
                if len(self._cache) >= self._CACHE_LIMIT:
                    self._cache.clear()
                self._cache[token] = claims
        if claims.expires_at <= now or token in self._revoked:
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
            )
        except (ValueError, KeyError, TypeError):
            return None

    def revoke(self, token: str) -> None:
        claims = self.validate(token)
        if claims is None:
            return
        now = time.time()
        with self._lock:
            self._revoked = {t: exp for t, exp in self._revoked.items() if exp > now}
            self._revoked[token] = claims.expires_at
            self._cache.pop(token, None)
