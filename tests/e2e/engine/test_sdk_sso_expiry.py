"""SSO token expiry as the real ovirtsdk4 meets it: `neutrino engine` with a short `sso_token_lifetime`
(NEUTRINO_SSO_TOKEN_LIFETIME), on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import ovirtsdk4 as sdk
import pytest
import sqlalchemy as sa

from neutrino.engine.store.repository import token_hash
from tests.e2e.engine.conftest import ADMIN_PASSWORD, RunningEngine
from tests.support.servers import free_port, neutrino_process

LIFETIME = 3.0


@pytest.fixture
def short_lived(database_url: str, tmp_path: Path) -> Iterator[RunningEngine]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [
        "engine",
        "--listen",
        f"127.0.0.1:{port}",
        "--data-dir",
        str(tmp_path / "engine"),
        "--db",
        database_url,
    ]
    env = {"NEUTRINO_ADMIN_PASSWORD": ADMIN_PASSWORD, "NEUTRINO_SSO_TOKEN_LIFETIME": str(LIFETIME)}
    with neutrino_process(args, f"{base}/ovirt-engine/api", tmp_path / "engine.log", env=env):
        yield RunningEngine(f"{base}/ovirt-engine/api", tmp_path / "engine", database_url)


def sso(engine: RunningEngine) -> dict[str, str]:
    base = engine.url.removesuffix("/ovirt-engine/api")
    r = httpx.post(
        f"{base}/ovirt-engine/sso/oauth/token",
        data={
            "grant_type": "password",
            "username": "admin@internal",
            "password": ADMIN_PASSWORD,
            "scope": "ovirt-app-api",
        },
    )
    assert r.status_code == 200, r.text
    body: dict[str, str] = r.json()
    return body


def hashed(*tokens: str) -> set[str]:
    return {token_hash(token) for token in tokens}


def stored_tokens(engine: RunningEngine) -> set[str]:
    """The hashes of the stored sessions' tokens (the tokens themselves are never stored)."""
    db = sa.create_engine(engine.db_url)
    try:
        with db.connect() as conn:
            return set(conn.execute(sa.text("SELECT token_hash FROM sessions")).scalars())
    finally:
        db.dispose()


def wait_until_expired(exp_ms: str) -> None:
    time.sleep(max(0.0, int(exp_ms) / 1000 - time.time()) + 0.2)


def test_exp_is_the_configured_lifetime(short_lived: RunningEngine) -> None:
    before = time.time()
    body = sso(short_lived)
    after = time.time()
    assert (before + LIFETIME) * 1000 - 1000 <= int(body["exp"]) <= (after + LIFETIME) * 1000 + 1000


def test_an_expired_token_is_401_and_the_sdk_logs_in_again(short_lived: RunningEngine) -> None:
    conn = short_lived.connection()
    try:
        first = conn.authenticate()
        dc_names = {dc.name for dc in conn.system_service().data_centers_service().list()}
        assert "Default" in dc_names
        headers = {"Authorization": f"Bearer {first}"}
        assert httpx.get(short_lived.url, headers=headers).status_code == 200
        time.sleep(LIFETIME + 0.3)
        r = httpx.get(f"{short_lived.url}/datacenters", headers=headers)
        assert r.status_code == 401
        assert "<fault>" in r.text
        # the SDK treats a 401 as an expired token: it logs in again once and repeats the call
        assert {dc.name for dc in conn.system_service().data_centers_service().list()} == dc_names
        assert conn._sso_token != first
    finally:
        conn.close()


def test_logout_removes_the_session_and_login_purges_expired_ones(short_lived: RunningEngine) -> None:
    kept = sso(short_lived)  # never logged out: it expires and the next login purges it
    conn = short_lived.connection()
    conn.system_service().get()
    token = conn._sso_token
    assert hashed(kept["access_token"], token) <= stored_tokens(short_lived)
    conn.close()  # the SDK revokes its token at /ovirt-engine/services/sso-logout
    assert not hashed(token) & stored_tokens(short_lived)
    assert httpx.get(short_lived.url, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    wait_until_expired(kept["exp"])
    fresh = sso(short_lived)["access_token"]
    assert stored_tokens(short_lived) == hashed(fresh)


def test_bad_credentials_still_raise_auth_error(short_lived: RunningEngine) -> None:
    conn = sdk.Connection(url=short_lived.url, username="admin@internal", password="wrong")
    try:
        with pytest.raises(sdk.AuthError):
            conn.system_service().get()
    finally:
        conn.close(logout=False)
