"""Users and SSO sessions: password login for the oVirt SSO endpoints, bearer tokens for the API.

Every password check goes through ``ctx.passwords`` (commands/passwords.py: throttling, the same work for
unknown users, no rehash of recently verified Basic credentials); a login that is locked raises LoginLocked.
A token expires ``ctx.sso_token_lifetime`` seconds after its login (oVirt's default: 10 hours); an expired
token is refused like an unknown one, and expired sessions are purged from the database at each login.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from neutrino.engine.commands import events
from neutrino.engine.commands.common import EngineContext
from neutrino.engine.commands.passwords import (  # noqa: F401 (hash_password: re-exported for bootstrap)
    LoginLocked,
    Verified,
    hash_password,
)
from neutrino.engine.domain import model
from neutrino.engine.domain.audit import AuditType
from neutrino.engine.store.repository import token_hash


def split_principal(username: str) -> tuple[str, str]:
    """``admin@internal`` -> (admin, internal); a bare name is in the ``internal`` domain."""
    name, _, domain = username.partition("@")
    return name, domain or "internal"


def check_credentials(ctx: EngineContext, username: str, password: str) -> bool:
    return authenticate(ctx, username, password) is not None


def authenticate(ctx: EngineContext, username: str, password: str, source: str = "") -> Verified | None:
    """Whom these credentials (HTTP Basic) are, or None. Credentials verified in the last minute are not
    hashed again; raises LoginLocked (before hashing) after too many failures for the user or ``source``."""
    name, domain = split_principal(username)
    principal = f"{name}@{domain}"
    known = ctx.passwords.recent(principal, password)
    if known is not None:
        return known
    with ctx.reader() as uow:
        user = uow.users.first(name=name, domain=domain)
        stored = user.password_hash if user is not None else None
        if not ctx.passwords.check(principal, password, stored, source) or user is None:
            return None
        verified = Verified(user.id, user.principal)
    ctx.passwords.remember(principal, password, verified)
    return verified


def expires_at(ctx: EngineContext, session: model.Session) -> datetime:
    """When the session's token stops being accepted: its login time plus ``ctx.sso_token_lifetime``."""
    return session.created_at + timedelta(seconds=ctx.sso_token_lifetime)


@dataclass(frozen=True)
class Login:
    """A new SSO session and its bearer token: the token is handed to the client once and stored only as
    its hash (``sessions.token_hash``)."""

    token: str
    session: model.Session


def open_session(ctx: EngineContext, username: str, password: str, source: str = "") -> Login | None:
    """A new SSO session with its bearer token, or None when the credentials are wrong.

    Sessions that have expired meanwhile are purged from the database on the way. The login is an event,
    committed with the session; a failed one is an event too (``source``: the client's address).
    """
    name, domain = split_principal(username)
    with ctx.uow() as uow:
        user = uow.users.first(name=name, domain=domain)
        stored = user.password_hash if user is not None else None
        if not ctx.passwords.check(f"{name}@{domain}", password, stored, source) or user is None:
            events.emit(
                uow,
                AuditType.USER_VDC_LOGIN_FAILED,
                f"User {username[:255]} connecting from '{source}' failed to log in.",
            )
            uow.commit()
            return None
        now = model.utcnow()
        uow.sessions.delete_created_before(now - timedelta(seconds=ctx.sso_token_lifetime))
        token = secrets.token_urlsafe(32)
        session = uow.sessions.add(
            model.Session(token_hash=token_hash(token), user_id=user.id, created_at=now)
        )
        with events.acting_as(events.Actor(user.id, user.principal)):
            events.emit(
                uow,
                AuditType.USER_VDC_LOGIN,
                f"User {user.principal} connecting from '{source}' using session '{session_label(token)}' logged in.",
            )
        uow.commit()
        return Login(token, session)


def session_label(token: str) -> str:
    """A session's name in the audit log: derived from its token, which it never shows."""
    return token_hash(token)[:12]


def login(ctx: EngineContext, username: str, password: str) -> str | None:
    """A new bearer token, or None when the credentials are wrong."""
    opened = open_session(ctx, username, password)
    return opened.token if opened else None


def logout(ctx: EngineContext, token: str) -> None:
    with ctx.uow() as uow:
        session = uow.sessions.for_token(token)
        if session is not None:
            uow.sessions.delete(session)
            user = uow.users.get(session.user_id)
            if user is not None:
                with events.acting_as(events.Actor(user.id, user.principal)):
                    events.emit(
                        uow,
                        AuditType.USER_VDC_LOGOUT,
                        f"User {user.principal} using session '{session_label(token)}' logged out.",
                    )
            uow.commit()


def live_session(ctx: EngineContext, token: str) -> model.Session | None:
    """The token's session; None when the token is unknown or has expired (the two answer alike)."""
    with ctx.reader() as uow:
        return _alive(ctx, uow.sessions.for_token(token))


def session_user(ctx: EngineContext, token: str) -> tuple[model.Session, model.User] | None:
    """The token's live session and its user; None when the token is unknown or has expired."""
    with ctx.reader() as uow:
        session = _alive(ctx, uow.sessions.for_token(token))
        user = uow.users.get(session.user_id) if session else None
        return (session, user) if session is not None and user is not None else None


def user_for_token(ctx: EngineContext, token: str) -> model.User | None:
    with ctx.reader() as uow:
        session = _alive(ctx, uow.sessions.for_token(token))
        return uow.users.get(session.user_id) if session else None


def _alive(ctx: EngineContext, session: model.Session | None) -> model.Session | None:
    return session if session is not None and expires_at(ctx, session) > model.utcnow() else None
