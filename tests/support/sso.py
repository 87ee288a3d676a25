"""Logging in to the engine as its clients do: the oVirt SSO password grant, for tests and benches."""

from __future__ import annotations

import ssl

import httpx


def sso_token(
    engine: str, password: str, username: str = "admin@internal", verify: ssl.SSLContext | bool = True
) -> str:
    """A bearer token from the engine at ``engine`` (``scheme://host:port``, without ``/ovirt-engine``)."""
    form = {"grant_type": "password", "scope": "ovirt-app-api", "username": username, "password": password}
    answer = httpx.post(f"{engine}/ovirt-engine/sso/oauth/token", data=form, verify=verify, timeout=30)
    answer.raise_for_status()
    return str(answer.json()["access_token"])
