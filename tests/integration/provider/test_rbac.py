"""``rbac-policies`` on the provider API (issue 18), SQLite and PostgreSQL: a network shared with one
project is seen and used by that project only, ``shared`` is the wildcard policy, external access by
policy, policies in use are kept (409 RbacPolicyInUse), and every bad input is Neutron's error."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.provider.conftest import Api, unique
from tests.integration.provider.server import RunningProvider


def _member(provider: RunningProvider) -> tuple[httpx.Client, str]:
    name = unique("rbac")
    provider.add_user(name, "pw", name + "-p")
    token = provider.token(name, "pw", name + "-p")
    with provider.client(token) as probe:
        project_id = probe.get("/v2.0/quotas/project").json()["project"]["project_id"]
    return provider.client(token), project_id


def _policy(api: Api, network_id: str, target: str, action: str = "access_as_shared") -> dict[str, Any]:
    body = {"object_type": "network", "object_id": network_id, "action": action, "target_tenant": target}
    return api.post("rbac-policies", "rbac_policy", **body)


def _ids(client: httpx.Client, path: str) -> set[str]:
    collection = path.split("?")[0].replace("-", "_")
    return {item["id"] for item in client.get(f"/v2.0/{path}").json()[collection]}


def test_a_network_shared_with_one_project(api: Api, shared_provider: RunningProvider) -> None:
    one, one_id = _member(shared_provider)
    two, _two_id = _member(shared_provider)
    with one, two:
        net = api.network()
        subnet = api.subnet(net["id"], "10.91.0.0/24")
        assert net["id"] not in _ids(one, "networks")
        policy = _policy(api, net["id"], one_id)
        assert {k: policy[k] for k in ("object_type", "object_id", "action", "target_tenant")} == {
            "object_type": "network",
            "object_id": net["id"],
            "action": "access_as_shared",
            "target_tenant": one_id,
        }
        # Neutron shows the target once, as target_tenant (neutron-tempest-plugin compares a policy's
        # other keys before and after a retarget); target_project is a filter only
        assert "target_project" not in policy
        found = api.ok(api.c.get("/v2.0/rbac-policies", params={"target_project": one_id}))["rbac_policies"]
        assert policy["id"] in {p["id"] for p in found}
        assert policy["project_id"] == policy["tenant_id"] == net["project_id"]
        # the target sees the network (shared, to it) and its subnet, and may put ports on it
        seen = one.get(f"/v2.0/networks/{net['id']}").json()["network"]
        assert seen["shared"] is True
        assert subnet["id"] in _ids(one, "subnets")
        port = one.post("/v2.0/ports", json={"port": {"network_id": net["id"]}})
        assert port.status_code == 201, port.text
        # to everyone else, and to the admin's listing, it is not shared
        assert net["id"] not in _ids(two, "networks") and subnet["id"] not in _ids(two, "subnets")
        assert two.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}).status_code == 404
        assert api.ok(api.c.get(f"/v2.0/networks/{net['id']}"))["network"]["shared"] is False
        # the target does not see the policy; the owner (admin here) does, filtered as Neutron's
        assert one.get(f"/v2.0/rbac-policies/{policy['id']}").status_code == 404
        assert policy["id"] not in _ids(one, "rbac-policies")
        listed = api.ok(api.c.get(f"/v2.0/rbac-policies?object_id={net['id']}&target_tenant={one_id}"))
        assert [p["id"] for p in listed["rbac_policies"]] == [policy["id"]]
        # its port depends on the policy: not removed, not retargeted
        message = api.error(api.c.delete(f"/v2.0/rbac-policies/{policy['id']}"), 409, "RbacPolicyInUse")
        assert message.startswith(
            f"RBAC policy on object {net['id']} cannot be removed because other objects"
        )
        moved = api.c.put(f"/v2.0/rbac-policies/{policy['id']}", json={"rbac_policy": {"target_tenant": "*"}})
        api.error(moved, 409, "RbacPolicyInUse")  # as Neutron: the old target's ports are checked first
        assert one.delete(f"/v2.0/ports/{port.json()['port']['id']}").status_code == 204
        moved = api.c.put(f"/v2.0/rbac-policies/{policy['id']}", json={"rbac_policy": {"target_tenant": "*"}})
        assert api.ok(moved)["rbac_policy"]["target_tenant"] == "*"
        assert api.ok(api.c.get(f"/v2.0/networks/{net['id']}"))["network"]["shared"] is True
        assert net["id"] in _ids(two, "networks")
        assert api.c.delete(f"/v2.0/rbac-policies/{policy['id']}").status_code == 204
        assert net["id"] not in _ids(one, "networks")
        assert api.ok(api.c.get(f"/v2.0/networks/{net['id']}"))["network"]["shared"] is False


def test_shared_is_the_wildcard_policy(api: Api, shared_provider: RunningProvider) -> None:
    member, member_id = _member(shared_provider)
    with member:
        net = api.network(shared=True)
        wildcard = api.ok(api.c.get(f"/v2.0/rbac-policies?object_id={net['id']}"))["rbac_policies"]
        assert [(p["action"], p["target_tenant"]) for p in wildcard] == [("access_as_shared", "*")]
        rev = api.ok(api.c.get(f"/v2.0/networks/{net['id']}"))["network"]["revision_number"]
        port = member.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}).json()["port"]
        refused = api.c.put(f"/v2.0/networks/{net['id']}", json={"network": {"shared": False}})
        message = api.error(refused, 409, "InvalidSharedSetting")
        assert message == (
            f"Unable to reconfigure sharing settings for network {net['name']}. Multiple tenants are using it."
        )
        # a policy for the member keeps its port legal: then unsharing is fine
        _policy(api, net["id"], member_id)
        after = api.ok(api.c.get(f"/v2.0/networks/{net['id']}"))["network"]
        assert after["revision_number"] == rev + 1  # a policy change is the network's
        unshared = api.ok(api.c.put(f"/v2.0/networks/{net['id']}", json={"network": {"shared": False}}))
        assert unshared["network"]["shared"] is False
        remaining = api.ok(api.c.get(f"/v2.0/rbac-policies?object_id={net['id']}"))["rbac_policies"]
        assert [p["target_tenant"] for p in remaining] == [member_id]
        assert member.get(f"/v2.0/networks/{net['id']}").json()["network"]["shared"] is True
        assert member.delete(f"/v2.0/ports/{port['id']}").status_code == 204


def test_external_access_by_policy(api: Api, shared_provider: RunningProvider) -> None:
    member, member_id = _member(shared_provider)
    other, _ = _member(shared_provider)
    with member, other:
        net = api.network()
        api.subnet(net["id"], "10.92.0.0/24")
        policy = _policy(api, net["id"], member_id, "access_as_external")
        shown = api.ok(api.c.get(f"/v2.0/networks/{net['id']}"))["network"]
        assert shown["router:external"] is True and shown["shared"] is False
        assert net["id"] in _ids(member, "networks") and net["id"] not in _ids(other, "networks")
        # external, not shared: the member routes to it and takes floating IPs, but puts no ports on it
        denied = member.post("/v2.0/ports", json={"port": {"network_id": net["id"]}})
        assert denied.status_code == 403 and denied.json()["NeutronError"]["type"] == "PolicyNotAuthorized"
        router = member.post(
            "/v2.0/routers",
            json={"router": {"name": unique("r"), "external_gateway_info": {"network_id": net["id"]}}},
        )
        assert router.status_code == 201, router.text
        message = api.error(api.c.delete(f"/v2.0/rbac-policies/{policy['id']}"), 409, "RbacPolicyInUse")
        assert message.endswith(
            "There are routers attached to this network that depend on this policy for access."
        )
        assert member.delete(f"/v2.0/routers/{router.json()['router']['id']}").status_code == 204
        assert api.c.delete(f"/v2.0/rbac-policies/{policy['id']}").status_code == 204
        assert api.ok(api.c.get(f"/v2.0/networks/{net['id']}"))["network"]["router:external"] is False


def test_who_may_make_policies(api: Api, shared_provider: RunningProvider) -> None:
    owner, _owner_id = _member(shared_provider)
    member, member_id = _member(shared_provider)
    with owner, member:
        own = owner.post("/v2.0/networks", json={"network": {"name": unique("own")}}).json()["network"]
        body = {"object_type": "network", "object_id": own["id"], "action": "access_as_shared"}
        made = owner.post("/v2.0/rbac-policies", json={"rbac_policy": {**body, "target_tenant": member_id}})
        assert made.status_code == 201, made.text
        wildcard = owner.post("/v2.0/rbac-policies", json={"rbac_policy": {**body, "target_tenant": "*"}})
        assert wildcard.status_code == 403
        assert wildcard.json()["NeutronError"]["message"] == (
            "(rule:create_rbac_policy:target_tenant) is disallowed by policy."
        )
        # the target cannot pass the network on
        passed = member.post(
            "/v2.0/rbac-policies", json={"rbac_policy": {**body, "target_tenant": _owner_id}}
        )
        assert passed.status_code == 400
        assert passed.json()["NeutronError"]["message"] == (
            "Invalid input for operation: Only admins can manipulate policies on networks they do not own."
        )
        assert member.delete(f"/v2.0/rbac-policies/{made.json()['rbac_policy']['id']}").status_code == 404
        duplicate = owner.post(
            "/v2.0/rbac-policies", json={"rbac_policy": {**body, "target_tenant": member_id}}
        )
        assert duplicate.status_code == 409 and duplicate.json()["NeutronError"] == {
            "type": "DuplicateRbacPolicy",
            "message": "An RBAC policy already exists with those values.",
            "detail": "",
        }
        assert owner.delete(f"/v2.0/rbac-policies/{made.json()['rbac_policy']['id']}").status_code == 204


def test_bad_policies_are_neutrons_errors(api: Api) -> None:
    net = api.network()
    good = {
        "object_type": "network",
        "object_id": net["id"],
        "action": "access_as_shared",
        "target_tenant": "*",
    }
    missing = "11111111-2222-3333-4444-555555555555"
    cases = (
        ({"object_type": "qos_policy"}, "InvalidInput", "Invalid input for operation: 'qos_policy' is not a valid RBAC object type."),
        ({"action": "access_as_owner"}, "InvalidActionForType", "Invalid action 'access_as_owner' for object type 'network'. Valid actions: ('access_as_shared', 'access_as_external')"),
        ({"target_tenant": "not a project"}, "InvalidInput", "Invalid input for operation: 'not a project' is not a valid target project ID; expected a UUID or '*'."),
        ({"object_id": missing}, "InvalidInput", f"Invalid input for operation: Network {missing} could not be found."),
    )  # fmt: skip
    for change, kind, text in cases:
        message = api.error(
            api.c.post("/v2.0/rbac-policies", json={"rbac_policy": {**good, **change}}), 400, kind
        )
        assert message == text
    body = {k: v for k, v in good.items() if k != "target_tenant"}
    api.error(api.c.post("/v2.0/rbac-policies", json={"rbac_policy": body}), 400, "HTTPBadRequest")
    message = api.error(api.c.get(f"/v2.0/rbac-policies/{missing}"), 404, "RbacPolicyNotFound")
    assert message == f"RBAC policy of type unknown with ID {missing} not found"
    assert api.ok(api.c.get(f"/v2.0/rbac-policies?object_id={net['id']}"))["rbac_policies"] == []
