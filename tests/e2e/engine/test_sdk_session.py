"""Logging in and out through the real ovirtsdk4, and the API root it reads first."""

from __future__ import annotations

from typing import Any

import httpx
import ovirtsdk4 as sdk
import pytest

from tests.e2e.engine.conftest import ADMIN_PASSWORD, RunningEngine
from tests.support.hosts import add_host
from tests.support.servers import RunningAgent


def test_sso_token_then_api_root(shared_engine: RunningEngine) -> None:
    conn = shared_engine.connection()
    try:
        token = conn.authenticate()  # SSO: /ovirt-engine/sso/oauth/token
        assert token
        assert conn.test(raise_exception=True)
        api = conn.system_service().get()
    finally:
        conn.close()
    assert api.product_info.name == "Neutrino"
    assert api.product_info.version.major == 4
    assert api.product_info.instance_id
    assert api.special_objects.blank_template.id == "00000000-0000-0000-0000-000000000000"
    assert api.summary.vms.total >= 0
    assert api.summary.hosts.total >= 0
    assert api.summary.users.total == 1


def test_summary_counts_vms(system: Any, host_agent: RunningAgent) -> None:
    import ovirtsdk4.types as types

    add_host(system, host_agent, cluster_name="Default")
    before = system.get().summary
    vm = system.vms_service().add(
        types.Vm(
            name="summary-vm", cluster=types.Cluster(name="Default"), template=types.Template(name="Blank")
        )
    )
    system.vms_service().vm_service(vm.id).start()
    after = system.get().summary
    system.vms_service().vm_service(vm.id).stop()
    system.vms_service().vm_service(vm.id).remove()
    assert after.vms.total == before.vms.total + 1
    assert after.vms.active == before.vms.active + 1


def test_bad_credentials_raise_auth_error(shared_engine: RunningEngine) -> None:
    conn = sdk.Connection(url=shared_engine.url, username="admin@internal", password="wrong")
    try:
        with pytest.raises(sdk.AuthError):
            conn.system_service().get()
    finally:
        conn.close(logout=False)


def test_unknown_user_raises_auth_error(shared_engine: RunningEngine) -> None:
    conn = sdk.Connection(url=shared_engine.url, username="nobody@internal", password=ADMIN_PASSWORD)
    try:
        with pytest.raises(sdk.AuthError):
            conn.system_service().get()
    finally:
        conn.close(logout=False)


def test_logout_revokes_the_token(shared_engine: RunningEngine) -> None:
    conn = shared_engine.connection()
    conn.system_service().get()
    token = conn._sso_token
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(shared_engine.url, headers=headers).status_code == 200
    conn.close()
    assert httpx.get(shared_engine.url, headers=headers).status_code == 401


def test_no_token_is_401_with_a_fault(shared_engine: RunningEngine) -> None:
    for path in ("", "/vms", "/datacenters"):
        r = httpx.get(shared_engine.url + path)
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/xml")
        assert "<fault>" in r.text
        assert r.headers["www-authenticate"].lower().startswith("bearer")


def test_bogus_token_is_401(shared_engine: RunningEngine) -> None:
    r = httpx.get(shared_engine.url + "/vms", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401


def test_basic_auth_is_accepted_and_checked(shared_engine: RunningEngine) -> None:
    assert httpx.get(shared_engine.url, auth=("admin@internal", ADMIN_PASSWORD)).status_code == 200
    assert httpx.get(shared_engine.url, auth=("admin@internal", "wrong")).status_code == 401


def test_sso_answers_oauth_errors(shared_engine: RunningEngine) -> None:
    base = shared_engine.url.removesuffix("/ovirt-engine/api")
    r = httpx.post(
        f"{base}/ovirt-engine/sso/oauth/token",
        data={
            "grant_type": "password",
            "username": "admin@internal",
            "password": "wrong",
            "scope": "ovirt-app-api",
        },
    )
    body = r.json()
    assert "access_token" not in body
    assert body["error_code"] == "access_denied"
    r = httpx.post(
        f"{base}/ovirt-engine/sso/oauth/token",
        data={
            "grant_type": "password",
            "username": "admin@internal",
            "password": ADMIN_PASSWORD,
            "scope": "ovirt-app-api",
        },
    )
    assert r.json()["token_type"] == "bearer"
    assert r.json()["access_token"]
