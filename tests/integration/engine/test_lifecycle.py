"""The vNIC port lifecycle on a real database (SQLite and PostgreSQL), with the provider and the host agents
faked at the engine's own seams: every trigger of the seed, rollback on each kind of failure, the janitor and
the convergence after a crash."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from neutrino.engine.bootstrap import Engine
from neutrino.engine.commands import clusters, hosts, nics, ports, snapshots, vms, vnic_profiles
from neutrino.engine.commands.common import EngineContext, Ref
from neutrino.engine.commands.converge import converge
from neutrino.engine.commands.external_networks import import_network
from neutrino.engine.commands.listings import NetworkReads
from neutrino.engine.commands.migrate import migrate_vm
from neutrino.engine.commands.monitoring import monitor_all
from neutrino.engine.commands.providers import add_provider
from neutrino.engine.domain import model
from neutrino.engine.domain.errors import BadRequest, Conflict, HostFailure, ProviderFailure
from neutrino.engine.domain.model import NicState, VmStatus
from neutrino.engine.domain.operations import OperationKind, StepName
from tests.integration.engine.conftest import BuildEngine
from tests.support.fakes import DEFAULT_GROUP, FakeAgent, FakeProvider
from tests.support.operations import in_flight

SG = "6b1a44f2-97a1-4a44-8d0a-0b5c7e2f1a01"


@dataclass
class World:
    ctx: EngineContext
    provider: FakeProvider
    agents: dict[str, FakeAgent]
    provider_id: str
    cluster_id: str
    profiles: list[str]  # the vNIC profiles of two external networks
    internal_profile: str

    def vm(self, name: str, *profile_ids: str) -> tuple[str, list[str]]:
        vm = vms.add_vm(self.ctx, name, Ref(id=self.cluster_id))
        ids = [nics.add_nic(self.ctx, vm.id, f"nic{i + 1}", Ref(id=p)).id for i, p in enumerate(profile_ids)]
        return vm.id, ids

    def get_vm(self, vm_id: str) -> model.Vm:
        with self.ctx.reader() as uow:
            vm = uow.vms.get(vm_id)
            assert vm is not None
            return vm

    def nic(self, nic_id: str) -> model.VmNic:
        with self.ctx.reader() as uow:
            nic = uow.nics.get(nic_id)
            assert nic is not None
            return nic

    def host_name(self, vm_id: str) -> str:
        with self.ctx.reader() as uow:
            vm = uow.vms.get(vm_id)
            host = uow.hosts.get(vm.host_id) if vm and vm.host_id else None
            assert host is not None
            return host.name


@pytest.fixture
def world(make_engine: BuildEngine) -> World:
    engine: Engine = make_engine(mac_pool_range="56:6f:10:00:00:00-56:6f:10:00:00:ff")
    ctx = engine.ctx
    fake = FakeProvider()
    agents = {"h1": FakeAgent("h1"), "h2": FakeAgent("h2")}
    ctx.provider_client = lambda provider, password=None: fake
    ctx.agent_client = lambda host: agents[host.name]
    provider = add_provider(
        ctx, "osp", url="http://provider.invalid:9696", external_plugin_type="LINUX_BRIDGE"
    )
    with ctx.reader() as uow:
        default = uow.clusters.first(name="Default")
        dc = uow.datacenters.first(name="Default")
        assert default is not None and dc is not None
    profiles = []
    for name in ("red", "blue"):
        ext = fake.add_network(name)
        net = import_network(ctx, provider.id, ext.id, Ref(id=dc.id))
        clusters.attach_network(ctx, default.id, Ref(id=net.id), required=False)
        with ctx.reader() as uow:
            profiles.append(uow.profiles.first(network_id=net.id).id)  # type: ignore[union-attr]
    with ctx.reader() as uow:
        mgmt = uow.networks.first(name="ovirtmgmt")
        assert mgmt is not None
        internal = uow.profiles.first(network_id=mgmt.id)
        assert internal is not None
    for name in agents:
        host = hosts.add_host(ctx, name, "127.0.0.1", Ref(id=default.id), root_password="token")
        assert host.status == model.HostStatus.UP, host.status_detail
    return World(ctx, fake, agents, provider.id, default.id, profiles, internal.id)


def test_run_creates_bound_ports_and_the_vm_is_up_once_reported(world: World) -> None:
    vm_id, (n1, n2, n3) = world.vm("vm1", world.profiles[0], world.profiles[1], world.internal_profile)
    vm = vms.start_vm(world.ctx, vm_id)
    assert vm.status == VmStatus.UP
    host = world.host_name(vm_id)
    agent = world.agents[host]
    assert agent.nic_ids(vm_id) == sorted([n1, n2, n3])
    for nic_id in (n1, n2):
        [port] = world.provider.ports_of(nic_id)
        nic = world.nic(nic_id)
        assert (port.mac_address, port.host_id, port.name) == (nic.mac, host, nic.name)
        assert nic.port_id == port.id and nic.port_created_by is None
        assert nic.provisioning.state == NicState.PLUGGED
        names = [s.name for s in nic.provisioning.steps]
        assert names == ["looking up port", "creating port", "port created", "bound", "plugged"]
    assert world.nic(n3).port_id is None and not world.provider.ports_of(n3)
    # the agent got the external details, with the port's groups as the provider reports them
    spec = next(n["spec"] for n in agent.vms[vm_id]["nics"] if n["spec"]["nic_id"] == n1)
    assert spec["external"]["plugin_type"] == "LINUX_BRIDGE"
    assert spec["external"]["security_groups"] == [DEFAULT_GROUP]
    assert spec["external"]["network_type"] == "vxlan" and spec["mtu"] == 1450


def test_stop_keeps_ports_and_the_next_run_reuses_them(world: World) -> None:
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    vms.start_vm(world.ctx, vm_id)
    [port] = world.provider.ports_of(n1)
    vms.stop_vm(world.ctx, vm_id)
    assert world.get_vm(vm_id).status == VmStatus.DOWN
    assert world.provider.ports_of(n1) == [port]
    assert world.nic(n1).provisioning.state == NicState.UNPLUGGED
    assert not any(vm_id in a.vms for a in world.agents.values())
    creates = world.provider.calls.count("create_port")
    vms.start_vm(world.ctx, vm_id)
    assert world.provider.calls.count("create_port") == creates
    assert [p.id for p in world.provider.ports_of(n1)] == [port.id]


def test_a_provider_failure_undoes_the_ports_the_run_created(world: World) -> None:
    vm_id, (n1, n2) = world.vm("vm1", world.profiles[0], world.profiles[1])
    world.provider.fail_on["create_port"] = 1  # the first port is created, the second fails
    with pytest.raises(ProviderFailure) as err:
        vms.start_vm(world.ctx, vm_id)
    assert "Cannot run VM. vNIC nic2:" in err.value.message
    vm = world.get_vm(vm_id)
    assert (vm.status, vm.host_id, vm.operation_id) == (VmStatus.DOWN, None, None)
    assert world.provider.ports == {}
    assert world.nic(n1).port_id is None
    assert world.nic(n2).provisioning.state == NicState.FAILED
    assert "create_port failed" in str(world.nic(n2).provisioning.last_error)
    with world.ctx.reader() as uow:
        assert not uow.orphan_ports.list()


def test_a_port_found_before_the_run_survives_its_failure(world: World) -> None:
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    vms.start_vm(world.ctx, vm_id)
    vms.stop_vm(world.ctx, vm_id)
    [port] = world.provider.ports_of(n1)
    for agent in world.agents.values():
        agent.fail_on.add("create_vm")
    with pytest.raises(HostFailure):
        vms.start_vm(world.ctx, vm_id)
    assert world.provider.ports_of(n1) == [port]  # not created by that run: kept
    assert world.get_vm(vm_id).status == VmStatus.DOWN


def test_an_agent_report_that_differs_fails_the_run(world: World) -> None:
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])

    def wrong_groups(vm: dict[str, object]) -> None:
        for nic in vm["nics"]:  # type: ignore[attr-defined]
            if nic["plugged"]:
                nic["plugged"]["security_groups"] = []

    for agent in world.agents.values():
        agent.tamper = wrong_groups
    with pytest.raises(HostFailure) as err:
        vms.start_vm(world.ctx, vm_id)
    assert "vNIC nic1: the host applied security groups []" in err.value.message
    assert world.get_vm(vm_id).status == VmStatus.DOWN
    assert world.provider.ports == {}
    assert not any(vm_id in a.vms for a in world.agents.values())


def test_a_run_and_a_hot_plug_ask_the_host_once_and_check_its_answer(world: World) -> None:
    """The agent's answer to create-VM (and to a plug) is its report: the engine checks it, and asks no more."""
    vm_id, _ = world.vm("vm1", world.profiles[0])
    vms.start_vm(world.ctx, vm_id)
    agent = world.agents[world.host_name(vm_id)]
    assert agent.calls[-1:] == ["create_vm"]
    del agent.calls[:]
    nics.add_nic(world.ctx, vm_id, "nic2", Ref(id=world.profiles[1]))
    assert agent.calls == ["hotplug_nic"]


def test_security_groups_come_from_the_profile(world: World) -> None:
    ctx = world.ctx
    with ctx.reader() as uow:
        net_id = uow.profiles.get(world.profiles[0]).network_id  # type: ignore[union-attr]
    none = vnic_profiles.add_profile(ctx, "open", Ref(id=net_id), custom_properties={"SecurityGroups": ""})
    listed = vnic_profiles.add_profile(ctx, "ssh", Ref(id=net_id), custom_properties={"SecurityGroups": SG})
    with pytest.raises(BadRequest):
        vnic_profiles.add_profile(
            ctx, "bad", Ref(id=net_id), custom_properties={"SecurityGroups": "not-a-uuid"}
        )
    vm_id, (default, empty, chosen) = world.vm("vm1", world.profiles[0], none.id, listed.id)
    vms.start_vm(ctx, vm_id)
    groups = {n: world.provider.ports_of(n)[0].security_groups for n in (default, empty, chosen)}
    assert groups == {default: (DEFAULT_GROUP,), empty: (), chosen: (SG,)}
    vms.stop_vm(ctx, vm_id)
    world.provider.exts.discard("security-group")
    with pytest.raises(BadRequest) as err:
        vms.start_vm(ctx, vm_id)
    assert "does not offer the security-group extension" in err.value.message


def test_port_security_comes_from_the_profile(world: World) -> None:
    """``PortSecurity``: absent or empty, the network's default; false, a port without port security
    (and so without groups, even one found with some); refused beside security groups."""
    ctx = world.ctx
    with ctx.reader() as uow:
        net_id = uow.profiles.get(world.profiles[0]).network_id  # type: ignore[union-attr]
    off = vnic_profiles.add_profile(ctx, "open", Ref(id=net_id), custom_properties={"PortSecurity": "false"})
    unset = vnic_profiles.add_profile(ctx, "unset", Ref(id=net_id), custom_properties={"PortSecurity": ""})
    on = vnic_profiles.add_profile(
        ctx, "on", Ref(id=net_id), custom_properties={"PortSecurity": "True", "SecurityGroups": SG}
    )
    with pytest.raises(BadRequest) as err:
        vnic_profiles.add_profile(ctx, "bad", Ref(id=net_id), custom_properties={"PortSecurity": "maybe"})
    assert "PortSecurity takes true, false, or nothing" in err.value.message
    with pytest.raises(BadRequest) as err:
        vnic_profiles.add_profile(
            ctx, "both", Ref(id=net_id), custom_properties={"PortSecurity": "false", "SecurityGroups": SG}
        )
    assert err.value.message.startswith(
        "Cannot add VM network interface profile if the custom property PortSecurity is false while "
        "SecurityGroups names security groups"
    )
    vm_id, (closed, empty, chosen) = world.vm("vm1", off.id, unset.id, on.id)
    vms.start_vm(ctx, vm_id)
    found = {n: world.provider.ports_of(n)[0] for n in (closed, empty, chosen)}
    assert {n: (p.port_security_enabled, p.security_groups) for n, p in found.items()} == {
        closed: (False, ()),
        empty: (True, (DEFAULT_GROUP,)),
        chosen: (True, (SG,)),
    }
    vms.stop_vm(ctx, vm_id)
    # the profile turns port security off: the port found again loses it, and its groups with it
    vnic_profiles.update_profile(
        ctx, unset.id, vnic_profiles.ProfileChanges(custom_properties={"PortSecurity": "false"})
    )
    vms.start_vm(ctx, vm_id)
    port = world.provider.ports_of(empty)[0]
    assert (port.id, port.port_security_enabled, port.security_groups) == (found[empty].id, False, ())
    vms.stop_vm(ctx, vm_id)
    world.provider.exts.discard("port-security")
    with pytest.raises(BadRequest) as err:
        vms.start_vm(ctx, vm_id)
    assert "does not offer the port-security extension" in err.value.message


def test_removal_releases_ports_and_the_janitor_finishes_when_the_provider_was_down(world: World) -> None:
    vm_id, (n1, n2) = world.vm("vm1", world.profiles[0], world.profiles[1])
    vms.start_vm(world.ctx, vm_id)
    vms.stop_vm(world.ctx, vm_id)
    nics.remove_nic(world.ctx, vm_id, n1)
    assert not world.provider.ports_of(n1)
    world.provider.down = True
    vms.remove_vm(world.ctx, vm_id)  # the provider being down does not block removal
    with world.ctx.reader() as uow:
        [orphan] = uow.orphan_ports.list()
        assert orphan.attempts == 1 and "cannot connect" in orphan.last_error
    assert world.provider.ports_of(n2)
    world.provider.down = False
    ports.janitor(world.ctx)
    assert world.provider.ports == {}
    with world.ctx.reader() as uow:
        assert not uow.orphan_ports.list()


def test_the_janitor_deletes_ports_whose_vnic_is_gone(world: World) -> None:
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    vms.start_vm(world.ctx, vm_id)
    from neutrino.engine.provider_clients.base import PortRequest

    stray = world.provider.create_port(
        PortRequest(
            network_id=next(iter(world.provider.networks)),
            mac_address="56:6f:99:00:00:01",
            name="x",
            device_id="a-vnic-that-is-gone",
        )
    ).port
    assert ports.sweep(world.ctx) == 1
    assert stray.id not in world.provider.ports and world.provider.ports_of(n1)


def test_profile_moving_to_another_network_releases_the_old_port(world: World) -> None:
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    vms.start_vm(world.ctx, vm_id)
    [old] = world.provider.ports_of(n1)
    with pytest.raises(BadRequest):  # not while plugged into a running VM
        nics.update_nic(world.ctx, vm_id, n1, nics.NicChanges(vnic_profile=Ref(id=world.profiles[1])))
    vms.stop_vm(world.ctx, vm_id)
    nics.update_nic(world.ctx, vm_id, n1, nics.NicChanges(vnic_profile=Ref(id=world.profiles[1])))
    assert old.id not in world.provider.ports and world.nic(n1).port_id is None
    vms.start_vm(world.ctx, vm_id)
    [new] = world.provider.ports_of(n1)
    assert new.network_id != old.network_id


def test_hot_unplug_keeps_the_port_and_a_failed_hot_plug_undoes_it(world: World) -> None:
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    vms.start_vm(world.ctx, vm_id)
    agent = world.agents[world.host_name(vm_id)]
    nics.set_plugged(world.ctx, vm_id, n1, False)
    assert agent.nic_ids(vm_id) == [] and world.provider.ports_of(n1)
    nics.set_plugged(world.ctx, vm_id, n1, True)
    assert agent.nic_ids(vm_id) == [n1]

    # a new NIC added to the running VM is hot plugged; when the host fails, its new port goes
    agent.fail_on.add("hotplug_nic")
    with pytest.raises(HostFailure):
        nics.add_nic(world.ctx, vm_id, "nic2", Ref(id=world.profiles[1]))
    with world.ctx.reader() as uow:
        nic2 = uow.nics.first(vm_id=vm_id, name="nic2")
        assert nic2 is not None
    assert not nic2.plugged and nic2.provisioning.state == NicState.FAILED
    assert not world.provider.ports_of(nic2.id)


def test_snapshot_preview_and_undo_release_the_replaced_nics_ports(world: World) -> None:
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    snap = snapshots.add_snapshot(world.ctx, vm_id, "before")
    vms.start_vm(world.ctx, vm_id)
    vms.stop_vm(world.ctx, vm_id)
    assert world.provider.ports_of(n1)
    snapshots.preview_snapshot(world.ctx, vm_id, snap.id)
    assert not world.provider.ports_of(n1)
    vms.start_vm(world.ctx, vm_id)  # the restored NIC gets its port on the next run
    assert world.provider.ports_of(n1)
    vms.stop_vm(world.ctx, vm_id)
    snapshots.undo_snapshot(world.ctx, vm_id)
    assert not world.provider.ports_of(n1)


def test_migration_rebinds_ports_and_moves_the_vm(world: World) -> None:
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    vms.start_vm(world.ctx, vm_id)
    source = world.host_name(vm_id)
    migrate_vm(world.ctx, vm_id)
    dest = world.host_name(vm_id)
    assert dest != source
    assert vm_id in world.agents[dest].vms and vm_id not in world.agents[source].vms
    assert world.provider.ports_of(n1)[0].host_id == dest
    # a failing destination leaves the VM where it was, its port bound there again
    world.agents[source].fail_on.add("create_vm")
    with pytest.raises(HostFailure):
        migrate_vm(world.ctx, vm_id)
    vm = world.get_vm(vm_id)
    assert (vm.status, world.host_name(vm_id), vm.operation_id) == (VmStatus.UP, dest, None)
    with world.ctx.reader() as uow:  # no migration left in flight: the last one is recorded undone
        last = uow.operations.list(vm_id=vm_id, order_by="started")[-1]
        assert (last.kind, last.state, last.target_host_id) == ("migrate", "undone", _host_id(world, source))
    assert world.provider.ports_of(n1)[0].host_id == dest


def test_scheduling_names_the_filter_that_excluded_each_host(world: World) -> None:
    vm_id, _ = world.vm("vm1", world.profiles[0])
    world.agents["h1"].down = True
    world.agents["h2"].plugin_types.pop("LINUX_BRIDGE")
    monitor_all(world.ctx)
    with pytest.raises(BadRequest) as err:
        vms.start_vm(world.ctx, vm_id)
    assert "h1 (Up: the host is not Up)" in err.value.message
    assert (
        "h2 (VnicNetworks: vNIC nic1: its agent has no vNIC driver for plugin type LINUX_BRIDGE)"
        in err.value.message
    )
    assert world.get_vm(vm_id).status == VmStatus.DOWN
    assert world.provider.ports == {}


def test_a_vm_the_host_no_longer_runs_goes_down(world: World) -> None:
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    vms.start_vm(world.ctx, vm_id)
    world.agents[world.host_name(vm_id)].vms.clear()  # e.g. the host rebooted
    monitor_all(world.ctx)
    assert world.get_vm(vm_id).status == VmStatus.DOWN
    assert world.nic(n1).provisioning.state == NicState.UNPLUGGED
    assert world.provider.ports_of(n1)  # its port stays, as on any stop


def test_convergence_undoes_an_interrupted_run(world: World) -> None:
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    # what a run leaves when the engine dies after creating the port, before the host created the VM
    host_id = _host_id(world, "h1")
    with world.ctx.uow() as uow:
        vm = uow.vms.get(vm_id)
        nic = uow.nics.get(n1)
        assert vm is not None and nic is not None
        vm.status, vm.host_id = VmStatus.POWERING_UP, host_id
        in_flight(uow, vm, OperationKind.RUN, StepName.PORTS, op_id="op-1", target_host_id=host_id)
        port = world.provider.create_port(
            ports.PortRequest(
                network_id=next(iter(world.provider.networks)), mac_address=nic.mac, name="nic1", device_id=n1
            )
        ).port
        nic.port_id, nic.port_provider_id, nic.port_created_by = port.id, world.provider_id, "op-1"
        uow.commit()
    assert converge(world.ctx) == 1
    vm = world.get_vm(vm_id)
    assert (vm.status, vm.operation_id, vm.host_id) == (VmStatus.DOWN, None, None)
    assert not world.provider.ports_of(n1)


def test_convergence_finishes_a_run_the_host_completed(world: World) -> None:
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    vms.start_vm(world.ctx, vm_id)
    with world.ctx.uow() as uow:  # as if the engine died between the host's report and marking the VM Up
        vm = uow.vms.get(vm_id)
        assert vm is not None
        vm.status = VmStatus.POWERING_UP
        in_flight(uow, vm, OperationKind.RUN, StepName.VERIFIED, op_id="op-2", target_host_id=vm.host_id)
        uow.commit()
    converge(world.ctx)
    vm = world.get_vm(vm_id)
    assert (vm.status, vm.operation_id) == (VmStatus.UP, None)
    assert world.provider.ports_of(n1)


def test_runs_within_seconds_share_one_read_of_their_networks(world: World) -> None:
    """Runs started together read the provider's networks once (commands.listings.NetworkReads); a network
    deleted on the provider fails the runs started after the window, naming the vNIC and the network."""
    clock = [1000.0]
    world.ctx.network_reads = NetworkReads(fresh_for=2.0, clock=lambda: clock[0])
    started = [world.vm(f"vm{i}", world.profiles[0])[0] for i in range(3)]
    vms.start_vm(world.ctx, started[0])
    vms.start_vm(world.ctx, started[1])
    assert world.provider.calls.count("get_networks") == 1
    red = next(n for n in world.provider.networks.values() if n.name == "red")
    world.provider.networks.pop(red.id)
    clock[0] += 2.5
    with pytest.raises(BadRequest, match="vNIC nic1: network red no longer exists on provider osp"):
        vms.start_vm(world.ctx, started[2])
    assert world.provider.calls.count("get_networks") == 2
    assert world.get_vm(started[2]).status == VmStatus.DOWN


def test_one_run_at_a_time(world: World) -> None:
    vm_id, _ = world.vm("vm1", world.profiles[0])
    vms.start_vm(world.ctx, vm_id)
    with pytest.raises(Conflict):
        vms.start_vm(world.ctx, vm_id)
    with pytest.raises(Conflict):
        vms.remove_vm(world.ctx, vm_id)


def _host_id(world: World, name: str) -> str:
    with world.ctx.reader() as uow:
        host = uow.hosts.first(name=name)
        assert host is not None
        return host.id


def test_convergence_finds_a_port_the_run_created_but_never_recorded(world: World) -> None:
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    with (
        world.ctx.uow() as uow
    ):  # the intent was committed, the provider created the port, then the engine died
        vm = uow.vms.get(vm_id)
        nic = uow.nics.get(n1)
        assert vm is not None and nic is not None
        vm.status = VmStatus.WAIT_FOR_LAUNCH
        in_flight(uow, vm, OperationKind.RUN, StepName.PORTS, op_id="op-3")
        nic.port_provider_id, nic.port_created_by = world.provider_id, "op-3"
        world.provider.create_port(
            ports.PortRequest(
                network_id=next(iter(world.provider.networks)), mac_address=nic.mac, name="nic1", device_id=n1
            )
        )
        uow.commit()
    converge(world.ctx)
    assert world.get_vm(vm_id).status == VmStatus.DOWN
    assert not world.provider.ports_of(n1)
    assert world.nic(n1).port_created_by is None


def test_a_failing_auto_sync_is_one_event_until_it_works_again(world: World) -> None:
    from neutrino.engine.commands.providers import ProviderChanges, update_provider
    from neutrino.engine.commands.sync import synchronize

    update_provider(world.ctx, world.provider_id, ProviderChanges(auto_sync=True))
    world.provider.down = True
    for _ in range(3):
        synchronize(world.ctx, world.provider_id)
    world.provider.down = False
    synchronize(world.ctx, world.provider_id)
    synchronize(world.ctx, world.provider_id)
    with world.ctx.reader() as uow:
        texts = [e.description for e in uow.events.list(provider_id=world.provider_id, order_by="time")]
    assert [t for t in texts if "Auto-sync" in t] == [
        "Auto-sync of provider 'osp' failed: Failed to communicate with the external provider: cannot connect "
        "(refused).",
        "Auto-sync of provider 'osp' works again.",
    ]


def test_a_host_in_maintenance_gets_no_vms_until_activated(world: World) -> None:
    vm_id, _ = world.vm("vm1", world.profiles[0])
    vms.start_vm(world.ctx, vm_id)
    busy = _host_id(world, world.host_name(vm_id))
    with pytest.raises(Conflict):  # VMs run there
        hosts.deactivate_host(world.ctx, busy)
    vms.stop_vm(world.ctx, vm_id)
    for name in ("h1", "h2"):
        hosts.deactivate_host(world.ctx, _host_id(world, name))
    monitor_all(world.ctx)  # the monitor keeps the user's Maintenance
    with pytest.raises(BadRequest) as err:
        vms.start_vm(world.ctx, vm_id)
    assert "h1 (Up: the host is not Up)" in err.value.message
    assert hosts.activate_host(world.ctx, _host_id(world, "h1")).status == model.HostStatus.UP
    assert vms.start_vm(world.ctx, vm_id).status == VmStatus.UP
    assert world.host_name(vm_id) == "h1"


def test_convergence_undoes_a_run_whose_network_left_the_provider_meanwhile(world: World) -> None:
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    with world.ctx.uow() as uow:
        vm = uow.vms.get(vm_id)
        assert vm is not None
        vm.status, vm.host_id = VmStatus.POWERING_UP, _host_id(world, "h1")
        in_flight(uow, vm, OperationKind.RUN, StepName.ON_HOST, op_id="op-4", target_host_id=vm.host_id)
        for network in uow.networks.list(provider_id=world.provider_id):
            network.external_missing = True  # what the synchronizer records when the provider lost it
        uow.commit()
    converge(world.ctx)
    vm = world.get_vm(vm_id)
    assert (vm.status, vm.operation_id) == (VmStatus.DOWN, None)


def test_auto_sync_keeps_a_network_its_listing_was_taken_before(world: World, monkeypatch: Any) -> None:
    """A listing taken before the engine created a network on the provider (and committed it) does not make
    that network gone: the sync asks the provider for it again before it marks or removes anything."""
    from neutrino.engine.commands.providers import ProviderChanges, update_provider
    from neutrino.engine.commands.sync import synchronize

    update_provider(world.ctx, world.provider_id, ProviderChanges(auto_sync=True))
    with world.ctx.reader() as uow:
        network = uow.networks.list(provider_id=world.provider_id)[0]
    listed = [n for n in world.provider.list_networks() if n.id != network.provider_network_id]
    monkeypatch.setattr(world.provider, "list_networks", lambda: listed)
    synchronize(world.ctx, world.provider_id)
    with world.ctx.reader() as uow:
        kept = uow.networks.get(network.id)
        assert kept is not None and not kept.external_missing
    del world.provider.networks[network.provider_network_id]  # now it is gone for real
    synchronize(world.ctx, world.provider_id)
    with world.ctx.reader() as uow:
        gone = uow.networks.get(network.id)
        assert gone is None or gone.external_missing
