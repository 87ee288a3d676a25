"""Keystone's password logins are throttled per user and per client address: past the limit, even the right
password gets Keystone's 401 "The account is locked" with Retry-After, and nothing is hashed while locked
(counted at the identity service's ``verify_password``); an unknown user costs a hash like a known one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from neutrino.provider.identity import passwords, service
from tests.integration.provider.server import ADMIN_PASSWORD, running_provider
from tests.support.databases import sqlite_url


def _v3(user: str, password: str) -> dict:
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": user, "domain": {"name": "Default"}, "password": password}},
            },
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
        }
    }


def _counting(monkeypatch: pytest.MonkeyPatch, name: str, real: Callable[..., bool]) -> list[int]:
    calls = [0]

    def counted(*args: str) -> bool:
        calls[0] += 1
        return real(*args)

    monkeypatch.setattr(service, name, counted)
    return calls


def test_failed_logins_lock_the_user_then_the_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashes = _counting(monkeypatch, "verify_password", passwords.verify_password)
    dummies = _counting(monkeypatch, "verify_nothing", passwords.verify_nothing)
    limits = {"login_max_failures_per_user": 3, "login_max_failures_per_address": 5}
    with running_provider(sqlite_url(tmp_path), tmp_path, **limits) as p:
        tokens = f"{p.url}/v3/auth/tokens"
        for _ in range(3):
            assert httpx.post(tokens, json=_v3("admin", "wrong")).status_code == 401
        locked = httpx.post(tokens, json=_v3("admin", ADMIN_PASSWORD))
        assert locked.status_code == 401, locked.text
        error = locked.json()["error"]
        assert error == {
            "code": 401,
            "title": "Unauthorized",
            "message": "The account is locked for user: admin.",
        }
        assert 0 < int(locked.headers["Retry-After"]) <= 300
        assert "WWW-Authenticate" in locked.headers
        assert hashes[0] == 3  # none for the locked attempt

        assert httpx.post(tokens, json=_v3("nobody", "guess")).status_code == 401
        assert dummies[0] == 1  # an unknown user costs the same hash
        assert httpx.post(tokens, json=_v3("nobody", "guess")).status_code == 401  # the 5th failure from here
        address_locked = httpx.post(tokens, json=_v3("someone-else", "x"))
        assert address_locked.status_code == 401 and "Retry-After" in address_locked.headers
        assert address_locked.json()["error"]["message"] == "The account is locked for user: someone-else."
        assert (hashes[0], dummies[0]) == (3, 2)
