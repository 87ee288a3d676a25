from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import _require
from tests.integration.provider.server import RunningProvider, running_provider
from tests.support import ovn_central
from tests.support.databases import postgresql_available, postgresql_schema, sqlite_url
from tests.support.ovn_central import NorthboundServer


def _require_postgresql() -> None:
    reason = postgresql_available()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must have this: {reason}")
    pytest.skip(reason)


@pytest.fixture
def provider(database_url: str, tmp_path: Path) -> Iterator[RunningProvider]:
    """A provider on a fresh database, on each backend (one server per test)."""
    with running_provider(database_url, tmp_path) as running:
        yield running


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_provider(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningProvider]:
    """One provider per module and backend, for tests that tolerate each other's resources
    (they name what they create uniquely). Same backends as the ``database_url`` fixture."""
    data_dir = tmp_path_factory.mktemp("provider")
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = sqlite_url(data_dir)
        else:
            _require_postgresql()
            url = stack.enter_context(postgresql_schema())
        yield stack.enter_context(running_provider(url, data_dir))


class Api:
    """An authenticated client with helpers that create uniquely named resources."""

    def __init__(self, client: httpx.Client) -> None:
        self.c = client

    def ok(self, response: httpx.Response, status: int = 200) -> dict[str, Any]:
        assert response.status_code == status, response.text
        return response.json() if response.content else {}

    def post(self, path: str, member: str, **body: Any) -> dict[str, Any]:
        return self.ok(self.c.post(f"/v2.0/{path}", json={member: body}), 201)[member]

    def network(self, **body: Any) -> dict[str, Any]:
        body.setdefault("name", unique("net"))
        return self.post("networks", "network", **body)

    def subnet(self, network_id: str, cidr: str = "10.0.0.0/24", **body: Any) -> dict[str, Any]:
        body.setdefault("ip_version", 6 if ":" in cidr else 4)
        return self.post("subnets", "subnet", network_id=network_id, cidr=cidr, **body)

    def port(self, network_id: str, **body: Any) -> dict[str, Any]:
        return self.post("ports", "port", network_id=network_id, **body)

    def error(self, response: httpx.Response, status: int, kind: str | None = None) -> str:
        assert response.status_code == status, response.text
        error = response.json()["NeutronError"]
        assert set(error) == {"type", "message", "detail"}
        if kind is not None:
            assert error["type"] == kind, error
        return str(error["message"])


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def api(shared_provider: RunningProvider) -> Iterator[Api]:
    with shared_provider.admin() as client:
        yield Api(client)


@pytest.fixture(scope="session")
def ovn_northbound_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NorthboundServer]:
    """One real OVN northbound ovsdb-server for the session (tests wipe it with ``wipe()``)."""
    _require(ovn_central.missing())
    with ovn_central.northbound_server(tmp_path_factory.mktemp("ovn-nb")) as server:
        yield server
