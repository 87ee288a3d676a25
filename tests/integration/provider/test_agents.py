"""Agents (Neutron's agent extension) and Neutrino's agent reports with port status."""

from __future__ import annotations

import ipaddress
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.provider.conftest import Api, unique
from tests.integration.provider.server import RunningProvider, running_provider


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
        # Neutron's get_agent is admin-only and filters: the member sees no agent, not a 403
        report = {"agent_report": {"host": unique("h"), "agent_type": "Linux bridge agent"}}
        agent_id = api.ok(api.c.post("/v2.0/agent-reports", json=report))["agent"]["id"]
        assert user.ok(user.c.get("/v2.0/agents")) == {"agents": []}
        user.error(user.c.get(f"/v2.0/agents/{agent_id}"), 404, "AgentNotFound")
        user.error(user.c.put(f"/v2.0/agents/{agent_id}", json={"agent": {"description": "x"}}), 404)
        user.error(user.c.delete(f"/v2.0/agents/{agent_id}"), 404)
        user.error(
            user.c.post("/v2.0/agent-reports", json={"agent_report": {"host": "h", "agent_type": "t"}}), 403
        )


def _address() -> str:
    """A tunnel address no other test reports (documentation prefix, random host part)."""
    return str(ipaddress.IPv6Address("2001:db8::") + secrets.randbits(64))


def _report(host: str, tunneling_ip: object, agent_type: str = "Linux bridge agent") -> dict[str, Any]:
    configurations = {"tunneling_ip": tunneling_ip, "tunnel_types": ["vxlan"]}
    return {"agent_report": {"host": host, "agent_type": agent_type, "configurations": configurations}}


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"), ("::1", "loopback"), ("169.254.0.9", "link-local"), ("fe80::9", "link-local"),
        ("239.1.1.1", "multicast"), ("ff02::1", "multicast"), ("0.0.0.0", "unspecified"), ("::", "unspecified"),
        ("255.255.255.255", "reserved"), ("10.0.0.300", "not an IP address"), (7, "not an IP address"),
    ],
)  # fmt: skip
def test_a_tunnel_address_no_host_can_send_to_is_refused(api: Api, address: object, why: str) -> None:
    host = unique("host")
    message = api.error(api.c.post("/v2.0/agent-reports", json=_report(host, address)), 400, "HTTPBadRequest")
    assert message.startswith("Invalid input for configurations.tunneling_ip. Reason:") and why in message
    assert api.ok(api.c.get("/v2.0/agents", params={"host": host}))["agents"] == []  # nothing stored


def test_a_live_agents_tunnel_address_is_its_own(api: Api) -> None:
    first, second, address = unique("host"), unique("host"), _address()
    agent = api.ok(api.c.post("/v2.0/agent-reports", json=_report(first, address.upper())))["agent"]
    assert agent["configurations"]["tunneling_ip"] == address  # stored normalized

    taken = api.error(api.c.post("/v2.0/agent-reports", json=_report(second, address)), 400, "HTTPBadRequest")
    assert "configurations.tunneling_ip" in taken and f"live agent {agent['id']} on host {first}" in taken
    api.ok(api.c.post("/v2.0/agent-reports", json=_report(first, address)))  # its own again
    api.ok(
        api.c.post("/v2.0/agent-reports", json=_report(first, address, "Open vSwitch agent"))
    )  # another type

    api.ok(api.c.delete(f"/v2.0/agents/{agent['id']}"), 204)  # gone: the address is free
    api.ok(api.c.post("/v2.0/agent-reports", json=_report(second, address)))


def test_an_agent_not_alive_leaves_its_tunnel_address_free(tmp_path: Path, database_url: str) -> None:
    with (
        running_provider(database_url, tmp_path, agent_down_time=0.5) as provider,
        provider.admin() as client,
    ):
        api, address = Api(client), _address()
        api.ok(api.c.post("/v2.0/agent-reports", json=_report("h1", address)))
        api.error(api.c.post("/v2.0/agent-reports", json=_report("h2", address)), 400)
        time.sleep(0.7)
        api.ok(api.c.post("/v2.0/agent-reports", json=_report("h2", address)))
