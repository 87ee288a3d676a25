"""Keystone tokens that must die stay dead across a restart of a real `neutrino provider` process:
a revoked token, a disabled user's, one issued before its user changed password; and ``GET /v3/auth/tokens``
answers as Keystone does (200, 404 for a dead subject, 401 for a dead caller, 403 for another's token)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.servers import free_port, neutrino_process

ADMIN_PASSWORD = "revocation-e2e-secret"


def _token(base: str, user: str, password: str, project: str = "admin") -> str:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": user, "domain": {"id": "default"}, "password": password}},
            },
            "scope": {"project": {"name": project, "domain": {"id": "default"}}},
        }
    }
    response = httpx.post(f"{base}/v3/auth/tokens", json=body)
    assert response.status_code == 201, response.text
    return response.headers["X-Subject-Token"]


def _networks(base: str, token: str) -> int:
    return httpx.get(f"{base}/v2.0/networks", headers={"X-Auth-Token": token}).status_code


def _validate(base: str, caller: str, subject: str) -> int:
    headers = {"X-Auth-Token": caller, "X-Subject-Token": subject}
    return httpx.get(f"{base}/v3/auth/tokens", headers=headers).status_code


def test_dead_tokens_stay_dead_after_a_restart(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = ["provider", "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path / "data")]
    env = {"NEUTRINO_ADMIN_PASSWORD": ADMIN_PASSWORD}
    with neutrino_process(args, f"{base}/", tmp_path / "first.log", env=env):
        admin = _token(base, "admin", ADMIN_PASSWORD)
        headers = {"X-Auth-Token": admin}
        ids = {}
        for name in ("revoked", "disabled", "changed"):
            body = {"user": {"name": name, "password": "old-pw", "default_project_id": None}}
            created = httpx.post(f"{base}/v3/users", json=body, headers=headers).json()["user"]
            ids[name] = created["id"]
            grant = f"{base}/v3/projects/{_project_id(base, admin)}/users/{created['id']}/roles/member"
            assert httpx.put(grant, headers=headers).status_code == 204
        tokens = {name: _token(base, name, "old-pw") for name in ids}
        assert {name: _networks(base, token) for name, token in tokens.items()} == dict.fromkeys(ids, 200)
        assert _validate(base, admin, tokens["revoked"]) == 200
        assert _validate(base, tokens["disabled"], tokens["revoked"]) == 403  # someone else's token

        revoke = {"X-Auth-Token": admin, "X-Subject-Token": tokens["revoked"]}
        assert httpx.delete(f"{base}/v3/auth/tokens", headers=revoke).status_code == 204
        disable = httpx.patch(
            f"{base}/v3/users/{ids['disabled']}", json={"user": {"enabled": False}}, headers=headers
        )
        assert disable.status_code == 200
        change = httpx.post(
            f"{base}/v3/users/{ids['changed']}/password",
            json={"user": {"original_password": "old-pw", "password": "new-pw"}},
            headers={"X-Auth-Token": tokens["changed"]},
        )
        assert change.status_code == 204, change.text
        _all_dead(base, admin, tokens)  # at once
        fresh = _token(base, "changed", "new-pw")

    with neutrino_process(args, f"{base}/", tmp_path / "second.log", env=env):
        _all_dead(base, admin, tokens)
        assert _networks(base, admin) == 200  # tokens that did not have to die still work
        assert _networks(base, fresh) == 200
        assert _validate(base, _token(base, "revoked", "old-pw"), tokens["revoked"]) == 404
        assert _validate(base, tokens["revoked"], admin) == 401  # the caller's own token is dead


def _project_id(base: str, admin: str) -> str:
    projects = httpx.get(f"{base}/v3/projects?name=admin", headers={"X-Auth-Token": admin}).json()["projects"]
    return str(projects[0]["id"])


def _all_dead(base: str, admin: str, tokens: dict[str, str]) -> None:
    assert {name: _networks(base, token) for name, token in tokens.items()} == dict.fromkeys(tokens, 401)
    assert {name: _validate(base, admin, token) for name, token in tokens.items()} == dict.fromkeys(
        tokens, 404
    )
