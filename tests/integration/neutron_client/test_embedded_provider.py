"""The Neutron client against Neutrino's embedded provider: every call the host agent makes (the ports,
networks, subnets, groups and rules it reads with filters, its DHCP port, its reports and its peers), over
Keystone v3, v2.0 and the catalog."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from neutrino.engine.provider_clients.base import PortRequest, Tagging
from neutrino.engine.provider_clients.neutron import NeutronProvider
from neutrino.neutron_client import (
    AgentReport,
    BadRequest,
    Credentials,
    Endpoint,
    FixedIp,
    FixedIpRequest,
    NetworkCreate,
    NeutronClient,
    PortCreate,
    PortStatus,
    PortUpdate,
    SubnetCreate,
)
from tests.integration.provider.server import ADMIN_PASSWORD, RunningProvider, running_provider
from tests.support.databases import sqlite_url

DHCP = "network:dhcp"


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProvider]:
    data_dir = tmp_path_factory.mktemp("provider")
    with running_provider(sqlite_url(data_dir), data_dir) as running:
        yield running


def connect(provider: RunningProvider, keystone: str = "v3", *, catalog: bool = False) -> NeutronClient:
    credentials = Credentials(f"{provider.url}/{keystone}", "admin", ADMIN_PASSWORD, "admin")
    return NeutronClient(Endpoint(url=None if catalog else provider.url, credentials=credentials))


@pytest.fixture
def client(provider: RunningProvider) -> Iterator[NeutronClient]:
    with connect(provider) as c:
        yield c


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_keystone_v3_v2_and_the_catalog_reach_the_same_neutron(provider: RunningProvider) -> None:
    with connect(provider) as v3, connect(provider, "v2.0") as v2, connect(provider, catalog=True) as found:
        net = v3.create_network(NetworkCreate(unique("net"), mtu=1400))
        for client in (v2, found):
            [seen] = client.list_networks(id=[net.id])
            assert (seen.name, seen.mtu) == (net.name, 1400)
        v2.delete_network(net.id)
        assert found.list_networks(id=[net.id]) == []


def test_the_dhcp_port_of_a_host(client: NeutronClient) -> None:
    net = client.create_network(NetworkCreate(unique("net")))
    v4 = client.create_subnet(SubnetCreate(net.id, "10.40.0.0/24", 4, dns_nameservers=("9.9.9.9",)))
    v6 = client.create_subnet(
        SubnetCreate(net.id, "2001:db8:40::/64", 6, ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    )
    device_id = f"dhcphost-1-{net.id}"
    created = client.create_port(
        PortCreate(
            net.id,
            name="dhcp-host-1",
            device_owner=DHCP,
            device_id=device_id,
            fixed_ips=(FixedIpRequest(subnet_id=v4.id),),
            host_id="host-1",
        )
    )
    port = created.port
    assert not created.binding_refused and port.host_id == "host-1"
    assert [ip.subnet_id for ip in port.fixed_ips] == [v4.id]

    updated = client.update_port(
        port.id,
        PortUpdate(
            fixed_ips=(*(FixedIpRequest(*ip) for ip in port.fixed_ips), FixedIpRequest(subnet_id=v6.id))
        ),
    ).port
    assert {ip.subnet_id for ip in updated.fixed_ips} == {v4.id, v6.id}
    assert FixedIp(*port.fixed_ips[0]) in updated.fixed_ips

    [read] = client.list_ports(network_id=[net.id], device_owner=[DHCP, "network:router_interface"])
    assert read.id == port.id and read.mac_address == port.mac_address
    subnets = {s.id: s for s in client.list_subnets(network_id=[net.id])}
    assert subnets[v6.id].ipv6_address_mode == "slaac" and subnets[v4.id].dns_nameservers == ("9.9.9.9",)
    assert [p.id for p in client.list_ports(device_id=device_id, fields=["device_owner"])] == [port.id]

    client.delete_port(port.id)
    client.delete_port(port.id)  # gone already: no error
    assert client.list_ports(device_id=device_id) == []


def test_groups_their_rules_and_members(provider: RunningProvider, client: NeutronClient) -> None:
    with provider.admin() as raw:
        group = raw.post("/v2.0/security-groups", json={"security_group": {"name": unique("sg")}}).json()
        rule = {"security_group_id": group["security_group"]["id"], "direction": "ingress", "protocol": "tcp",
                "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "192.0.2.0/24"}  # fmt: skip
        raw.post("/v2.0/security-group-rules", json={"security_group_rule": rule}).raise_for_status()
    group_id = group["security_group"]["id"]
    net = client.create_network(NetworkCreate(unique("net")))
    client.create_subnet(SubnetCreate(net.id, "10.41.0.0/24", 4))
    member = client.create_port(PortCreate(net.id, security_groups=(group_id,))).port

    [found] = client.list_security_groups(id=[group_id])
    assert found.rules is not None
    ssh = next(r for r in found.rules if r.protocol == "tcp")
    assert (ssh.direction, ssh.port_range_min, ssh.port_range_max) == ("ingress", 22, 22)
    assert ssh.remote_ip_prefix == "192.0.2.0/24"
    listed = client.list_security_group_rules(security_group_id=[group_id])
    assert {r.id for r in listed} == {r.id for r in found.rules}
    members = client.list_ports(security_groups=[group_id])
    assert [(p.id, p.fixed_ips[0].ip_address) for p in members] == [
        (member.id, member.fixed_ips[0].ip_address)
    ]


def test_reports_set_port_status_and_tell_the_peers(provider: RunningProvider, client: NeutronClient) -> None:
    host, kind = unique("host"), "Linux bridge agent"
    net = client.create_network(NetworkCreate(unique("net")))
    port = client.create_port(PortCreate(net.id, host_id=host)).port
    assert port.status == "DOWN"
    config = {"tunneling_ip": "192.0.2.9", "tunnel_types": ["vxlan"]}
    answer = client.report_agent(AgentReport(host, kind, config, (PortStatus(port.id, "ACTIVE"),)))
    assert answer.updated_ports == (port.id,) and answer.agent.alive
    assert client.get_port(port.id).status == "ACTIVE"
    [agent] = [a for a in client.list_agents(agent_type=kind) if a.host == host]
    assert agent.alive and agent.tunneling_ip == "192.0.2.9" and agent.tunnel_types == ("vxlan",)
    with pytest.raises(BadRequest) as refused:
        client.report_agent(AgentReport(host, kind, ports=(PortStatus(port.id, "HAPPY"),)))
    assert "HAPPY" in refused.value.neutron_message


def test_a_member_may_not_bind_ports_nor_see_agents(provider: RunningProvider) -> None:
    name = unique("member")
    provider.add_user(name, "pw", f"{name}-p")
    credentials = Credentials(f"{provider.url}/v3", name, "pw", f"{name}-p")
    with NeutronClient(Endpoint(url=provider.url, credentials=credentials)) as member:
        net = member.create_network(NetworkCreate(unique("net")))
        result = member.create_port(PortCreate(net.id, host_id="host-1"))
        assert result.binding_refused and result.port.id
        # Neutron's policy: 200, with only the agents a member may see (none)
        assert member.list_agents() == []


def test_the_engines_port_tags(provider: RunningProvider) -> None:
    """The engine's provider client (issue 18): tagging read from the extensions, ``tags`` in the create
    request, one more added by ``PUT /ports/{id}/tags/{tag}``, and the tags read back on the port."""
    credentials = Credentials(f"{provider.url}/v3", "admin", ADMIN_PASSWORD, "admin")
    engine_side = NeutronProvider(Endpoint(url=provider.url, credentials=credentials))
    assert engine_side.tagging() is Tagging.ON_CREATE
    net = engine_side.create_network(unique("net"))
    request = PortRequest(net.id, "56:6f:77:00:00:01", "nic1", str(uuid.uuid4()), tags=("engine-a",))
    port = engine_side.create_port(request).port
    assert port.tags == ("engine-a",)
    engine_side.tag_port(port.id, "engine-b")
    engine_side.tag_port(port.id, "engine-b")  # one already there: no change, no error
    [listed] = [p for p in engine_side.list_ports() if p.id == port.id]
    assert sorted(listed.tags) == ["engine-a", "engine-b"]
