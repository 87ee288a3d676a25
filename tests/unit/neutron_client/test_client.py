"""The client's calls against canned Neutron answers served in-process (no token: auth is test_keystone's)."""

from __future__ import annotations

import pytest
import requests
from keystoneauth1 import exceptions as ksa_exc

from neutrino.neutron_client import (
    PORTS,
    AgentReport,
    BadRequest,
    BadResponse,
    Conflict,
    Endpoint,
    FixedIpRequest,
    Forbidden,
    NeutronClientError,
    NotFound,
    PortCreate,
    PortStatus,
    PortUpdate,
    ServerError,
    StatusError,
    Unreachable,
)
from tests.support.canned import Canned
from tests.support.neutron_transport import Call

from .fake_cloud import NEUTRON, FakeCloud, neutron_error

PORT = {"id": "p1", "network_id": "n1", "mac_address": "fa:16:3e:00:00:01", "device_owner": "network:dhcp"}


@pytest.fixture
def cloud() -> FakeCloud:
    return FakeCloud(auth=False)


def test_filters_repeat_keys_and_fields_always_ask_for_the_id(cloud: FakeCloud) -> None:
    cloud.on("GET", "/ports", Canned(body={"ports": [PORT, {"no": "id"}]}))
    client, adapter = cloud.client()
    ports = client.list_ports(
        fields=["mac_address", "id"],
        network_id=["n1", "n2"],
        device_owner="network:dhcp",
        admin_state_up=True,
    )
    assert [p.id for p in ports] == ["p1"]  # an item without an id is no port
    [call] = adapter.calls
    assert call.query == {
        "network_id": ["n1", "n2"],
        "device_owner": ["network:dhcp"],
        "admin_state_up": ["true"],
        "fields": ["id", "mac_address"],
    }


def test_an_empty_any_of_filter_matches_nothing_without_asking(cloud: FakeCloud) -> None:
    client, adapter = cloud.client()
    assert client.list_networks(id=[]) == [] and client.query(PORTS, network_id=set()) == []
    assert adapter.calls == []


def test_pages_are_followed_on_our_own_host(cloud: FakeCloud) -> None:
    def page(call: Call) -> Canned:
        if "marker" not in call.query:
            nxt = "http://10.9.9.9:9696/v2.0/ports?limit=1&marker=p1"  # a host only Neutron's side knows
            return Canned(body={"ports": [PORT], "ports_links": [{"rel": "next", "href": nxt}]})
        return Canned(
            body={"ports": [{**PORT, "id": "p2"}], "ports_links": [{"rel": "previous", "href": "x"}]}
        )

    cloud.on("GET", "/ports", page)
    client, adapter = cloud.client()
    assert [p.id for p in client.list_ports(limit=1)] == ["p1", "p2"]
    assert [c.url for c in adapter.calls] == [
        f"{NEUTRON}/v2.0/ports?limit=1",
        f"{NEUTRON}/v2.0/ports?limit=1&marker=p1",
    ]


def test_the_url_may_name_the_api_version(cloud: FakeCloud) -> None:
    cloud.on("GET", "/networks", Canned(body={"networks": []}))
    client, adapter = cloud.client(Endpoint(url=f"{NEUTRON}/v2.0/"))
    client.check()
    assert adapter.calls[0].url == f"{NEUTRON}/v2.0/networks?limit=1"


def test_get_and_delete_of_what_is_gone(cloud: FakeCloud) -> None:
    cloud.on("GET", "/networks/n1", Canned(body={"network": {"id": "n1", "name": "red", "mtu": 1450}}))
    cloud.on("DELETE", "/networks/n1", neutron_error(409, "NetworkInUse", "One or more ports have an IP"))
    client, _ = cloud.client()
    assert client.get_network("n1").mtu == 1450
    with pytest.raises(NotFound) as gone:
        client.get_network("n2")
    assert gone.value.neutron_type == "HTTPNotFound" and gone.value.status == 404
    client.delete_port("gone")  # no error: what is gone is deleted
    with pytest.raises(Conflict) as in_use:
        client.delete_network("n1")
    assert in_use.value.neutron_message == "One or more ports have an IP"
    assert str(in_use.value) == (
        "DELETE networks/n1 conflicts with the provider's state (HTTP 409): One or more ports have an IP"
    )


def test_a_binding_the_policy_forbids_is_left_out_and_said(cloud: FakeCloud) -> None:
    def create(call: Call) -> Canned:
        if "binding:host_id" in call.body["port"]:
            return neutron_error(
                403, "PolicyNotAuthorized", "(rule:create_port:binding:host_id) is disallowed"
            )
        return Canned(201, {"port": {**PORT, **call.body["port"]}})

    cloud.on("POST", "/ports", create)
    cloud.on("PUT", "/ports/p1", lambda call: create(call) if "binding:host_id" in call.body["port"] else
             Canned(200, {"port": {**PORT, **call.body["port"]}}))  # fmt: skip
    client, adapter = cloud.client()
    result = client.create_port(PortCreate("n1", device_owner="network:dhcp", host_id="h1"))
    assert result.binding_refused and result.port.host_id is None
    assert [c.body["port"].get("binding:host_id") for c in adapter.calls] == ["h1", None]

    updated = client.update_port("p1", PortUpdate(fixed_ips=(FixedIpRequest("s1"),), host_id="h1"))
    assert updated.binding_refused
    assert adapter.calls[-1].body == {"port": {"fixed_ips": [{"subnet_id": "s1"}]}}

    result = client.create_port(PortCreate("n1"))
    assert not result.binding_refused


def test_a_forbidden_create_without_a_binding_is_an_error(cloud: FakeCloud) -> None:
    cloud.on("POST", "/ports", neutron_error(403, "PolicyNotAuthorized", "create_port is disallowed"))
    client, adapter = cloud.client()
    with pytest.raises(Forbidden, match=r"^the provider forbids POST ports \(HTTP 403\): create_port is"):
        client.create_port(PortCreate("n1"))
    assert len(adapter.calls) == 1


@pytest.mark.parametrize(
    ("reply", "error", "text"),
    [
        (neutron_error(400, "HTTPBadRequest", "[security_groups] is invalid"), BadRequest,
         r"GET networks is invalid \(HTTP 400\): \[security_groups\] is invalid"),
        (neutron_error(503, "ServiceUnavailable", "busy"), ServerError, "HTTP 503 from GET networks: busy"),
        (Canned(418, {"message": "teapot"}), StatusError, "HTTP 418 from GET networks: teapot"),
        (Canned(500, {"error": {"message": "boom", "code": 500}}), ServerError, "boom"),
        (Canned(502, None), ServerError, "HTTP 502 from GET networks: no details"),
        (Canned(500, "<html><h1>500</h1></html>", "text/html"), BadResponse,
         r"HTTP 500 from http://neutron.test:9696/v2.0/networks with an HTML page instead of JSON"),
        (Canned(200, "{not json"), BadResponse, "HTTP 200 from .* with invalid JSON"),
        (Canned(200, {"network": []}), BadResponse, "GET networks: the answer has no 'networks' list"),
    ],
)  # fmt: skip
def test_each_failure_is_one_error_of_its_category(
    cloud: FakeCloud, reply: Canned, error: type[NeutronClientError], text: str
) -> None:
    cloud.on("GET", "/networks", reply)
    client, _ = cloud.client()
    with pytest.raises(error, match=text) as raised:
        client.list_networks()
    assert type(raised.value) is error


def test_a_rule_that_cannot_be_read_fails_its_list(cloud: FakeCloud) -> None:
    bad = {"id": "r1", "security_group_id": "g1", "direction": "ingress", "port_range_min": "ssh"}
    cloud.on("GET", "/security-group-rules", Canned(body={"security_group_rules": [bad]}))
    client, _ = cloud.client()
    with pytest.raises(
        BadResponse, match="security-group-rules: security group rule r1: 'port_range_min'"
    ) as e:
        client.list_security_group_rules(security_group_id=["g1"])
    assert isinstance(e.value.__cause__, ValueError)


def test_an_unreachable_neutron_is_translated_and_chained(cloud: FakeCloud) -> None:
    def down(call: Call) -> Canned:
        raise requests.ConnectionError("[Errno 111] Connection refused")

    client, adapter = cloud.client()
    adapter.handler = down
    with pytest.raises(
        Unreachable, match=r"cannot connect to http://neutron.test:9696/v2.0/networks \(conn"
    ) as e:
        client.list_networks()
    assert isinstance(e.value.__cause__, ksa_exc.ConnectFailure)


def test_connect_retries_retry_a_refused_connection() -> None:
    attempts: list[Call] = []

    def flaky(call: Call) -> Canned:
        attempts.append(call)
        if len(attempts) == 1:
            raise requests.ConnectionError("[Errno 111] Connection refused")
        return Canned(body={"networks": []})

    cloud = FakeCloud(auth=False, routes={})
    client, adapter = cloud.client(Endpoint(url=NEUTRON, connect_retries=1))
    adapter.handler = flaky
    assert client.list_networks() == [] and len(attempts) == 2


def test_the_agent_report_and_the_agents(cloud: FakeCloud) -> None:
    def report(call: Call) -> Canned:
        body = call.body["agent_report"]
        agent = {"id": "a1", "alive": True, **{k: v for k, v in body.items() if k != "ports"}}
        return Canned(200, {"agent": agent, "updated_ports": [p["id"] for p in body["ports"]]})

    cloud.on("POST", "/agent-reports", report)
    cloud.on("GET", "/agents", Canned(body={"agents": [{"id": "a1", "host": "h2", "agent_type": "Linux bridge agent",
                                                        "alive": True, "configurations": {"tunneling_ip": "192.0.2.2"}}]}))  # fmt: skip
    cloud.on(
        "GET",
        "/extensions",
        Canned(body={"extensions": [{"alias": "agent"}, {"alias": "neutrino-agent-report"}]}),
    )
    client, adapter = cloud.client()
    answer = client.report_agent(
        AgentReport("h1", "Linux bridge agent", {"tunneling_ip": "192.0.2.1"}, (PortStatus("p1", "ACTIVE"),))
    )
    assert adapter.calls[0].body == {
        "agent_report": {
            "host": "h1",
            "agent_type": "Linux bridge agent",
            "configurations": {"tunneling_ip": "192.0.2.1"},
            "ports": [{"id": "p1", "status": "ACTIVE"}],
        }
    }
    assert answer.agent.id == "a1" and answer.agent.tunneling_ip == "192.0.2.1"
    assert answer.updated_ports == ("p1",)
    [peer] = client.list_agents(agent_type="Linux bridge agent")
    assert peer.tunneling_ip == "192.0.2.2" and adapter.calls[-1].query == {
        "agent_type": ["Linux bridge agent"]
    }
    assert client.extensions() == {"agent", "neutrino-agent-report"}


def test_a_provider_without_agent_reports_answers_not_found(cloud: FakeCloud) -> None:
    client, _ = cloud.client()
    with pytest.raises(NotFound):
        client.report_agent(AgentReport("h1", "Linux bridge agent"))


def test_an_id_stays_one_path_segment(cloud: FakeCloud) -> None:
    client, adapter = cloud.client()
    with pytest.raises(NotFound):
        client.get_port("../networks?x=1")
    assert adapter.calls[0].url == f"{NEUTRON}/v2.0/ports/..%2Fnetworks%3Fx%3D1"


def test_the_environment_is_read_once_not_at_every_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """Proxies (with no_proxy) and a CA bundle from the environment apply as requests would apply them, but are
    read when the transport is made: requests' own per-request reading stats ~/.netrc and scans the environment
    at every call."""
    from neutrino.neutron_client import Endpoint
    from neutrino.neutron_client.transport import Transport

    for name in ("CURL_CA_BUNDLE", "https_proxy", "no_proxy", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "neutron.local")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/bundle.pem")
    proxied = Transport(Endpoint(url="https://neutron.example:9696"))
    assert proxied._http.trust_env is False
    assert proxied._http.proxies.get("https") == "http://proxy.example:3128"
    assert proxied._session.verify == "/etc/ssl/bundle.pem"
    assert Transport(Endpoint(url="https://neutron.local:9696"))._http.proxies == {}  # no_proxy
    assert Transport(Endpoint(url="http://neutron.local:9696"))._session.verify is True  # nothing to verify
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    assert Transport(Endpoint(url="https://neutron.example:9696"))._session.verify is True
