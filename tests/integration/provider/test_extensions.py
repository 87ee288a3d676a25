"""Neutron's extensions on the provider API (issue 18): standard-attr-tag (+ tags in a port POST),
revision-if-match, port-security and allowed-address-pairs. SQLite and PostgreSQL; each bad input
is Neutron's error type and message and changes nothing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests.integration.provider.conftest import Api, unique
from tests.integration.provider.server import RunningProvider

ALIASES = {
    "standard-attr-tag",
    "tag-ports-during-bulk-creation",
    "revision-if-match",
    "port-security",
    "allowed-address-pairs",
}


def _get(api: Api, path: str) -> dict[str, Any]:
    member = path.split("/")[0].rstrip("s").replace("-", "_")
    return api.ok(api.c.get(f"/v2.0/{path}"))[member]


def test_extensions_are_listed(api: Api) -> None:
    listed = {e["alias"] for e in api.ok(api.c.get("/v2.0/extensions"))["extensions"]}
    assert listed >= ALIASES


# --- standard-attr-tag -------------------------------------------------------------------------


def _tag_paths(api: Api) -> list[str]:
    """One resource of each taggable kind, as ``<path>/<id>``."""
    net = api.network()
    subnet = api.subnet(net["id"], "10.81.0.0/24")
    port = api.port(net["id"])
    group = api.post("security-groups", "security_group", name=unique("sg"))
    router = api.post("routers", "router", name=unique("r"))
    external = api.network(**{"router:external": True})
    api.subnet(external["id"], "10.82.0.0/24")
    fip = api.post("floatingips", "floatingip", floating_network_id=external["id"])
    return [
        f"networks/{net['id']}",
        f"subnets/{subnet['id']}",
        f"ports/{port['id']}",
        f"security-groups/{group['id']}",
        f"routers/{router['id']}",
        f"floatingips/{fip['id']}",
    ]


def test_tags_on_every_taggable_resource(api: Api) -> None:
    for path in _tag_paths(api):
        before = _get(api, path)
        assert before["tags"] == []
        assert api.ok(api.c.put(f"/v2.0/{path}/tags", json={"tags": ["red", "blue"]})) == {
            "tags": ["red", "blue"]
        }
        assert sorted(api.ok(api.c.get(f"/v2.0/{path}/tags"))["tags"]) == ["blue", "red"]
        assert api.c.put(f"/v2.0/{path}/tags/green").status_code == 201
        assert api.c.put(f"/v2.0/{path}/tags/green").status_code == 201  # already there: no change
        assert api.c.get(f"/v2.0/{path}/tags/green").status_code == 204
        api.error(api.c.get(f"/v2.0/{path}/tags/black"), 404, "TagNotFound")
        after = _get(api, path)
        assert after["tags"] == ["blue", "green", "red"], path
        assert after["revision_number"] == before["revision_number"] + 2, path  # two changes
        assert api.c.delete(f"/v2.0/{path}/tags/red").status_code == 204
        message = api.error(api.c.delete(f"/v2.0/{path}/tags/red"), 404, "TagNotFound")
        assert message == "Tag red could not be found."
        assert api.ok(api.c.put(f"/v2.0/{path}/tags", json={"tags": ["blue"]})) == {"tags": ["blue"]}
        assert _get(api, path)["tags"] == ["blue"]
        assert api.c.delete(f"/v2.0/{path}/tags").status_code == 204
        assert api.ok(api.c.get(f"/v2.0/{path}/tags")) == {"tags": []}
    missing = "11111111-2222-3333-4444-555555555555"
    message = api.error(api.c.get(f"/v2.0/networks/{missing}/tags"), 404, "TagResourceNotFound")
    assert message == f"Resource networks {missing} could not be found."


def test_tag_filters_compile_to_sql(api: Api) -> None:
    net = api.network()
    mark = unique("m")  # only this test's ports carry it
    tagged = {
        name: api.port(net["id"], name=name, tags=[mark, *extra])
        for name, extra in (("a", ["x"]), ("b", ["y"]), ("ab", ["x", "y"]), ("none", []))
    }

    def names(query: str) -> set[str]:
        ports = api.ok(api.c.get(f"/v2.0/ports?tags={mark}&{query}"))["ports"]
        return {p["name"] for p in ports}

    assert tagged["ab"]["tags"] == sorted([mark, "x", "y"])
    assert names("tags=x") == {"a", "ab"}
    assert names("tags=x,y") == {"ab"}
    assert names("tags=x&tags=y") == {"ab"}  # repeated parameters add up, as Neutron's
    assert names("tags-any=x,y") == {"a", "b", "ab"}
    assert names("not-tags=x,y") == {"a", "b", "none"}
    assert names("not-tags-any=x,y") == {"none"}
    assert names("tags-any=nothing") == set()
    nets = api.ok(api.c.get(f"/v2.0/networks?tags-any={mark}"))["networks"]
    assert nets == []  # each resource filters its own tags
    api.ok(api.c.put(f"/v2.0/networks/{net['id']}/tags", json={"tags": [mark]}))
    assert [n["id"] for n in api.ok(api.c.get(f"/v2.0/networks?tags={mark}"))["networks"]] == [net["id"]]


def test_tags_in_a_port_post_and_bulk_post(api: Api) -> None:
    net = api.network()
    body = {
        "ports": [{"network_id": net["id"], "tags": ["t1"]}, {"network_id": net["id"], "tags": ["t2", "t3"]}]
    }
    created = api.ok(api.c.post("/v2.0/ports", json=body), 201)["ports"]
    assert [p["tags"] for p in created] == [["t1"], ["t2", "t3"]]
    assert [p["revision_number"] for p in created] == [0, 0]


def test_bad_tags_are_neutrons_errors_and_change_nothing(api: Api) -> None:
    port = api.port(api.network()["id"], tags=["keep"])
    path = f"/v2.0/ports/{port['id']}/tags"
    bad = {
        "Invalid input for operation: Duplicate items in the list: 'a'.": {"tags": ["a", "a"]},
        f"Invalid input for operation: '{'x' * 256}' exceeds maximum length of 255.": {"tags": ["x" * 256]},
        "Invalid input for operation: The number of tags 51 exceeds the maximum 50 per resource.": {
            "tags": [f"t{i}" for i in range(51)]
        },
        "Invalid input for operation: Invalid tags body.": {"tag": ["a"]},
        "Invalid input for operation: 'a' is not a list.": {"tags": "a"},
    }
    for message, body in bad.items():
        assert api.error(api.c.put(path, json=body), 400, "InvalidInput") == message
    api.error(api.c.put(f"{path}/{'y' * 256}"), 400, "InvalidInput")
    api.ok(api.c.put(path, json={"tags": [f"t{i}" for i in range(50)]}))  # 50 is the most
    assert "exceeds the maximum 50" in api.error(api.c.put(f"{path}/one-more"), 400, "InvalidInput")
    api.ok(api.c.put(path, json={"tags": ["keep"]}))
    duplicate = {"port": {"network_id": port["network_id"], "tags": ["a", "a"]}}
    message = api.error(api.c.post("/v2.0/ports", json=duplicate), 400, "HTTPBadRequest")
    assert message == "Invalid input for tags. Reason: Duplicate items in the list: 'a'."
    after = _get(api, f"ports/{port['id']}")
    assert after["tags"] == ["keep"] and after["revision_number"] == port["revision_number"] + 2


def test_only_the_owner_or_an_admin_tags(api: Api, shared_provider: RunningProvider) -> None:
    name = unique("tagger")
    shared_provider.add_user(name, "pw", name + "-p")
    shared = api.network(shared=True)
    with shared_provider.client(shared_provider.token(name, "pw", name + "-p")) as member:
        assert member.get(f"/v2.0/networks/{shared['id']}/tags").status_code == 200  # it sees it
        denied = member.put(f"/v2.0/networks/{shared['id']}/tags/mine")
        assert denied.status_code == 403 and denied.json()["NeutronError"]["type"] == "PolicyNotAuthorized"
        own = member.post("/v2.0/networks", json={"network": {"name": unique("own")}}).json()["network"]
        assert member.put(f"/v2.0/networks/{own['id']}/tags/mine").status_code == 201
    assert _get(api, f"networks/{shared['id']}")["tags"] == []


# --- revision-if-match -------------------------------------------------------------------------


def test_if_match_revision_number(api: Api) -> None:
    net = api.network()
    path = f"/v2.0/networks/{net['id']}"
    rev = net["revision_number"]
    stale = {"If-Match": f"revision_number={rev + 5}"}
    failed = api.c.put(path, json={"network": {"name": "stale"}}, headers=stale)
    message = api.error(failed, 412, "RevisionNumberConstraintFailed")
    assert message == f"Constrained to {rev + 5}, but current revision is {rev}"
    api.error(api.c.delete(path, headers=stale), 412, "RevisionNumberConstraintFailed")
    for garbage in ("revision_number=abc", "revision_number=1, revision_number=2"):
        api.error(
            api.c.put(path, json={"network": {"name": "x"}}, headers={"If-Match": garbage}), 400, "BadRequest"
        )
    message = api.error(api.c.delete(path, headers={"If-Match": "revision_number="}), 400, "BadRequest")
    assert message == (
        "Bad if-match request: Revision number etag must be in the format of revision_number=<int>."
    )
    assert _get(api, f"networks/{net['id']}")["name"] == net["name"]  # nothing changed
    updated = api.ok(
        api.c.put(path, json={"network": {"name": "fresh"}}, headers={"If-Match": f"revision_number={rev}"})
    )
    assert updated["network"]["revision_number"] == rev + 1
    # an entity tag that is not a revision number is not ours (Neutron ignores it too)
    api.ok(api.c.put(path, json={"network": {"name": "again"}}, headers={"If-Match": '"abc"'}))
    assert api.c.delete(path, headers={"If-Match": f"revision_number={rev + 2}"}).status_code == 204


def test_a_put_that_changes_nothing_keeps_the_revision(api: Api) -> None:
    """Neutron bumps only what an update modified: the same values again (and, for a port, the
    same groups, pairs and addresses, which live in tables of their own) change nothing."""
    net = api.network()
    api.subnet(net["id"], "10.83.0.0/24")
    group = api.post("security-groups", "security_group", name=unique("sg"))
    port = api.port(
        net["id"], security_groups=[group["id"]], allowed_address_pairs=[{"ip_address": "10.83.0.200"}]
    )
    same_port = {
        "name": port["name"],
        "security_groups": [group["id"]],
        "allowed_address_pairs": port["allowed_address_pairs"],
        "fixed_ips": [
            {"subnet_id": ip["subnet_id"], "ip_address": ip["ip_address"]} for ip in port["fixed_ips"]
        ],
    }
    for path, member, same in (
        (f"networks/{net['id']}", "network", {"name": net["name"], "admin_state_up": True}),
        (f"security-groups/{group['id']}", "security_group", {"description": group["description"]}),
        (f"ports/{port['id']}", "port", same_port),
    ):
        before = _get(api, path)
        answer = api.ok(api.c.put(f"/v2.0/{path}", json={member: same}))[member]
        assert answer == before, path
        assert _get(api, path) == before, path
        changed = api.ok(api.c.put(f"/v2.0/{path}", json={member: {"description": "changed"}}))[member]
        assert changed["revision_number"] == before["revision_number"] + 1, path
    moved = api.ok(api.c.put(f"/v2.0/ports/{port['id']}", json={"port": {"security_groups": []}}))["port"]
    assert moved["security_groups"] == [] and moved["revision_number"] == port["revision_number"] + 2


def test_a_groups_rules_bump_its_revision(api: Api) -> None:
    group = api.post("security-groups", "security_group", name=unique("sg"))
    rule = api.post(
        "security-group-rules", "security_group_rule", security_group_id=group["id"], direction="ingress"
    )
    assert _get(api, f"security-groups/{group['id']}")["revision_number"] == group["revision_number"] + 1
    assert api.c.delete(f"/v2.0/security-group-rules/{rule['id']}").status_code == 204
    assert _get(api, f"security-groups/{group['id']}")["revision_number"] == group["revision_number"] + 2


# --- port-security and allowed-address-pairs ---------------------------------------------------


def test_port_security_follows_the_network(api: Api) -> None:
    open_net = api.network(port_security_enabled=False)
    port = api.port(open_net["id"])
    assert port["port_security_enabled"] is False and port["security_groups"] == []
    secured = api.port(open_net["id"], port_security_enabled=True)
    assert secured["port_security_enabled"] is True and len(secured["security_groups"]) == 1  # default
    path = f"/v2.0/ports/{secured['id']}"
    message = api.error(
        api.c.put(path, json={"port": {"port_security_enabled": False}}),
        409,
        "PortSecurityPortHasSecurityGroup",
    )
    assert message.startswith("Port has security group associated.")
    off = api.ok(api.c.put(path, json={"port": {"port_security_enabled": False, "security_groups": []}}))
    assert off["port"]["port_security_enabled"] is False and off["port"]["security_groups"] == []
    query = f"/v2.0/ports?network_id={open_net['id']}&port_security_enabled=false"
    assert {p["id"] for p in api.ok(api.c.get(query))["ports"]} == {port["id"], secured["id"]}


def test_allowed_address_pairs(api: Api) -> None:
    net = api.network()
    api.subnet(net["id"], "10.83.0.0/24")
    pairs = [
        {"ip_address": "10.83.0.200"},
        {"ip_address": "10.83.1.0/24", "mac_address": "FA:16:3E:00:00:01"},
    ]
    port = api.port(net["id"], allowed_address_pairs=pairs)
    assert port["allowed_address_pairs"] == [
        {"ip_address": "10.83.0.200", "mac_address": port["mac_address"]},
        {"ip_address": "10.83.1.0/24", "mac_address": "fa:16:3e:00:00:01"},
    ]
    path = f"/v2.0/ports/{port['id']}"
    replaced = api.ok(api.c.put(path, json={"port": {"allowed_address_pairs": [{"ip_address": "fd00::7"}]}}))
    assert replaced["port"]["allowed_address_pairs"] == [
        {"ip_address": "fd00::7", "mac_address": port["mac_address"]}
    ]
    message = api.error(
        api.c.put(path, json={"port": {"port_security_enabled": False, "security_groups": []}}),
        409,
        "AddressPairAndPortSecurityRequired",
    )
    assert message == "Port Security must be enabled in order to have allowed address pairs on a port."
    off = {"port_security_enabled": False, "security_groups": [], "allowed_address_pairs": []}
    assert api.ok(api.c.put(path, json={"port": off}))["port"]["allowed_address_pairs"] == []
    api.error(
        api.c.put(path, json={"port": {"allowed_address_pairs": [{"ip_address": "10.83.0.9"}]}}),
        409,
        "AddressPairAndPortSecurityRequired",
    )
    create_off = {
        "port": {"network_id": net["id"], "port_security_enabled": False, "allowed_address_pairs": pairs}
    }
    api.error(api.c.post("/v2.0/ports", json=create_off), 409, "AddressPairAndPortSecurityRequired")
    assert (
        api.port(net["id"], port_security_enabled=False, allowed_address_pairs=None)["allowed_address_pairs"]
        == []
    )


def test_bad_address_pairs_are_neutrons_errors_and_change_nothing(api: Api) -> None:
    net = api.network()
    port = api.port(net["id"], allowed_address_pairs=[{"ip_address": "10.84.0.5"}])
    mac = port["mac_address"]
    cases: list[tuple[Any, str, str]] = [
        ([{"ip_address": "10.84.0.0/33"}], "HTTPBadRequest", "'10.84.0.0/33' is not a valid IP subnet"),
        (
            [{"ip_address": "10.84.0.5/24"}],
            "HTTPBadRequest",
            "'10.84.0.5/24' isn't a recognized IP subnet cidr, '10.84.0.0/24' is recommended",
        ),
        ([{"ip_address": "not-an-ip"}], "HTTPBadRequest", "'not-an-ip' is not a valid IP address"),
        (
            [{"ip_address": "10.84.0.7"}, {"ip_address": "10.84.0.7"}],
            "DuplicateAddressPairInRequest",
            "Request contains duplicate address pair: mac_address None ip_address 10.84.0.7.",
        ),
        (
            [{"ip_address": "10.84.0.7"}, {"ip_address": "10.84.0.7", "mac_address": mac}],
            "DuplicateAddressPairInRequest",
            f"Request contains duplicate address pair: mac_address {mac} ip_address 10.84.0.7.",
        ),
        (
            [{"mac_address": mac}],
            "AllowedAddressPairsMissingIP",
            "AllowedAddressPair must contain ip_address",
        ),
        ([{"ip_address": "10.84.0.8", "vip": True}], "HTTPBadRequest", "Unrecognized attribute(s) 'vip'"),
        (
            [{"ip_address": "10.84.0.8", "mac_address": "zz"}],
            "HTTPBadRequest",
            "'zz' is not a valid MAC address",
        ),
        (
            [{"ip_address": f"10.84.1.{i}"} for i in range(11)],
            "AllowedAddressPairExhausted",
            "The number of allowed address pair exceeds the maximum 10.",
        ),
        ("10.84.0.9", "HTTPBadRequest", "Allowed address pairs must be a list."),
    ]
    path = f"/v2.0/ports/{port['id']}"
    for pairs, kind, message in cases:
        got = api.error(api.c.put(path, json={"port": {"allowed_address_pairs": pairs}}), 400, kind)
        assert got == message, (pairs, got)
        if any(pair.get("mac_address") == mac for pair in pairs if isinstance(pair, dict)):
            continue  # a new port has a MAC of its own
        got = api.error(
            api.c.post(
                "/v2.0/ports", json={"port": {"network_id": net["id"], "allowed_address_pairs": pairs}}
            ),
            400,
            kind,
        )
        assert got == message
    after = _get(api, f"ports/{port['id']}")
    assert after["allowed_address_pairs"] == port["allowed_address_pairs"]
    assert after["revision_number"] == port["revision_number"]
    assert len(api.ok(api.c.get(f"/v2.0/ports?network_id={net['id']}"))["ports"]) == 1


def test_the_engines_port_security_reaches_the_provider(api: Api, shared_provider: RunningProvider) -> None:
    """The engine's Neutron adapter sends a profile's PortSecurity as ``port_security_enabled``
    (with no groups when off), on create and on update."""
    from neutrino.engine.provider_clients.base import PortRequest
    from neutrino.engine.provider_clients.neutron import NeutronProvider
    from neutrino.neutron_client import Credentials, Endpoint
    from tests.integration.provider.server import ADMIN_PASSWORD

    net = api.network()
    credentials = Credentials(f"{shared_provider.url}/v3", "admin", ADMIN_PASSWORD, "admin")
    client = NeutronProvider(Endpoint(url=shared_provider.url, credentials=credentials))
    assert "port-security" in client.extensions()
    request = PortRequest(
        network_id=net["id"], mac_address="fa:16:3e:12:34:56", name="nic1", device_id=unique("vnic"),
        security_groups=(), port_security=False,
    )  # fmt: skip
    port = client.create_port(request).port
    assert port.port_security_enabled is False and port.security_groups == ()
    secured = client.update_port(port.id, replace(request, port_security=True)).port
    assert secured.port_security_enabled is True
    unset = client.create_port(
        replace(request, mac_address="fa:16:3e:12:34:57", port_security=None, security_groups=None)
    ).port
    assert unset.port_security_enabled is True and len(unset.security_groups) == 1  # the network's default


def test_only_the_networks_owner_sets_pairs_and_port_security(
    api: Api, shared_provider: RunningProvider
) -> None:
    """Neutron's default policy: on a network shared with it, a project's port takes the network's
    port security and no address pairs; on its own network it sets both."""
    name = unique("member")
    shared_provider.add_user(name, "pw", name + "-p")
    shared = api.network(shared=True)
    with shared_provider.client(shared_provider.token(name, "pw", name + "-p")) as member:
        for attribute, value in (
            ("allowed_address_pairs", [{"ip_address": "10.85.0.9"}]),
            ("port_security_enabled", True),
        ):
            denied = member.post("/v2.0/ports", json={"port": {"network_id": shared["id"], attribute: value}})
            assert denied.status_code == 403, denied.text
            assert (
                denied.json()["NeutronError"]["message"]
                == f"(rule:create_port:{attribute}) is disallowed by policy."
            )
        port = member.post("/v2.0/ports", json={"port": {"network_id": shared["id"]}}).json()["port"]
        denied = member.put(f"/v2.0/ports/{port['id']}", json={"port": {"allowed_address_pairs": []}})
        assert denied.status_code == 403 and "update_port:allowed_address_pairs" in denied.text
        own = member.post("/v2.0/networks", json={"network": {"name": unique("own")}}).json()["network"]
        pairs = [{"ip_address": "10.85.0.9"}]
        mine = member.post(
            "/v2.0/ports", json={"port": {"network_id": own["id"], "allowed_address_pairs": pairs}}
        )
        assert (
            mine.status_code == 201
            and mine.json()["port"]["allowed_address_pairs"][0]["ip_address"] == "10.85.0.9"
        )
