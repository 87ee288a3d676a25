"""Each input issue 15 found answered with a 500, sent to the running servers: now the API's own 4xx, naming
the field. (Each failed before the input boundary: tests/support/route_fuzz.py's servers, SQLite.)"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.route_fuzz import DEEP_JSON, DEEP_XML, Target, World

JSON = {"Content-Type": "application/json", "Accept": "application/json"}
XML = {"Content-Type": "application/xml"}


def send(
    target: Target, method: str, path: str, body: bytes | None, headers: Any, auth: bool = True
) -> httpx.Response:
    merged: list[tuple[bytes, bytes]] = (
        [(k.encode(), v.encode()) for k, v in target.auth.items()] if auth else []
    )
    items = headers.items() if isinstance(headers, dict) else headers
    merged += [
        (k.encode() if isinstance(k, str) else k, v.encode() if isinstance(v, str) else v) for k, v in items
    ]
    return httpx.request(method, target.url + path, content=body, headers=merged, timeout=30)


def target(world: World, name: str) -> Target:
    return {t.name: t for t in world.targets}[name]


ENGINE_CASES = [
    ("POST", "/datacenters", DEEP_JSON, JSON, 400, "nested deeper than 64"),
    ("POST", "/datacenters", DEEP_XML, XML, 400, "Malformed XML"),
    (
        "POST",
        "/clusters",
        b"<cluster><name>c</name><data_center><id><x/></id></data_center></cluster>",
        XML,
        400,
        "data_center.id",
    ),
    ("POST", "/clusters", b'{"name":"c","data_center":{"id":{"a":1}}}', JSON, 400, "data_center.id"),
    ("POST", "/clusters", b'{"name":"c","data_center":{"id":[1]}}', JSON, 400, "data_center.id"),
    ("POST", "/vms", b"<vm><name>v</name><cluster><id><x/></id></cluster></vm>", XML, 400, "cluster.id"),
    (
        "POST",
        "/vms",
        b'{"name":"v","cluster":{"name":"fuzz-cl"},"memory":"99999999999999999999"}',
        JSON,
        400,
        "'memory'",
    ),
    (
        "POST",
        "/vms",
        b'{"name":"v","cluster":{"name":"fuzz-cl"},"memory":99999999999999999999}',
        JSON,
        400,
        "memory",
    ),
    ("POST", "/clusters", b'{"name":"c","data_center":{"id":"\\ud800"}}', JSON, 400, "data_center.id"),
    ("POST", "/clusters", b'{"name":"c","data_center":{"id":"a\\u0000"}}', JSON, 400, "data_center.id"),
    ("GET", "/vms/a%00", None, {}, 400, "URL path"),
    ("GET", "/events?search=name%3Dx", None, {}, 400, "'search'"),
    ("GET", "/datacenters?max=99999999999999999999", None, {}, 400, "'max'"),
]


@pytest.mark.parametrize(("method", "path", "body", "headers", "status", "names"), ENGINE_CASES)
def test_the_engine_refuses_with_a_fault_naming_the_field(
    world: World, method: str, path: str, body: bytes | None, headers: dict[str, str], status: int, names: str
) -> None:
    response = send(target(world, "engine"), method, "/ovirt-engine/api" + path, body, headers)
    assert response.status_code == status, response.text
    assert names in response.text, response.text
    assert "<fault>" in response.text or "detail" in response.json(), response.text


BAD_TOKEN = [(b"X-Auth-Token", b"\xff\xfe\x80")]

PROVIDER_CASES = [
    ("POST", "/v2.0/networks", DEEP_JSON, JSON, 400, "nested deeper than 64"),
    ("POST", "/v3/auth/tokens", DEEP_JSON, JSON, 400, "nested deeper than 64"),
    ("GET", "/v2.0/networks?limit=99999999999999999999", None, {}, 400, "Limit"),
    ("GET", "/v2.0/ports?revision_number=99999999999999999999", None, {}, 400, "revision_number"),
    ("POST", "/v2.0/networks", b'{"network":{"name":"\\ud800"}}', JSON, 400, "network.name"),
    ("POST", "/v2.0/networks", b'{"network":{"name":"a\\u0000"}}', JSON, 400, "network.name"),
    ("GET", "/v2.0/networks?name=%00", None, {}, 400, "'name'"),
    ("PUT", "/v2.0/ports/{port}", b'{"port":{"fixed_ips":[{}]}}', JSON, 400, "fixed_ips"),
    ("POST", "/v3/users", b'{"user":{"name":["x"],"password":"p"}}', JSON, 400, "user.name"),
    ("POST", "/v3/projects", b'{"project":[1]}', JSON, 400, "project"),
    ("PATCH", "/v3/users/x", b'{"user":"x"}', JSON, 400, "user"),
    ("PATCH", "/v3/projects/x", b'{"project":{"name":[]}}', JSON, 400, "project.name"),  # found by the fuzz
    (
        "POST",
        "/v2.0/agent-reports",
        b'{"agent_report":{"host":"h","agent_type":"x","ports":[{"id":{"a":1},"status":"ACTIVE"}]}}',
        JSON,
        400,
        "ports",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "headers", "status", "names"), PROVIDER_CASES)
def test_the_provider_refuses_with_a_neutron_error_naming_the_field(
    world: World, method: str, path: str, body: bytes | None, headers: dict[str, str], status: int, names: str
) -> None:
    provider = target(world, "provider")
    response = send(provider, method, path.replace("{port}", provider.ids["id"]), body, headers)
    assert response.status_code == status, response.text
    key = "error" if path.startswith("/v3") else "NeutronError"
    assert names in response.json()[key]["message"], response.text


KEYSTONE_CASES = [
    (b'{"auth":{"identity":{"methods":["token"]}}}', "auth.identity"),
    (b'{"auth":"x"}', "'auth'"),
    (
        b'{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","password":"\\ud800"}}}}}',
        "password",
    ),
    (
        b'{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","password":7}}}}}',
        "password",
    ),
]


@pytest.mark.parametrize(("body", "names"), KEYSTONE_CASES)
@pytest.mark.parametrize("path", ["/v3/auth/tokens", "/v2.0/tokens"])
def test_keystone_refuses_a_body_of_the_wrong_shape_in_its_own_words(
    world: World, path: str, body: bytes, names: str
) -> None:
    if path == "/v2.0/tokens":  # the same wrong shapes, in v2.0's words
        body = body.replace(b'"identity"', b'"passwordCredentials"').replace(b'"methods":["token"]', b'"x":1')
    response = send(target(world, "provider"), "POST", path, body, JSON, auth=False)
    assert 400 <= response.status_code < 500, response.text
    assert set(response.json()["error"]) == {"code", "title", "message"}, response.text


@pytest.mark.parametrize(
    "path",
    ["/v2.0/networks", "/v2.0/ports/x", "/v2.0/agents", "/v3/auth/catalog", "/v3/users", "/v3/auth/tokens"],
)
def test_a_non_ascii_token_is_refused_before_authentication(world: World, path: str) -> None:
    response = send(target(world, "provider"), "GET", path, None, BAD_TOKEN, auth=False)
    assert response.status_code == 401, response.text


AGENT_CASES = [
    ("POST", "/api/v1/vms", DEEP_JSON, 400, "nested deeper than 64"),
    ("PUT", "/api/v1/networks/" + "n" * 300, b"{}", 400, "name (in the URL)"),
    ("PUT", "/api/v1/networks/" + "n" * 20, b"{}", 400, "give a bridge"),
    ("PUT", "/api/v1/dhcp/net1", DEEP_JSON, 400, "nested deeper than 64"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "names"), AGENT_CASES)
def test_the_agent_refuses_with_its_error_naming_the_field(
    world: World, method: str, path: str, body: bytes, status: int, names: str
) -> None:
    response = send(target(world, "agent"), method, path, body, JSON)
    assert response.status_code == status, response.text
    assert names in response.json()["error"]["message"], response.text


@pytest.mark.parametrize(
    ("name", "header"),
    [("engine", "x-request-id"), ("provider", "x-openstack-request-id"), ("agent", "x-request-id")],
)
def test_every_answer_names_its_request(world: World, name: str, header: str) -> None:
    t = target(world, name)
    path = {"engine": "/ovirt-engine/api", "provider": "/v2.0/networks", "agent": "/api/v1/vms"}[name]
    response = send(t, "GET", path, None, {})
    assert response.headers[header].startswith("req-"), response.headers
