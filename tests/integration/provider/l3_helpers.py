"""What the router and floating IP tests share: an external network, routers, interfaces, a
member of another project."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.integration.provider.conftest import Api, unique
from tests.integration.provider.server import RunningProvider


def external(api: Api, cidr: str = "172.24.4.0/24", **subnet: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """An external network (admin-made) and its subnet."""
    net = api.network(**{"router:external": True})
    return net, api.subnet(net["id"], cidr, **subnet)


def router(api: Api, **body: Any) -> dict[str, Any]:
    body.setdefault("name", unique("router"))
    return api.post("routers", "router", **body)


def put_router(api: Api, router_id: str, **body: Any) -> dict[str, Any]:
    return api.ok(api.c.put(f"/v2.0/routers/{router_id}", json={"router": body}))["router"]


def add_interface(api: Api, router_id: str, **body: Any) -> dict[str, Any]:
    return api.ok(api.c.put(f"/v2.0/routers/{router_id}/add_router_interface", json=body))


def remove_interface(api: Api, router_id: str, **body: Any) -> dict[str, Any]:
    return api.ok(api.c.put(f"/v2.0/routers/{router_id}/remove_router_interface", json=body))


def port(api: Api, port_id: str) -> dict[str, Any]:
    return api.ok(api.c.get(f"/v2.0/ports/{port_id}"))["port"]


@contextmanager
def member(provider: RunningProvider) -> Iterator[Api]:
    """An Api for a member (not admin) of a new project."""
    name = unique("member")
    provider.add_user(name, "pw", name + "-p")
    with provider.client(provider.token(name, "pw", name + "-p")) as client:
        yield Api(client)
