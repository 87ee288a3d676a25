"""The builtin backend's L3 scheduling (SQLite and PostgreSQL): routers placed on live L3 agents
that report through ``agent-reports``, Neutron's ``l3_agent_scheduler`` calls (raw and through
openstacksdk and Neutrino's client), failover when an agent is no longer alive, floating IP
statuses from the hosting agent, and the L3 agents' change token."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from neutrino.neutron_client import Changed, Changes, Credentials, Endpoint, NeutronClient
from tests.integration.provider.conftest import Api
from tests.integration.provider.l3_helpers import add_interface, external, port, remove_interface, router
from tests.integration.provider.server import ADMIN_PASSWORD, RunningProvider, running_provider

DOWN_TIME = 4.0  # seconds without a report before an agent is not alive


@pytest.fixture
def l3(database_url: str, tmp_path: Path) -> Iterator[tuple[RunningProvider, Api]]:
    """A fresh provider whose agents die fast and whose scheduler checks often."""
    with (
        running_provider(
            database_url, tmp_path, agent_down_time=DOWN_TIME, l3_schedule_interval=0.2
        ) as running,
        running.admin() as client,
    ):
        yield running, Api(client)


@pytest.fixture
def l3_by_hand(database_url: str, tmp_path: Path) -> Iterator[tuple[RunningProvider, Api]]:
    """A fresh provider whose scheduler's own check does not come while a test moves routers."""
    with (
        running_provider(database_url, tmp_path, agent_down_time=60, l3_schedule_interval=600) as running,
        running.admin() as client,
    ):
        yield running, Api(client)


def report(api: Api, host: str, mappings: dict[str, str] | None = None, **more: Any) -> dict[str, Any]:
    body = {
        "host": host,
        "agent_type": "L3 agent",
        "configurations": {"agent_mode": "legacy", "interface_mappings": mappings or {}},
        **more,
    }
    return api.ok(api.c.post("/v2.0/agent-reports", json={"agent_report": body}))["agent"]


def hosts_of(api: Api, router_id: str) -> list[str]:
    return [a["host"] for a in api.ok(api.c.get(f"/v2.0/routers/{router_id}/l3-agents"))["agents"]]


def test_routers_go_to_live_agents_that_reach_their_gateway_and_move_when_one_dies(
    l3: tuple[RunningProvider, Api],
) -> None:
    running, api = l3
    aliases = {e["alias"] for e in api.ok(api.c.get("/v2.0/extensions"))["extensions"]}
    assert {"l3_agent_scheduler", "neutrino-changes", "router"} <= aliases
    ext, _ = external(api)
    physical = api.network(**{"router:external": True, "provider:network_type": "flat",
                              "provider:physical_network": "public"})  # fmt: skip
    api.subnet(physical["id"], "198.51.100.0/24")
    a = report(api, "host-a")
    b = report(api, "host-b", {"public": "eth9"})
    c = report(api, "host-c", {"public": "eth9"})
    api.ok(api.c.put(f"/v2.0/agents/{c['id']}", json={"agent": {"admin_state_up": False}}))

    # no port, no host; the first interface schedules it (least loaded, then by host name)
    net = api.network()
    subnet = api.subnet(net["id"], "10.5.0.0/24")
    r1 = router(api)
    assert hosts_of(api, r1["id"]) == []
    add_interface(api, r1["id"], subnet_id=subnet["id"])
    assert hosts_of(api, r1["id"]) == ["host-a"]
    [interface] = api.ok(api.c.get("/v2.0/ports", params={"device_id": r1["id"]}))["ports"]
    assert interface["binding:host_id"] == "host-a" and interface["status"] == "DOWN"
    # a gateway on a flat network: only an agent mapping its physical network (and up) may host it
    r2 = router(api, external_gateway_info={"network_id": physical["id"]})
    assert hosts_of(api, r2["id"]) == ["host-b"]
    r3 = router(api, external_gateway_info={"network_id": ext["id"]})
    assert hosts_of(api, r3["id"]) == ["host-a"]  # a and b host one each: a by name
    hosted = api.ok(api.c.get(f"/v2.0/agents/{a['id']}/l3-routers"))["routers"]
    assert sorted(r["id"] for r in hosted) == sorted([r1["id"], r3["id"]])

    # the hosting agent reports the router's ports in place
    report(api, "host-a", ports=[{"id": interface["id"], "status": "ACTIVE"}])
    assert port(api, interface["id"])["status"] == "ACTIVE"

    # host-a stops reporting: its routers move to b (the only live one up), ports DOWN until b says
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and hosts_of(api, r1["id"]) != ["host-b"]:
        report(api, "host-b", {"public": "eth9"})
        time.sleep(0.2)
    assert hosts_of(api, r1["id"]) == ["host-b"] and hosts_of(api, r3["id"]) == ["host-b"]
    moved = port(api, interface["id"])
    assert moved["binding:host_id"] == "host-b" and moved["status"] == "DOWN"
    assert api.ok(api.c.get(f"/v2.0/agents/{a['id']}/l3-routers"))["routers"] == []

    # a router without ports has no host
    remove_interface(api, r1["id"], subnet_id=subnet["id"])
    assert hosts_of(api, r1["id"]) == []
    assert [r["id"] for r in api.ok(api.c.get(f"/v2.0/agents/{b['id']}/l3-routers"))["routers"]] == sorted(
        [r2["id"], r3["id"]], key=[r2["id"], r3["id"]].index
    )
    del running


def test_manual_scheduling_floating_ip_status_and_the_sdk(l3_by_hand: tuple[RunningProvider, Api]) -> None:
    running, api = l3_by_hand
    ext, _ = external(api)
    net = api.network()
    subnet = api.subnet(net["id"], "10.6.0.0/24")
    a, b = report(api, "host-a"), report(api, "host-b")
    r = router(api, external_gateway_info={"network_id": ext["id"]})
    add_interface(api, r["id"], subnet_id=subnet["id"])
    assert hosts_of(api, r["id"]) == ["host-a"]

    # Neutron's errors; then moved by hand
    api.error(api.c.post(f"/v2.0/agents/{b['id']}/l3-routers", json={"router_id": r["id"]}), 409,
              "RouterHostedByL3Agent")  # fmt: skip
    api.error(api.c.delete(f"/v2.0/agents/{b['id']}/l3-routers/{r['id']}"), 409, "RouterNotHostedByL3Agent")
    linux_bridge = api.ok(
        api.c.post(
            "/v2.0/agent-reports",
            json={"agent_report": {"host": "host-a", "agent_type": "Linux bridge agent"}},
        )
    )["agent"]
    api.error(
        api.c.post(f"/v2.0/agents/{linux_bridge['id']}/l3-routers", json={"router_id": r["id"]}),
        404,
        "InvalidL3Agent",
    )
    api.ok(api.c.delete(f"/v2.0/agents/{a['id']}/l3-routers/{r['id']}"), 204)
    api.ok(api.c.post(f"/v2.0/agents/{b['id']}/l3-routers", json={"router_id": r["id"]}), 201)
    assert hosts_of(api, r["id"]) == ["host-b"]

    # a floating IP through a hosted router is DOWN until its agent reports it in place
    vm = api.port(net["id"])
    fip = api.post("floatingips", "floatingip", floating_network_id=ext["id"], port_id=vm["id"])
    assert fip["status"] == "DOWN"
    fixed = fip["fixed_ip_address"]
    report(
        api, "host-b", floatingips=[{"id": fip["id"], "status": "ACTIVE", "fixed_ip_address": "10.6.0.99"}]
    )
    assert api.ok(api.c.get(f"/v2.0/floatingips/{fip['id']}"))["floatingip"]["status"] == "DOWN"  # stale
    report(api, "host-b", floatingips=[{"id": fip["id"], "status": "ACTIVE", "fixed_ip_address": fixed}])
    assert api.ok(api.c.get(f"/v2.0/floatingips/{fip['id']}"))["floatingip"]["status"] == "ACTIVE"
    api.ok(api.c.put(f"/v2.0/floatingips/{fip['id']}", json={"floatingip": {"port_id": None}}))
    report(api, "host-b", floatingips=[{"id": fip["id"], "status": "ACTIVE", "fixed_ip_address": fixed}])
    assert api.ok(api.c.get(f"/v2.0/floatingips/{fip['id']}"))["floatingip"]["status"] == "DOWN"
    bad = {
        "agent_report": {
            "host": "h",
            "agent_type": "L3 agent",
            "floatingips": [{"id": "x", "status": "GOOD"}],
        }
    }
    assert "floatingips" in api.error(api.c.post("/v2.0/agent-reports", json=bad), 400)

    # openstacksdk's calls for the extension
    import openstack

    conn = openstack.connect(
        auth_url=f"{running.url}/v3", username="admin", password=ADMIN_PASSWORD, project_name="admin",
        user_domain_name="Default", project_domain_name="Default", identity_api_version="3",
        load_yaml_config=False, load_envvars=False,
    )  # fmt: skip
    try:
        assert [x.host for x in conn.network.routers_hosting_l3_agents(r["id"])] == ["host-b"]
        assert [x.id for x in conn.network.agent_hosted_routers(b["id"])] == [r["id"]]
        conn.network.remove_router_from_agent(
            conn.network.get_agent(b["id"]), conn.network.get_router(r["id"])
        )
        assert hosts_of(api, r["id"]) == []
        conn.network.add_router_to_agent(conn.network.get_agent(a["id"]), conn.network.get_router(r["id"]))
        assert hosts_of(api, r["id"]) == ["host-a"]
    finally:
        conn.close()


def test_routing_changes_and_scheduling_are_in_the_change_feed(
    l3_by_hand: tuple[RunningProvider, Api],
) -> None:
    running, api = l3_by_hand
    client = NeutronClient(
        Endpoint(
            url=running.url,
            credentials=Credentials(auth_url=f"{running.url}/v3", username="admin", password=ADMIN_PASSWORD),
        )
    )
    try:
        cursor = client.changes().cursor
        got: list[Changes] = []
        waiter = threading.Thread(target=lambda: got.append(client.changes(after=cursor, wait=5)))
        waiter.start()
        time.sleep(0.2)
        made = router(api)
        waiter.join(10)
        assert got and got[0].cursor != cursor  # woken by the change
        assert got[0].changed == {"routers": Changed(frozenset({made["id"]}))}
        agent = report(api, "host-a")
        ext, _ = external(api)
        cursor = client.changes().cursor
        r = router(api, external_gateway_info={"network_id": ext["id"]})
        changed = client.changes(after=cursor).changed
        assert changed is not None and changed["l3_agents"].ids == {r["id"]}  # scheduled to host-a
        assert [x.id for x in client.list_l3_agent_routers(agent["id"])] == [r["id"]]
        assert [x.host for x in client.list_router_l3_agents(r["id"])] == ["host-a"]
    finally:
        client.close()
