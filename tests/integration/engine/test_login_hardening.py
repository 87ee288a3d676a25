"""Login hardening over the engine's HTTP API: a throttled user or address gets the API's 401 with oVirt's
locked-account text and Retry-After (HTTP Basic and the SSO token endpoint alike), and the password is hashed
only when it must be: once per Basic credentials in a minute, never for a bearer token. Hash calls are counted
at the engine's ``PasswordChecks.verify`` seam."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from neutrino.engine.api.app import create_app
from neutrino.engine.bootstrap import Engine
from neutrino.engine.commands.passwords import LOCKED_TEXT, PasswordChecks, verify_password
from neutrino.login_throttle import ThrottleLimits
from tests.integration.engine.conftest import BuildEngine

SSO = "/ovirt-engine/sso/oauth/token"
API = "/ovirt-engine/api"


class CountingVerify:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, password: str, stored: str) -> bool:
        self.calls += 1
        return verify_password(password, stored)


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def sso(c: TestClient, password: str) -> tuple[int, dict[str, str], dict[str, str]]:
    form = {
        "grant_type": "password",
        "username": "admin@internal",
        "password": password,
        "scope": "ovirt-app-api",
    }
    r = c.post(SSO, data=form)
    return r.status_code, r.json(), dict(r.headers)


@pytest.fixture
def counted(make_engine: BuildEngine) -> Iterator[tuple[Engine, TestClient, CountingVerify]]:
    engine = make_engine()
    verify = CountingVerify()
    engine.ctx.passwords = PasswordChecks(
        ThrottleLimits(max_failures_per_user=3, max_failures_per_address=10, window_seconds=300),
        verify=verify,
    )
    with TestClient(create_app(engine.ctx)) as c:
        yield engine, c, verify


def test_basic_credentials_are_hashed_once_and_bearer_tokens_never(
    counted: tuple[Engine, TestClient, CountingVerify],
) -> None:
    _engine, c, verify = counted
    for _ in range(5):
        assert c.get(API, headers=basic("admin@internal", "pw")).status_code == 200
    assert verify.calls == 1
    assert (
        c.get(API, headers=basic("admin@internal", "other")).status_code == 401
    )  # other credentials: a hash
    assert verify.calls == 2
    status, body, _ = sso(c, "pw")
    assert status == 200 and verify.calls == 3  # a login hashes once
    for _ in range(5):
        assert c.get(API, headers={"Authorization": f"Bearer {body['access_token']}"}).status_code == 200
    assert verify.calls == 3


def test_too_many_failures_lock_basic_and_sso_with_retry_after(
    counted: tuple[Engine, TestClient, CountingVerify],
) -> None:
    _engine, c, verify = counted
    for _ in range(3):
        assert c.get(API, headers=basic("admin@internal", "wrong")).status_code == 401
    locked = c.get(API, headers=basic("admin@internal", "pw"))  # the right password, but locked
    assert locked.status_code == 401
    assert LOCKED_TEXT in locked.text and 0 < int(locked.headers["retry-after"]) <= 300
    assert locked.headers["www-authenticate"] == 'Bearer realm="RESTAPI"'
    status, body, headers = sso(c, "pw")
    assert status == 401 and body == {"error_code": "access_denied", "error": LOCKED_TEXT}
    assert 0 < int(headers["retry-after"]) <= 300
    assert verify.calls == 3  # nothing hashed while locked


def test_an_unknown_user_is_hashed_and_throttled_like_a_known_one(
    counted: tuple[Engine, TestClient, CountingVerify],
) -> None:
    _engine, c, verify = counted
    for _ in range(3):
        assert c.get(API, headers=basic("nobody@internal", "guess")).status_code == 401
    assert verify.calls == 3
    unknown = c.get(API, headers=basic("nobody@internal", "guess"))
    assert unknown.status_code == 401 and "retry-after" in unknown.headers
    assert c.get(API, headers=basic("admin@internal", "pw")).status_code == 200  # another user is not locked
