"""IPAM under concurrency: 200 simultaneous port creates on one network, on each backend."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.integration.provider.conftest import Api
from tests.integration.provider.server import RunningProvider

CLIENTS = 200


async def _create_ports(
    provider: RunningProvider, token: str, network_id: str, clients: int = CLIENTS
) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=provider.url, headers={"X-Auth-Token": token}, timeout=120, limits=limits
    ) as client:
        body = {"port": {"network_id": network_id, "device_owner": "oVirt"}}
        return await asyncio.gather(*[client.post("/v2.0/ports", json=body) for _ in range(clients)])


def _run(coro: Coroutine[Any, Any, list[httpx.Response]]) -> list[httpx.Response]:
    """Run ``coro`` on a fresh event loop in its own thread: another test's library (Playwright's sync
    API) may have left a loop running in this one, where ``asyncio.run`` refuses to start."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _setup(provider: RunningProvider, cidr: str) -> tuple[str, str, Api]:
    token = provider.token()
    client = provider.client(token)
    api = Api(client)
    net = api.network()
    api.subnet(net["id"], cidr)
    return token, net["id"], api


def test_200_concurrent_creates_on_a_24_get_distinct_addresses(provider: RunningProvider) -> None:
    token, network_id, api = _setup(provider, "10.50.0.0/24")
    responses = _run(_create_ports(provider, token, network_id))
    assert Counter(r.status_code for r in responses) == {201: CLIENTS}, [
        r.text for r in responses if r.status_code != 201
    ][:3]
    addresses = [r.json()["port"]["fixed_ips"][0]["ip_address"] for r in responses]
    assert len(set(addresses)) == CLIENTS
    macs = {r.json()["port"]["mac_address"] for r in responses}
    assert len(macs) == CLIENTS
    listed = api.ok(api.c.get("/v2.0/ports", params={"network_id": network_id}))["ports"]
    assert sorted(p["fixed_ips"][0]["ip_address"] for p in listed) == sorted(addresses)
    api.c.close()


def test_surplus_on_a_28_gets_a_clean_409_and_nothing_leaks(provider: RunningProvider) -> None:
    token, network_id, api = _setup(provider, "10.51.0.0/28")
    responses = _run(_create_ports(provider, token, network_id))
    statuses = Counter(r.status_code for r in responses)
    usable = 13  # 16 addresses minus network, broadcast and gateway
    assert statuses == {201: usable, 409: CLIENTS - usable}, statuses
    for r in responses:
        if r.status_code == 409:
            assert r.json()["NeutronError"]["type"] == "IpAddressGenerationFailure"
    addresses = sorted(
        r.json()["port"]["fixed_ips"][0]["ip_address"] for r in responses if r.status_code == 201
    )
    assert addresses == sorted(f"10.51.0.{i}" for i in range(2, 15))
    listed = api.ok(api.c.get("/v2.0/ports", params={"network_id": network_id}))["ports"]
    assert len(listed) == usable and all(len(p["fixed_ips"]) == 1 for p in listed)
    # every address comes back once its port is gone
    for port in listed:
        api.ok(api.c.delete(f"/v2.0/ports/{port['id']}"), 204)
    again = _run(_create_ports(provider, token, network_id, clients=20))
    assert Counter(r.status_code for r in again) == {201: usable, 409: 20 - usable}
    api.c.close()
