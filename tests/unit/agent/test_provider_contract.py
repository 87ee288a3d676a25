"""The agent's provider calls against the embedded provider itself (in process, SQLite, the Neutron
client's requests forwarded to Starlette's test client): what the fake provider of the other tests
assumes holds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from neutrino.agent.app import build_agent
from neutrino.agent.datapath import linux_net
from neutrino.agent.datapath.memory import MemoryNet, World
from neutrino.agent.neutron_reads import DHCP_OWNER, dhcp_device_id
from neutrino.agent.settings import AgentSettings
from neutrino.agent_api.schema import VmSpec
from neutrino.neutron_client import REPORT_EXTENSION, Endpoint, NeutronClient
from tests.support.canned import Canned
from tests.support.neutron_transport import Call, CannedAdapter


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[TestClient]:
    from neutrino.provider.app import bootstrap, create_app
    from neutrino.provider.settings import ProviderSettings

    settings = ProviderSettings(data_dir=tmp_path / "provider", no_auth=True, admin_password="pw")
    bootstrap(settings)
    with TestClient(create_app(settings)) as client:
        yield client


def client_of(provider: TestClient) -> NeutronClient:
    """A Neutron client whose requests the provider's app answers in process."""

    def forward(call: Call) -> Canned:
        answer = provider.request(call.method, call.path, params=call.query, json=call.body)
        return Canned(answer.status_code, answer.content, answer.headers.get("content-type", ""))

    return NeutronClient(Endpoint(url="http://provider"), adapter=CannedAdapter(forward))


def ok(response: Any, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_embedded_provider_lists_the_agent_report_extension(provider: TestClient) -> None:
    extensions = ok(provider.get("/v2.0/extensions"), 200)["extensions"]
    by_alias = {e["alias"]: e for e in extensions}
    assert REPORT_EXTENSION in by_alias and "agent" in by_alias
    assert "/v2.0/agent-reports" in by_alias[REPORT_EXTENSION]["description"]
    assert (
        ok(provider.get(f"/v2.0/extensions/{REPORT_EXTENSION}"), 200)["extension"]["alias"]
        == REPORT_EXTENSION
    )


def test_groups_dhcp_and_port_status_come_from_the_embedded_provider(
    provider: TestClient, tmp_path: Path
) -> None:
    def post(collection: str, member: str, **body: Any) -> dict[str, Any]:
        created: dict[str, Any] = ok(provider.post(f"/v2.0/{collection}", json={member: body}))[member]
        return created

    net = post("networks", "network", name="a", **{"provider:network_type": "vxlan"})
    subnet = post("subnets", "subnet", network_id=net["id"], cidr="10.10.0.0/24", ip_version=4,
                  dns_nameservers=["10.10.0.53"])  # fmt: skip
    web = post("security-groups", "security_group", name="web")
    for rule in list(web["security_group_rules"]):
        provider.delete(f"/v2.0/security-group-rules/{rule['id']}")
    post("security-group-rules", "security_group_rule", security_group_id=web["id"], direction="ingress",
         protocol="tcp", port_range_min=22, port_range_max=22, remote_group_id=web["id"])  # fmt: skip
    port = post("ports", "port", network_id=net["id"], security_groups=[web["id"]], device_owner="oVirt")

    settings = AgentSettings.model_validate(
        {"data_dir": tmp_path / "agent", "token": "t", "host_name": "h1", "host_net": "memory",
         "vnic_drivers": {"LINUX_BRIDGE": "linux_bridge"}, "tunnel_ip": "192.0.2.1"}
    )  # fmt: skip
    world = World()
    agent = build_agent(settings, host_net=MemoryNet(world), neutron=client_of(provider))
    sync, reporter = agent.follower, agent.reporter
    assert sync is not None and reporter is not None
    nic = {
        "nic_id": "n1", "name": "nic1", "mac": port["mac_address"],
        "external": {"vnic_id": port["id"], "plugin_type": "LINUX_BRIDGE", "network_id": net["id"],
                     "network_type": "vxlan", "segmentation_id": net["provider:segmentation_id"],
                     "security_groups": port["security_groups"]},
    }  # fmt: skip
    agent.vms.create_vm(VmSpec.model_validate({"vm_id": "vm1", "name": "vm1", "nics": [nic]}))
    address = port["fixed_ips"][0]["ip_address"]
    assert agent.security.list_security_groups()[web["id"]].member_ips == [address]
    assert agent.store.state.port_addresses == {port["id"]: [address]}

    sync.sync_once()
    dhcp_ports = ok(provider.get("/v2.0/ports", params={"device_owner": DHCP_OWNER}), 200)["ports"]
    assert [p["device_id"] for p in dhcp_ports] == [dhcp_device_id("h1", net["id"])]
    assert dhcp_ports[0]["fixed_ips"][0]["subnet_id"] == subnet["id"]
    (spec,) = agent.dhcp.list_dhcp()
    assert str(spec.server_ip) == dhcp_ports[0]["fixed_ips"][0]["ip_address"]
    assert [(h.mac, str(h.ip)) for h in spec.hosts] == [(port["mac_address"], address)]
    assert spec.mtu == net["mtu"] == 1450 and [str(d) for d in spec.dns_servers] == ["10.10.0.53"]

    reporter.report_once()
    assert ok(provider.get(f"/v2.0/ports/{port['id']}"), 200)["port"]["status"] == "ACTIVE"
    assert ok(provider.get(f"/v2.0/ports/{dhcp_ports[0]['id']}"), 200)["port"]["status"] == "ACTIVE"

    # a rule created on the provider is on the host after one round
    post("security-group-rules", "security_group_rule", security_group_id=web["id"], direction="ingress",
         protocol="icmp")  # fmt: skip
    sync.sync_once()
    chain = "nsg-i" + linux_net.tap_name(port["id"])[3:]
    assert f"-A {chain} -p icmp -j RETURN" in MemoryNet(world).iptables_save()

    agent.vms.destroy_vm("vm1")
    sync.sync_once()
    assert ok(provider.get("/v2.0/ports", params={"device_owner": DHCP_OWNER}), 200)["ports"] == []
    assert agent.dhcp.list_dhcp() == [] and agent.security.list_security_groups() == {}
