"""Reporting to the network provider and learning peers, against a fake provider served by
``httpx.MockTransport`` (the wire contract of Keystone v3 and the provider's agent reports)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from neutrino.agent.app import build_agent
from neutrino.agent.datapath.memory import MemoryNet
from neutrino.agent.host_agent import HostAgent
from neutrino.agent.neutron_follower import Prefetcher
from neutrino.agent.neutron_link import NeutronLink, connect
from neutrino.agent.reporting import Reporter
from neutrino.agent.settings import AgentSettings
from neutrino.agent_api.schema import NicSpec, VmSpec

from .helpers import NET_B, ext_nic, vm


class FakeProvider:
    """Keystone v3 tokens, ``POST /v2.0/agent-reports`` and ``GET /v2.0/agents``."""

    def __init__(self) -> None:
        self.tokens_issued = 0
        self.valid: set[str] = set()
        self.reports: list[dict[str, Any]] = []
        self.agents: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v3/auth/tokens":
            body = json.loads(request.content)
            user = body["auth"]["identity"]["password"]["user"]
            if user["password"] != "pw":
                return httpx.Response(401, json={"error": {"code": 401}})
            self.tokens_issued += 1
            token = f"tok-{self.tokens_issued}"
            self.valid.add(token)
            return httpx.Response(201, headers={"X-Subject-Token": token}, json={"token": {}})
        if request.headers.get("X-Auth-Token") not in self.valid:
            return httpx.Response(
                401, json={"NeutronError": {"type": "Unauthorized", "message": "", "detail": ""}}
            )
        if request.url.path == "/v2.0/agent-reports" and request.method == "POST":
            report = json.loads(request.content)["agent_report"]
            self.reports.append(report)
            return httpx.Response(200, json={"agent": {"id": "a1", **report}, "updated_ports": []})
        if request.url.path == "/v2.0/agents":
            wanted = request.url.params.get("agent_type")
            return httpx.Response(200, json={"agents": [a for a in self.agents if a["agent_type"] == wanted]})
        return httpx.Response(404)


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def agent(tmp_path: Path) -> tuple[HostAgent, MemoryNet]:
    host = MemoryNet()
    settings = AgentSettings.model_validate(
        {"data_dir": tmp_path, "token": "t", "host_name": "host-1", "host_net": "memory",
         "vnic_drivers": {"LINUX_BRIDGE": "linux_bridge", "OPEN_VSWITCH": "noop"},
         "tunnel_ip": "192.0.2.1", "binding_host_ids": {"OPEN_VSWITCH": "host-1.ovs"}}
    )  # fmt: skip
    return build_agent(settings, host_net=host), host


def reporter_on(agent: HostAgent, link: NeutronLink) -> Reporter:
    return Reporter(link, agent.identity, agent.store, agent.drivers, agent.vms, agent.dhcp)


def reporter(agent: HostAgent, provider: FakeProvider, password: str = "pw") -> Reporter:
    link = connect("http://provider:9696", username="admin", password=password, project="admin",
                   transport=httpx.MockTransport(provider))  # fmt: skip
    return reporter_on(agent, link)


def test_each_plugin_type_reports_its_host_configuration_and_port_statuses(
    agent: tuple[HostAgent, MemoryNet], provider: FakeProvider
) -> None:
    a, _ = agent
    a.vms.create_vm(VmSpec.model_validate(vm("vm-1", ext_nic(1), ext_nic(2, plugin_type="OPEN_VSWITCH"))))
    reporter(a, provider).report_once()
    by_type = {r["agent_type"]: r for r in provider.reports}
    lb = by_type["Linux bridge agent"]
    assert lb["host"] == "host-1" and lb["binary"] == "neutrino-agent"
    assert lb["configurations"]["tunneling_ip"] == "192.0.2.1" and lb["configurations"]["tunnel_types"] == [
        "vxlan"
    ]
    assert lb["ports"] == [{"id": ext_nic(1)["external"]["vnic_id"], "status": "ACTIVE"}]
    assert by_type["Open vSwitch agent"]["host"] == "host-1.ovs"

    # an unplugged port is reported DOWN once
    a.vms.unplug_nic("vm-1", "nic-1")
    rep = reporter(a, provider)
    rep.report_once()
    assert provider.reports[-2]["ports"] == [{"id": ext_nic(1)["external"]["vnic_id"], "status": "DOWN"}]
    rep.report_once()
    assert provider.reports[-2]["ports"] == []


def test_the_token_is_reused_and_renewed_when_refused(
    agent: tuple[HostAgent, MemoryNet], provider: FakeProvider
) -> None:
    a, _ = agent
    rep = reporter(a, provider)
    rep.report_once()
    rep.report_once()
    assert provider.tokens_issued == 1
    provider.valid.clear()  # the provider restarted: old tokens are gone
    rep.report_once()
    assert provider.tokens_issued == 2


def test_wrong_credentials_are_an_error_not_a_loop(
    agent: tuple[HostAgent, MemoryNet], provider: FakeProvider
) -> None:
    a, _ = agent
    with pytest.raises(httpx.HTTPStatusError, match="Keystone refused"):
        reporter(a, provider, password="wrong").report_once()


def test_vxlan_peers_are_learned_from_the_other_hosts_alive_agents(
    agent: tuple[HostAgent, MemoryNet], provider: FakeProvider
) -> None:
    a, host = agent
    a.vms.create_vm(VmSpec.model_validate(vm("vm-1", ext_nic(1))))
    assert host.flood_entries("vxlan-100") == set()
    provider.agents = [
        {"agent_type": "Linux bridge agent", "host": "host-2", "alive": True, "configurations": {"tunneling_ip": "192.0.2.2"}},
        {"agent_type": "Linux bridge agent", "host": "host-3", "alive": False, "configurations": {"tunneling_ip": "192.0.2.3"}},
        {"agent_type": "Linux bridge agent", "host": "host-1", "alive": True, "configurations": {"tunneling_ip": "192.0.2.1"}},
    ]  # fmt: skip
    reporter(a, provider).report_once()
    assert host.flood_entries("vxlan-100") == {"192.0.2.2"}
    # new vNICs flood toward learned peers from the start
    a.vms.plug_nic("vm-1", NicSpec.model_validate(ext_nic(2, network_id=NET_B, segmentation_id=200)))
    assert host.flood_entries("vxlan-200") == {"192.0.2.2"}
    calls = host.world.calls
    reporter(a, provider).report_once()  # nothing new: nothing re-plugged
    assert host.world.calls == calls


def test_an_agent_with_a_provider_url_reports_in_the_background_and_stops_cleanly(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from neutrino.agent.app import create_app

    settings = AgentSettings.model_validate(
        {"data_dir": tmp_path, "token": "t", "host_net": "memory", "provider_url": "http://127.0.0.1:9",
         "provider_password": "pw", "report_interval": 60}
    )  # fmt: skip
    app = create_app(settings)
    with TestClient(app, headers={"Authorization": "Bearer t"}) as client:
        assert client.get("/api/v1/capabilities").status_code == 200
        agent = app.state.agent
        assert agent.reporter._thread.is_alive()
        assert agent.follower._thread.is_alive()
        # the plugging verbs prefetch from the provider and wake the follower
        assert isinstance(agent.vms.hooks, Prefetcher) and agent.vms.hooks.wake is agent.follower._wake
    assert not agent.reporter._thread.is_alive()
    assert not agent.follower._thread.is_alive()
    assert agent.reporter.link.client.is_closed


def test_a_provider_without_agent_reports_still_teaches_peers(agent: tuple[HostAgent, MemoryNet]) -> None:
    a, host = agent
    a.vms.create_vm(VmSpec.model_validate(vm("vm-1", ext_nic(1))))
    provider = FakeProvider()
    provider.agents = [{"agent_type": "Linux bridge agent", "host": "net-2", "alive": True,
                        "configurations": {"tunneling_ip": "192.0.2.9"}}]  # fmt: skip

    def neutron(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2.0/agent-reports":
            return httpx.Response(
                404, json={"NeutronError": {"type": "HTTPNotFound", "message": "", "detail": ""}}
            )
        return provider(request)

    link = connect("http://neutron:9696", username="admin", password="pw", project="admin",
                   transport=httpx.MockTransport(neutron))  # fmt: skip
    rep = reporter_on(a, link)
    rep.report_once()
    rep.report_once()
    assert rep.reports_supported is False
    assert host.flood_entries("vxlan-100") == {"192.0.2.9"}
