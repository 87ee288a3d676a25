"""The vNIC port lifecycle through the real ovirtsdk4: `neutrino up` (engine and embedded
provider) with two host agents, on SQLite and on PostgreSQL.

Every trigger of the lifecycle is checked where it shows: the ports on the provider (device_id = the vNIC's id,
its MAC, binding:host_id = the host), the VMs and vNICs each agent reports, and the vNIC's provisioning record
in the engine's API.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import ovirtsdk4.types as types
import pytest

from tests.e2e.lifecycle.conftest import DEVICE_OWNER, Agent, Stack, neutrino_up
from tests.e2e.lifecycle.helpers import (
    ExternalNet,
    Neutron,
    Site,
    add_host,
    add_vm,
    agent_nics,
    agent_vms,
    eventually,
    external_network,
    host_of,
    make_site,
    nic_ids,
    profile_on,
    provider_id_named,
    provisioning,
    refused,
    step_times,
    steps_of,
    unique,
    vm_service,
    vm_status,
)


@dataclass
class World:
    stack: Stack
    system: Any
    neutron: Neutron
    site: Site
    red: ExternalNet
    blue: ExternalNet
    agents: dict[str, Agent]  # host id -> its agent

    def agent_on(self, host_id: str | None) -> Agent:
        assert host_id is not None, "the VM runs on no host"
        return self.agents[host_id]

    def other_host(self, host_id: str) -> str:
        [other] = [h for h in self.agents if h != host_id]
        return other


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with neutrino_up(request.param, tmp_path_factory.mktemp(f"up-{request.param}")) as stack:
        conn = stack.connection()
        system = conn.system_service()
        site = make_site(system, provider_id_named(system, "neutrino-provider"))
        red, blue = (
            external_network(system, site, unique("red")),
            external_network(system, site, unique("blue")),
        )
        agents = {}
        for name in ("alpha", "beta"):
            agent = stack.agent(name)
            agents[add_host(system, site, agent).id] = agent
        yield World(stack, system, Neutron(stack.provider_url), site, red, blue, agents)
        conn.close()


def run(world: World, profiles: list[types.VnicProfile]) -> tuple[types.Vm, list[types.Nic]]:
    """A new VM with one vNIC per profile, started and Up."""
    vm, nics = add_vm(world.system, world.site, profiles)
    vm_service(world.system, vm.id).start()
    assert vm_status(world.system, vm.id) == types.VmStatus.UP
    return vm, nics


def assert_plugged(world: World, vm_id: str, nic: types.Nic, net: ExternalNet) -> dict[str, Any]:
    """The vNIC has exactly one port, bound to the VM's host and plugged there as the engine says; the port."""
    host_id = host_of(world.system, vm_id)
    agent = world.agent_on(host_id)
    port = world.neutron.port_of(nic.id)
    assert (port["device_owner"], port["network_id"], port["mac_address"]) == (
        DEVICE_OWNER,
        net.provider_network_id,
        nic.mac.address,
    )
    assert port["binding:host_id"] == agent.host_name
    record = provisioning(world.stack, vm_id, nic.id)
    assert (record["state"], record["port_id"], record["binding_host"]) == (
        "plugged",
        port["id"],
        agent.host_name,
    )
    reported = agent_nics(agent, vm_id)[nic.id]
    assert reported["state"] == "plugged"
    assert (reported["plugged"]["vnic_id"], reported["plugged"]["mac"]) == (port["id"], nic.mac.address)
    assert reported["plugged"]["plugin_type"] == "LINUX_BRIDGE"
    return port


def runs_only_on(world: World, vm_id: str, host_id: str | None) -> bool:
    """The VM is listed by the agent of ``host_id`` (None: by no agent) and by no other."""
    return all((vm_id in agent_vms(agent)) == (hid == host_id) for hid, agent in world.agents.items())


def test_run_gives_each_external_vnic_a_bound_port_and_plugs_it(world: World) -> None:
    vm, (nic1, nic2) = run(world, [world.red.profile, world.blue.profile])

    host_id = host_of(world.system, vm.id)
    assert host_id in world.agents
    port1 = assert_plugged(world, vm.id, nic1, world.red)
    port2 = assert_plugged(world, vm.id, nic2, world.blue)
    assert port1["id"] != port2["id"]
    assert runs_only_on(world, vm.id, host_id)

    # each step is timed, in order, and the record tells the story of a first run
    record = provisioning(world.stack, vm.id, nic1.id)
    names = [s["name"] for s in steps_of(record)]
    assert names[0] == "looking up port" and "port created" in names and names[-1] == "plugged", names
    times = step_times(record)
    assert times == sorted(times)
    assert all(t.tzinfo is not None for t in times)
    assert datetime.datetime.now(datetime.UTC) - times[0] < datetime.timedelta(minutes=5)
    assert record["provider_status"] in ("DOWN", "ACTIVE", "BUILD")  # shown, never gating Up


def test_stop_keeps_the_ports_and_the_next_run_reuses_them(world: World) -> None:
    vm, nics = run(world, [world.red.profile, world.blue.profile])
    before = {n.id: world.neutron.port_of(n.id)["id"] for n in nics}

    vm_service(world.system, vm.id).stop()
    assert vm_status(world.system, vm.id) == types.VmStatus.DOWN
    assert runs_only_on(world, vm.id, None)
    assert {n.id: world.neutron.port_of(n.id)["id"] for n in nics} == before
    assert {provisioning(world.stack, vm.id, n.id)["state"] for n in nics} == {"unplugged"}

    vm_service(world.system, vm.id).start()
    assert vm_status(world.system, vm.id) == types.VmStatus.UP
    after = {
        n.id: assert_plugged(world, vm.id, n, net)["id"]
        for n, net in zip(nics, [world.red, world.blue], strict=True)
    }
    assert after == before
    names = [s["name"] for s in steps_of(provisioning(world.stack, vm.id, nics[0].id))]
    assert "port found" in names and "port created" not in names, names


def test_hot_unplug_keeps_the_port_and_hot_plug_brings_it_back(world: World) -> None:
    vm, (nic1, nic2) = run(world, [world.red.profile, world.blue.profile])
    port = world.neutron.port_of(nic1.id)
    agent = world.agent_on(host_of(world.system, vm.id))
    nic_svc = vm_service(world.system, vm.id).nics_service().nic_service(nic1.id)

    nic_svc.deactivate()
    assert nic_svc.get().plugged is False
    assert world.neutron.port_of(nic1.id)["id"] == port["id"]
    assert nic1.id not in agent_nics(agent, vm.id)
    assert agent_nics(agent, vm.id)[nic2.id]["state"] == "plugged"
    assert provisioning(world.stack, vm.id, nic1.id)["state"] == "unplugged"
    assert vm_status(world.system, vm.id) == types.VmStatus.UP

    nic_svc.activate()
    assert nic_svc.get().plugged is True
    assert assert_plugged(world, vm.id, nic1, world.red)["id"] == port["id"]


def test_removing_a_nic_of_a_running_vm_deletes_its_port(world: World) -> None:
    vm, (nic1, nic2) = run(world, [world.red.profile, world.blue.profile])
    kept = world.neutron.port_of(nic2.id)
    agent = world.agent_on(host_of(world.system, vm.id))

    vm_service(world.system, vm.id).nics_service().nic_service(nic1.id).remove()

    assert world.neutron.ports_of(nic1.id) == []
    assert nic_ids(world.system, vm.id) == [nic2.id]
    assert list(agent_nics(agent, vm.id)) == [nic2.id]
    assert assert_plugged(world, vm.id, nic2, world.blue)["id"] == kept["id"]


def test_moving_a_nic_to_another_network_replaces_its_port(world: World) -> None:
    vm, (nic1, nic2) = run(world, [world.red.profile, world.blue.profile])
    old = world.neutron.port_of(nic1.id)
    nic_svc = vm_service(world.system, vm.id).nics_service().nic_service(nic1.id)
    to_blue = types.Nic(vnic_profile=types.VnicProfile(id=world.blue.profile.id))

    code, detail = refused(lambda: nic_svc.update(to_blue))  # no rewiring while plugged into a running VM
    assert code == 400 and "External network cannot be changed while plugged" in detail
    vm_service(world.system, vm.id).stop()
    nic_svc.update(to_blue)

    assert world.neutron.ports_of(nic1.id) == []  # released at once, not at the next run
    assert world.neutron.port_of(nic2.id)["network_id"] == world.blue.provider_network_id
    vm_service(world.system, vm.id).start()
    new = assert_plugged(world, vm.id, nic_svc.get(), world.blue)
    assert new["id"] != old["id"]


def test_snapshot_preview_and_undo_release_the_ports_of_the_replaced_nics(world: World) -> None:
    vm, (nic1,) = run(world, [world.red.profile])
    vm_svc = vm_service(world.system, vm.id)
    vm_svc.stop()
    snap = vm_svc.snapshots_service().add(types.Snapshot(description="one nic"))
    nic2 = vm_svc.nics_service().add(
        types.Nic(name="nic2", vnic_profile=types.VnicProfile(id=world.blue.profile.id))
    )
    vm_svc.start()
    first = {
        n.id: assert_plugged(world, vm.id, n, net)["id"] for n, net in ((nic1, world.red), (nic2, world.blue))
    }
    vm_svc.stop()

    vm_svc.preview_snapshot(snapshot=types.Snapshot(id=snap.id), restore_memory=False)
    assert nic_ids(world.system, vm.id) == [nic1.id]
    assert world.neutron.ports_of(nic1.id) == [] and world.neutron.ports_of(nic2.id) == []
    vm_svc.start()  # the snapshot's vNIC gets a port again on the next run
    previewed = assert_plugged(world, vm.id, nic1, world.red)
    assert previewed["id"] != first[nic1.id]
    vm_svc.stop()

    vm_svc.undo_snapshot()
    assert sorted(nic_ids(world.system, vm.id)) == sorted([nic1.id, nic2.id])
    assert world.neutron.ports_of(nic1.id) == [] and world.neutron.ports_of(nic2.id) == []
    vm_svc.start()
    assert_plugged(world, vm.id, nic1, world.red)
    assert_plugged(world, vm.id, nic2, world.blue)


def test_migration_rebinds_the_ports_and_moves_the_vm(world: World) -> None:
    vm, nics = run(world, [world.red.profile, world.blue.profile])
    source = host_of(world.system, vm.id)
    assert source is not None
    target = world.other_host(source)
    ports = {n.id: world.neutron.port_of(n.id)["id"] for n in nics}

    vm_service(world.system, vm.id).migrate(host=types.Host(id=target))
    assert host_of(world.system, vm.id) == target and vm_status(world.system, vm.id) == types.VmStatus.UP
    assert runs_only_on(world, vm.id, target)
    for nic, net in zip(nics, [world.red, world.blue], strict=True):
        port = assert_plugged(world, vm.id, nic, net)
        assert port["id"] == ports[nic.id]  # the same port, bound elsewhere
        assert port["binding:host_id"] == world.agents[target].host_name

    vm_service(world.system, vm.id).migrate()  # the scheduler's choice: the only other host
    assert host_of(world.system, vm.id) == source
    assert runs_only_on(world, vm.id, source)
    assert {world.neutron.port_of(n.id)["binding:host_id"] for n in nics} == {world.agents[source].host_name}


def test_removing_a_vm_deletes_all_its_ports(world: World) -> None:
    vm, nics = run(world, [world.red.profile, world.blue.profile])
    vm_svc = vm_service(world.system, vm.id)
    code, _ = refused(vm_svc.remove)
    assert code == 409  # a running VM is not removed
    vm_svc.stop()
    assert all(world.neutron.ports_of(n.id) for n in nics)

    vm_svc.remove()
    assert [world.neutron.ports_of(n.id) for n in nics] == [[], []]


def test_force_removing_a_data_center_deletes_the_ports_of_its_vnics(world: World) -> None:
    site = make_site(world.system, world.site.provider_id)
    net = external_network(world.system, site)
    agent = world.stack.agent(unique("gamma"))
    add_host(world.system, site, agent)
    vm, nics = add_vm(world.system, site, [net.profile, net.profile])
    vm_service(world.system, vm.id).start()
    vm_service(world.system, vm.id).stop()
    assert all(world.neutron.ports_of(n.id) for n in nics)

    code, _ = refused(lambda: world.system.data_centers_service().data_center_service(site.dc.id).remove())
    assert code == 409  # its network is in use
    world.system.data_centers_service().data_center_service(site.dc.id).remove(force=True)
    assert [world.neutron.ports_of(n.id) for n in nics] == [[], []]


def test_a_vm_that_fits_no_host_names_each_host_and_the_filter_that_excluded_it(world: World) -> None:
    site = make_site(world.system, world.site.provider_id)
    net = external_network(world.system, site)
    gone = world.stack.agent(unique("delta"))
    no_bridge = world.stack.agent(unique("epsilon"), "--vnic-driver", "OPEN_VSWITCH=noop")
    gone_host = add_host(world.system, site, gone)
    add_host(world.system, site, no_bridge)
    gone.stop()
    eventually(
        lambda: (
            world.system.hosts_service().host_service(gone_host.id).get().status
            == types.HostStatus.NON_RESPONSIVE
        ),
        what=f"host {gone.host_name} non_responsive",
    )
    vm, (nic1,) = add_vm(world.system, site, [net.profile])

    code, detail = refused(vm_service(world.system, vm.id).start)
    assert code in (400, 409), code
    assert detail.count("Cannot run VM.") == 1, detail
    assert f"{gone.host_name} (Up: the host is not Up)" in detail
    assert (
        f"{no_bridge.host_name} (VnicNetworks: vNIC nic1: its agent has no vNIC driver for plugin type "
        "LINUX_BRIDGE)"
    ) in detail
    assert vm_status(world.system, vm.id) == types.VmStatus.DOWN
    assert world.neutron.ports_of(nic1.id) == []  # nothing was created for a VM that could not be placed


# --- SecurityGroups, the vNIC profile's custom property -----------------------------------------------


def test_security_groups_come_from_the_profile(world: World) -> None:
    # the groups must live in the project the engine creates its ports in
    probe, _ = run(world, [world.red.profile])
    project = world.neutron.port_of(nic_ids(world.system, probe.id)[0])["project_id"]
    default = world.neutron.security_group(project)
    web, db = (
        world.neutron.security_group(project, unique("web")),
        world.neutron.security_group(project, unique("db")),
    )
    absent = world.red.profile  # the engine's profile: no custom property at all
    empty = profile_on(world.system, world.red, "")
    listed = profile_on(world.system, world.red, f"{web}, {db}")

    vm, (nic1, nic2, nic3) = run(world, [absent, empty, listed])

    groups = {n.id: sorted(world.neutron.port_of(n.id)["security_groups"]) for n in (nic1, nic2, nic3)}
    assert groups == {nic1.id: [default], nic2.id: [], nic3.id: sorted([web, db])}
    agent = world.agent_on(host_of(world.system, vm.id))
    applied = {k: sorted(v["plugged"]["security_groups"]) for k, v in agent_nics(agent, vm.id).items()}
    assert applied == groups

    # a changed property reaches the existing port on the next run (the port is updated, not replaced)
    port = world.neutron.port_of(nic2.id)["id"]
    vm_service(world.system, vm.id).stop()
    world.system.vnic_profiles_service().profile_service(empty.id).update(
        types.VnicProfile(custom_properties=[types.CustomProperty(name="SecurityGroups", value=web)])
    )
    vm_service(world.system, vm.id).start()
    updated = world.neutron.port_of(nic2.id)
    assert (updated["id"], updated["security_groups"]) == (port, [web])
    assert "port updated" in [s["name"] for s in steps_of(provisioning(world.stack, vm.id, nic2.id))]


@pytest.mark.parametrize("value", ["not-a-uuid", "0b2c6bc8-4c8e-4ab5-9f2b-4b7e1a7d0c31;", "web,db"])
def test_a_malformed_security_groups_property_is_refused_at_profile_add(world: World, value: str) -> None:
    code, detail = refused(lambda: profile_on(world.system, world.red, value))
    assert code == 400
    assert "illegal values" in detail and "SecurityGroups" in detail, detail


def test_an_unknown_custom_property_is_refused(world: World) -> None:
    code, detail = refused(
        lambda: world.system.vnic_profiles_service().add(
            types.VnicProfile(
                name=unique("prof"),
                network=types.Network(id=world.red.network.id),
                custom_properties=[types.CustomProperty(name="NoSuchProperty", value="x")],
            )
        )
    )
    assert code == 400 and "NoSuchProperty" in detail, detail
