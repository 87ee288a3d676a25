"""Users and SSO sessions: password login for the oVirt SSO endpoints, bearer tokens for the API."""

from __future__ import annotations

import hashlib
import hmac
import secrets

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


def login(ctx: EngineContext, username: str, password: str) -> str | None:
    """A new bearer token, or None when the credentials are wrong."""
    name, domain = split_principal(username)
    with ctx.uow() as uow:
        user = uow.users.first(name=name, domain=domain)
        if user is None or not verify_password(password, user.password_hash):
            return None
        token = secrets.token_urlsafe(32)
        uow.sessions.add(model.Session(token=token, user_id=user.id))
        uow.commit()
        return token


def logout(ctx: EngineContext, token: str) -> None:
    with ctx.uow() as uow:
        session = uow.sessions.get(token)
        if session is not None:
            uow.sessions.delete(session)
            uow.commit()


def user_for_token(ctx: EngineContext, token: str) -> model.User | None:
    with ctx.reader() as uow:
        session = uow.sessions.get(token)
        return uow.users.get(session.user_id) if session else None
