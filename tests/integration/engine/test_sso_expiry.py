"""SSO tokens expire: after ``sso_token_lifetime`` a token is refused like an unknown one, expired sessions are
purged at login, logout removes the session, and the API's token cache stays bounded. On SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from neutrino.engine.api.app import TokenCache, create_app
from neutrino.engine.bootstrap import Engine
from neutrino.engine.commands import auth
from neutrino.engine.domain import model
from neutrino.engine.store.repository import token_hash
from tests.integration.engine.conftest import BuildEngine

SSO = "/ovirt-engine/sso/oauth/token"
LOGOUT = "/ovirt-engine/services/sso-logout"
API = "/ovirt-engine/api"


def age(engine: Engine, token: str, seconds: float) -> None:
    """Move a session's login time back, as if it had been issued ``seconds`` earlier."""
    with engine.ctx.uow() as uow:
        session = uow.sessions.for_token(token)
        assert session is not None
        session.created_at = session.created_at - timedelta(seconds=seconds)
        uow.commit()


def stored_tokens(engine: Engine) -> set[str]:
    """The tokens of the stored sessions, as hashes (the only form the database holds)."""
    with engine.ctx.reader() as uow:
        return {s.token_hash for s in uow.sessions.list(order_by="token_hash")}


def hashed(*tokens: str) -> set[str]:
    return {token_hash(token) for token in tokens}


def sso_login(client: TestClient) -> dict[str, str]:
    r = client.post(
        SSO,
        data={
            "grant_type": "password",
            "username": "admin@internal",
            "password": "pw",
            "scope": "ovirt-app-api",
        },
    )
    assert r.status_code == 200, r.text
    body: dict[str, str] = r.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(make_engine: BuildEngine) -> Iterator[tuple[Engine, TestClient]]:
    engine = make_engine(sso_token_lifetime=2.0)
    with TestClient(create_app(engine.ctx)) as c:
        yield engine, c


def test_the_default_lifetime_is_ovirts_ten_hours(make_engine: BuildEngine) -> None:
    engine = make_engine()
    assert engine.ctx.sso_token_lifetime == 36_000.0
    opened = auth.open_session(engine.ctx, "admin@internal", "pw")
    assert opened is not None
    assert auth.expires_at(engine.ctx, opened.session) - opened.session.created_at == timedelta(hours=10)


def test_a_token_is_refused_once_its_lifetime_has_passed(make_engine: BuildEngine) -> None:
    engine = make_engine(sso_token_lifetime=60.0)
    token = auth.login(engine.ctx, "admin@internal", "pw")
    assert token is not None
    assert auth.live_session(engine.ctx, token) is not None
    assert auth.user_for_token(engine.ctx, token) is not None
    age(engine, token, 59)
    assert auth.user_for_token(engine.ctx, token) is not None
    age(engine, token, 2)
    assert auth.live_session(engine.ctx, token) is None
    assert auth.user_for_token(engine.ctx, token) is None
    assert auth.live_session(engine.ctx, "never-issued") is None


def test_login_purges_expired_sessions_only(make_engine: BuildEngine) -> None:
    engine = make_engine(sso_token_lifetime=60.0)
    old1, old2, fresh = (auth.login(engine.ctx, "admin@internal", "pw") for _ in range(3))
    assert old1 and old2 and fresh
    age(engine, old1, 61)
    age(engine, old2, 3600)
    assert stored_tokens(engine) == hashed(old1, old2, fresh)  # nothing purges them before the next login
    assert auth.login(engine.ctx, "admin@internal", "wrong") is None
    assert stored_tokens(engine) == hashed(old1, old2, fresh)  # a failed login changes nothing
    new = auth.login(engine.ctx, "admin@internal", "pw")
    assert new
    assert stored_tokens(engine) == hashed(fresh, new)


def test_logout_removes_the_session(make_engine: BuildEngine) -> None:
    engine = make_engine()
    keep, drop = auth.login(engine.ctx, "admin", "pw"), auth.login(engine.ctx, "admin", "pw")
    assert keep and drop
    auth.logout(engine.ctx, drop)
    assert stored_tokens(engine) == hashed(keep)


def test_the_sso_answer_tells_when_the_token_expires(client: tuple[Engine, TestClient]) -> None:
    engine, c = client
    before = time.time()
    body = sso_login(c)
    after = time.time()
    with engine.ctx.reader() as uow:
        session = uow.sessions.for_token(body["access_token"])
    assert session is not None
    assert int(body["exp"]) == int(auth.expires_at(engine.ctx, session).timestamp() * 1000)
    assert (before + 2.0) * 1000 - 1 <= int(body["exp"]) <= (after + 2.0) * 1000 + 1


def test_an_expired_token_gets_401_like_an_unknown_one(client: tuple[Engine, TestClient]) -> None:
    _engine, c = client
    body = sso_login(c)
    token = body["access_token"]
    assert c.get(API, headers=bearer(token)).status_code == 200  # now cached by the API
    time.sleep(max(0.0, int(body["exp"]) / 1000 - time.time()) + 0.1)
    expired = c.get(f"{API}/datacenters", headers=bearer(token))
    unknown = c.get(f"{API}/datacenters", headers=bearer("never-issued"))
    assert expired.status_code == unknown.status_code == 401
    assert expired.text == unknown.text
    assert expired.headers["www-authenticate"] == unknown.headers["www-authenticate"]
    assert c.get(API, headers=bearer(sso_login(c)["access_token"])).status_code == 200  # a new login works


def test_sso_logout_revokes_at_once_and_removes_the_session(client: tuple[Engine, TestClient]) -> None:
    engine, c = client
    token = sso_login(c)["access_token"]
    assert c.get(API, headers=bearer(token)).status_code == 200
    assert token_hash(token) in stored_tokens(engine) and token not in stored_tokens(engine)
    assert c.post(LOGOUT, data={"scope": "ovirt-app-api", "token": token}).status_code == 200
    assert token_hash(token) not in stored_tokens(engine)
    assert c.get(API, headers=bearer(token)).status_code == 401


def test_the_token_cache_is_bounded_and_rereads_what_it_dropped(make_engine: BuildEngine) -> None:
    engine = make_engine()
    cache = TokenCache(engine.ctx, size=3)
    tokens = [auth.login(engine.ctx, "admin", "pw") or "" for _ in range(5)]
    for token in tokens:
        assert cache.valid(token)
    assert len(cache) == 3
    assert [t in cache for t in tokens] == [False, False, True, True, True]
    assert cache.valid(tokens[2])  # used again: now the most recent
    assert cache.valid(tokens[0])  # dropped earlier, still a live session: read again from the database
    assert len(cache) == 3
    assert [t in cache for t in tokens] == [True, False, True, False, True]
    assert not cache.valid("never-issued")
    assert "never-issued" not in cache and len(cache) == 3


def test_the_token_cache_never_trusts_a_token_past_its_expiry(make_engine: BuildEngine) -> None:
    engine = make_engine(sso_token_lifetime=1.0)
    cache = TokenCache(engine.ctx)
    opened = auth.open_session(engine.ctx, "admin", "pw")
    assert opened is not None
    assert cache.valid(opened.token)
    time.sleep(max(0.0, auth.expires_at(engine.ctx, opened.session).timestamp() - time.time()) + 0.05)
    assert not cache.valid(opened.token)
    assert opened.token not in cache


def test_expiry_is_measured_in_utc_on_every_backend(make_engine: BuildEngine) -> None:
    engine = make_engine()
    opened = auth.open_session(engine.ctx, "admin", "pw")
    assert opened is not None
    with engine.ctx.reader() as uow:
        stored = uow.sessions.for_token(opened.token)
    assert stored is not None
    assert stored.created_at.utcoffset() == timedelta(0)
    assert abs(stored.created_at - model.utcnow()) < timedelta(minutes=1)
    assert auth.expires_at(engine.ctx, stored) == auth.expires_at(engine.ctx, opened.session)
