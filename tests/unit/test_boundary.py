"""The input boundary's middleware (neutrino.http_input.Boundary) with each server's own fault shape: the last
resort for an exception no handler took, the body limit, NUL in the URL, and the request id."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from neutrino.agent.api.routes import boundary_fault as agent_fault
from neutrino.engine.api.app import boundary_fault as engine_fault
from neutrino.http_input import Boundary, Fault
from neutrino.provider.app import boundary_fault as provider_fault


async def boom(request: Request) -> Response:
    raise RuntimeError("the secret detail of a bug")


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse({"size": len(body), "request_id": request.state.request_id})


def client(fault: Fault, limit: int = 100) -> TestClient:
    paths = [
        "/ovirt-engine/api/x",
        "/ovirt-engine/sso/oauth/token",
        "/v2.0/networks",
        "/v3/auth/tokens",
        "/api/v1/vms",
    ]
    routes = [Route(p, boom, methods=["GET"]) for p in paths] + [
        Route(p, echo, methods=["POST"]) for p in paths
    ]
    app = Starlette(routes=routes)
    app.add_middleware(Boundary, program="test", fault=fault, max_body=limit)
    return TestClient(app, raise_server_exceptions=False)


def engine_xml(r: Any) -> str:
    assert r.headers["content-type"].startswith("application/xml") and "<fault>" in r.text, r.text
    return r.text


SHAPES: list[tuple[Fault, str, dict[str, str], Callable[[Any], str]]] = [
    (engine_fault, "/ovirt-engine/api/x", {}, engine_xml),
    (engine_fault, "/ovirt-engine/api/x", {"Accept": "application/json"}, lambda r: r.json()["detail"]),
    (engine_fault, "/ovirt-engine/sso/oauth/token", {}, lambda r: r.json()["error"]),
    (provider_fault, "/v2.0/networks", {}, lambda r: r.json()["NeutronError"]["message"]),
    (provider_fault, "/v3/auth/tokens", {}, lambda r: r.json()["error"]["message"]),
    (agent_fault, "/api/v1/vms", {}, lambda r: r.json()["error"]["message"]),
]


@pytest.mark.parametrize(("fault", "path", "headers", "message"), SHAPES)
def test_the_last_resort_logs_the_traceback_and_answers_the_apis_500(
    fault: Fault,
    path: str,
    headers: dict[str, str],
    message: Callable[[Any], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="neutrino.http_input"):
        response = client(fault).get(path, headers=headers)
    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    text = message(response)
    assert request_id in text and "secret detail" not in response.text
    [record] = [r for r in caplog.records if request_id in r.getMessage()]
    assert record.exc_info is not None and "secret detail" in str(record.exc_info[1])


@pytest.mark.parametrize(("fault", "path", "headers", "message"), SHAPES)
def test_a_body_over_the_limit_is_a_413_naming_it(
    fault: Fault, path: str, headers: dict[str, str], message: Callable[[Any], str]
) -> None:
    c = client(fault, limit=100)
    response = c.post(path, content=b"x" * 101, headers=headers)
    assert response.status_code == 413 and "100 bytes" in message(response)
    # a chunked body (no Content-Length) is counted as it comes
    response = c.post(path, content=iter([b"x" * 60, b"x" * 60]), headers=headers)
    assert response.status_code == 413 and "100 bytes" in message(response)
    response = c.post(path, content=b"x" * 100, headers=headers)
    assert response.status_code == 200 and response.json()["size"] == 100
    assert response.json()["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize(("fault", "path", "headers", "message"), SHAPES)
def test_a_nul_in_the_url_is_a_400_naming_where(
    fault: Fault, path: str, headers: dict[str, str], message: Callable[[Any], str]
) -> None:
    c = client(fault)
    response = c.post(path + "?name=a%00b", content=b"", headers=headers)
    assert response.status_code == 400 and "query parameter 'name'" in message(response)
    response = c.post(path + "%00", content=b"", headers=headers)
    assert response.status_code == 400 and "URL path" in message(response)
