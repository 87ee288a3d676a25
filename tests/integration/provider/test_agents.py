"""Agents (Neutron's agent extension) and Neutrino's agent reports with port status."""

from __future__ import annotations

from tests.integration.provider.conftest import Api, unique
from tests.integration.provider.server import RunningProvider


def test_report_creates_the_agent_and_updates_port_status(api: Api) -> None:
    host = unique("host")
    net = api.network()
    port = api.port(net["id"], **{"binding:host_id": host})
    assert port["status"] == "DOWN"
    report = {
        "host": host,
        "agent_type": "Linux bridge agent",
        "configurations": {"interface_mappings": {"physnet1": "eth1"}, "tunneling_ip": "192.0.2.7"},
        "ports": [{"id": port["id"], "status": "ACTIVE"}],
    }
    answer = api.ok(api.c.post("/v2.0/agent-reports", json={"agent_report": report}))
    agent = answer["agent"]
    assert answer["updated_ports"] == [port["id"]]
    assert agent["host"] == host and agent["alive"] is True and agent["binary"] == "neutrino-agent"
    assert agent["configurations"]["tunneling_ip"] == "192.0.2.7"
    assert api.ok(api.c.get(f"/v2.0/ports/{port['id']}"))["port"]["status"] == "ACTIVE"

    again = api.ok(api.c.post("/v2.0/agent-reports", json={"agent_report": {**report, "ports": []}}))
    assert again["agent"]["id"] == agent["id"] and again["updated_ports"] == []
    listed = api.ok(api.c.get("/v2.0/agents", params={"host": host}))["agents"]
    assert [a["id"] for a in listed] == [agent["id"]]

    down = api.ok(api.c.put(f"/v2.0/agents/{agent['id']}", json={"agent": {"admin_state_up": False}}))[
        "agent"
    ]
    assert down["admin_state_up"] is False
    api.error(api.c.put(f"/v2.0/agents/{agent['id']}", json={"agent": {"host": "x"}}), 400)
    api.ok(api.c.delete(f"/v2.0/agents/{agent['id']}"), 204)
    api.error(api.c.get(f"/v2.0/agents/{agent['id']}"), 404, "AgentNotFound")


def test_report_validation_and_policy(shared_provider: RunningProvider, api: Api) -> None:
    bad = {"agent_report": {"host": "h", "agent_type": "t", "ports": [{"id": "p", "status": "HAPPY"}]}}
    assert "ports" in api.error(api.c.post("/v2.0/agent-reports", json=bad), 400)
    api.error(api.c.post("/v2.0/agent-reports", json={"agent_report": {"host": "h"}}), 400)
    ovn = {
        "agent_report": {"host": "h", "agent_type": "OVN Controller agent"}
    }  # OVN's chassis are not reported
    assert "agent_type" in api.error(api.c.post("/v2.0/agent-reports", json=ovn), 400)
    name = unique("dave")
    shared_provider.add_user(name, "pw", name + "-p")
    with shared_provider.client(shared_provider.token(name, "pw", name + "-p")) as client:
        user = Api(client)
        user.error(user.c.get("/v2.0/agents"), 403)
        user.error(
            user.c.post("/v2.0/agent-reports", json={"agent_report": {"host": "h", "agent_type": "t"}}), 403
        )
