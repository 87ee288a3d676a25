"""Neutrino's change feed (``GET /v2.0/changes``, extension ``neutrino-changes``) on a real provider:
the cursor, the wait and what wakes it, what each kind says, another epoch, who may read it, bad
input, agents' liveness, and that held waits occupy no worker thread."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from neutrino.provider.api.changes import MAX_WAIT
from tests.integration.provider.conftest import Api, unique
from tests.integration.provider.server import RunningProvider, running_provider
from tests.support.servers import free_port


@pytest.fixture
def feed(database_url: str, tmp_path: Path) -> Iterator[tuple[RunningProvider, Api]]:
    """A fresh provider whose agents die fast and are looked at often."""
    with (
        running_provider(database_url, tmp_path, agent_down_time=3, agent_watch_interval=0.2) as running,
        running.admin() as client,
    ):
        yield running, Api(client)


def changes(api: Api, **params: Any) -> dict[str, Any]:
    return api.ok(api.c.get("/v2.0/changes", params=params))["changes"]  # type: ignore[no-any-return]


def test_listed_and_the_cursor_moves_with_each_write(feed: tuple[RunningProvider, Api]) -> None:
    _, api = feed
    assert "neutrino-changes" in {e["alias"] for e in api.ok(api.c.get("/v2.0/extensions"))["extensions"]}
    first = changes(api)
    assert first["changed"] is None  # nothing asked about: anything may have changed
    cursor = first["cursor"]
    assert changes(api, after=cursor, wait=0.2) == {"cursor": cursor, "changed": {}}  # the wait ran out
    net = api.network()
    sub = api.subnet(net["id"], "10.71.0.0/24")
    group = api.post("security-groups", "security_group", name=unique("sg"))
    port = api.port(net["id"], security_groups=[group["id"]])
    answer = changes(api, after=cursor)
    assert answer["cursor"] != cursor
    assert answer["changed"]["networks"] == {"ids": [net["id"]]}
    assert answer["changed"]["subnets"] == {"ids": [sub["id"]], "network_ids": [net["id"]]}
    assert answer["changed"]["ports"] == {
        "ids": [port["id"]],
        "network_ids": [net["id"]],
        "security_group_ids": [group["id"]],
    }
    # a rule names its group; a deleted rule's group cannot be told
    cursor = answer["cursor"]
    rule = api.post(
        "security-group-rules",
        "security_group_rule",
        security_group_id=group["id"],
        direction="ingress",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
    )
    answer = changes(api, after=cursor)
    assert answer["changed"] == {
        "security_group_rules": {"ids": [rule["id"]], "security_group_ids": [group["id"]]}
    }
    cursor = answer["cursor"]
    api.ok(api.c.delete(f"/v2.0/security-group-rules/{rule['id']}"), 204)
    api.ok(api.c.delete(f"/v2.0/ports/{port['id']}"), 204)
    answer = changes(api, after=cursor)
    assert answer["changed"]["security_group_rules"] == {"ids": [rule["id"]], "security_group_ids": None}
    assert answer["changed"]["ports"] == {"ids": [port["id"]], "network_ids": [], "security_group_ids": []}
    # tags are a change of their resource
    cursor = answer["cursor"]
    api.ok(api.c.put(f"/v2.0/networks/{net['id']}/tags/blue"), 201)
    assert changes(api, after=cursor)["changed"] == {"networks": {"ids": [net["id"]]}}


def test_a_wait_is_woken_by_the_commit(feed: tuple[RunningProvider, Api]) -> None:
    running, api = feed
    cursor = changes(api)["cursor"]
    got: list[dict[str, Any]] = []

    def wait() -> None:
        with running.admin() as client:
            got.append(changes(Api(client), after=cursor, wait=30))

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.3)
    assert not got  # still waiting: nothing changed
    net = api.network()
    waiter.join(20)  # a 30 s wait ends with the write, not by running out
    assert not waiter.is_alive() and got[0]["changed"] == {"networks": {"ids": [net["id"]]}}


def test_another_epoch_or_a_forgotten_cursor_means_everything(feed: tuple[RunningProvider, Api]) -> None:
    _, api = feed
    cursor = changes(api)["cursor"]
    epoch = cursor.split("-")[0]
    other = ("0" if epoch[0] != "0" else "1") + epoch[1:]
    # another process's cursor (or one of before a restart): at once, and anything may have changed
    assert changes(api, after=f"{other}-5", wait=30)["changed"] is None


def test_the_state_changes_with_any_write_whichever_process_made_it(
    feed: tuple[RunningProvider, Api], database_url: str, tmp_path: Path
) -> None:
    """What the agents' periodic resync asks: the database's state, told with an answer at once."""
    running, api = feed
    state = changes(api)["state"]
    assert isinstance(state, str) and changes(api)["state"] == state  # nothing written: the same
    net = api.network()
    assert changes(api)["state"] != state
    state = changes(api)["state"]
    # an update a client cannot see leaves the revision as it was: no change
    api.ok(api.c.put(f"/v2.0/networks/{net['id']}", json={"network": {"name": net["name"]}}))
    assert changes(api)["state"] == state
    group = api.post("security-groups", "security_group", name=unique("sg"))
    port = api.port(net["id"], security_groups=[group["id"]])
    state = changes(api)["state"]
    api.ok(api.c.put(f"/v2.0/ports/{port['id']}", json={"port": {"security_groups": []}}))
    assert changes(api)["state"] != state
    state = changes(api)["state"]
    rule = api.post(
        "security-group-rules", "security_group_rule", security_group_id=group["id"], direction="ingress"
    )
    assert changes(api)["state"] != state
    state = changes(api)["state"]
    api.ok(api.c.delete(f"/v2.0/security-group-rules/{rule['id']}"), 204)
    assert changes(api)["state"] != state
    # a long poll's answer does not carry it
    cursor = changes(api)["cursor"]
    assert "state" not in changes(api, after=cursor, wait=0)
    # a write by another provider process on the same database: this one's feed does not know it,
    # its state does
    state = changes(api)["state"]
    with running_provider(database_url, tmp_path / "other") as other, other.admin() as client:
        Api(client).network()
    assert changes(api, after=cursor, wait=0)["changed"] == {}
    assert changes(api)["state"] != state


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"wait": "soon"}, "wait"),
        ({"wait": "-1"}, "wait"),
        ({"wait": "nan"}, "wait"),
        ({"wait": "inf"}, "wait"),
        ({"after": "yesterday"}, "after"),
        ({"after": "abc-"}, "after"),
        ({"after": ["a-1", "a-2"]}, "after"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    shared_provider: RunningProvider, params: dict[str, Any], field: str
) -> None:
    with shared_provider.admin() as client:
        api = Api(client)
        message = api.error(api.c.get("/v2.0/changes", params=params), 400)
        assert message.startswith(f"Invalid input for {field}") or field in message, message


def test_a_cursor_ahead_of_the_feed_and_a_long_wait(shared_provider: RunningProvider) -> None:
    with shared_provider.admin() as client:
        api = Api(client)
        epoch = changes(api)["cursor"].split("-")[0]
        assert "after" in api.error(api.c.get("/v2.0/changes", params={"after": f"{epoch}-999999999"}), 400)
        assert MAX_WAIT == 300  # a longer wait is cut to it, not refused
        api.ok(api.c.get("/v2.0/changes", params={"wait": "100000"}))  # no after: answered at once


def test_only_admins_read_the_feed(shared_provider: RunningProvider) -> None:
    user, project = unique("user"), unique("project")
    shared_provider.add_user(user, "pw-secret-1", project)
    with shared_provider.client(shared_provider.token(user, "pw-secret-1", project)) as client:
        Api(client).error(client.get("/v2.0/changes"), 403, "PolicyNotAuthorized")
    with shared_provider.client() as anonymous:
        assert anonymous.get("/v2.0/changes").status_code == 401


def test_agents_appearing_and_dying_are_changes(feed: tuple[RunningProvider, Api]) -> None:
    _, api = feed
    cursor = changes(api)["cursor"]
    body = {
        "host": unique("host"),
        "agent_type": "Linux bridge agent",
        "configurations": {"tunneling_ip": "192.0.2.71"},
    }
    agent = api.ok(api.c.post("/v2.0/agent-reports", json={"agent_report": body}))["agent"]
    answer = changes(api, after=cursor, wait=10)
    assert answer["changed"] == {"agents": {"ids": [agent["id"]]}}
    # a heartbeat alone is no change; an agent whose reports stop is one once it is not alive
    api.ok(api.c.post("/v2.0/agent-reports", json={"agent_report": body}))
    cursor = answer["cursor"]
    answer = changes(api, after=cursor, wait=10)
    assert answer["changed"] == {"agents": {"ids": [agent["id"]]}}
    assert api.ok(api.c.get(f"/v2.0/agents/{agent['id']}"))["agent"]["alive"] is False


def test_held_waits_occupy_no_worker_thread(feed: tuple[RunningProvider, Api]) -> None:
    """More waits than the server's worker threads (40), and a list still answers while they wait."""
    running, api = feed
    token = api.c.headers["X-Auth-Token"]
    cursor = changes(api)["cursor"]

    async def scenario() -> tuple[int, int]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(
            base_url=running.url, headers={"X-Auth-Token": token}, timeout=60, limits=limits
        ) as client:
            waits = [
                asyncio.create_task(client.get("/v2.0/changes", params={"after": cursor, "wait": 30}))
                for _ in range(60)
            ]
            await asyncio.sleep(0.5)
            listed = await asyncio.wait_for(client.get("/v2.0/networks"), timeout=20)
            pending = sum(not w.done() for w in waits)
            await asyncio.to_thread(api.network)  # wakes them all
            answers = await asyncio.wait_for(asyncio.gather(*waits), timeout=20)
            return listed.status_code, pending + 1000 * sum(a.status_code != 200 for a in answers)

    status, pending = asyncio.run(scenario())
    assert status == 200 and pending == 60  # the list answered while all 60 waited; every wait then 200


def test_a_stopping_provider_ends_pending_waits(tmp_path: Path) -> None:
    """SIGTERM: the waits answer at once, so the server stops without waiting for them."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "NEUTRINO_INSECURE_HTTP": "1"}
    args = ["--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path), "--no-auth"]
    log = (tmp_path / "provider.out").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "neutrino.cli", "provider", *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                cursor = httpx.get(f"{url}/v2.0/changes", timeout=2).json()["changes"]["cursor"]
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        got: list[httpx.Response] = []
        waiter = threading.Thread(
            target=lambda: got.append(
                httpx.get(f"{url}/v2.0/changes", params={"after": cursor, "wait": 120}, timeout=130)
            )
        )
        waiter.start()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM after its shutdown
        waiter.join(5)
        assert got and got[0].json()["changes"] == {"cursor": cursor, "changed": {}}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
