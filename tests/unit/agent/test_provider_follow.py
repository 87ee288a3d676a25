"""The provider sync follows what changes on a plugged vNIC's port after the plug (its
``security_groups``, ``port_security_enabled``, fixed IPs) and where router advertisements on its
network may come from (the network's DHCP ports), against the fake provider on the in-memory
host."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from neutrino.agent.app import build_agent
from neutrino.agent.datapath import linux_net
from neutrino.agent.datapath.firewall import link_local
from neutrino.agent.datapath.memory import MemoryNet, World
from neutrino.agent.datapath.vswitch import MemoryOvsDb
from neutrino.agent.host_agent import HostAgent
from neutrino.agent.neutron_follower import NeutronFollower
from neutrino.agent.neutron_reads import ra_sources
from neutrino.agent.settings import AgentSettings
from neutrino.agent_api.schema import NicSpec, VmSpec
from neutrino.neutron_client import Port

from .fake_neutron import FakeNeutron
from .test_provider_sync import EGRESS, SSH_IN, nic_for

ICMP_IN = {"direction": "ingress", "protocol": "icmp"}
RA = "-p ipv6-icmp -m icmp6 --icmpv6-type 134 -j RETURN"


def make_agent(
    data_dir: Path, world: World, neutron: FakeNeutron, *, ovs: bool = False, backend: str = "libvirt"
) -> tuple[HostAgent, NeutronFollower]:
    drivers = {"LINUX_BRIDGE": "linux_bridge", "OPEN_VSWITCH": "open_vswitch" if ovs else "noop"}
    settings = AgentSettings.model_validate(
        {"data_dir": data_dir, "token": "t", "host_name": "host-1", "host_net": "memory",
         "vm_backend": backend, "vnic_drivers": drivers, "tunnel_ip": "192.0.2.1"}
    )  # fmt: skip
    agent = build_agent(settings, host_net=MemoryNet(world), neutron=neutron.client())
    assert agent.follower is not None
    agent.recover()
    return agent, agent.follower


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def neutron() -> FakeNeutron:
    return FakeNeutron()


def run(agent: HostAgent, vm_id: str, nic: dict[str, Any]) -> list[str] | None:
    """Create the VM; returns the groups its answer reports applied (what the engine checks)."""
    vm, created = agent.vms.create_vm(VmSpec.model_validate({"vm_id": vm_id, "name": vm_id, "nics": [nic]}))
    assert created and vm.nics[0].plugged is not None
    return vm.nics[0].plugged.security_groups


def applied(agent: HostAgent, vm_id: str) -> list[str] | None:
    plugged = agent.vms.get_vm(vm_id).nics[0].plugged
    assert plugged is not None
    return plugged.security_groups


def chains(world: World, version: int = 4) -> str:
    net = MemoryNet(world)
    return net.iptables_save() if version == 4 else net.ip6tables_save()


# -- security groups changed on the provider after the plug ---------------------------------------
def test_groups_set_on_a_port_after_the_plug_are_applied_at_the_next_round(
    tmp_path: Path, world: World, neutron: FakeNeutron
) -> None:
    a, sync = make_agent(tmp_path / "agent", world, neutron)
    net = neutron.network()
    neutron.subnet(net, "10.0.0.0/24")
    ssh, ping = neutron.group(SSH_IN, EGRESS), neutron.group(ICMP_IN)
    port = neutron.port(net, groups=[ssh])
    nic = nic_for(port)
    assert run(a, "vm-1", nic) == [ssh]  # the plug answers what the engine sent
    sync.sync_once()
    tap = linux_net.tap_name(port["id"])
    ingress = f"nsg-i{tap[3:]}"
    assert f"-A {ingress} -p icmp -j RETURN" not in chains(world)

    # openstack port set --security-group PING PORT: a group the host does not have yet
    port["security_groups"] = [ssh, ping]
    sync.sync_once()
    assert applied(a, "vm-1") == sorted([ssh, ping])
    assert f"-A {ingress} -p icmp -j RETURN" in chains(world)
    assert f"-A {ingress} -p tcp -m tcp --dport 22 -j RETURN" in chains(world)
    vm = a.vms.get_vm("vm-1")
    assert vm.status == "Up" and vm.nics[0].spec == NicSpec.model_validate(nic)  # the request as sent

    calls = world.calls
    sync.sync_once()  # nothing changed since: nothing rewritten
    assert world.calls == calls

    # openstack port unset --security-group SSH PORT: ssh is no longer used here and goes
    port["security_groups"] = [ping]
    sync.sync_once()
    sync.sync_once()
    assert applied(a, "vm-1") == [ping]
    assert "--dport 22" not in chains(world)
    assert set(a.security.list_security_groups()) == {ping}

    # back to what the engine sent: the spec's groups apply again
    port["security_groups"] = [ssh]
    sync.sync_once()
    assert applied(a, "vm-1") == [ssh]
    assert a.store.state.vms["vm-1"].nics["nic-1"].provider_groups is None


def test_a_vnic_goes_unfiltered_and_back_with_its_ports_groups_and_port_security(
    tmp_path: Path, world: World, neutron: FakeNeutron
) -> None:
    a, sync = make_agent(tmp_path / "agent", world, neutron)
    net = neutron.network()
    subnet = neutron.subnet(net, "10.0.0.0/24")
    ssh = neutron.group(SSH_IN)
    port = neutron.port(net, groups=[ssh])
    run(a, "vm-1", nic_for(port))
    sync.sync_once()
    tap = linux_net.tap_name(port["id"])
    assert tap in chains(world) and tap in chains(world, 6)

    port["security_groups"] = []  # openstack port set --no-security-group PORT
    sync.sync_once()
    assert applied(a, "vm-1") == []
    assert tap not in chains(world) and tap not in chains(world, 6)  # no filter, no anti-spoofing

    port["security_groups"] = [ssh]
    sync.sync_once()
    assert applied(a, "vm-1") == [ssh] and tap in chains(world)

    port.update(security_groups=[], port_security_enabled=False)  # --disable-port-security
    sync.sync_once()
    assert applied(a, "vm-1") == [] and tap not in chains(world)

    # re-enabled, with a fixed IP changed meanwhile: anti-spoofing has the new address at once
    port.update(security_groups=[ssh], port_security_enabled=True)
    port["fixed_ips"] = [{"subnet_id": subnet, "ip_address": "10.0.0.77"}]
    port["allowed_address_pairs"] = [{"ip_address": "10.0.0.200", "mac_address": port["mac_address"]}]
    sync.sync_once()
    saved = chains(world)
    assert applied(a, "vm-1") == [ssh]
    assert f"-A nsg-s{tap[3:]} -s 10.0.0.77/32 -j RETURN" in saved
    assert f"-A nsg-s{tap[3:]} -s 10.0.0.200/32 -j RETURN" in saved


def test_a_vnic_plugged_without_groups_gets_filtered_when_its_port_gets_some(
    tmp_path: Path, world: World, neutron: FakeNeutron
) -> None:
    a, sync = make_agent(tmp_path / "agent", world, neutron)
    net = neutron.network()
    neutron.subnet(net, "10.0.0.0/24")
    port = neutron.port(net)
    assert run(a, "vm-1", nic_for(port)) == []
    sync.sync_once()
    tap = linux_net.tap_name(port["id"])
    assert tap not in chains(world)
    ssh = neutron.group(SSH_IN)
    port["security_groups"] = [ssh]
    sync.sync_once()
    assert applied(a, "vm-1") == [ssh]
    assert f"-A nsg-s{tap[3:]} -s {port['fixed_ips'][0]['ip_address']}/32 -j RETURN" in chains(world)

    # a restarted agent filters with the groups it last applied, not the engine's
    a2, _ = make_agent(tmp_path / "agent", World(), neutron)
    assert a2.security.firewall is not None and a2.security.firewall.ports[tap].groups == (ssh,)
    assert applied(a2, "vm-1") == [ssh]


def test_a_port_whose_groups_cannot_be_read_yet_keeps_its_filter(
    tmp_path: Path, world: World, neutron: FakeNeutron
) -> None:
    a, sync = make_agent(tmp_path / "agent", world, neutron)
    net = neutron.network()
    ssh = neutron.group(SSH_IN)
    port = neutron.port(net, groups=[ssh])
    run(a, "vm-1", nic_for(port))
    port["security_groups"] = ["0000dead-0000-4000-8000-000000000000"]  # not (yet) readable
    sync.sync_once()
    assert applied(a, "vm-1") == [ssh]
    neutron.down = True
    with pytest.raises(Exception, match="connection refused"):
        sync.sync_once()
    assert applied(a, "vm-1") == [ssh] and ssh in a.security.list_security_groups()


def test_open_vswitch_vnics_change_plug_layout_with_their_groups(
    tmp_path: Path, world: World, neutron: FakeNeutron
) -> None:
    a, sync = make_agent(tmp_path / "agent", world, neutron, ovs=True, backend="netns")
    ovs = a.drivers["OPEN_VSWITCH"].context.ovs
    assert isinstance(ovs, MemoryOvsDb)
    host = MemoryNet(world)
    net = neutron.network()
    neutron.subnet(net, "10.0.0.0/24")
    port = neutron.port(net)
    run(a, "vm-1", nic_for(port, plugin_type="OPEN_VSWITCH"))
    sync.sync_once()
    tap, qbr, qvo = linux_net.tap_name(port["id"]), linux_net.qbr_name(port["id"]), ("qvo" + port["id"])[:14]

    def on_br_int() -> set[str]:
        return {p.name for p in ovs.ports("br-int")}

    assert tap in on_br_int() and host.link(qbr) is None

    ssh = neutron.group(SSH_IN)
    port["security_groups"] = [ssh]  # from plain to hybrid plug
    sync.sync_once()
    plugged = a.vms.get_vm("vm-1").nics[0].plugged
    assert plugged is not None and plugged.security_groups == [ssh] and plugged.bridge == qbr
    assert tap not in on_br_int() and qvo in on_br_int()
    tap_link = host.link(tap)
    assert tap_link is not None and tap_link.master == qbr
    assert f"--physdev-out {tap} --physdev-is-bridged" in chains(world)
    tag = {p.name: p.tag for p in ovs.ports("br-int")}[qvo]

    port["security_groups"] = []  # and back
    sync.sync_once()
    plugged = a.vms.get_vm("vm-1").nics[0].plugged
    assert plugged is not None and plugged.security_groups == [] and plugged.bridge == "br-int"
    assert {p.name: p.tag for p in ovs.ports("br-int")}[tap] == tag and qvo not in on_br_int()
    assert host.link(qbr) is None and host.link(qvo) is None
    tap_link = host.link(tap)
    assert tap_link is not None and tap_link.master is None
    assert tap not in chains(world)


def test_a_libvirt_domain_follows_the_plug_layout(tmp_path: Path, world: World, neutron: FakeNeutron) -> None:
    a, sync = make_agent(tmp_path / "agent", world, neutron, ovs=True)
    net = neutron.network()
    port = neutron.port(net)
    run(a, "vm-1", nic_for(port, plugin_type="OPEN_VSWITCH"))
    domain = tmp_path / "agent" / "domains" / "vm-1.xml"
    assert '<source bridge="br-int"/>' in domain.read_text()
    port["security_groups"] = [neutron.group(SSH_IN)]
    sync.sync_once()
    assert f'<source bridge="{linux_net.qbr_name(port["id"])}"/>' in domain.read_text()


# -- router advertisements only from the network's DHCP ports -------------------------------------
def test_router_advertisements_are_accepted_only_from_the_networks_dhcp_ports(
    tmp_path: Path, world: World, neutron: FakeNeutron
) -> None:
    a, sync = make_agent(tmp_path / "agent", world, neutron)
    net = neutron.network()
    neutron.subnet(net, "2001:db8::/64", ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    other_host = neutron.port(net, device_owner="network:dhcp", device_id=f"dhcphost-2-{net}")
    neutron.port(net, device_owner="compute:nova")  # a guest: no router
    port = neutron.port(net, groups=[neutron.group(SSH_IN)])
    run(a, "vm-1", nic_for(port))
    ingress = "nsg-i" + linux_net.tap_name(port["id"])[3:]
    # known at plug time already: the other host's DHCP port, and this host's, created for the plug
    mine = next(p for p in neutron.data["ports"].values() if p["device_id"] == f"dhcphost-1-{net}")
    expected = sorted([link_local(other_host["mac_address"]), link_local(mine["mac_address"])])
    sources = [line.split()[3] for line in chains(world, 6).splitlines() if RA in line]
    assert sorted(sources) == [f"{address}/128" for address in expected]  # and not fe80::/10
    sync.sync_once()  # a round agrees
    sources = [line.split()[3] for line in chains(world, 6).splitlines() if RA in line]
    assert sorted(sources) == [f"{address}/128" for address in expected]
    assert a.store.state.ra_sources == {net: expected}

    # the other host's server goes: so does its address
    del neutron.data["ports"][other_host["id"]]
    sync.sync_once()
    assert [line for line in chains(world, 6).splitlines() if RA in line] == [
        f"-A {ingress} -s {link_local(mine['mac_address'])}/128 {RA}"
    ]
    a.vms.destroy_vm("vm-1")
    sync.sync_once()
    assert a.store.state.ra_sources == {}


def test_ra_sources_are_the_link_local_addresses_of_dhcp_ports_and_router_interfaces() -> None:
    ports = [
        Port.from_json(p)
        for p in [
            {"network_id": "n1", "device_owner": "network:dhcp", "mac_address": "fa:16:3e:00:00:01"},
            {
                "network_id": "n1",
                "device_owner": "network:router_interface",
                "mac_address": "fa:16:3e:00:00:02",
            },
            {"network_id": "n1", "device_owner": "compute:nova", "mac_address": "fa:16:3e:00:00:03"},
            {"network_id": "n2", "device_owner": "network:dhcp", "mac_address": "fa:16:3e:00:00:04"},
        ]
    ]
    assert ra_sources(ports, ["n1", "n3"]) == {
        "n1": ["fe80::f816:3eff:fe00:1", "fe80::f816:3eff:fe00:2"],
        "n3": [],
    }


def test_a_round_between_preparing_and_plugging_keeps_the_new_networks_ra_sources(
    tmp_path: Path, world: World, neutron: FakeNeutron
) -> None:
    a, sync = make_agent(tmp_path / "agent", world, neutron)
    first, second = neutron.network(), neutron.network(segmentation_id=101)
    run(a, "vm-1", nic_for(neutron.port(first)))
    server = neutron.port(second, device_owner="network:dhcp", device_id=f"dhcphost-2-{second}")
    spec = nic_for(neutron.port(second, groups=[neutron.group(SSH_IN)]), 2)
    spec["external"]["segmentation_id"] = 101
    nic = NicSpec.model_validate(spec)
    with a.vms.prepared([nic]):
        assert a.store.state.ra_sources[second] == [link_local(server["mac_address"])]
        sync.sync_once()  # the network has no vNIC here yet, but one is on its way
        assert second in a.store.state.ra_sources
        a.vms._plug_nic("vm-1", nic)
    assert f"-s {link_local(server['mac_address'])}/128 {RA}" in chains(world, 6)
