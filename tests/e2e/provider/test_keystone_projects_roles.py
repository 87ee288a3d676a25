"""Keystone v3 projects, users and role assignments on a real `neutrino provider` process (SQLite and
PostgreSQL), over plain HTTP: Keystone's answers and errors, and Neutron's default policies for the
roles (reader reads, member writes its own project's resources, admin anything)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.e2e.provider.conftest import ADMIN_PASSWORD, ProviderProcess, unique


def _token(base: str, user: str, password: str, project: str) -> httpx.Response:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": user, "domain": {"id": "default"}, "password": password}},
            },
            "scope": {"project": {"name": project, "domain": {"id": "default"}}},
        }
    }
    return httpx.post(f"{base}/v3/auth/tokens", json=body)


def _client(base: str, user: str, password: str, project: str) -> httpx.Client:
    response = _token(base, user, password, project)
    assert response.status_code == 201, response.text
    return httpx.Client(
        base_url=base, headers={"X-Auth-Token": response.headers["X-Subject-Token"]}, timeout=60
    )


@pytest.fixture(scope="module")
def admin(provider_process: ProviderProcess) -> Iterator[httpx.Client]:
    with _client(provider_process.url, "admin", ADMIN_PASSWORD, "admin") as client:
        yield client


def _keystone_error(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == status and error["title"] and all(w in error["message"] for w in words), error


def _policy_error(response: httpx.Response, rule: str) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["NeutronError"] == {
        "type": "PolicyNotAuthorized",
        "message": f"(rule:{rule}) is disallowed by policy.",
        "detail": "",
    }


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def test_projects_and_users_answer_as_keystone(admin: httpx.Client) -> None:
    name = unique("ks")
    project = _ok(admin.post("/v3/projects", json={"project": {"name": name, "enabled": False}}), 201)[
        "project"
    ]
    assert project["enabled"] is False and project["domain_id"] == "default"
    _keystone_error(
        admin.post("/v3/projects", json={"project": {"name": name}}), 409, name, "domain ID default"
    )
    _keystone_error(admin.post("/v3/projects", json={"project": {"name": "x" * 65}}), 400, "'project.name'")
    _keystone_error(
        admin.post("/v3/projects", json={"project": {"name": "y", "domain_id": "other"}}),
        400,
        "'project.domain_id'",
    )
    assert [p["id"] for p in _ok(admin.get("/v3/projects", params={"name": name}))["projects"]] == [
        project["id"]
    ]
    assert _ok(admin.get("/v3/projects", params={"name": name, "enabled": "true"}))["projects"] == []
    assert _ok(admin.get("/v3/projects", params={"domain_id": "other"}))["projects"] == []
    _keystone_error(admin.get("/v3/projects/nope"), 404, "Could not find project: nope")
    tagged = admin.patch(
        f"/v3/projects/{project['id']}", json={"project": {"tags": ["t"], "description": "d"}}
    )
    _keystone_error(tagged, 400, "'project.tags'", "not supported")  # refused, not dropped
    cleared = admin.patch(f"/v3/projects/{project['id']}", json={"project": {"description": None}})
    assert _ok(cleared)["project"]["description"] == ""
    _keystone_error(admin.patch("/v3/projects/nope", json={"project": {"enabled": True}}), 404, "nope")

    user = {"name": name, "password": "pw-1", "default_project_id": project["id"], "email": "a@example.org"}
    created = _ok(admin.post("/v3/users", json={"user": user}), 201)["user"]
    assert created["email"] == "a@example.org" and created["default_project_id"] == project["id"]
    _keystone_error(admin.post("/v3/users", json={"user": {"name": name, "password": "p"}}), 409, name)
    _keystone_error(
        admin.post("/v3/users", json={"user": {"name": "z", "enabled": "maybe"}}), 400, "'user.enabled'"
    )
    _keystone_error(
        admin.post("/v3/users", json={"user": {"name": "z", "default_project_id": "nope"}}),
        404,
        "project: nope",
    )
    change = {"user": {"name": name + "-2", "email": None, "description": "second"}}
    changed = _ok(admin.patch(f"/v3/users/{created['id']}", json=change))["user"]
    assert changed["name"] == name + "-2" and "email" not in changed and changed["description"] == "second"
    assert _ok(admin.get(f"/v3/users/{created['id']}"))["user"] == changed
    _keystone_error(admin.patch("/v3/users/nope", json={"user": {"enabled": False}}), 404, "user: nope")

    # a default project grants no role, and a disabled project no token
    _keystone_error(_token(str(admin.base_url), name + "-2", "pw-1", name), 401)
    grant = f"/v3/projects/{project['id']}/users/{created['id']}/roles"
    assert admin.put(f"{grant}/member").status_code == 204
    _keystone_error(_token(str(admin.base_url), name + "-2", "pw-1", name), 401)
    assert _ok(admin.patch(f"/v3/projects/{project['id']}", json={"project": {"enabled": True}}))["project"][
        "enabled"
    ]
    assert _token(str(admin.base_url), name + "-2", "pw-1", name).status_code == 201
    assert admin.delete(f"/v3/users/{created['id']}").status_code == 204
    assert admin.delete(f"/v3/projects/{project['id']}").status_code == 204
    _keystone_error(admin.delete(f"/v3/projects/{project['id']}"), 404)


def test_roles_and_role_assignments(admin: httpx.Client) -> None:
    name = unique("ra")
    project = _ok(admin.post("/v3/projects", json={"project": {"name": name}}), 201)["project"]
    user = _ok(admin.post("/v3/users", json={"user": {"name": name, "password": "pw"}}), 201)["user"]
    assert [r["id"] for r in _ok(admin.get("/v3/roles"))["roles"]] == ["admin", "member", "reader"]
    assert _ok(admin.get("/v3/roles/reader"))["role"]["name"] == "reader"
    _keystone_error(admin.get("/v3/roles/owner"), 404, "Could not find role: owner")
    _keystone_error(admin.post("/v3/roles", json={"role": {"name": "owner"}}), 403, "fixed")
    grant = f"/v3/projects/{project['id']}/users/{user['id']}/roles"
    _keystone_error(admin.put(f"{grant}/owner"), 404, "role: owner")
    _keystone_error(admin.put(f"/v3/projects/nope/users/{user['id']}/roles/reader"), 404, "project: nope")
    assert admin.head(f"{grant}/reader").status_code == 404  # a HEAD answer has no body
    _keystone_error(admin.delete(f"{grant}/reader"), 404, "role assignment")
    for role in ("reader", "reader", "member"):  # granting twice is no error
        assert admin.put(f"{grant}/{role}").status_code == 204
    assert admin.head(f"{grant}/reader").status_code == 204
    assert [r["id"] for r in _ok(admin.get(grant))["roles"]] == ["member", "reader"]

    mine = _ok(admin.get("/v3/role_assignments", params={"user.id": user["id"], "include_names": "1"}))
    assert [(a["role"], a["user"], a["scope"]["project"]) for a in mine["role_assignments"]] == [
        (
            {"id": role, "name": role},
            {"id": user["id"], "name": name, "domain": {"id": "default", "name": "Default"}},
            {"id": project["id"], "name": name, "domain": {"id": "default", "name": "Default"}},
        )
        for role in ("member", "reader")
    ]
    only = {"scope.project.id": project["id"], "role.id": "reader", "effective": ""}
    assert [a["role"] for a in _ok(admin.get("/v3/role_assignments", params=only))["role_assignments"]] == [
        {"id": "reader"}
    ]
    assert (
        _ok(admin.get("/v3/role_assignments", params={"scope.domain.id": "default"}))["role_assignments"]
        == []
    )
    everyone = _ok(admin.get("/v3/role_assignments"))["role_assignments"]
    assert {a["role"]["id"] for a in everyone if a["user"]["id"] != user["id"]} >= {"admin"}

    client = _client(str(admin.base_url), name, "pw", name)
    _keystone_error(client.get("/v3/role_assignments"), 403)
    assert _ok(client.get(f"/v3/users/{user['id']}"))["user"]["name"] == name  # its own record
    assert _ok(client.get(f"/v3/projects/{project['id']}"))["project"]["name"] == name  # its own project
    _keystone_error(client.get("/v3/projects"), 403)
    mine = _ok(client.get(f"/v3/users/{user['id']}/projects"))[
        "projects"
    ]  # openstack project list --my-projects
    assert [p["id"] for p in mine] == [project["id"]]
    admin_id = _ok(admin.get("/v3/users", params={"name": "admin"}))["users"][0]["id"]
    _keystone_error(client.get(f"/v3/users/{admin_id}/projects"), 403, "identity:list_user_projects")
    assert admin.delete(f"{grant}/member").status_code == 204
    assert client.get("/v2.0/networks").status_code == 401  # its tokens on the project died with the role
    client.close()
    assert admin.delete(f"/v3/users/{user['id']}").status_code == 204
    assert _ok(admin.get("/v3/role_assignments", params={"user.id": user["id"]}))["role_assignments"] == []
    assert admin.delete(f"/v3/projects/{project['id']}").status_code == 204


def test_reader_reads_member_writes_its_own_project(admin: httpx.Client) -> None:
    base = str(admin.base_url)
    ids = {}
    for name in ("p", "q"):
        ids[name] = _ok(admin.post("/v3/projects", json={"project": {"name": unique(name)}}), 201)["project"]
    people = {"reader": ("p", "reader"), "member": ("p", "member"), "other": ("q", "member")}
    clients = {}
    for who, (project, role) in people.items():
        name = unique(who)
        user = _ok(admin.post("/v3/users", json={"user": {"name": name, "password": "pw"}}), 201)["user"]
        assert (
            admin.put(f"/v3/projects/{ids[project]['id']}/users/{user['id']}/roles/{role}").status_code == 204
        )
        clients[who] = _client(base, name, "pw", ids[project]["name"])
    reader, member, other = clients["reader"], clients["member"], clients["other"]
    try:
        owned = _ok(
            admin.post("/v2.0/networks", json={"network": {"name": "p-net", "project_id": ids["p"]["id"]}}),
            201,
        )
        net = owned["network"]
        assert [n["id"] for n in _ok(reader.get("/v2.0/networks"))["networks"]] == [net["id"]]
        seen = _ok(reader.get(f"/v2.0/networks/{net['id']}"))["network"]
        assert seen["name"] == "p-net" and "provider:network_type" not in seen
        _policy_error(reader.post("/v2.0/networks", json={"network": {"name": "r"}}), "create_network")
        _policy_error(
            reader.put(f"/v2.0/networks/{net['id']}", json={"network": {"name": "r"}}), "update_network"
        )
        _policy_error(reader.delete(f"/v2.0/networks/{net['id']}"), "delete_network")
        _policy_error(reader.put(f"/v2.0/networks/{net['id']}/tags/x"), "create_networks_tags")
        _policy_error(
            reader.post("/v2.0/security-groups", json={"security_group": {"name": "r"}}),
            "create_security_group",
        )

        # the member changes what its project owns, even what an admin created for it
        renamed = _ok(member.put(f"/v2.0/networks/{net['id']}", json={"network": {"name": "renamed"}}))
        assert renamed["network"]["name"] == "renamed"
        own = _ok(member.post("/v2.0/networks", json={"network": {"name": "m"}}), 201)["network"]
        assert own["project_id"] == ids["p"]["id"]
        # naming another project is neutron-lib's body check, a 400 before any policy
        other_project = member.post(
            "/v2.0/networks", json={"network": {"name": "x", "project_id": ids["q"]["id"]}}
        )
        assert other_project.status_code == 400 and "requires admin privileges" in other_project.text
        _policy_error(
            member.post("/v2.0/networks", json={"network": {"name": "x", "provider:network_type": "vlan"}}),
            "create_network:provider:network_type",
        )
        # another project's member neither sees nor changes it
        assert other.put(f"/v2.0/networks/{own['id']}", json={"network": {"name": "x"}}).status_code == 404
        assert other.delete(f"/v2.0/networks/{own['id']}").status_code == 404
        assert _ok(member.get(f"/v2.0/networks/{own['id']}"))["network"]["name"] == "m"
        assert member.delete(f"/v2.0/networks/{own['id']}").status_code == 204
        assert admin.delete(f"/v2.0/networks/{net['id']}").status_code == 204
    finally:
        for client in clients.values():
            client.close()


def test_concurrent_creates_of_one_name_store_one(admin: httpx.Client) -> None:
    name = unique("race")
    headers = dict(admin.headers)

    def create(_: int) -> int:
        body = {"project": {"name": name}}
        return httpx.post(f"{admin.base_url}/v3/projects", json=body, headers=headers, timeout=60).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(create, range(8)))
    assert statuses == [201] + [409] * 7
    assert len(_ok(admin.get("/v3/projects", params={"name": name}))["projects"]) == 1
