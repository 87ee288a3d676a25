"""Failures during the vNIC port lifecycle lose nothing and leave nothing behind: a host agent that dies
having run the VM, before its answer to create-VM (which is its report of the VM) reaches the engine, a provider that stops during a run or a VM removal, an engine SIGKILLed in
the middle of a run.

`neutrino engine` and `neutrino provider` run as separate processes (so each can be stopped, killed and started
again on the same port, data directory and database), the engine with a 2 s janitor and a 1 s host monitor. A
small proxy of the test's own sits in front of the provider and, where a test needs it, in front of an agent,
to act at an exact point of the conversation.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import ovirtsdk4.types as types
import pytest

from tests.e2e.lifecycle.conftest import Agent, Stack, engine_and_provider
from tests.e2e.lifecycle.helpers import (
    EngineSession,
    ExternalNet,
    Neutron,
    Site,
    add_host,
    add_vm,
    agent_vms,
    eventually,
    external_network,
    host_of,
    make_site,
    provisioning,
    refused,
    register_provider,
    settled,
    unique,
    vm_service,
    vm_status,
)
from tests.support.proxy import DropAnswer, Proxy, proxy_to

JANITOR_INTERVAL = 2.0
VMS_PATH = "/api/v1/vms"


@dataclass
class World(EngineSession):
    stack: Stack
    neutron: Neutron
    provider_proxy: Proxy  # the engine reaches the provider through it
    provider_id: str

    def site(self) -> tuple[Site, ExternalNet]:
        site = make_site(self.system, self.provider_id)
        return site, external_network(self.system, site)

    def all_nic_ids(self) -> set[str]:
        vms = self.system.vms_service()
        return {n.id for vm in vms.list() for n in vms.vm_service(vm.id).nics_service().list()}

    def unowned_ports(self) -> list[dict[str, Any]]:
        """Ports the engine made (device_owner oVirt) whose vNIC does not exist."""
        known = self.all_nic_ids()
        return [p for p in self.neutron.engine_ports() if p["device_id"] not in known]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    directory = tmp_path_factory.mktemp("faults")
    with (
        engine_and_provider("sqlite", directory, janitor_interval=JANITOR_INTERVAL) as stack,
        proxy_to(stack.provider_url) as provider_proxy,
    ):
        conn = stack.connection()
        provider_id = register_provider(conn.system_service(), stack, provider_proxy.url)
        conn.close()
        world = World(stack, Neutron(stack.provider_url), provider_proxy, provider_id)
        yield world
        world.reconnect()


@pytest.fixture
def provider_restored(world: World) -> Iterator[None]:
    """The provider runs again after the test, whatever the test did to it, and the proxy is plain again."""
    yield
    world.provider_proxy.before = world.provider_proxy.after = None
    assert world.stack.provider is not None
    if not world.stack.provider.running:
        world.stack.provider.start()


def assert_down_and_off(world: World, vm_id: str, agent: Agent | None = None) -> None:
    assert vm_status(world.system, vm_id) == types.VmStatus.DOWN
    assert host_of(world.system, vm_id) is None
    for nic in vm_service(world.system, vm_id).nics_service().list():
        assert provisioning(world.stack, vm_id, nic.id).get("state") != "plugged"
    if agent is not None and agent.running:
        assert vm_id not in agent_vms(agent)


def assert_consistent(world: World, vm_id: str, agent: Agent) -> None:
    """Engine, agent and provider agree: the VM is Up on the agent with each vNIC plugged into the port the
    engine records, or it is Down and the agent does not run it."""
    status = vm_status(world.system, vm_id)
    assert status in (types.VmStatus.UP, types.VmStatus.DOWN), status
    listed = agent_vms(agent)
    assert (vm_id in listed) == (status == types.VmStatus.UP), (status, list(listed))
    nics = vm_service(world.system, vm_id).nics_service().list()
    if status == types.VmStatus.DOWN:
        assert host_of(world.system, vm_id) is None
        assert all(provisioning(world.stack, vm_id, n.id).get("state") != "plugged" for n in nics)
        return
    reported = {n["spec"]["nic_id"]: n for n in listed[vm_id]["nics"]}
    for nic in nics:
        record = provisioning(world.stack, vm_id, nic.id)
        port = world.neutron.port_of(nic.id)
        assert (record["state"], record["port_id"]) == ("plugged", port["id"])
        assert reported[nic.id]["state"] == "plugged" and reported[nic.id]["plugged"]["vnic_id"] == port["id"]


def agreement(world: World, vm_id: str, agent: Agent) -> bool | tuple[str, list[str]]:
    """True when the agent runs the VM exactly if the engine believes it Up; else what each side says."""
    status = vm_status(world.system, vm_id)
    listed = list(agent_vms(agent))
    if (vm_id in listed) == (status == types.VmStatus.UP):
        return True
    return f"the engine says {status.value}; agent {agent.host_name} runs", listed


# --- (a) the agent stops having run the VM, before its answer reaches the engine ------------------------


class DiesAfterCreate:
    """Proxy hook: once the agent has answered a create-VM (the VM runs there, its vNICs plugged), it is
    SIGKILLed and its answer never reaches the engine, which finds nobody when it asks again."""

    def __init__(self, agent: Agent) -> None:
        self.agent, self.killed = agent, threading.Event()

    def after(self, method: str, path: str, status: int) -> None:
        if method == "POST" and path == VMS_PATH and not self.killed.is_set():
            self.agent.kill()
            self.killed.set()
            raise DropAnswer


def _run_while_the_agent_dies(
    world: World,
) -> tuple[types.Vm, list[types.Nic], Agent, tuple[int | None, str]]:
    site, net = world.site()
    agent = world.stack.agent(unique("a"))
    hooks = DiesAfterCreate(agent)
    proxy = Proxy(agent.url.removesuffix("/api/v1"), after=hooks.after).start()
    world.stack.cleanup(proxy.close)
    add_host(world.system, site, agent, port=proxy.port)
    vm, nics = add_vm(world.system, site, [net.profile, net.profile])
    outcome = refused(vm_service(world.system, vm.id).start)
    assert hooks.killed.is_set(), "the agent was not stopped: the proxy never saw create-VM"
    return vm, nics, agent, outcome


@dataclass
class AgentDied:
    vm: types.Vm
    nics: list[types.Nic]
    agent: Agent
    code: int | None
    detail: str


@pytest.fixture(scope="module")
def agent_died(world: World) -> AgentDied:
    """One run during which the host agent stops having run the VM, before its answer to create-VM."""
    vm, nics, agent, (code, detail) = _run_while_the_agent_dies(world)
    return AgentDied(vm, nics, agent, code, detail)


def test_agent_stopped_before_its_answer_to_create_vm(world: World, agent_died: AgentDied) -> None:
    assert_down_and_off(world, agent_died.vm.id)
    # the ports this run created are gone from the provider (it answers, so at once)
    assert [world.neutron.ports_of(n.id) for n in agent_died.nics] == [[], []]
    assert f"Host {agent_died.agent.host_name} cannot be reached" in agent_died.detail, agent_died.detail


def test_a_run_failing_on_its_host_says_it_is_the_run_that_failed(agent_died: AgentDied) -> None:
    # as every other run failure does: "Cannot run VM. <where and why>"
    assert agent_died.detail.startswith("[Cannot run VM. "), agent_died.detail


def test_an_agent_back_after_dying_mid_run_does_not_keep_running_the_vm(world: World) -> None:
    vm, _, agent, _ = _run_while_the_agent_dies(world)
    assert vm_status(world.system, vm.id) == types.VmStatus.DOWN

    agent.start()  # same port and data directory: it replays what it was asked to run
    host = [h for h in world.system.hosts_service().list() if h.name == agent.host_name][0]
    eventually(
        lambda: world.system.hosts_service().host_service(host.id).get().status == types.HostStatus.UP,
        what=f"host {agent.host_name} Up again",
    )
    # the engine gave the run up (VM Down, ports deleted): the host must not go on running it
    assert settled(lambda: agreement(world, vm.id, agent), True, timeout=10.0) is True, agreement(
        world, vm.id, agent
    )
    assert_consistent(world, vm.id, agent)


# --- (b) the provider stops during a run ----------------------------------------------------------------


def test_provider_down_before_a_run_fails_it_cleanly(world: World, provider_restored: None) -> None:
    site, net = world.site()
    add_host(world.system, site, world.stack.agent(unique("b")))
    vm, (nic1, nic2) = add_vm(world.system, site, [net.profile, net.profile])
    assert world.stack.provider is not None
    world.stack.provider.stop()

    code, detail = refused(vm_service(world.system, vm.id).start)
    assert "Cannot run VM. vNIC nic1:" in detail and "cannot connect" in detail, detail
    assert_down_and_off(world, vm.id)

    world.stack.provider.start()
    assert world.neutron.ports_of(nic1.id) == [] and world.neutron.ports_of(nic2.id) == []
    # the vNIC the message names tells why itself: no log needed
    record = provisioning(world.stack, vm.id, nic1.id)
    assert (record["state"], "cannot connect" in (record.get("last_error") or "")) == ("failed", True), record


def test_provider_stopped_during_a_run_leaves_nothing_behind_once_back(
    world: World, provider_restored: None
) -> None:
    site, net = world.site()
    agent = world.stack.agent(unique("b"))
    add_host(world.system, site, agent)
    vm, (nic1, nic2) = add_vm(world.system, site, [net.profile, net.profile])
    provider = world.stack.provider
    assert provider is not None
    created: list[str] = []

    def after(method: str, path: str, status: int) -> None:
        if method == "POST" and path.startswith("/v2.0/ports") and status == 201:
            created.append(path)

    def before(method: str, path: str) -> None:
        if created and provider.running:
            provider.stop()  # the port create went through; nothing after it does

    world.provider_proxy.after, world.provider_proxy.before = after, before
    code, detail = refused(vm_service(world.system, vm.id).start)
    world.provider_proxy.after = world.provider_proxy.before = None

    assert created, "the run never created a port"
    # the first call after nic1's port create fails: the message names the vNIC it was for
    failed = "nic2" if "Cannot run VM. vNIC nic2:" in detail else "nic1"
    assert f"Cannot run VM. vNIC {failed}:" in detail, detail
    assert_down_and_off(world, vm.id, agent)
    failed_id = (nic1 if failed == "nic1" else nic2).id
    assert provisioning(world.stack, vm.id, failed_id)["last_error"], "the vNIC does not say why it failed"

    provider.start()
    # what the run created goes, at the latest when the janitor (every 2 s) has been round
    left = settled(
        lambda: world.neutron.ports_of(nic1.id) + world.neutron.ports_of(nic2.id),
        [],
        timeout=4 * JANITOR_INTERVAL + 2,
    )
    assert left == [], f"the failed run left {len(left)} port(s) on the provider: {left}"
    assert world.unowned_ports() == []

    # and nothing stops the next run
    vm_service(world.system, vm.id).start()
    assert vm_status(world.system, vm.id) == types.VmStatus.UP
    assert len(world.neutron.ports_of(nic1.id)) == 1 and len(world.neutron.ports_of(nic2.id)) == 1


# --- (c) the provider stops during a VM's removal -------------------------------------------------------


def test_provider_down_does_not_block_removing_a_vm_and_the_janitor_cleans_up(
    world: World, provider_restored: None
) -> None:
    site, net = world.site()
    add_host(world.system, site, world.stack.agent(unique("c")))
    vm, nics = add_vm(world.system, site, [net.profile, net.profile])
    vm_service(world.system, vm.id).start()
    vm_service(world.system, vm.id).stop()
    ports = [world.neutron.port_of(n.id)["id"] for n in nics]
    provider = world.stack.provider
    assert provider is not None
    provider.stop()

    vm_service(world.system, vm.id).remove()
    assert vm.id not in {v.id for v in world.system.vms_service().list()}

    provider.start()
    left = settled(
        lambda: [p["id"] for p in world.neutron.engine_ports() if p["id"] in ports],
        [],
        timeout=4 * JANITOR_INTERVAL + 2,
    )
    assert left == [], "the janitor did not delete the removed VM's ports"
    assert world.unowned_ports() == []


def test_provider_down_does_not_block_removing_a_vnic_or_force_removing_a_data_center(
    world: World, provider_restored: None
) -> None:
    site, net = world.site()
    add_host(world.system, site, world.stack.agent(unique("c")))
    vm, (nic1, nic2) = add_vm(world.system, site, [net.profile, net.profile])
    vm_service(world.system, vm.id).start()
    vm_service(world.system, vm.id).stop()
    ports = [world.neutron.port_of(n.id)["id"] for n in (nic1, nic2)]
    provider = world.stack.provider
    assert provider is not None
    provider.stop()

    vm_service(world.system, vm.id).nics_service().nic_service(nic1.id).remove()
    world.system.data_centers_service().data_center_service(site.dc.id).remove(force=True)
    assert [n.id for n in vm_service(world.system, vm.id).nics_service().list()] == [nic2.id]

    provider.start()
    left = settled(
        lambda: [p["id"] for p in world.neutron.engine_ports() if p["id"] in ports],
        [],
        timeout=4 * JANITOR_INTERVAL + 2,
    )
    assert left == [], "the janitor did not delete the ports given up while the provider was down"


# --- (d) the engine is SIGKILLed in the middle of a run ------------------------------------------------


class Held:
    """Proxy hooks: the first ``method path`` request is held back until the test releases it."""

    def __init__(self, method: str, path: str) -> None:
        self.method, self.path = method, path
        self.arrived, self.released, self.answered = threading.Event(), threading.Event(), threading.Event()

    def before(self, method: str, path: str) -> None:
        if (method, path) == (self.method, self.path) and not self.arrived.is_set():
            self.arrived.set()
            self.released.wait(60)

    def after(self, method: str, path: str, status: int) -> None:
        if (method, path) == (self.method, self.path) and not self.answered.is_set():
            self.answered.set()

    def let_go(self) -> None:
        """Release the held request and wait until the server behind has answered it."""
        self.released.set()
        assert self.answered.wait(30), f"the held {self.method} {self.path} never got its answer"


@pytest.fixture
def engine_restored(world: World) -> Iterator[None]:
    """The engine runs again after the test, whatever the test did to it."""
    yield
    if not world.stack.engine.running:
        world.stack.engine.start()
        world.reconnect()


def _start_and_kill_the_engine(world: World, vm_id: str, held: Held) -> None:
    """Start the VM in the background and SIGKILL the engine's process group while ``held`` holds its request."""

    def start() -> None:
        conn = world.stack.connection()
        with contextlib.suppress(Exception):  # the engine dies under the call
            conn.system_service().vms_service().vm_service(vm_id).start()
        with contextlib.suppress(Exception):
            conn.close()

    caller = threading.Thread(target=start, daemon=True)
    caller.start()
    assert held.arrived.wait(30), f"{held.method} {held.path} never reached the proxy"
    world.stack.engine.kill()
    caller.join(30)
    world.reconnect()


def _kill_the_engine_during_create(world: World) -> tuple[types.Vm, Agent, Held]:
    site, net = world.site()
    agent = world.stack.agent(unique("d"))
    held = Held("POST", VMS_PATH)
    proxy = Proxy(agent.url.removesuffix("/api/v1"), held.before, held.after).start()
    world.stack.cleanup(proxy.close)
    world.stack.cleanup(held.released.set)  # never leave a proxy thread waiting
    add_host(world.system, site, agent, port=proxy.port)
    vm, _ = add_vm(world.system, site, [net.profile, net.profile])
    _start_and_kill_the_engine(world, vm.id, held)
    return vm, agent, held


def test_engine_killed_mid_run_converges_on_restart(world: World, engine_restored: None) -> None:
    vm, agent, held = _kill_the_engine_during_create(world)
    held.let_go()  # create-VM reaches the agent after the engine that sent it died

    world.stack.engine.start()  # same database and data directory; converges before it serves

    assert_consistent(world, vm.id, agent)
    assert settled(world.unowned_ports, [], timeout=4 * JANITOR_INTERVAL + 2) == []


def test_engine_restarted_while_its_create_vm_is_still_in_flight_converges(
    world: World, engine_restored: None
) -> None:
    vm, agent, held = _kill_the_engine_during_create(world)

    world.stack.engine.start()  # converges while create-VM is still on its way to the agent
    assert vm_status(world.system, vm.id) in (types.VmStatus.UP, types.VmStatus.DOWN)
    held.let_go()

    # the create landed after the engine settled the run: the agent and the engine must come to agree
    assert settled(lambda: agreement(world, vm.id, agent), True, timeout=10.0) is True, agreement(
        world, vm.id, agent
    )
    assert_consistent(world, vm.id, agent)
    assert settled(world.unowned_ports, [], timeout=4 * JANITOR_INTERVAL + 2) == []


def test_engine_killed_while_a_port_is_being_created_converges_on_restart(
    world: World, provider_restored: None, engine_restored: None
) -> None:
    site, net = world.site()
    agent = world.stack.agent(unique("d"))
    add_host(world.system, site, agent)
    vm, nics = add_vm(world.system, site, [net.profile, net.profile])
    held = Held("POST", "/v2.0/ports")
    world.stack.cleanup(held.released.set)
    world.provider_proxy.before, world.provider_proxy.after = held.before, held.after
    _start_and_kill_the_engine(world, vm.id, held)
    held.let_go()  # the port is created after the engine that asked for it died
    world.provider_proxy.before = world.provider_proxy.after = None

    world.stack.engine.start()

    assert_consistent(world, vm.id, agent)
    assert settled(world.unowned_ports, [], timeout=4 * JANITOR_INTERVAL + 2) == []
    # the next run finds the port the killed run created rather than making a second one
    if vm_status(world.system, vm.id) == types.VmStatus.DOWN:
        vm_service(world.system, vm.id).start()
    assert_consistent(world, vm.id, agent)
    assert [len(world.neutron.ports_of(n.id)) for n in nics] == [1, 1]
