"""Keystone on the provider's port: tokens, catalog, and who sees what."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.integration.provider.conftest import Api, unique
from tests.integration.provider.server import ADMIN_PASSWORD, RunningProvider, running_provider
from tests.support.databases import sqlite_url


def _v3(user: str, password: str, project: str | None = "admin") -> dict:
    body: dict = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": user, "domain": {"name": "Default"}, "password": password}},
            }
        }
    }
    if project:
        body["auth"]["scope"] = {"project": {"name": project, "domain": {"name": "Default"}}}
    return body


def test_v3_token_and_catalog(shared_provider: RunningProvider) -> None:
    url = shared_provider.url
    version = httpx.get(f"{url}/v3").json()["version"]
    assert version["id"].startswith("v3") and version["status"] == "stable"
    response = httpx.post(f"{url}/v3/auth/tokens", json=_v3("admin", ADMIN_PASSWORD))
    assert response.status_code == 201
    token = response.headers["X-Subject-Token"]
    body = response.json()["token"]
    assert body["user"]["name"] == "admin" and body["project"]["name"] == "admin"
    assert {r["name"] for r in body["roles"]} >= {"admin", "member"}
    network = next(s for s in body["catalog"] if s["type"] == "network")
    assert network["name"] == "neutron"
    assert {e["interface"] for e in network["endpoints"]} == {"public", "internal", "admin"}
    assert all(e["url"].rstrip("/") == url and e["region_id"] == "RegionOne" for e in network["endpoints"])

    check = httpx.get(f"{url}/v3/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token})
    assert check.status_code == 200 and check.json()["token"]["user"]["name"] == "admin"
    assert httpx.get(f"{url}/v2.0/networks", headers={"X-Auth-Token": token}).status_code == 200
    revoke = httpx.delete(f"{url}/v3/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token})
    assert revoke.status_code == 204
    assert httpx.get(f"{url}/v2.0/networks", headers={"X-Auth-Token": token}).status_code == 401


def test_bad_credentials_and_missing_tokens(shared_provider: RunningProvider) -> None:
    url = shared_provider.url
    denied = httpx.post(f"{url}/v3/auth/tokens", json=_v3("admin", "wrong"))
    assert denied.status_code == 401 and denied.json()["error"]["code"] == 401
    assert httpx.post(f"{url}/v3/auth/tokens", json=_v3("nobody", "x")).status_code == 401
    assert httpx.post(f"{url}/v3/auth/tokens", json=_v3("admin", ADMIN_PASSWORD, "nope")).status_code == 401
    assert httpx.post(f"{url}/v3/auth/tokens", json={"auth": {}}).status_code == 400
    response = httpx.get(f"{url}/v2.0/networks")
    assert response.status_code == 401 and "NeutronError" in response.json()
    assert httpx.get(f"{url}/v2.0/ports", headers={"X-Auth-Token": "forged.token"}).status_code == 401


def test_v2_tokens(shared_provider: RunningProvider) -> None:
    body = {
        "auth": {
            "tenantName": "admin",
            "passwordCredentials": {"username": "admin", "password": ADMIN_PASSWORD},
        }
    }
    response = httpx.post(f"{shared_provider.url}/v2.0/tokens", json=body)
    assert response.status_code == 200
    access = response.json()["access"]
    assert access["token"]["tenant"]["name"] == "admin"
    network = next(s for s in access["serviceCatalog"] if s["type"] == "network")
    assert network["endpoints"][0]["publicURL"].rstrip("/") == shared_provider.url
    headers = {"X-Auth-Token": access["token"]["id"]}
    assert httpx.get(f"{shared_provider.url}/v2.0/networks", headers=headers).status_code == 200


def test_projects_see_only_their_resources(shared_provider: RunningProvider, api: Api) -> None:
    alice, bob = unique("alice"), unique("bob")
    shared_provider.add_user(alice, "pw-a", alice + "-project")
    shared_provider.add_user(bob, "pw-b", bob + "-project")
    with shared_provider.client(shared_provider.token(alice, "pw-a", alice + "-project")) as a_client, \
         shared_provider.client(shared_provider.token(bob, "pw-b", bob + "-project")) as b_client:  # fmt: skip
        a, b = Api(a_client), Api(b_client)
        private = a.network()
        a.subnet(private["id"], "10.40.0.0/24")
        port = a.port(private["id"])
        assert "binding:host_id" not in port and "provider:network_type" not in private
        b.error(b.c.get(f"/v2.0/networks/{private['id']}"), 404, "NetworkNotFound")
        b.error(b.c.get(f"/v2.0/ports/{port['id']}"), 404, "PortNotFound")
        assert private["id"] not in {n["id"] for n in b.ok(b.c.get("/v2.0/networks"))["networks"]}
        b.error(b.c.post("/v2.0/ports", json={"port": {"network_id": private["id"]}}), 404, "NetworkNotFound")
        b.error(b.c.delete(f"/v2.0/networks/{private['id']}"), 404)

        shared = api.network(shared=True)
        api.subnet(shared["id"], "10.41.0.0/24")
        assert shared["id"] in {n["id"] for n in b.ok(b.c.get("/v2.0/networks"))["networks"]}
        theirs = b.port(shared["id"])
        assert theirs["project_id"] != shared["project_id"]
        assert theirs["id"] not in {p["id"] for p in a.ok(a.c.get("/v2.0/ports"))["ports"]}
        assert theirs["id"] in {p["id"] for p in api.ok(api.c.get("/v2.0/ports"))["ports"]}

        b.error(b.c.post("/v2.0/networks", json={"network": {"shared": True}}), 403, "PolicyNotAuthorized")
        b.error(b.c.post("/v2.0/networks", json={"network": {"provider:network_type": "vlan"}}), 403)
        b.error(
            b.c.post("/v2.0/ports", json={"port": {"network_id": shared["id"], "binding:host_id": "h"}}), 403
        )
        message = b.error(
            b.c.post("/v2.0/networks", json={"network": {"project_id": private["project_id"]}}), 400
        )
        assert message.startswith(
            "Specifying 'project_id' or 'tenant_id' other than the authenticated project"
        )
        assert httpx.get(f"{shared_provider.url}/v3/users", headers=b.c.headers).status_code == 403


def test_no_auth_mode(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    with (
        running_provider(url, tmp_path, no_auth=True, default_project_id="tenant-0") as p,
        httpx.Client(base_url=p.url) as c,
    ):
        api = Api(c)
        net = api.network()
        assert net["project_id"] == "tenant-0" and "provider:network_type" in net
        other = api.network(project_id="tenant-1")
        assert other["project_id"] == "tenant-1"
        assert api.port(other["id"])["project_id"] == "tenant-0"
        port = api.port(other["id"], tenant_id="tenant-1")
        assert port["project_id"] == "tenant-1"
        groups = api.ok(c.get("/v2.0/security-groups", params={"project_id": "tenant-1", "name": "default"}))
        assert port["security_groups"] == [groups["security_groups"][0]["id"]]


def test_keystone_admin_lookups(shared_provider: RunningProvider) -> None:
    name = unique("carol")
    shared_provider.add_user(name, "pw-c", name + "-project")
    with shared_provider.admin() as admin:
        user = admin.get("/v3/users", params={"name": name}).json()["users"][0]
        assert admin.get(f"/v3/users/{user['id']}").json()["user"]["name"] == name
        project_id = user["default_project_id"]
        assert admin.get(f"/v3/projects/{project_id}").json()["project"]["name"] == name + "-project"
        assert admin.get("/v3/projects/nope").status_code == 404
        assert [r["id"] for r in admin.get("/v3/roles", params={"name": "reader"}).json()["roles"]] == [
            "reader"
        ]
        assert admin.put(f"/v3/projects/{project_id}/users/{user['id']}/roles/reader").status_code == 204
        admin_token = admin.headers["X-Auth-Token"]
    carol = shared_provider.token(name, "pw-c", name + "-project")
    own = httpx.get(
        f"{shared_provider.url}/v3/auth/tokens", headers={"X-Auth-Token": carol, "X-Subject-Token": carol}
    )
    assert {r["name"] for r in own.json()["token"]["roles"]} == {"member", "reader"}
    other = httpx.get(f"{shared_provider.url}/v3/auth/tokens", headers={"X-Auth-Token": carol, "X-Subject-Token": admin_token})  # fmt: skip
    assert other.status_code == 403


def test_passwords_can_be_changed(shared_provider: RunningProvider) -> None:
    name = unique("erin")
    shared_provider.add_user(name, "old", name + "-p")
    with shared_provider.admin() as admin:
        user_id = admin.get("/v3/users", params={"name": name}).json()["users"][0]["id"]
        assert admin.patch(f"/v3/users/{user_id}", json={"user": {"password": "new"}}).status_code == 200
    assert (
        httpx.post(f"{shared_provider.url}/v3/auth/tokens", json=_v3(name, "old", name + "-p")).status_code
        == 401
    )
    token = shared_provider.token(name, "new", name + "-p")
    change = {"user": {"original_password": "wrong", "password": "newer"}}
    url = f"{shared_provider.url}/v3/users/{user_id}/password"
    assert httpx.post(url, json=change, headers={"X-Auth-Token": token}).status_code == 401
    change["user"]["original_password"] = "new"
    assert httpx.post(url, json=change, headers={"X-Auth-Token": token}).status_code == 204
    assert shared_provider.token(name, "newer", name + "-p")


def test_member_port_binding_policy(tmp_path: Path) -> None:
    with running_provider(sqlite_url(tmp_path), tmp_path, member_port_binding=True) as p:
        name = unique("frank")
        p.add_user(name, "pw", name + "-p")
        with p.client(p.token(name, "pw", name + "-p")) as client:
            user = Api(client)
            net = user.network()
            port = user.port(net["id"], **{"binding:host_id": "host-7"})
            assert port["binding:host_id"] == "host-7" and port["binding:vif_type"] == "bridge"
            assert "provider:network_type" not in net
            user.error(
                user.c.post("/v2.0/networks", json={"network": {"provider:network_type": "vlan"}}), 403
            )


def test_deleting_or_disabling_kills_the_tokens_at_once(shared_provider: RunningProvider) -> None:
    url = shared_provider.url
    names = [unique(n) for n in ("gone", "off", "proj")]
    for name in names:
        shared_provider.add_user(name, "pw", name + "-p")
    tokens = {name: shared_provider.token(name, "pw", name + "-p") for name in names}

    def networks(token: str) -> int:
        return httpx.get(f"{url}/v2.0/networks", headers={"X-Auth-Token": token}).status_code

    assert [networks(t) for t in tokens.values()] == [200, 200, 200]
    with shared_provider.admin() as admin:
        user_id = admin.get("/v3/users", params={"name": names[0]}).json()["users"][0]["id"]
        assert admin.delete(f"/v3/users/{user_id}").status_code == 204
        assert admin.delete(f"/v3/users/{user_id}").status_code == 404
        off = admin.get("/v3/projects", params={"name": names[1] + "-p"}).json()["projects"][0]["id"]
        disabled = admin.patch(f"/v3/projects/{off}", json={"project": {"enabled": False}})
        assert disabled.status_code == 200 and disabled.json()["project"]["enabled"] is False
        gone = admin.get("/v3/projects", params={"name": names[2] + "-p"}).json()["projects"][0]["id"]
        assert admin.delete(f"/v3/projects/{gone}").status_code == 204
        assert admin.get(f"/v3/projects/{gone}").status_code == 404
        assert networks(shared_provider._admin_token) == 200  # the admin's token is not touched
    assert [networks(t) for t in tokens.values()] == [401, 401, 401]
    assert httpx.post(f"{url}/v3/auth/tokens", json=_v3(names[1], "pw", names[1] + "-p")).status_code == 401


def test_removing_a_role_kills_the_users_tokens_on_that_project_only(
    shared_provider: RunningProvider,
) -> None:
    url, name = shared_provider.url, unique("rolf")
    shared_provider.add_user(name, "pw", name + "-p")
    with shared_provider.admin() as admin:
        user_id = admin.get("/v3/users", params={"name": name}).json()["users"][0]["id"]
        own = admin.get("/v3/projects", params={"name": name + "-p"}).json()["projects"][0]["id"]
        other = admin.post("/v3/projects", json={"project": {"name": name + "-q"}}).json()["project"]["id"]
        assert admin.put(f"/v3/projects/{other}/users/{user_id}/roles/member").status_code == 204
        kept = shared_provider.token(name, "pw", name + "-p")
        dropped = shared_provider.token(name, "pw", name + "-q")
        assert admin.delete(f"/v3/projects/{other}/users/{user_id}/roles/member").status_code == 204
        assert admin.delete(f"/v3/projects/{other}/users/{user_id}/roles/member").status_code == 404
        assert own != other

    def networks(token: str) -> int:
        return httpx.get(f"{url}/v2.0/networks", headers={"X-Auth-Token": token}).status_code

    assert (networks(kept), networks(dropped)) == (200, 401)
    assert httpx.post(f"{url}/v3/auth/tokens", json=_v3(name, "pw", name + "-q")).status_code == 401
