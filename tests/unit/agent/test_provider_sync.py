"""The agent's sync with the network provider (security groups, fixed IPs, DHCP), against a fake
provider serving canned Neutron JSON in process (``fake_neutron``), on the in-memory host."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from neutrino.agent.app import build_agent
from neutrino.agent.datapath import linux_net
from neutrino.agent.datapath.dhcp import MemoryLauncher
from neutrino.agent.datapath.memory import MemoryNet, World
from neutrino.agent.errors import PlugFailed, SecurityGroupNotSet
from neutrino.agent.host_agent import HostAgent
from neutrino.agent.neutron_follower import NeutronFollower
from neutrino.agent.neutron_reads import dhcp_device_id
from neutrino.agent.settings import AgentSettings
from neutrino.agent_api.schema import NicSpec, VmSpec

from .fake_neutron import FakeNeutron

SSH_IN = {"direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22}
EGRESS = {"direction": "egress"}


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def neutron() -> FakeNeutron:
    return FakeNeutron()


def make_agent(tmp_path: Path, world: World, neutron: FakeNeutron) -> tuple[HostAgent, NeutronFollower]:
    settings = AgentSettings.model_validate(
        {"data_dir": tmp_path / "agent", "token": "t", "host_name": "host-1", "host_net": "memory",
         "vnic_drivers": {"LINUX_BRIDGE": "linux_bridge", "OPEN_VSWITCH": "noop"}, "tunnel_ip": "192.0.2.1"}
    )  # fmt: skip
    agent = build_agent(settings, host_net=MemoryNet(world), neutron=neutron.client())
    assert agent.follower is not None
    agent.recover()
    return agent, agent.follower


@pytest.fixture
def agent(tmp_path: Path, world: World, neutron: FakeNeutron) -> tuple[HostAgent, NeutronFollower]:
    return make_agent(tmp_path, world, neutron)


def nic_for(port: dict[str, Any], n: int = 1, plugin_type: str = "LINUX_BRIDGE") -> dict[str, Any]:
    """The NIC the engine sends for a provider port."""
    return {
        "nic_id": f"nic-{n}", "name": f"nic{n}", "mac": port["mac_address"],
        "external": {"vnic_id": port["id"], "plugin_type": plugin_type, "network_id": port["network_id"],
                     "network_type": "vxlan", "segmentation_id": 100,
                     "security_groups": port["security_groups"]},
    }  # fmt: skip


def run(agent: HostAgent, vm_id: str, *nics: dict[str, Any]) -> None:
    agent.vms.create_vm(VmSpec.model_validate({"vm_id": vm_id, "name": vm_id, "nics": list(nics)}))


def iptables(world: World) -> str:
    return MemoryNet(world).iptables_save()


def launcher(agent: HostAgent) -> MemoryLauncher:
    assert agent.dhcp.servers is not None and isinstance(agent.dhcp.servers.launcher, MemoryLauncher)
    return agent.dhcp.servers.launcher


# -- security groups ------------------------------------------------------------------------------
def test_a_vnic_whose_groups_are_not_set_gets_them_from_the_provider(
    agent: tuple[HostAgent, NeutronFollower], neutron: FakeNeutron, world: World
) -> None:
    a, _ = agent
    net = neutron.network()
    neutron.subnet(net, "10.0.0.0/24")
    admins = neutron.group()
    web = neutron.group(
        SSH_IN, EGRESS, {"direction": "ingress", "protocol": "icmp", "remote_group_id": admins}
    )
    admin_port = neutron.port(net, groups=[admins])
    port = neutron.port(net, groups=[web])
    run(a, "vm-1", nic_for(port))

    groups = a.security.list_security_groups()
    assert set(groups) == {web, admins}  # the referenced group comes along for its members
    assert [r.direction for r in groups[web].rules] == ["egress", "ingress", "ingress"]
    assert groups[web].member_ips == [port["fixed_ips"][0]["ip_address"]]
    assert groups[admins].member_ips == [admin_port["fixed_ips"][0]["ip_address"]]
    saved = iptables(world)
    tap = linux_net.tap_name(port["id"])
    assert f"-A nsg-i{tap[3:]} -p tcp -m tcp --dport 22 -j RETURN" in saved
    assert f"-A nsg-i{tap[3:]} -p icmp -s {admin_port['fixed_ips'][0]['ip_address']} -j RETURN" in saved
    # anti-spoofing: the guest may send only from the port's fixed IP
    assert f"-A nsg-s{tap[3:]} -s {port['fixed_ips'][0]['ip_address']}/32 -j RETURN" in saved
    assert f"-A nsg-o{tap[3:]} -j nsg-s{tap[3:]}" in saved
    # the one write: this host's DHCP port, so the guest's first request is answered (before its start)
    assert neutron.writes() == [("POST", "/v2.0/ports")]
    [served] = a.dhcp.list_dhcp()
    assert [(h.mac, str(h.ip)) for h in served.hosts] == sorted(
        (p["mac_address"], p["fixed_ips"][0]["ip_address"]) for p in (admin_port, port)
    )


def test_a_group_the_provider_lacks_or_a_provider_that_is_down_fails_the_plug_cleanly(
    agent: tuple[HostAgent, NeutronFollower], neutron: FakeNeutron, world: World
) -> None:
    a, _ = agent
    net = neutron.network()
    port = neutron.port(net, groups=["0000dead-0000-4000-8000-000000000000"])
    with pytest.raises(SecurityGroupNotSet, match="the network provider has no such group"):
        run(a, "vm-1", nic_for(port))
    web = neutron.group(EGRESS)
    port = neutron.port(net, groups=[web])
    neutron.down = True
    with pytest.raises(PlugFailed, match="from the network provider"):
        run(a, "vm-1", nic_for(port))
    assert a.vms.list_vms() == [] and a.security.list_security_groups() == {}
    assert linux_net.tap_name(port["id"]) not in {link.name for link in MemoryNet(world).links()}


def test_rule_changes_on_the_provider_reach_the_host_at_the_next_sync_and_nothing_else_is_rewritten(
    agent: tuple[HostAgent, NeutronFollower], neutron: FakeNeutron, world: World
) -> None:
    a, sync = agent
    net = neutron.network()
    neutron.subnet(net, "10.0.0.0/24")
    web = neutron.group(SSH_IN)
    port = neutron.port(net, groups=[web])
    run(a, "vm-1", nic_for(port))
    sync.sync_once()
    chain = "nsg-i" + linux_net.tap_name(port["id"])[3:]
    assert f"-A {chain} -p icmp -j RETURN" not in iptables(world)

    calls = world.calls
    sync.sync_once()  # nothing changed on the provider: the host is left alone
    assert world.calls == calls

    icmp = neutron.rule(web, direction="ingress", protocol="icmp")
    sync.sync_once()
    assert f"-A {chain} -p icmp -j RETURN" in iptables(world)
    del neutron.data["security-group-rules"][icmp]
    sync.sync_once()
    assert f"-A {chain} -p icmp -j RETURN" not in iptables(world)

    # a new member of a referenced group is matched from the next sync on
    neutron.rule(web, direction="ingress", protocol="udp", remote_group_id=web)
    other = neutron.port(net, groups=[web])
    sync.sync_once()
    assert f"-A {chain} -p udp -s {other['fixed_ips'][0]['ip_address']} -j RETURN" in iptables(world)


def test_groups_no_vnic_uses_are_dropped_but_not_while_a_plug_is_being_prepared(
    agent: tuple[HostAgent, NeutronFollower], neutron: FakeNeutron, world: World
) -> None:
    a, sync = agent
    net = neutron.network()
    web, db = neutron.group(EGRESS), neutron.group(EGRESS)
    port = neutron.port(net, groups=[web])
    run(a, "vm-1", nic_for(port))
    nic2 = NicSpec.model_validate(nic_for(neutron.port(net, groups=[db]), 2))
    with a.vms.prepared([nic2]):
        sync.sync_once()  # a round between fetching db and plugging the vNIC keeps db
        assert set(a.security.list_security_groups()) == {web, db}
        a.vms._plug_nic("vm-1", nic2)
    a.vms.destroy_vm("vm-1")
    sync.sync_once()
    assert a.security.list_security_groups() == {}
    assert "nsg-" not in iptables(world)


def test_vnics_of_a_driver_that_connects_nothing_cost_the_provider_no_request(
    agent: tuple[HostAgent, NeutronFollower], neutron: FakeNeutron
) -> None:
    a, sync = agent
    net = neutron.network()
    neutron.subnet(net, "10.0.0.0/24")
    port = neutron.port(net, groups=[neutron.group(EGRESS)])
    run(a, "vm-1", nic_for(port, plugin_type="OPEN_VSWITCH"))  # noop here: no firewall, no datapath
    sync.sync_once()
    assert neutron.requests == [] and a.dhcp.list_dhcp() == [] and a.security.list_security_groups() == {}


def test_a_provider_without_inlined_rules_or_group_filters_on_ports_still_serves(
    agent: tuple[HostAgent, NeutronFollower], neutron: FakeNeutron
) -> None:
    a, _ = agent
    neutron.inline_rules = False
    neutron.port_group_filter = False
    net = neutron.network()
    neutron.subnet(net, "10.0.0.0/24")
    web = neutron.group(SSH_IN)
    port = neutron.port(net, groups=[web])
    neutron.port(net)  # not a member
    run(a, "vm-1", nic_for(port))
    spec = a.security.list_security_groups()[web]
    assert [r.protocol for r in spec.rules] == ["tcp"]
    assert spec.member_ips == [port["fixed_ips"][0]["ip_address"]]
    assert any("security-group-rules?security_group_id=" in path for _, path in neutron.requests)


def test_fixed_ips_follow_the_provider(
    agent: tuple[HostAgent, NeutronFollower], neutron: FakeNeutron, world: World
) -> None:
    a, sync = agent
    net = neutron.network()
    subnet = neutron.subnet(net, "10.0.0.0/24")
    port = neutron.port(net, groups=[neutron.group(EGRESS)])
    run(a, "vm-1", nic_for(port))
    spoof = "nsg-s" + linux_net.tap_name(port["id"])[3:]
    first = port["fixed_ips"][0]["ip_address"]
    assert f"-A {spoof} -s {first}/32 -j RETURN" in iptables(world)
    port["fixed_ips"] = [{"subnet_id": subnet, "ip_address": "10.0.0.77"}]  # changed on the provider
    sync.sync_once()
    assert f"-A {spoof} -s 10.0.0.77/32 -j RETURN" in iptables(world)
    assert f"-A {spoof} -s {first}/32 -j RETURN" not in iptables(world)
    # a restarted agent filters with the addresses it knew before its first sync
    a2, _ = make_agent(a.store.file.path.parent.parent, World(), neutron)
    assert a2.security.firewall is not None and a2.security.firewall.addresses == {
        linux_net.tap_name(port["id"]): ("10.0.0.77",)
    }


# -- DHCP -----------------------------------------------------------------------------------------
def test_the_host_serves_dhcp_from_its_own_provider_port_with_the_networks_leases(
    agent: tuple[HostAgent, NeutronFollower], neutron: FakeNeutron, world: World
) -> None:
    a, sync = agent
    net = neutron.network(mtu=9000)
    neutron.subnet(net, "10.0.0.0/24", dns_nameservers=["10.0.0.53", "2001:db8::53"])
    # IPv6 by SLAAC from another router's advertisements: nothing to serve here
    neutron.subnet(net, "2001:db8::/64", ipv6_address_mode="slaac")
    port = neutron.port(net)
    run(a, "vm-1", nic_for(port))
    sync.sync_once()

    dhcp_ports = [p for p in neutron.data["ports"].values() if p["device_owner"] == "network:dhcp"]
    assert len(dhcp_ports) == 1
    dhcp_port = dhcp_ports[0]
    assert dhcp_port["device_id"] == dhcp_device_id("host-1", net) == f"dhcphost-1-{net}"
    assert dhcp_port["binding:host_id"] == "host-1"
    server_ip = dhcp_port["fixed_ips"][0]["ip_address"]
    (spec,) = a.dhcp.list_dhcp()
    assert str(spec.server_ip) == server_ip and spec.server_mac == dhcp_port["mac_address"]
    assert str(spec.gateway_ip) == "10.0.0.1" and [str(d) for d in spec.dns_servers] == ["10.0.0.53"]
    assert spec.mtu == 1450  # VXLAN: the underlay's 1500 less the overhead, whatever the network says
    assert spec.extra_subnets == []
    argv = launcher(a).running[net][1]
    assert f"--dhcp-host={port['mac_address']},host-{port['fixed_ips'][0]['ip_address'].replace('.', '-')}," \
           f"{port['fixed_ips'][0]['ip_address']}" in argv  # fmt: skip
    assert "--dhcp-option=tag:s0,option:dns-server,10.0.0.53" in argv
    ns = MemoryNet(world).in_netns("nvm-dhcp-" + net[:11])
    assert ns.addresses("eth0") == {f"{server_ip}/24"}
    assert ns.link("eth0").address == dhcp_port["mac_address"]  # type: ignore[union-attr]

    # the next round finds the port, and restarts nothing
    writes, starts = len(neutron.writes()), launcher(a).starts
    sync.sync_once()
    assert (len(neutron.writes()), launcher(a).starts) == (writes, starts)
    # a new port on the network gets a lease
    later = neutron.port(net)
    sync.sync_once()
    assert launcher(a).starts == starts + 1
    assert any(later["mac_address"] in arg for arg in launcher(a).running[net][1])


def test_the_last_vnic_of_a_network_takes_its_dhcp_server_and_port_with_it(
    agent: tuple[HostAgent, NeutronFollower], neutron: FakeNeutron, world: World
) -> None:
    a, sync = agent
    net = neutron.network()
    neutron.subnet(net, "10.0.0.0/24")
    run(a, "vm-1", nic_for(neutron.port(net)))
    run(a, "vm-2", nic_for(neutron.port(net), 2))
    sync.sync_once()
    a.vms.destroy_vm("vm-1")
    sync.sync_once()
    assert [s.network_id for s in a.dhcp.list_dhcp()] == [net]

    neutron.down = True  # a provider that is down delays deleting the port, not the teardown
    a.vms.destroy_vm("vm-2")
    with pytest.raises(Exception, match="connection refused"):
        sync.sync_once()
    assert a.dhcp.list_dhcp() == [] and launcher(a).running == {}
    links = {link.name for link in MemoryNet(world).links()}
    assert linux_net.brq_name(net) not in links and "vxlan-100" not in links
    assert any(p["device_owner"] == "network:dhcp" for p in neutron.data["ports"].values())
    neutron.down = False
    sync.sync_once()
    assert not any(p["device_owner"] == "network:dhcp" for p in neutron.data["ports"].values())
    assert a.store.state.dhcp_ports_to_release == []


def test_no_dhcp_without_a_dhcp_enabled_ipv4_subnet_and_none_for_networks_the_provider_lacks(
    agent: tuple[HostAgent, NeutronFollower], neutron: FakeNeutron
) -> None:
    a, sync = agent
    bare = neutron.network()
    off = neutron.network(segmentation_id=101)
    neutron.subnet(off, "10.1.0.0/24", dhcp=False)
    run(a, "vm-1", nic_for(neutron.port(bare)), nic_for(neutron.port(off), 2))
    unknown = nic_for({"id": "0000beef-0000-4000-8000-000000000000", "mac_address": "56:6f:00:00:00:09",
                       "network_id": "0000cafe-0000-4000-8000-000000000000", "security_groups": []}, 3)  # fmt: skip
    run(a, "vm-2", unknown)
    sync.sync_once()
    assert a.dhcp.list_dhcp() == [] and neutron.writes() == []

    subnet = neutron.subnet(bare, "10.2.0.0/24")  # a subnet appears: served from the next round
    sync.sync_once()
    assert [s.network_id for s in a.dhcp.list_dhcp()] == [bare]
    neutron.data["subnets"][subnet]["enable_dhcp"] = False  # and stops being served when disabled
    sync.sync_once()
    assert a.dhcp.list_dhcp() == []


def test_dhcp_may_be_left_to_the_providers_own_agents(
    agent: tuple[HostAgent, NeutronFollower], neutron: FakeNeutron
) -> None:
    a, sync = agent
    net = neutron.network()
    neutron.subnet(net, "10.0.0.0/24")
    run(a, "vm-1", nic_for(neutron.port(net, groups=[neutron.group(EGRESS)])))
    sync.sync_once()
    assert [s.network_id for s in a.dhcp.list_dhcp()] == [net]
    # e.g. the agent restarted with --no-provider-dhcp
    off = NeutronFollower(
        neutron.client(), a.identity, a.vms, a.security, a.dhcp, threading.Event(), serve_dhcp=False
    )
    off.sync_once()
    assert a.dhcp.list_dhcp() == [] and a.security.list_security_groups() != {}
    assert not any(p["device_owner"] == "network:dhcp" for p in neutron.data["ports"].values())


def test_a_second_subnet_is_served_by_the_same_server_from_a_second_address(
    agent: tuple[HostAgent, NeutronFollower], neutron: FakeNeutron, world: World
) -> None:
    a, sync = agent
    net = neutron.network()
    neutron.subnet(net, "10.0.0.0/24")
    run(a, "vm-1", nic_for(neutron.port(net)))
    sync.sync_once()
    second = neutron.subnet(net, "10.9.0.0/24", gateway=None)
    port = neutron.port(net, fixed_ips=[{"subnet_id": second}])
    sync.sync_once()
    (spec,) = a.dhcp.list_dhcp()
    assert [str(s.cidr) for s in spec.subnets()] == ["10.0.0.0/24", "10.9.0.0/24"]
    assert spec.extra_subnets[0].gateway_ip is None
    dhcp_port = next(p for p in neutron.data["ports"].values() if p["device_owner"] == "network:dhcp")
    assert {ip["subnet_id"] for ip in dhcp_port["fixed_ips"]} == set(neutron.data["subnets"])
    argv = launcher(a).running[net][1]
    assert "--dhcp-option=tag:s1,option:router" in argv
    assert any(arg.endswith(port["fixed_ips"][0]["ip_address"]) for arg in argv)
    assert len(MemoryNet(world).in_netns("nvm-dhcp-" + net[:11]).addresses("eth0")) == 2


def test_the_report_marks_the_dhcp_port_active(
    agent: tuple[HostAgent, NeutronFollower], neutron: FakeNeutron
) -> None:
    a, sync = agent
    net = neutron.network()
    neutron.subnet(net, "10.0.0.0/24")
    port = neutron.port(net)
    run(a, "vm-1", nic_for(port))
    sync.sync_once()
    dhcp_port = next(p for p in neutron.data["ports"].values() if p["device_owner"] == "network:dhcp")
    assert a.reporter is not None
    reports, _ = a.reporter.reports()
    sent = reports["LINUX_BRIDGE"].to_json()  # the agent_report body
    assert {"id": dhcp_port["id"], "status": "ACTIVE"} in sent["ports"]  # type: ignore[operator]
    assert {"id": port["id"], "status": "ACTIVE"} in sent["ports"]  # type: ignore[operator]


def test_the_sync_thread_runs_right_after_a_plug_and_stops_cleanly(
    agent: tuple[HostAgent, NeutronFollower], neutron: FakeNeutron
) -> None:
    a, sync = agent
    sync.interval = 60
    net = neutron.network()
    neutron.subnet(net, "10.0.0.0/24")
    sync.start()
    try:
        time.sleep(0.05)
        run(a, "vm-1", nic_for(neutron.port(net)))  # the plug kicks the thread: no 60 s wait
        deadline = time.monotonic() + 5
        while not a.dhcp.list_dhcp() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [s.network_id for s in a.dhcp.list_dhcp()] == [net]
    finally:
        sync.stop()
    assert sync._thread is not None and not sync._thread.is_alive()


# -- DHCP at plug time ----------------------------------------------------------------------------
def with_port(nic: dict[str, Any], port: dict[str, Any]) -> dict[str, Any]:
    """``nic`` with the provider port as the engine sends it."""
    details = {"fixed_ips": port["fixed_ips"], "port_security_enabled": True, "allowed_address_pairs": []}
    return {**nic, "external": {**nic["external"], "port": details}}


def test_a_guests_lease_is_served_before_it_starts_and_the_followers_round_agrees(
    agent: tuple[HostAgent, NeutronFollower], neutron: FakeNeutron
) -> None:
    a, sync = agent
    net = neutron.network()
    neutron.subnet(net, "10.0.0.0/24")
    first = neutron.port(net)

    def leases() -> list[tuple[str, str]]:
        [served] = a.dhcp.list_dhcp()
        return [(h.mac, str(h.ip)) for h in served.hosts]

    def lease(port: dict[str, Any]) -> tuple[str, str]:
        return port["mac_address"], port["fixed_ips"][0]["ip_address"]

    # the network's first vNIC here: its server starts within the verb, without a follower's round
    run(a, "vm-1", with_port(nic_for(first), first))
    assert lease(first) in leases() and launcher(a).starts == 1
    # the next vNIC's lease comes from the port it was given: no read of the provider for it
    second = neutron.port(net)
    del neutron.data["ports"][second["id"]]  # hidden: the agent must not need to read it
    neutron.requests.clear()
    run(a, "vm-2", with_port(nic_for(second, 2), second))
    assert neutron.requests == [] and lease(second) in leases() and launcher(a).starts == 2
    # the follower's round computes the same server (the port listed again): nothing restarts
    neutron.data["ports"][second["id"]] = second
    sync.sync_once()
    assert launcher(a).starts == 2 and lease(second) in leases()


def test_the_lease_a_plug_serves_names_the_guest_as_the_provider_does_so_the_follower_restarts_nothing(
    agent: tuple[HostAgent, NeutronFollower], neutron: FakeNeutron
) -> None:
    from neutrino.agent_api.schema import PORT_LEASE
    from neutrino.engine.commands.placement import agent_accepts, port_details
    from neutrino.engine.domain.model import Host
    from neutrino.neutron_client import Port

    a, sync = agent
    net = neutron.network()
    neutron.data["networks"][net]["dns_domain"] = "example.org."
    neutron.subnet(net, "10.0.0.0/24")
    run(a, "vm-1", with_port(nic_for(first := neutron.port(net)), first))
    sync.sync_once()

    def named(port: dict[str, Any], name: str) -> dict[str, Any]:
        ip = port["fixed_ips"][0]["ip_address"]
        port["dns_assignment"] = [{"hostname": name, "ip_address": ip, "fqdn": f"{name}.example.org."}]
        port["extra_dhcp_opts"] = [{"opt_name": "ntp-server", "opt_value": "10.0.0.9", "ip_version": 4}]
        return port

    def engine_sends(port: dict[str, Any], n: int, *, older: bool = False) -> dict[str, Any]:
        """The NIC as the engine builds it from the port it made for an agent that says it takes the lease's
        fields (an older engine's: without them)."""
        takes = agent_accepts(
            Host("h", "192.0.2.1", "c", capabilities=a.capabilities().model_dump(mode="json")), PORT_LEASE
        )
        details = port_details(Port.from_json(port), "example.org.", lease=takes and not older)
        body = details.model_dump(mode="json", exclude_none=older)
        return {**nic_for(port, n), "external": {**nic_for(port, n)["external"], "port": body}}

    def lease(port: dict[str, Any]) -> tuple[str | None, str | None, list[str]]:
        [served] = a.dhcp.list_dhcp()
        [host] = [h for h in served.hosts if h.mac == port["mac_address"]]
        return host.hostname, host.domain, [o.name for o in host.options]

    web = named(neutron.port(net), "web")
    run(a, "vm-2", engine_sends(web, 2))
    assert lease(web) == ("web", "example.org", ["ntp-server"]) and launcher(a).starts == 2
    sync.sync_once()  # the follower reads the same port from the provider: the same lease, no restart
    assert lease(web) == ("web", "example.org", ["ntp-server"]) and launcher(a).starts == 2

    # an older engine's NIC still plugs: its lease is the address alone until the follower's round
    db = named(neutron.port(net), "db")
    run(a, "vm-3", engine_sends(db, 3, older=True))
    assert lease(db) == (None, None, []) and launcher(a).starts == 3
    sync.sync_once()
    assert lease(db) == ("db", "example.org", ["ntp-server"]) and launcher(a).starts == 4


def test_a_dhcp_port_left_by_an_agent_that_died_before_saving_it_stays_the_hosts_only_one(
    agent: tuple[HostAgent, NeutronFollower], neutron: FakeNeutron
) -> None:
    a, sync = agent
    net = neutron.network()
    neutron.subnet(net, "10.0.0.0/24")
    device_id = dhcp_device_id("host-1", net)
    left = neutron.port(net, device_owner="network:dhcp", device_id=device_id)  # the state does not know it
    # the state says no DHCP port there: the plug makes one while it lists the network's ports, then finds
    # the one left and keeps that
    run(a, "vm-1", nic_for(neutron.port(net)))
    dhcp_ports = [p for p in neutron.data["ports"].values() if p["device_id"] == device_id]
    assert [p["id"] for p in dhcp_ports] == [left["id"]]
    [served] = a.dhcp.list_dhcp()
    assert str(served.server_ip) == left["fixed_ips"][0]["ip_address"]
    assert a.dhcp.provider_served() == {net: left["id"]}
    sync.sync_once()  # the follower's round agrees
    assert [p["id"] for p in neutron.data["ports"].values() if p["device_id"] == device_id] == [left["id"]]
