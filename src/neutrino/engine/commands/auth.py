"""Users and SSO sessions: password login for the oVirt SSO endpoints, bearer tokens for the API.

A token expires ``ctx.sso_token_lifetime`` seconds after its login (oVirt's default: 10 hours); an expired
token is refused like an unknown one, and expired sessions are purged from the database at each login.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from neutrino.engine.commands import events
from neutrino.engine.commands.common import EngineContext
from neutrino.engine.domain import model

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


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


def split_principal(username: str) -> tuple[str, str]:
    """``admin@internal`` -> (admin, internal); a bare name is in the ``internal`` domain."""
    name, _, domain = username.partition("@")
    return name, domain or "internal"


def check_credentials(ctx: EngineContext, username: str, password: str) -> bool:
    name, domain = split_principal(username)
    with ctx.reader() as uow:
        user = uow.users.first(name=name, domain=domain)
        return user is not None and verify_password(password, user.password_hash)


def expires_at(ctx: EngineContext, session: model.Session) -> datetime:
    """When the session's token stops being accepted: its login time plus ``ctx.sso_token_lifetime``."""
    return session.created_at + timedelta(seconds=ctx.sso_token_lifetime)


USER_VDC_LOGIN = 30  # ovirt-engine's AuditLogType


def open_session(ctx: EngineContext, username: str, password: str) -> model.Session | None:
    """A new SSO session (its token is the bearer token), or None when the credentials are wrong.

    Sessions that have expired meanwhile are purged from the database on the way.
    """
    name, domain = split_principal(username)
    with ctx.uow() as uow:
        user = uow.users.first(name=name, domain=domain)
        if user is None or not verify_password(password, user.password_hash):
            return None
        now = model.utcnow()
        uow.sessions.delete_created_before(now - timedelta(seconds=ctx.sso_token_lifetime))
        session = uow.sessions.add(
            model.Session(token=secrets.token_urlsafe(32), user_id=user.id, created_at=now)
        )
        # oVirt's USER_VDC_LOGIN: clients (ovirt_host) read the newest event right after logging in
        events.record(uow, f"User {user.principal} logged in.", code=USER_VDC_LOGIN)
        uow.commit()
        return session


def login(ctx: EngineContext, username: str, password: str) -> str | None:
    """A new bearer token, or None when the credentials are wrong."""
    session = open_session(ctx, username, password)
    return session.token if session else None


def logout(ctx: EngineContext, token: str) -> None:
    with ctx.uow() as uow:
        session = uow.sessions.get(token)
        if session is not None:
            uow.sessions.delete(session)
            uow.commit()


def live_session(ctx: EngineContext, token: str) -> model.Session | None:
    """The token's session; None when the token is unknown or has expired (the two answer alike)."""
    with ctx.reader() as uow:
        return _alive(ctx, uow.sessions.get(token))


def user_for_token(ctx: EngineContext, token: str) -> model.User | None:
    with ctx.reader() as uow:
        session = _alive(ctx, uow.sessions.get(token))
        return uow.users.get(session.user_id) if session else None


def _alive(ctx: EngineContext, session: model.Session | None) -> model.Session | None:
    return session if session is not None and expires_at(ctx, session) > model.utcnow() else None
