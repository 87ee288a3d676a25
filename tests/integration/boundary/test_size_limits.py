"""Every field has a size limit, as the real systems have them, answered 400 naming the field: Neutron's 255
for names and descriptions and its list limits, Keystone's, oVirt's own (BusinessEntitiesDefinitions), and
4,096 where the real system sets none; a body over the 1 MiB limit stays a 413. Sent to the running servers
(tests/support/route_fuzz.py's world, SQLite)."""

from __future__ import annotations

import json

import pytest

from tests.integration.boundary.test_cases import JSON, send, target
from tests.support.route_fuzz import World

LONG = "x" * 4097


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


ENGINE_CASES = [
    # oVirt's limits
    ("/datacenters", {"name": "d" * 41}, "'name': longer than 40 characters"),
    ("/clusters", {"name": "c" * 41, "data_center": {"name": "x"}}, "'name': longer than 40 characters"),
    (
        "/vms",
        {"name": "v", "description": "d" * 256, "cluster": {"name": "x"}},
        "'description': longer than 255",
    ),
    ("/vms", {"name": "v" * 256, "cluster": {"name": "x"}}, "'name': longer than 255 characters"),
    ("/networks", {"name": "n" * 257, "data_center": {"name": "x"}}, "'name': longer than 256 characters"),
    ("/datacenters", {"name": "d", "description": "d" * 4001}, "'description': longer than 4000"),
    ("/openstacknetworkproviders", {"name": "p", "password": "p" * 201}, "'password': longer than 200"),
    # none of oVirt's: Neutrino's ceiling
    ("/openstacknetworkproviders", {"name": "p", "url": LONG}, "'url': longer than 4096 characters"),
    ("/clusters", {"name": "c", "data_center": {"id": LONG}}, "'data_center.id': longer than 4096"),
]


@pytest.mark.parametrize(("path", "body", "names"), ENGINE_CASES)
def test_the_engine_refuses_an_oversized_field_naming_it(
    world: World, path: str, body: dict[str, object], names: str
) -> None:
    response = send(target(world, "engine"), "POST", "/ovirt-engine/api" + path, _json(body), JSON)
    assert response.status_code == 400, response.text
    assert names in response.json()["detail"], response.text


def test_the_engine_takes_a_name_at_its_limit(world: World) -> None:
    engine = target(world, "engine")
    name = "d" * 40
    made = send(engine, "POST", "/ovirt-engine/api/datacenters", _json({"name": name, "local": True}), JSON)
    assert made.status_code == 201, made.text
    assert made.json()["name"] == name
    send(engine, "DELETE", f"/ovirt-engine/api/datacenters/{made.json()['id']}", None, JSON)


PROVIDER_CASES = [
    # Neutron's limits
    (
        "POST",
        "/v2.0/networks",
        {"network": {"name": "n" * 256}},
        "Invalid input for name",
        "exceeds maximum length of 255",
    ),
    (
        "POST",
        "/v2.0/networks",
        {"network": {"description": "d" * 256}},
        "Invalid input for description",
        "255",
    ),
    (
        "PUT",
        "/v2.0/ports/{port}",
        {"port": {"device_owner": "o" * 256}},
        "Invalid input for device_owner",
        "255",
    ),
    (
        "POST",
        "/v2.0/networks",
        {"network": {"provider:physical_network": "p" * 65, "provider:network_type": "flat"}},
        "Invalid input for provider:physical_network",
        "64",
    ),  # fmt: skip
    (
        "PUT",
        "/v2.0/subnets/{subnet}",
        {"subnet": {"dns_nameservers": [f"192.0.2.{i}" for i in range(6)]}},
        "The number of DNS nameservers exceeds the limit 5",
        "",
    ),  # fmt: skip
    (
        "PUT",
        "/v2.0/subnets/{subnet}",
        {
            "subnet": {
                "host_routes": [{"destination": f"10.{i}.0.0/16", "nexthop": "10.9.0.9"} for i in range(21)]
            }
        },
        "The number of host routes exceeds the limit 20",
        "",
    ),  # fmt: skip
    # none of Neutron's: Neutrino's ceiling, the place within the field named
    (
        "PUT",
        "/v2.0/ports/{port}",
        {"port": {"binding:profile": {"key": LONG}}},
        "Invalid input for binding:profile",
        "(at ['key']) exceeds maximum length of 4096",
    ),  # fmt: skip
    (
        "PUT",
        "/v2.0/ports/{port}",
        {"port": {"binding:profile": {LONG: 1}}},
        "Invalid input for binding:profile",
        "(at [<key>]) exceeds maximum length of 4096",
    ),  # fmt: skip
    (
        "POST",
        "/v2.0/agent-reports",
        {
            "agent_report": {
                "host": "h",
                "agent_type": "t",
                "configurations": {"bridge_mappings": {"p": LONG}},
            }
        },
        "Invalid input for configurations",
        "(at ['bridge_mappings']['p'])",
    ),  # fmt: skip
]


@pytest.mark.parametrize(("method", "path", "body", "names", "reason"), PROVIDER_CASES)
def test_the_provider_refuses_an_oversized_field_naming_it(
    world: World, method: str, path: str, body: dict[str, object], names: str, reason: str
) -> None:
    provider = target(world, "provider")
    if "{subnet}" in path:  # the seeded network's subnet
        found = send(provider, "GET", f"/v2.0/subnets?network_id={provider.ids['network_id']}", None, JSON)
        path = path.replace("{subnet}", found.json()["subnets"][0]["id"])
    path = path.replace("{port}", provider.ids["id"])
    response = send(provider, method, path, _json(body), JSON)
    assert response.status_code == 400, response.text
    message = response.json()["NeutronError"]["message"]
    assert names in message and reason in message, message


def test_the_provider_refuses_a_router_with_more_routes_than_neutrons_max(world: World) -> None:
    provider = target(world, "provider")
    made = send(provider, "POST", "/v2.0/routers", _json({"router": {"name": "r"}}), JSON)
    router = made.json()["router"]["id"]
    try:
        routes = [{"destination": f"10.{i}.0.0/16", "nexthop": "10.9.0.9"} for i in range(31)]
        response = send(
            provider, "PUT", f"/v2.0/routers/{router}", _json({"router": {"routes": routes}}), JSON
        )
        assert response.status_code == 400, response.text
        error = response.json()["NeutronError"]
        assert error["type"] == "RoutesExhausted"
        assert error["message"] == (
            f"Unable to complete operation for {router}. The number of routes exceeds the maximum 30."
        )
    finally:
        send(provider, "DELETE", f"/v2.0/routers/{router}", None, JSON)


KEYSTONE_CASES = [
    ("POST", "/v3/users", {"user": {"name": "u" * 256, "password": "p"}}, "'user.name'"),
    ("POST", "/v3/users", {"user": {"name": "u", "password": LONG}}, "'user.password'"),
    ("POST", "/v3/projects", {"project": {"name": "p" * 65}}, "'project.name'"),
    (
        "POST",
        "/v3/auth/tokens",
        {
            "auth": {
                "identity": {"methods": ["password"], "password": {"user": {"name": LONG, "password": "p"}}}
            }
        },
        "'auth.identity.password.user.name'",
    ),  # fmt: skip
    (
        "POST",
        "/v3/auth/tokens",
        {"auth": {"identity": {"methods": ["token"], "token": {"id": LONG}}}},
        "'auth.identity.token.id'",
    ),  # fmt: skip
    (
        "POST",
        "/v2.0/tokens",
        {"auth": {"passwordCredentials": {"username": "u", "password": LONG}}},
        "'auth.passwordCredentials.password'",
    ),  # fmt: skip
]


@pytest.mark.parametrize(("method", "path", "body", "names"), KEYSTONE_CASES)
def test_keystone_refuses_an_oversized_field_naming_it(
    world: World, method: str, path: str, body: dict[str, object], names: str
) -> None:
    auth = not path.endswith("tokens")
    response = send(target(world, "provider"), method, path, _json(body), JSON, auth=auth)
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert f"Invalid input for field {names}" in message and "at most" in message, message


def test_the_agent_refuses_an_oversized_field_naming_it(world: World) -> None:
    nic = {"nic_id": "n1", "name": "nic1", "mac": "56:6f:00:00:00:01",
           "external": {"vnic_id": "p1", "plugin_type": LONG, "network_id": "net1"}}  # fmt: skip
    body = {"vm_id": "size-vm", "name": "v", "nics": [nic]}
    response = send(target(world, "agent"), "POST", "/api/v1/vms", _json(body), JSON)
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert "nics[0].external.plugin_type" in message or "nics.0.external.plugin_type" in message, message
    assert "4096" in message, message


@pytest.mark.parametrize("name", ["engine", "provider", "agent"])
def test_a_body_over_the_limit_is_still_a_413(world: World, name: str) -> None:
    path = {"engine": "/ovirt-engine/api/vms", "provider": "/v2.0/networks", "agent": "/api/v1/vms"}[name]
    response = send(target(world, name), "POST", path, b'{"x":"' + b"y" * (1 << 20) + b'"}', JSON)
    assert response.status_code == 413, response.text
