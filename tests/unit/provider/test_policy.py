"""Neutron's role policy: who may write, and the rule a refusal names."""

from __future__ import annotations

import pytest

from neutrino.provider.context import RequestContext
from neutrino.provider.policy import action_of, may_write

MEMBERS = {"networks": "network", "security-groups": "security_group", "routers": "router"}


def _ctx(*roles: str) -> RequestContext:
    return RequestContext(user_id="u", project_id="p", is_admin="admin" in roles, roles=roles)


@pytest.mark.parametrize(
    ("roles", "allowed"),
    [
        (("reader",), False),
        ((), False),
        (("member",), True),
        (("member", "reader"), True),
        (("admin",), True),
    ],
)
def test_only_members_and_admins_write(roles: tuple[str, ...], allowed: bool) -> None:
    assert may_write(_ctx(*roles)) is allowed


@pytest.mark.parametrize(
    ("method", "path", "rule"),
    [
        ("POST", "/v2.0/networks", "create_network"),
        ("PUT", "/v2.0/networks/n1", "update_network"),
        ("DELETE", "/v2.0/security-groups/g1", "delete_security_group"),
        ("POST", "/v2.0/security-group-rules", "create_security_group_rule"),  # not in MEMBERS: derived
        ("PUT", "/v2.0/routers/r1/add_router_interface", "add_router_interface"),
        ("PUT", "/v2.0/networks/n1/tags", "update_networks_tags"),
        ("PUT", "/v2.0/networks/n1/tags/blue", "create_networks_tags"),
        ("DELETE", "/v2.0/security-groups/g1/tags/blue", "delete_security_groups_tags"),
        ("PUT", "/v2.0/quotas/p1", "update_quota"),
        ("POST", "/v2.0/agents/a1/l3-routers", "create_agent:l3-routers"),
    ],
)
def test_the_rule_a_refusal_names(method: str, path: str, rule: str) -> None:
    assert action_of(method, path, MEMBERS) == rule
