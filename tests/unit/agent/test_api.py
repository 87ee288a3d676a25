"""The agent API end to end over HTTP (Starlette's test client), on the in-memory host model."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from starlette.testclient import TestClient

from neutrino.agent.app import create_app
from neutrino.agent.datapath import linux_net
from neutrino.agent.datapath.memory import MemoryNet, World
from neutrino.agent.settings import AgentSettings
from neutrino.agent_api.schema import (
    Capabilities,
    DhcpList,
    ErrorBody,
    NetworkList,
    NetworkSyncResult,
    SecurityGroupList,
    VmDestroyed,
    VmList,
)

from .helpers import AUTH, NET_A, NET_B, TOKEN, ext_nic, int_nic, vm

API = "/api/v1"
MakeClient = Callable[..., Any]


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def agent(tmp_path: Path, world: World) -> MakeClient:
    """``agent(**settings)`` → a context manager yielding a client of a started agent."""

    @contextmanager
    def start(**overrides: Any) -> Iterator[TestClient]:
        given: dict[str, Any] = {
            "data_dir": tmp_path / "agent",
            "token": TOKEN,
            "host_name": "host-1",
            "host_net": "memory",
            "vnic_drivers": {"LINUX_BRIDGE": "linux_bridge", "OPEN_VSWITCH": "noop"},
            "tunnel_ip": "192.0.2.1",
            "vxlan_peers": ["192.0.2.2"],
        }
        settings = AgentSettings(**(given | overrides))
        app = create_app(settings, host_net=MemoryNet(world))
        with TestClient(app, headers=AUTH) as client:
            yield client

    return start


@pytest.fixture
def client(agent: MakeClient) -> Iterator[TestClient]:
    with agent() as c:
        yield c


def error_code(response: Any) -> str:
    return response.json()["error"]["code"]


# -- authentication ---------------------------------------------------------------------
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
def test_every_verb_needs_the_token(client: TestClient, headers: dict[str, str]) -> None:
    client.headers.clear()
    for method, path in [
        ("GET", "/capabilities"),
        ("GET", "/vms"),
        ("POST", "/vms"),
        ("DELETE", "/vms/x"),
        ("PUT", "/networks/red"),
        ("GET", "/nothing"),
    ]:
        response = client.request(method, API + path, headers=headers)
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"
        assert error_code(response) == "Unauthorized"


def test_an_agent_without_a_token_does_not_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs a token"):
        create_app(AgentSettings(data_dir=tmp_path, host_net="memory"))


# -- capabilities -----------------------------------------------------------------------
def test_capabilities_report_drivers_binding_ids_and_networks(agent: MakeClient) -> None:
    with agent(binding_host_ids={"OPEN_VSWITCH": "host-1.example"}) as client:
        client.put(f"{API}/networks/ovirtmgmt", json={})
        client.post(f"{API}/vms", json=vm("vm-1", ext_nic(1), ext_nic(2)))
        caps = client.get(f"{API}/capabilities").json()
    assert caps["host_name"] == "host-1" and caps["tunnel_ip"] == "192.0.2.1"
    assert caps["vm_backend"]["name"] == "libvirt"
    assert caps["vnic_drivers"]["linux_bridge"]["network_types"] == ["flat", "local", "vxlan"]
    assert caps["plugin_types"] == {
        "LINUX_BRIDGE": {
            "driver": "linux_bridge",
            "binding_host_id": "host-1",
            "network_types": ["flat", "local", "vxlan"],
            "security_groups": True,
        },
        "OPEN_VSWITCH": {
            "driver": "noop",
            "binding_host_id": "host-1.example",
            "network_types": ["*"],
            "security_groups": True,
        },
    }
    assert caps["networks"]["internal"] == [{"network": "ovirtmgmt", "bridge": "ovirtmgmt", "mtu": None}]
    assert caps["networks"]["external"] == [
        {
            "network_id": NET_A,
            "plugin_type": "LINUX_BRIDGE",
            "network_type": "vxlan",
            "segmentation_id": 100,
            "vnics": 2,
        }
    ]


# -- VMs --------------------------------------------------------------------------------
def test_create_vm_plugs_every_nic_and_lists_what_was_plugged(client: TestClient, world: World) -> None:
    nic = ext_nic(1, security_groups=None)
    response = client.post(
        f"{API}/vms", json=vm("vm-1", nic, ext_nic(2, plugin_type="OPEN_VSWITCH", security_groups=["sg-1"]))
    )
    assert response.status_code == 201
    listed = client.get(f"{API}/vms").json()["vms"]
    assert [v["vm_id"] for v in listed] == ["vm-1"] and listed[0]["status"] == "Up"
    lb, ovs = listed[0]["nics"]
    port = nic["external"]["vnic_id"]
    assert lb["state"] == "plugged" and lb["error"] is None
    assert lb["plugged"] | {"details": None} == {
        "driver": "linux_bridge",
        "vnic_id": port,
        "plugin_type": "LINUX_BRIDGE",
        "mac": nic["mac"],
        "security_groups": [],
        "device": linux_net.tap_name(port),
        "bridge": linux_net.brq_name(NET_A),
        "details": None,
    }
    assert ovs["plugged"]["driver"] == "noop" and ovs["plugged"]["security_groups"] == ["sg-1"]
    assert lb["spec"] == client.get(f"{API}/vms/vm-1").json()["nics"][0]["spec"]
    assert MemoryNet(world).link(linux_net.brq_name(NET_A)) is not None


def test_the_libvirt_backend_writes_the_domain_xml(client: TestClient, tmp_path: Path) -> None:
    client.post(f"{API}/vms", json=vm("vm-1", ext_nic(1)))
    path = tmp_path / "agent" / "domains" / "vm-1.xml"
    assert "tap00000001-11" in path.read_text()
    client.post(f"{API}/vms/vm-1/nics", json=ext_nic(2, plugin_type="OPEN_VSWITCH"))
    assert "br-int" in path.read_text()
    client.delete(f"{API}/vms/vm-1/nics/nic-1")
    assert "tap00000001-11" not in path.read_text()
    client.delete(f"{API}/vms/vm-1")
    assert not path.exists()


def test_creating_the_same_vm_again_is_a_safe_retry_and_another_definition_conflicts(
    client: TestClient,
) -> None:
    body = vm("vm-1", ext_nic(1))
    assert client.post(f"{API}/vms", json=body).status_code == 201
    assert client.post(f"{API}/vms", json=body).status_code == 200
    other = client.post(f"{API}/vms", json=vm("vm-1", ext_nic(2)))
    assert other.status_code == 409 and error_code(other) == "VmExists"


def test_a_failed_plug_undoes_the_whole_vm_and_names_the_nic(client: TestClient, world: World) -> None:
    body = vm("vm-1", ext_nic(1), ext_nic(2, network_id=NET_B, network_type="vlan", segmentation_id=7))
    response = client.post(f"{API}/vms", json=body)
    assert response.status_code == 500 and error_code(response) == "PlugFailed"
    assert "nic2 (nic-2)" in response.json()["error"]["message"]
    assert "cannot carry vlan" in response.json()["error"]["message"]
    assert client.get(f"{API}/vms").json() == {"vms": []}
    assert MemoryNet(world).links() == []


def test_destroy_vm_unplugs_and_removes_the_networks_devices(client: TestClient, world: World) -> None:
    client.post(f"{API}/vms", json=vm("vm-1", ext_nic(1)))
    client.post(f"{API}/vms", json=vm("vm-2", ext_nic(2)))
    assert client.delete(f"{API}/vms/vm-1").json() == {"vm_id": "vm-1", "warnings": []}
    assert MemoryNet(world).link("vxlan-100") is not None  # vm-2 still uses the network
    client.delete(f"{API}/vms/vm-2")
    assert MemoryNet(world).links() == []
    missing = client.delete(f"{API}/vms/vm-2")
    assert missing.status_code == 404 and error_code(missing) == "VmNotFound"


def test_an_unknown_plugin_type_is_refused_before_touching_the_host(client: TestClient, world: World) -> None:
    response = client.post(f"{API}/vms", json=vm("vm-1", ext_nic(1, plugin_type="OVN")))
    assert response.status_code == 400 and error_code(response) == "NoDriverForPluginType"
    assert world.calls == 0


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b["nics"][0].update(mac="not-a-mac"), "nics.0.mac"),
        (lambda b: b["nics"][0].update(internal={"network": "x"}), "nics.0"),
        (lambda b: b["nics"][0]["external"].update(colour="red"), "nics.0.external.colour"),
        (lambda b: b.update(nics=[ext_nic(1), ext_nic(1)]), "nics must have distinct"),
        (lambda b: b.pop("vm_id"), "vm_id"),
    ],
)
def test_invalid_requests_are_400_naming_the_field(client: TestClient, mutate: Any, field: str) -> None:
    body = vm("vm-1", ext_nic(1))
    mutate(body)
    response = client.post(f"{API}/vms", json=body)
    assert response.status_code == 400 and error_code(response) == "BadRequest"
    assert field in response.json()["error"]["message"]


def test_malformed_json_and_unknown_paths(client: TestClient) -> None:
    bad = client.post(f"{API}/vms", content=b"{", headers={"content-type": "application/json"})
    assert bad.status_code == 400 and error_code(bad) == "BadRequest"
    assert error_code(client.get(f"{API}/nothing")) == "NotFound"
    assert client.patch(f"{API}/vms").status_code == 405


# -- hot plug ---------------------------------------------------------------------------
def test_hot_plug_and_unplug(client: TestClient, world: World) -> None:
    client.post(f"{API}/vms", json=vm("vm-1"))
    added = client.post(f"{API}/vms/vm-1/nics", json=ext_nic(1))
    assert added.status_code == 201 and added.json()["state"] == "plugged"
    assert client.post(f"{API}/vms/vm-1/nics", json=ext_nic(1)).status_code == 200
    clash = client.post(f"{API}/vms/vm-1/nics", json=ext_nic(1) | {"nic_id": "nic-9"})
    assert clash.status_code == 409 and error_code(clash) == "NicExists"
    assert MemoryNet(world).link("vxlan-100") is not None
    assert client.delete(f"{API}/vms/vm-1/nics/nic-1").status_code == 204
    assert client.get(f"{API}/vms/vm-1").json()["nics"] == []
    assert MemoryNet(world).links() == []
    assert error_code(client.delete(f"{API}/vms/vm-1/nics/nic-1")) == "NicNotFound"
    assert error_code(client.post(f"{API}/vms/vm-9/nics", json=ext_nic(1))) == "VmNotFound"


def test_a_failed_hot_plug_leaves_the_vm_as_it_was(client: TestClient) -> None:
    client.post(f"{API}/vms", json=vm("vm-1", ext_nic(1)))
    before = client.get(f"{API}/vms/vm-1").json()
    response = client.post(f"{API}/vms/vm-1/nics", json=ext_nic(2, network_id=NET_B, network_type="vlan"))
    assert response.status_code == 500 and "nic2" in response.json()["error"]["message"]
    assert client.get(f"{API}/vms/vm-1").json() == before


# -- internal networks ------------------------------------------------------------------
def test_internal_networks_get_a_local_bridge_and_carry_vnics(client: TestClient, world: World) -> None:
    assert client.put(f"{API}/networks/red", json={"bridge": "br-red", "mtu": 1400}).status_code == 201
    assert client.put(f"{API}/networks/red", json={"bridge": "br-red", "mtu": 1400}).status_code == 200
    bridge = MemoryNet(world).link("br-red")
    assert bridge is not None and (bridge.mtu, bridge.up) == (1400, True)
    refused = client.post(f"{API}/vms", json=vm("vm-1", int_nic(1, "blue")))
    assert refused.status_code == 400 and error_code(refused) == "NetworkNotCarried"
    created = client.post(f"{API}/vms", json=vm("vm-1", int_nic(1, "red")))
    assert created.json()["nics"][0]["plugged"]["bridge"] == "br-red"
    busy = client.delete(f"{API}/networks/red")
    assert busy.status_code == 409 and error_code(busy) == "NetworkInUse"
    client.delete(f"{API}/vms/vm-1")
    assert client.delete(f"{API}/networks/red").status_code == 204
    assert MemoryNet(world).link("br-red") is None
    assert error_code(client.delete(f"{API}/networks/red")) == "NetworkNotFound"
    assert client.get(f"{API}/networks").json() == {"networks": []}


def test_a_host_admins_bridge_is_used_as_it_is_and_survives_the_network(
    client: TestClient, world: World
) -> None:
    host = MemoryNet(world)
    host.add_bridge("ovirtmgmt", 9000)  # pre-created by the host's admin, down, with an address
    host.add_address("ovirtmgmt", "192.0.2.10/24")
    calls = world.calls
    assert client.put(f"{API}/networks/ovirtmgmt", json={"mtu": 1500}).status_code == 201
    created = client.post(f"{API}/vms", json=vm("vm-1", int_nic(1)))
    assert created.status_code == 201 and created.json()["nics"][0]["plugged"]["bridge"] == "ovirtmgmt"
    assert client.delete(f"{API}/vms/vm-1").status_code == 200
    assert client.delete(f"{API}/networks/ovirtmgmt").status_code == 204
    bridge = host.link("ovirtmgmt")
    assert bridge is not None and (bridge.mtu, bridge.up, bridge.alias) == (9000, False, None)
    assert host.addresses("ovirtmgmt") == {"192.0.2.10/24"}
    assert world.calls == calls  # the run/stop cycle neither changed nor removed it


def test_a_provider_network_whose_bridge_a_foreign_device_holds_is_refused(
    client: TestClient, world: World
) -> None:
    bridge = linux_net.brq_name(NET_A)
    MemoryNet(world).add_bridge(bridge)  # not the agent's
    refused = client.post(f"{API}/vms", json=vm("vm-1", ext_nic(1)))
    assert refused.status_code == 500 and error_code(refused) == "PlugFailed"
    assert f"device {bridge} (bridge) exists and was not created by Neutrino" in refused.text
    assert [link.name for link in MemoryNet(world).links()] == [bridge]


@pytest.mark.parametrize(
    ("path", "body", "says"),
    [
        ("/networks/a-very-long-network-name", {}, "cannot name a bridge"),
        ("/networks/red%20x", {}, "cannot name a bridge"),
        ("/networks/red", {"bridge": "br;red"}, "no valid interface name"),
    ],
)
def test_names_that_cannot_be_interfaces_are_400(
    client: TestClient, world: World, path: str, body: dict, says: str
) -> None:
    response = client.put(f"{API}{path}", json=body)
    assert response.status_code == 400 and says in response.text, response.text
    assert world.calls == 0


# -- restart ----------------------------------------------------------------------------
def test_a_restarted_agent_replugs_what_it_had_and_changes_nothing(agent: MakeClient, world: World) -> None:
    with agent() as client:
        client.put(f"{API}/networks/red", json={})
        client.post(f"{API}/vms", json=vm("vm-1", ext_nic(1), int_nic(2, "red")))
        before = client.get(f"{API}/vms").json()
    calls = world.calls
    with agent() as client:
        assert client.get(f"{API}/vms").json() == before
    assert world.calls == calls


def test_a_restarted_agent_rebuilds_a_host_that_lost_its_devices(agent: MakeClient, world: World) -> None:
    with agent() as client:
        client.post(f"{API}/vms", json=vm("vm-1", ext_nic(1)))
        client.put(f"{API}/networks/red", json={})
    net = MemoryNet(world)
    for link in net.links():
        net.delete_link(link.name)
    with agent() as client:
        assert client.get(f"{API}/vms/vm-1").json()["status"] == "Up"
    assert {link.name for link in net.links()} == {linux_net.brq_name(NET_A), "vxlan-100", "red"}
    assert net.flood_entries("vxlan-100") == {"192.0.2.2"}


def test_a_nic_that_cannot_be_replugged_is_reported_failed(agent: MakeClient, world: World) -> None:
    with agent() as client:
        client.post(f"{API}/vms", json=vm("vm-1", ext_nic(1)))
    with agent(vnic_drivers={"OPEN_VSWITCH": "noop"}) as client:
        got = client.get(f"{API}/vms/vm-1").json()
        assert got["status"] == "Down"
        assert got["nics"][0]["state"] == "failed" and "LINUX_BRIDGE" in got["nics"][0]["error"]
        assert client.delete(f"{API}/vms/vm-1").status_code == 200


# -- DHCP -------------------------------------------------------------------------------
def dhcp_body(**changes: Any) -> dict[str, Any]:
    body = {
        "plugin_type": "LINUX_BRIDGE", "network_type": "vxlan", "segmentation_id": 100,
        "cidr": "10.0.0.0/24", "server_ip": "10.0.0.254", "gateway_ip": "10.0.0.1", "mtu": 1400,
        "hosts": [{"mac": "56:6f:1a:2b:3c:01", "ip": "10.0.0.11", "hostname": "vm-1"}],
    }  # fmt: skip
    return body | changes


def launcher(client: TestClient) -> Any:
    return client.app.state.agent.dhcp.servers.launcher  # type: ignore[attr-defined]


def test_dhcp_server_on_a_network_is_plugged_like_a_vnic(client: TestClient, world: World) -> None:
    created = client.put(f"{API}/dhcp/{NET_A}", json=dhcp_body())
    assert created.status_code == 201 and created.json()["network_id"] == NET_A
    net = MemoryNet(world)
    bridge = linux_net.brq_name(NET_A)
    assert net.link("dh" + NET_A[:11]).master == bridge  # type: ignore[union-attr]
    ns = "nvm-dhcp-" + NET_A[:11]
    assert net.in_netns(ns).addresses("eth0") == {"10.0.0.254/24"}
    argv = launcher(client).running[NET_A][1]
    assert "--dhcp-host=56:6f:1a:2b:3c:01,vm-1,10.0.0.11" in argv
    assert "--dhcp-option-force=tag:s0,option:mtu,1400" in argv
    assert client.get(f"{API}/capabilities").json()["networks"]["dhcp"] == [NET_A]

    calls, starts = world.calls, launcher(client).starts
    assert client.put(f"{API}/dhcp/{NET_A}", json=dhcp_body()).status_code == 200
    assert (world.calls, launcher(client).starts) == (calls, starts)
    client.put(f"{API}/dhcp/{NET_A}", json=dhcp_body(hosts=[]))
    assert launcher(client).starts == starts + 1  # new leases: restarted

    # the network stays while the server uses it, and goes with the last user
    client.post(f"{API}/vms", json=vm("vm-1", ext_nic(1)))
    client.delete(f"{API}/vms/vm-1")
    assert net.link(bridge) is not None
    assert client.delete(f"{API}/dhcp/{NET_A}").status_code == 204
    assert net.links() == [] and ns not in net.netns_names() and launcher(client).running == {}
    assert error_code(client.delete(f"{API}/dhcp/{NET_A}")) == "DhcpNotFound"


def test_dhcp_requests_are_validated(client: TestClient) -> None:
    outside = client.put(f"{API}/dhcp/{NET_A}", json=dhcp_body(server_ip="10.9.9.9"))
    assert (
        outside.status_code == 400
        and "server_ip 10.9.9.9 is not in 10.0.0.0/24" in outside.json()["error"]["message"]
    )
    assert (
        error_code(client.put(f"{API}/dhcp/{NET_A}", json=dhcp_body(plugin_type="OVN")))
        == "NoDriverForPluginType"
    )
    assert client.put(f"{API}/dhcp/{NET_A}", content=b"[]").status_code == 400


def test_dhcp_serves_dns_servers_and_more_subnets_from_one_server(client: TestClient, world: World) -> None:
    body = dhcp_body(
        dns_servers=["10.0.0.53"], server_mac="FA:16:3E:00:00:01",
        extra_subnets=[{"cidr": "10.9.0.0/24", "server_ip": "10.9.0.2", "dns_servers": ["10.9.0.53"]}],
        hosts=[{"mac": "56:6f:1a:2b:3c:01", "ip": "10.0.0.11"}, {"mac": "56:6f:1a:2b:3c:02", "ip": "10.9.0.12"}],
    )  # fmt: skip
    created = client.put(f"{API}/dhcp/{NET_A}", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["server_mac"] == "fa:16:3e:00:00:01"
    inner = MemoryNet(world).in_netns("nvm-dhcp-" + NET_A[:11])
    assert inner.addresses("eth0") == {"10.0.0.254/24", "10.9.0.2/24"}
    assert inner.link("eth0").address == "fa:16:3e:00:00:01"  # type: ignore[union-attr]
    argv = launcher(client).running[NET_A][1]
    for expected in (
        "--dhcp-range=set:s0,10.0.0.0,static,255.255.255.0,86400s",
        "--dhcp-range=set:s1,10.9.0.0,static,255.255.255.0,86400s",
        "--dhcp-host=56:6f:1a:2b:3c:02,host-10-9-0-12,10.9.0.12",
        "--dhcp-option=tag:s0,option:router,10.0.0.1",
        "--dhcp-option=tag:s0,option:dns-server,10.0.0.53",
        "--dhcp-option=tag:s1,option:router",
        "--dhcp-option=tag:s1,option:dns-server,10.9.0.53",
        "--dhcp-option-force=tag:s1,option:mtu,1400",
    ):
        assert expected in argv, expected

    overlapping = dhcp_body(extra_subnets=[{"cidr": "10.0.0.128/25", "server_ip": "10.0.0.130"}])
    assert "overlaps" in client.put(f"{API}/dhcp/{NET_B}", json=overlapping).json()["error"]["message"]
    stray = dhcp_body(hosts=[{"mac": "56:6f:1a:2b:3c:01", "ip": "10.9.0.12"}])
    assert (
        "hosts.0.ip 10.9.0.12 is not in"
        in client.put(f"{API}/dhcp/{NET_B}", json=stray).json()["error"]["message"]
    )
    bad = dhcp_body(extra_subnets=[{"cidr": "10.9.0.0/24", "server_ip": "10.8.0.1"}])
    assert client.put(f"{API}/dhcp/{NET_B}", json=bad).status_code == 400


def test_a_restarted_agent_restarts_its_dhcp_servers(agent: MakeClient, world: World) -> None:
    with agent() as client:
        client.put(f"{API}/dhcp/{NET_A}", json=dhcp_body())
    calls = world.calls
    with agent() as client:
        assert NET_A in launcher(client).running
        assert client.get(f"{API}/dhcp").json()["dhcp"][0]["network_id"] == NET_A
    assert world.calls == calls


# -- security groups --------------------------------------------------------------------
WEB = {"rules": [{"direction": "ingress", "protocol": "tcp", "port_range_min": 80, "port_range_max": 80,
                  "id": "rule-1", "tenant_id": "t"}, {"direction": "egress"}]}  # fmt: skip


def test_security_groups_are_set_used_by_vnics_and_protected_while_used(
    client: TestClient, world: World
) -> None:
    assert client.put(f"{API}/security-groups/web", json=WEB).status_code == 201
    assert client.put(f"{API}/security-groups/web", json=WEB).status_code == 200
    created = client.post(f"{API}/vms", json=vm("vm-1", ext_nic(1, security_groups=["web"])))
    assert created.status_code == 201, created.text
    assert created.json()["nics"][0]["plugged"]["security_groups"] == ["web"]
    rules = MemoryNet(world).iptables_save()
    assert "-p tcp -m tcp --dport 80 -j RETURN" in rules
    client.put(f"{API}/security-groups/web", json={"rules": [{"direction": "ingress", "protocol": "udp"}]})
    rules = MemoryNet(world).iptables_save()
    assert "--dport 80" not in rules and "-p udp -j RETURN" in rules
    busy = client.delete(f"{API}/security-groups/web")
    assert busy.status_code == 409 and error_code(busy) == "SecurityGroupInUse"
    assert client.get(f"{API}/capabilities").json()["security_groups"] == ["web"]
    client.delete(f"{API}/vms/vm-1")
    assert "nsg-" not in MemoryNet(world).iptables_save()
    assert client.delete(f"{API}/security-groups/web").status_code == 204
    assert error_code(client.delete(f"{API}/security-groups/web")) == "SecurityGroupNotFound"
    assert client.get(f"{API}/security-groups").json() == {"security_groups": {}}


def test_a_vnic_naming_an_unknown_group_is_not_plugged(client: TestClient, world: World) -> None:
    response = client.post(f"{API}/vms", json=vm("vm-1", ext_nic(1, security_groups=["nope"])))
    assert response.status_code == 400 and error_code(response) == "SecurityGroupNotSet"
    assert "security group nope was not set" in response.json()["error"]["message"]
    assert MemoryNet(world).links() == []


def test_without_a_firewall_linux_bridge_advertises_and_applies_no_groups(agent: MakeClient) -> None:
    with agent(firewall="none") as client:
        caps = client.get(f"{API}/capabilities").json()
        assert caps["plugin_types"]["LINUX_BRIDGE"]["security_groups"] is False
        client.put(f"{API}/security-groups/web", json=WEB)
        refused = client.post(f"{API}/vms", json=vm("vm-1", ext_nic(1, security_groups=["web"])))
        assert refused.status_code == 500 and "applies no security groups" in refused.text


def test_syncing_networks_sets_up_the_listed_and_removes_the_unused_others(
    client: TestClient, world: World
) -> None:
    for name in ("red", "blue", "green"):
        client.put(f"{API}/networks/{name}", json={})
    client.post(f"{API}/vms", json=vm("vm-1", int_nic(1, "blue")))
    body = {
        "networks": [
            {"network": "red", "bridge": "red", "mtu": 1400},
            {"network": "ovirtmgmt"},  # bridge: the network name
        ]
    }
    response = client.put(f"{API}/networks", json=body)
    assert response.status_code == 200
    assert response.json()["removed"] == ["green"] and response.json()["in_use"] == ["blue"]
    assert [n["network"] for n in response.json()["networks"]] == ["blue", "ovirtmgmt", "red"]
    net = MemoryNet(world)
    assert net.link("green") is None and net.link("ovirtmgmt") is not None and net.link("red").mtu == 1400  # type: ignore[union-attr]
    dup = client.put(
        f"{API}/networks",
        json={"networks": [{"network": "a", "bridge": "x"}, {"network": "b", "bridge": "x"}]},
    )
    assert dup.status_code == 400


# -- the schema --------------------------------------------------------------------------
def test_every_answer_reads_back_as_its_schema_model(client: TestClient) -> None:
    client.put(f"{API}/networks/ovirtmgmt", json={})
    client.put(f"{API}/security-groups/web", json=WEB)
    client.put(f"{API}/dhcp/{NET_A}", json=dhcp_body())
    client.post(f"{API}/vms", json=vm("vm-1", ext_nic(1, security_groups=["web"]), int_nic(2)))
    answers: list[tuple[str, type[BaseModel]]] = [
        ("/capabilities", Capabilities),
        ("/vms", VmList),
        ("/networks", NetworkList),
        ("/dhcp", DhcpList),
        ("/security-groups", SecurityGroupList),
        ("/vms/nope", ErrorBody),
    ]
    for path, model in answers:
        body = client.get(API + path).json()
        assert model.model_validate(body).model_dump(mode="json") == body, path
    synced = client.put(f"{API}/networks", json={"networks": [{"network": "ovirtmgmt"}]}).json()
    assert NetworkSyncResult.model_validate(synced).model_dump(mode="json") == synced
    destroyed = client.delete(f"{API}/vms/vm-1").json()
    assert VmDestroyed.model_validate(destroyed) == VmDestroyed(vm_id="vm-1", warnings=[])
