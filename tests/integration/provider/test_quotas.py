"""``quotas`` and ``quota_details`` on the provider API (issue 18), SQLite and PostgreSQL: limits per
project, enforced on create with Neutron's 409 OverQuota (also under concurrent creates), admin-only
writes, a limit below usage refused unless forced, and every bad input Neutron's error."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.integration.provider.conftest import Api, unique
from tests.integration.provider.server import RunningProvider, running_provider

RESOURCES = {
    "network",
    "subnet",
    "subnetpool",
    "port",
    "router",
    "floatingip",
    "security_group",
    "security_group_rule",
    "rbac_policy",
}


def _member(provider: RunningProvider) -> tuple[httpx.Client, str]:
    """A client of a new project's member, and that project's id."""
    name = unique("quota")
    provider.add_user(name, "pw", name + "-p")
    token = provider.token(name, "pw", name + "-p")
    with provider.client(token) as probe:
        project_id = probe.get("/v2.0/quotas/project").json()["project"]["project_id"]
    return provider.client(token), project_id


def _net(client: httpx.Client) -> httpx.Response:
    return client.post("/v2.0/networks", json={"network": {"name": unique("qn")}})


def test_quotas_are_listed_and_unlimited_by_default(api: Api) -> None:
    listed = {e["alias"] for e in api.ok(api.c.get("/v2.0/extensions"))["extensions"]}
    assert {"quotas", "quota_details"} <= listed
    project = unique("nobody")
    assert api.ok(api.c.get(f"/v2.0/quotas/{project}/default"))["quota"] == dict.fromkeys(RESOURCES, -1)
    assert api.ok(api.c.get(f"/v2.0/quotas/{project}"))["quota"] == dict.fromkeys(RESOURCES, -1)


def test_limits_are_enforced_and_set_by_admins_only(api: Api, shared_provider: RunningProvider) -> None:
    member, project = _member(shared_provider)
    other = unique("other")
    with member:
        answer = api.ok(api.c.put(f"/v2.0/quotas/{project}", json={"quota": {"network": 2, "port": 5}}))
        assert (
            answer["quota"]["network"] == 2
            and answer["quota"]["port"] == 5
            and answer["quota"]["subnet"] == -1
        )
        assert member.get(f"/v2.0/quotas/{project}").json()["quota"]["network"] == 2  # its own: yes
        for denied, rule in (
            (member.get(f"/v2.0/quotas/{other}"), "get_quota"),
            (member.get(f"/v2.0/quotas/{other}/details"), "get_quota"),
            (member.get("/v2.0/quotas"), "get_quota"),
            (member.put(f"/v2.0/quotas/{project}", json={"quota": {"network": 50}}), "update_quota"),
            (member.delete(f"/v2.0/quotas/{project}"), "delete_quota"),
        ):
            assert denied.status_code == 403, denied.text
            assert denied.json()["NeutronError"]["message"] == f"(rule:{rule}) is disallowed by policy."

        assert _net(member).status_code == 201
        # a bulk create that would pass the limit creates nothing
        bulk = {"networks": [{"name": unique("b")}, {"name": unique("b")}]}
        over = member.post("/v2.0/networks", json=bulk)
        assert over.status_code == 409 and over.json()["NeutronError"] == {
            "type": "OverQuota",
            "message": "Quota exceeded for resources: ['network'].",
            "detail": "",
        }
        net = _net(member).json()["network"]
        api.error(_net(member), 409, "OverQuota")
        mine = member.get(f"/v2.0/networks?project_id={project}").json()["networks"]
        assert len(mine) == 2
        details = member.get(f"/v2.0/quotas/{project}/details").json()["quota"]
        assert details["network"] == {"limit": 2, "used": 2, "reserved": 0}
        assert details["subnet"] == {"limit": -1, "used": 0, "reserved": 0}
        assert set(details) == RESOURCES
        sdk_path = member.get(f"/v2.0/quotas/{project}/details.json").json()
        assert sdk_path["quota"]["network"]["used"] == 2

        # an admin may create for the project past nothing: the limit is the project's
        api.error(api.c.post("/v2.0/networks", json={"network": {"project_id": project}}), 409, "OverQuota")
        assert api.ok(api.c.delete(f"/v2.0/networks/{net['id']}"), 204) == {}
        assert _net(member).status_code == 201  # freed by the delete

        listed = api.ok(api.c.get("/v2.0/quotas"))["quotas"]
        entry = next(q for q in listed if q["project_id"] == project)
        assert entry["network"] == 2 and entry["tenant_id"] == project and entry["router"] == -1
        assert api.c.delete(f"/v2.0/quotas/{project}").status_code == 204
        assert api.ok(api.c.get(f"/v2.0/quotas/{project}"))["quota"] == dict.fromkeys(RESOURCES, -1)
        message = api.error(api.c.delete(f"/v2.0/quotas/{project}"), 404, "TenantQuotaNotFound")
        assert message == f"Quota for tenant {project} could not be found."
        assert _net(member).status_code == 201


def test_a_limit_below_usage_needs_force(api: Api, shared_provider: RunningProvider) -> None:
    member, project = _member(shared_provider)
    with member:
        for _ in range(2):
            assert _net(member).status_code == 201
        path = f"/v2.0/quotas/{project}"
        refused = api.error(api.c.put(path, json={"quota": {"network": 1, "port": 3}}), 400, "HTTPBadRequest")
        assert refused == "Quota limit 1 for network must be greater than or equal to already used 2"
        assert api.ok(api.c.get(path))["quota"]["port"] == -1  # nothing changed, not even the port limit
        forced = api.ok(api.c.put(path, json={"quota": {"network": 1, "force": True}}))
        assert forced["quota"]["network"] == 1
        api.error(_net(member), 409, "OverQuota")
        assert (
            api.ok(api.c.put(path, json={"quota": {"network": 2, "check_limit": True}}))["quota"]["network"]
            == 2
        )


def test_bad_quota_input_is_neutrons_error(api: Api) -> None:
    path = f"/v2.0/quotas/{unique('bad')}"
    cases = (
        (
            {"quota": {"network": "abc"}},
            "HTTPBadRequest",
            "Invalid input for network. Reason: 'abc' is not an integer.",
        ),
        ({"quota": {"network": -5}}, "HTTPBadRequest", None),
        ({"quota": {"network": 2**31}}, "HTTPBadRequest", None),
        ({"quota": {"volumes": 5}}, "HTTPBadRequest", "Unrecognized attribute(s) 'volumes'"),
        ({"network": 5}, "HTTPBadRequest", "Unable to find 'quota' in request body"),
    )
    for body, kind, text in cases:
        message = api.error(api.c.put(path, json=body), 400, kind)
        if text is not None:
            assert message == text, message
    assert "network" in api.error(api.c.put(path, json={"quota": {"network": -5}}), 400)
    assert all(q["project_id"] != path.rsplit("/", 1)[1] for q in api.ok(api.c.get("/v2.0/quotas"))["quotas"])


def test_configured_defaults_and_concurrent_creates(database_url: str, tmp_path: Path) -> None:
    """Defaults come from the settings; eight creates at once against a limit of three make three."""
    with running_provider(database_url, tmp_path, quota_network=3, quota_router=0) as provider:
        member, project = _member(provider)
        with member:
            assert member.get(f"/v2.0/quotas/{project}/default").json()["quota"]["network"] == 3
            refused = member.post("/v2.0/routers", json={"router": {"name": "r"}})
            assert refused.status_code == 409
            assert refused.json()["NeutronError"]["message"] == "Quota exceeded for resources: ['router']."
            token = member.headers["X-Auth-Token"]

            def create(_: int) -> int:
                with provider.client(token) as c:
                    return _net(c).status_code

            with ThreadPoolExecutor(8) as pool:
                codes = sorted(pool.map(create, range(8)))
            assert codes == [201] * 3 + [409] * 5
            assert len(member.get("/v2.0/networks").json()["networks"]) == 3


def test_a_new_groups_rules_count_against_the_rule_quota(api: Api) -> None:
    """A group comes with its two egress rules: with no rule left in the project's quota, making the group
    is refused (409 naming the rules), as Neutron's check of the group's default rules does."""
    project = unique("rules")
    api.ok(api.c.put(f"/v2.0/quotas/{project}", json={"quota": {"security_group_rule": 0}}))
    body = {"security_group": {"name": unique("sg"), "project_id": project}}
    message = api.error(api.c.post("/v2.0/security-groups", json=body), 409, "OverQuota")
    assert message == "Quota exceeded for resources: ['security_group_rule']."
    groups = api.ok(api.c.get("/v2.0/security-groups", params={"project_id": project, "name": body["security_group"]["name"]}))  # fmt: skip
    assert groups["security_groups"] == []
    api.ok(api.c.delete(f"/v2.0/quotas/{project}"), 204)
    assert (
        api.ok(api.c.post("/v2.0/security-groups", json=body), 201)["security_group"]["project_id"] == project
    )


def test_the_default_group_made_by_a_request_is_not_counted_by_its_check(api: Api) -> None:
    """A project's first group request also makes its default group; Neutron makes that one after the
    request's quota check, so a quota of one group lets the request through, and counts both after."""
    project = unique("first")
    api.ok(api.c.put(f"/v2.0/quotas/{project}", json={"quota": {"security_group": 1}}))
    body = {"security_group": {"name": unique("sg"), "project_id": project}}
    api.ok(api.c.post("/v2.0/security-groups", json=body), 201)
    groups = api.ok(api.c.get("/v2.0/security-groups", params={"project_id": project}))["security_groups"]
    assert sorted(g["name"] for g in groups) == sorted(["default", body["security_group"]["name"]])
    body["security_group"]["name"] = unique("sg")
    api.error(api.c.post("/v2.0/security-groups", json=body), 409, "OverQuota")
