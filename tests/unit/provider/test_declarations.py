"""The resource declarations: only known keywords and validators; parsing follows them."""

from __future__ import annotations

import pytest

from neutrino.provider import errors
from neutrino.provider.api import (
    floatingips,
    networks,
    ports,
    routers,
    security_group_rules,
    security_groups,
    subnets,
)
from neutrino.provider.api.attributes import (
    ATTR_NOT_SPECIFIED,
    KEYWORDS,
    DeclarationError,
    ResourceDefinition,
    define,
    parse_create,
    parse_update,
    render,
)
from neutrino.provider.context import RequestContext

DECLARATIONS = {
    "networks": networks.DECLARATION,
    "subnets": subnets.DECLARATION,
    "ports": ports.DECLARATION,
    "security_groups": security_groups.DECLARATION,
    "security_group_rules": security_group_rules.DECLARATION,
    "routers": routers.DECLARATION,
    "floatingips": floatingips.DECLARATION,
}
ADMIN = RequestContext.admin("p-admin")
USER = RequestContext(user_id="u", project_id="p-user", is_admin=False, roles=("member",))


@pytest.mark.parametrize("collection", sorted(DECLARATIONS))
def test_declarations_use_only_known_keywords(collection: str) -> None:
    for name, spec in DECLARATIONS[collection].items():
        assert set(spec) <= KEYWORDS, f"{collection}.{name}: {set(spec) - KEYWORDS}"
    define(collection, collection[:-1], DECLARATIONS[collection])


def test_unknown_keyword_or_validator_is_refused() -> None:
    with pytest.raises(DeclarationError, match="allow_pots"):
        define("things", "thing", {"name": {"allow_pots": True}})
    with pytest.raises(DeclarationError, match="type:colour"):
        define("things", "thing", {"name": {"allow_post": True, "validate": {"type:colour": None}}})


def _net() -> ResourceDefinition:
    return define("networks", "network", networks.DECLARATION)


def test_create_fills_defaults_and_keeps_the_sentinel() -> None:
    data = parse_create(_net(), {"network": {"name": "n", "admin_state_up": "false"}}, USER)
    assert data["admin_state_up"] is False and data["shared"] is False
    assert data["mtu"] is ATTR_NOT_SPECIFIED and data["provider:network_type"] is ATTR_NOT_SPECIFIED
    assert data["project_id"] == "p-user" and "tenant_id" not in data


def test_create_errors() -> None:
    with pytest.raises(errors.HTTPBadRequest, match="Unrecognized attribute\\(s\\) 'colour'"):
        parse_create(_net(), {"network": {"colour": "red"}}, USER)
    with pytest.raises(errors.HTTPBadRequest, match="not allowed in POST"):
        parse_create(_net(), {"network": {"status": "DOWN"}}, USER)
    with pytest.raises(errors.InvalidAttribute, match="Invalid input for mtu"):
        parse_create(_net(), {"network": {"mtu": -1}}, USER)
    with pytest.raises(errors.HTTPBadRequest, match="Unable to find 'network'"):
        parse_create(_net(), {"networks": {}}, USER)
    with pytest.raises(errors.PolicyNotAuthorized):
        parse_create(_net(), {"network": {"provider:network_type": "vlan"}}, USER)
    with pytest.raises(errors.HTTPBadRequest, match="other than the authenticated project"):
        parse_create(_net(), {"network": {"project_id": "someone-else"}}, USER)
    with pytest.raises(errors.HTTPBadRequest, match="do not match"):
        parse_create(_net(), {"network": {"project_id": "a", "tenant_id": "b"}}, ADMIN)
    port_defn = define("ports", "port", ports.DECLARATION)
    with pytest.raises(errors.HTTPBadRequest, match="Required attribute 'network_id'"):
        parse_create(port_defn, {"port": {}}, USER)


def test_update_refuses_read_only_attributes() -> None:
    assert parse_update(_net(), {"network": {"name": "x"}}, USER) == {"name": "x"}
    with pytest.raises(errors.HTTPBadRequest, match="read-only attribute provider:network_type"):
        parse_update(_net(), {"network": {"provider:network_type": "vlan"}}, ADMIN)


def test_render_hides_admin_only_attributes_and_honours_fields() -> None:
    record = {"id": "1", "name": "n", "provider:network_type": "vxlan", "status": "ACTIVE"}
    assert "provider:network_type" in render(_net(), record, ADMIN)
    assert "provider:network_type" not in render(_net(), record, USER)
    assert render(_net(), record, ADMIN, ["id", "name"]) == {"id": "1", "name": "n"}
