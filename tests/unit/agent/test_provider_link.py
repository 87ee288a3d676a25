"""Reporting to the network provider and learning peers, against a fake provider served in process
through the Neutron client's transport (the wire contract of Keystone v3 and the provider's agent
reports)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest

from neutrino.agent.app import build_agent
from neutrino.agent.datapath.memory import MemoryNet
from neutrino.agent.host_agent import HostAgent
from neutrino.agent.neutron_follower import Prefetcher
from neutrino.agent.reporting import Reporter
from neutrino.agent.settings import AgentSettings
from neutrino.agent_api.schema import NicSpec, VmSpec
from neutrino.neutron_client import AuthFailed, Credentials, Endpoint, NeutronClient
from tests.support.canned import Canned
from tests.support.neutron_transport import Call, CannedAdapter

from .helpers import NET_B, ext_nic, vm


class FakeProvider:
    """Keystone v3 tokens, ``POST /v2.0/agent-reports`` and ``GET /v2.0/agents``."""

    def __init__(self) -> None:
        self.tokens_issued = 0
        self.valid: set[str] = set()
        self.reports: list[dict[str, Any]] = []
        self.agents: list[dict[str, Any]] = []

    def __call__(self, call: Call) -> Canned:
        if call.path == "/v3/auth/tokens":
            user = call.body["auth"]["identity"]["password"]["user"]
            if user["password"] != "pw":
                return Canned(401, {"error": {"code": 401, "message": "The request requires authentication"}})
            self.tokens_issued += 1
            token = f"tok-{self.tokens_issued}"
            self.valid.add(token)
            expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
            body = {
                "token": {
                    "methods": ["password"],
                    "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
                    "user": {"id": "u1", "name": "admin", "domain": {"id": "default", "name": "Default"}},
                    "project": {"id": "p1", "name": "admin", "domain": {"id": "default", "name": "Default"}},
                    "catalog": [],
                }
            }
            return Canned(201, body, headers={"X-Subject-Token": token})
        if call.token not in self.valid:
            return Canned(401, {"NeutronError": {"type": "Unauthorized", "message": "", "detail": ""}})
        if call.path == "/v2.0/agent-reports" and call.method == "POST":
            report = call.body["agent_report"]
            self.reports.append(report)
            return Canned(200, {"agent": {"id": "a1", **report}, "updated_ports": []})
        if call.path == "/v2.0/agents":
            wanted = call.query.get("agent_type", [None])[0]
            found = [
                {"id": f"agent-{i}", **a} for i, a in enumerate(self.agents) if a["agent_type"] == wanted
            ]
            return Canned(200, {"agents": found})
        return Canned(404, {"NeutronError": {"type": "HTTPNotFound", "message": "", "detail": ""}})


def client_of(url: str, handler: Any, password: str = "pw") -> NeutronClient:
    credentials = Credentials(f"{url}/v3", "admin", password, "admin")
    return NeutronClient(Endpoint(url=url, credentials=credentials), adapter=CannedAdapter(handler))


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


def reporter_on(agent: HostAgent, neutron: NeutronClient) -> Reporter:
    return Reporter(neutron, agent.identity, agent.store, agent.drivers, agent.vms, agent.dhcp)


def reporter(agent: HostAgent, provider: FakeProvider, password: str = "pw") -> Reporter:
    return reporter_on(agent, client_of("http://provider:9696", provider, password))


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
    with pytest.raises(AuthFailed, match="HTTP 401 from Keystone"):
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


def _lb_agent(host: str, ip: str, alive: bool = True) -> dict[str, Any]:
    return {
        "agent_type": "Linux bridge agent",
        "host": host,
        "alive": alive,
        "configurations": {"tunneling_ip": ip},
    }


def test_peers_gone_or_moved_are_pruned_and_given_ones_kept(
    agent: tuple[HostAgent, MemoryNet], provider: FakeProvider
) -> None:
    a, host = agent
    given = ext_nic(2, network_id=NET_B, segmentation_id=200, tunnel_peers=["198.51.100.7"])
    a.vms.create_vm(VmSpec.model_validate(vm("vm-1", ext_nic(1), given)))
    provider.agents = [_lb_agent("host-2", "192.0.2.2"), _lb_agent("host-3", "192.0.2.3")]
    rep = reporter(a, provider)
    rep.report_once()
    assert host.flood_entries("vxlan-100") == {"192.0.2.2", "192.0.2.3"}

    provider.agents = [_lb_agent("host-2", "192.0.2.12"), _lb_agent("host-3", "192.0.2.3", alive=False)]
    rep.report_once()  # host-2 moved, host-3 is not alive
    assert host.flood_entries("vxlan-100") == {"192.0.2.12"}
    assert host.flood_entries("vxlan-200") == {"192.0.2.12", "198.51.100.7"}  # the vNIC's own peer stays
    assert a.vms.get_vm("vm-1").nics[0].plugged.details["peers"] == ["192.0.2.12"]  # type: ignore[union-attr]

    provider.agents = []
    rep.report_once()  # no live agent at all
    assert host.flood_entries("vxlan-100") == set()


def test_unusable_addresses_are_never_peers(
    agent: tuple[HostAgent, MemoryNet], provider: FakeProvider
) -> None:
    a, host = agent
    a.vms.create_vm(VmSpec.model_validate(vm("vm-1", ext_nic(1))))
    provider.agents = [
        _lb_agent(f"host-{n}", ip)
        for n, ip in enumerate(["127.0.0.1", "::1", "169.254.1.1", "fe80::1", "224.0.0.5", "0.0.0.0", "192.0.2.1",
                                "not-an-ip", "192.0.2.2"], 2)
    ]  # fmt: skip
    reporter(a, provider).report_once()
    assert host.flood_entries("vxlan-100") == {"192.0.2.2"}  # 192.0.2.1 is this host's own


def test_the_first_round_after_a_start_removes_what_a_previous_run_left(
    agent: tuple[HostAgent, MemoryNet], provider: FakeProvider
) -> None:
    a, host = agent
    a.vms.create_vm(VmSpec.model_validate(vm("vm-1", ext_nic(1))))
    provider.agents = [_lb_agent("host-2", "192.0.2.2")]
    reporter(a, provider).report_once()
    host.add_flood_entry("vxlan-100", "192.0.2.9")  # toward a host that went while the agent was down
    reporter(a, provider).report_once()  # a new run: the same peers, yet a first round
    assert host.flood_entries("vxlan-100") == {"192.0.2.2"}


def test_an_agent_with_a_provider_url_reports_in_the_background_and_stops_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from starlette.testclient import TestClient

    from neutrino.agent.app import create_app

    closed: list[NeutronClient] = []
    close = NeutronClient.close
    monkeypatch.setattr(NeutronClient, "close", lambda self: (closed.append(self), close(self))[-1])

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
    assert closed == [agent.reporter.neutron]


def test_a_provider_without_agent_reports_still_teaches_peers(agent: tuple[HostAgent, MemoryNet]) -> None:
    a, host = agent
    a.vms.create_vm(VmSpec.model_validate(vm("vm-1", ext_nic(1))))
    provider = FakeProvider()
    provider.agents = [{"agent_type": "Linux bridge agent", "host": "net-2", "alive": True,
                        "configurations": {"tunneling_ip": "192.0.2.9"}}]  # fmt: skip

    def neutron(call: Call) -> Canned:
        if call.path == "/v2.0/agent-reports":
            return Canned(404, {"NeutronError": {"type": "HTTPNotFound", "message": "", "detail": ""}})
        return provider(call)

    link = client_of("http://neutron:9696", neutron)
    rep = reporter_on(a, link)
    rep.report_once()
    rep.report_once()
    assert rep.reports_supported is False
    assert host.flood_entries("vxlan-100") == {"192.0.2.9"}
