"""The engine's VM/vNIC lifecycle at its edges: races between operations on one VM, failure paths that could
leave a port or a device behind, convergence after a crash, errors that must not escape as a 500.

Each test states the outcome the design asks for; the engine, the store (SQLite and PostgreSQL) and the unit of
work are real, the provider and the agents are the fakes of ``tests.support.fakes`` (the `world` of
``test_lifecycle``), except where the real ``AgentClient`` is the point.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy import event
from sqlalchemy.orm import Session

from neutrino.agent_api import schema as wire
from neutrino.engine.commands import hosts, nics, ports, snapshots, vms
from neutrino.engine.commands.common import EngineContext, Ref
from neutrino.engine.commands.converge import converge
from neutrino.engine.domain import model
from neutrino.engine.domain.errors import Conflict, EngineError, HostFailure
from neutrino.engine.domain.model import VmStatus
from neutrino.engine.domain.operations import OperationKind, StepName
from neutrino.engine.hosts.agent_client import AgentClient, AgentClients
from neutrino.engine.provider_clients.base import PortRequest
from tests.integration.engine import test_lifecycle as lifecycle
from tests.integration.engine.conftest import BuildEngine
from tests.support.fakes import FakeAgent
from tests.support.operations import in_flight

World = lifecycle.World
world = (
    lifecycle.world
)  # the fixture: an engine on each backend, a fake provider with two networks, hosts h1, h2


# --- helpers: acting at an exact point of a command ------------------------------------------------------


class Meanwhile:
    """A command run in another thread, started at a chosen moment of the test's own command."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.call = call
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.result = self.call()
        except BaseException as exc:  # reported by join()
            self.error = exc

    def start(self, wait: float) -> None:
        """Start it and give it ``wait`` seconds (on SQLite it waits for the test's writer transaction)."""
        self._thread.start()
        self._thread.join(wait)

    def join(self) -> Any:
        self._thread.join(60)
        assert not self._thread.is_alive(), "the concurrent command did not finish"
        return self.error


def _db(ctx: EngineContext) -> sa.Engine:
    uow = ctx.uow()
    bind: sa.Engine = uow._factory.kw["bind"]  # type: ignore[attr-defined]
    return bind


@contextmanager
def before_statement(ctx: EngineContext, prefix: str, action: Callable[[], None]) -> Iterator[list[bool]]:
    """Run ``action`` once, in this thread, right before this thread's first SQL statement starting with
    ``prefix`` (i.e. inside the command's open transaction, after what it has read so far)."""
    me, fired = threading.get_ident(), list[bool]()
    engine = _db(ctx)

    def hook(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if not fired and threading.get_ident() == me and statement.lstrip().upper().startswith(prefix):
            fired.append(True)
            action()

    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield fired
    finally:
        event.remove(engine, "before_cursor_execute", hook)


@contextmanager
def after_first_commit(action: Callable[[], None]) -> Iterator[list[bool]]:
    """Run ``action`` once, right after this thread's next committed transaction."""
    me, fired = threading.get_ident(), list[bool]()

    def hook(_session: Session) -> None:
        if not fired and threading.get_ident() == me:
            fired.append(True)
            action()

    event.listen(Session, "after_commit", hook)
    try:
        yield fired
    finally:
        event.remove(Session, "after_commit", hook)


@contextmanager
def after_first_transaction(action: Callable[[], None]) -> Iterator[list[bool]]:
    """Run ``action`` once, right after this thread's next transaction ends (a reader's included)."""
    me, fired = threading.get_ident(), list[bool]()

    def hook(_session: Session, transaction: Any) -> None:
        if not fired and threading.get_ident() == me and transaction.parent is None:
            fired.append(True)
            action()

    event.listen(Session, "after_transaction_end", hook)
    try:
        yield fired
    finally:
        event.remove(Session, "after_transaction_end", hook)


def _running_on(world: World, vm_id: str) -> list[str]:
    return sorted(name for name, agent in world.agents.items() if vm_id in agent.vms)


def _host_id(world: World, name: str) -> str:
    with world.ctx.reader() as uow:
        host = uow.hosts.first(name=name)
        assert host is not None
        return host.id


def _nic_named(world: World, vm_id: str, name: str) -> model.VmNic:
    with world.ctx.reader() as uow:
        nic = uow.nics.first(vm_id=vm_id, name=name)
        assert nic is not None
        return nic


# --- races between operations on one VM (PostgreSQL: READ COMMITTED, only locked rows are safe) ------------


def test_removing_a_vm_while_it_starts_never_leaves_it_running_unknown_to_the_engine(world: World) -> None:
    """remove_vm checks 'VM is running' on an unlocked read: on PostgreSQL a start that commits in between is not
    seen, the VM row is deleted under a run in flight, and the VM runs on its host with the engine knowing
    nothing of it (the monitor leaves VMs it does not know alone)."""
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    start = Meanwhile(lambda: vms.start_vm(world.ctx, vm_id))
    removed = True
    with before_statement(world.ctx, "DELETE", lambda: start.start(wait=3.0)) as fired:
        try:
            vms.remove_vm(world.ctx, vm_id)
        except Conflict:
            removed = False
    assert fired, "remove_vm deleted nothing"
    start.join()
    with world.ctx.reader() as uow:
        exists = uow.vms.get(vm_id) is not None
    if removed:
        assert not exists
        assert _running_on(world, vm_id) == [], "a VM the engine removed runs on a host"
    else:
        assert exists and world.get_vm(vm_id).status == VmStatus.UP


def test_a_nic_added_while_the_vm_starts_is_plugged_on_the_host_or_not_plugged(world: World) -> None:
    """add_nic decides 'the VM is down, no hot plug' on an unlocked read; on PostgreSQL a start that plans its
    vNICs meanwhile does not see the new one: the VM comes Up, the new vNIC is plugged in the engine (so every
    later check, e.g. convergence, expects it there) but the host never got it."""
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    start = Meanwhile(lambda: vms.start_vm(world.ctx, vm_id))
    with before_statement(world.ctx, "INSERT INTO VM_NICS", lambda: start.start(wait=3.0)) as fired:
        try:
            added: model.VmNic | None = nics.add_nic(world.ctx, vm_id, "nic2", Ref(id=world.profiles[1]))
        except Conflict:
            added = None
    assert fired
    assert start.join() is None
    assert world.get_vm(vm_id).status == VmStatus.UP
    agent = world.agents[world.host_name(vm_id)]
    if added is not None and world.nic(added.id).plugged:
        assert added.id in agent.nic_ids(vm_id), (
            f"nic2 is plugged in the engine (provisioning {world.nic(added.id).provisioning.state}) "
            f"but the host runs only {agent.nic_ids(vm_id)}"
        )


def test_activating_a_nic_while_another_hot_plug_runs_does_not_leave_it_believed_plugged(
    world: World,
) -> None:
    """set_plugged commits plugged=True, then hotplug() claims the VM in a second transaction; when another
    operation claimed it in between, the claim fails with a 409 but plugged=True stays: the engine believes the
    vNIC plugged, the host never got it (both backends)."""
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    vms.start_vm(world.ctx, vm_id)
    a = nics.add_nic(world.ctx, vm_id, "nic2", Ref(id=world.profiles[1]), plugged=False)
    b = nics.add_nic(world.ctx, vm_id, "nic3", Ref(id=world.profiles[1]), plugged=False)
    agent = world.agents[world.host_name(vm_id)]
    entered, release = threading.Event(), threading.Event()
    real_hotplug = agent.hotplug_nic

    def slow_hotplug(vm: str, nic: wire.NicSpec) -> wire.NicState:
        if nic.nic_id == b.id:
            entered.set()
            release.wait(20)
        return real_hotplug(vm, nic)

    agent.hotplug_nic = slow_hotplug  # type: ignore[assignment,method-assign]
    other = Meanwhile(lambda: nics.set_plugged(world.ctx, vm_id, b.id, True))

    def other_hot_plug_in_flight() -> None:
        other.start(wait=0)
        entered.wait(2)  # it reaches the host, or is refused because this activation holds the VM

    refused = None
    with after_first_commit(other_hot_plug_in_flight):
        try:
            nics.set_plugged(world.ctx, vm_id, a.id, True)
        except Conflict as exc:
            refused = exc.message
    release.set()
    error = other.join()  # one of the two may be refused (409): the other operation held the VM
    assert error is None or isinstance(error, Conflict), error
    for nic, name in ((a, "nic2"), (b, "nic3")):
        if world.nic(nic.id).plugged:
            assert nic.id in agent.nic_ids(vm_id), (
                f"{name} is plugged in the engine but not on the host; the activation answered: {refused}"
            )
    assert world.get_vm(vm_id).operation_id is None


def test_removing_a_nic_while_the_vm_starts_never_leaves_it_plugged_on_the_host(world: World) -> None:
    """remove_nic decides 'no hot unplug needed' in a reader (the VM is Down) and then, in its own unit of work,
    deletes the vNIC and its port without looking at the VM again. A start in between (both backends: the
    reader holds nothing) plugs the vNIC; the removal then deletes it from the engine and its port from the
    provider, and the host keeps the device plugged on a port that no longer exists."""
    vm_id, (n1, n2) = world.vm("vm1", world.profiles[0], world.profiles[1])
    vms.start_vm(world.ctx, vm_id)
    vms.stop_vm(world.ctx, vm_id)
    start = Meanwhile(lambda: vms.start_vm(world.ctx, vm_id))
    removed = True
    with after_first_transaction(lambda: start.start(wait=10.0)) as fired:
        try:
            nics.remove_nic(world.ctx, vm_id, n2)
        except Conflict:
            removed = False
    assert fired
    assert start.join() is None
    agent = world.agents[world.host_name(vm_id)]
    if removed:
        assert n2 not in agent.nic_ids(vm_id), (
            "the removed vNIC is still plugged on the host; its port exists on the provider: "
            f"{bool(world.provider.ports_of(n2))}"
        )
    else:
        assert n2 in agent.nic_ids(vm_id) and world.provider.ports_of(n2)


# --- failure paths that leave a device or a port behind -------------------------------------------------


def test_a_hot_plug_that_fails_its_check_unplugs_the_device_it_plugged(world: World) -> None:
    """hotplug(): the agent plugged the vNIC, the list-VMs check then fails; the undo marks it unplugged and
    deletes the port the hot plug created, but never asks the host to unplug: the device stays plugged on a
    port that no longer exists (undo the devices it plugged)."""
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    vms.start_vm(world.ctx, vm_id)
    agent = world.agents[world.host_name(vm_id)]

    def wrong_groups_on_new_nics(vm: dict[str, Any]) -> None:
        for nic in vm["nics"]:
            if nic["spec"]["nic_id"] != n1 and nic["plugged"]:
                nic["plugged"]["security_groups"] = []

    agent.tamper = wrong_groups_on_new_nics
    with pytest.raises(HostFailure):
        nics.add_nic(world.ctx, vm_id, "nic2", Ref(id=world.profiles[1]))
    nic2 = _nic_named(world, vm_id, "nic2")
    assert not nic2.plugged and not world.provider.ports_of(nic2.id)
    assert nic2.id not in agent.nic_ids(vm_id), "the failed hot plug left its device plugged on the host"


def test_a_failed_unplug_with_a_network_change_keeps_the_nic_and_its_port(world: World) -> None:
    """update_nic(profile to another network, plugged=False) on a running VM releases the port (and deletes it)
    and switches the profile before the host unplugs the vNIC; when the unplug fails, plugged goes back to True:
    the engine now believes the vNIC plugged on the new network with no port, while the host still has it
    plugged on the old port, which the provider no longer has."""
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    vms.start_vm(world.ctx, vm_id)
    [port] = world.provider.ports_of(n1)
    agent = world.agents[world.host_name(vm_id)]
    agent.fail_on.add("hotunplug_nic")
    # refused before anything changes (the engine asks for two steps), or tried and undone: either way whole
    with pytest.raises((HostFailure, Conflict)):
        nics.update_nic(
            world.ctx, vm_id, n1, nics.NicChanges(vnic_profile=Ref(id=world.profiles[1]), plugged=False)
        )
    nic = world.nic(n1)
    assert n1 in agent.nic_ids(vm_id) and nic.plugged
    assert (nic.vnic_profile_id, nic.port_id) == (world.profiles[0], port.id), (
        "the failed edit was half applied"
    )
    assert world.provider.ports_of(n1) == [port], "the port of a vNIC still plugged on the host was deleted"


def test_the_janitor_never_deletes_a_port_a_vnic_uses_again(world: World) -> None:
    """A run fails after creating the port; the provider refuses the delete, so the port is an orphan row. The
    next run finds the same port by device_id (same network and MAC) and uses it; then the janitor deletes it
    under the running VM."""
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    for agent in world.agents.values():
        agent.fail_on.add("create_vm")
    world.provider.fail_on["delete_port"] = 0
    with pytest.raises(HostFailure):
        vms.start_vm(world.ctx, vm_id)
    with world.ctx.reader() as uow:
        assert len(uow.orphan_ports.list()) == 1
    for agent in world.agents.values():
        agent.fail_on.discard("create_vm")
    world.provider.fail_on.clear()

    vms.start_vm(world.ctx, vm_id)
    used = world.nic(n1).port_id
    assert used is not None and used in world.provider.ports
    ports.janitor(world.ctx)
    assert world.get_vm(vm_id).status == VmStatus.UP
    assert used in world.provider.ports, "the janitor deleted the port of a running VM's vNIC"


def test_a_snapshot_preview_while_the_provider_is_down_does_not_cost_the_next_run_its_port(
    world: World,
) -> None:
    """Preview with the provider down: the replaced vNIC's port becomes an orphan; the restored vNIC has the same
    id and MAC, so the next run finds that very port and uses it, and the janitor then deletes it."""
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    snap = snapshots.add_snapshot(world.ctx, vm_id, "before")
    vms.start_vm(world.ctx, vm_id)
    vms.stop_vm(world.ctx, vm_id)
    world.provider.down = True
    snapshots.preview_snapshot(world.ctx, vm_id, snap.id)
    world.provider.down = False
    vms.start_vm(world.ctx, vm_id)
    used = world.nic(n1).port_id
    ports.janitor(world.ctx)
    assert used in world.provider.ports, "the janitor deleted the port the previewed VM runs with"


# --- convergence after a crash (the engine restarts with an operation in flight) ---------------------------


def test_convergence_after_an_interrupted_hot_plug_keeps_the_vm_running(world: World) -> None:
    """A hot plug recorded at its first step (the VM claimed, the agent not yet asked) when the engine died:
    convergence leaves the VM running on its host, and the new vNIC plugged only if the host has it."""
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    vms.start_vm(world.ctx, vm_id)
    host = world.host_name(vm_id)
    nic2 = nics.add_nic(world.ctx, vm_id, "nic2", Ref(id=world.profiles[1]), plugged=False)
    with (
        world.ctx.uow() as uow
    ):  # the engine died after claiming the VM for the hot plug, before the agent call
        vm, nic = uow.vms.get(vm_id), uow.nics.get(nic2.id)
        assert vm is not None and nic is not None
        nic.plugged = True
        in_flight(
            uow,
            vm,
            OperationKind.HOTPLUG,
            StepName.CLAIMED,
            op_id="op-hotplug",
            nic_id=nic.id,
            source_host_id=vm.host_id,
        )
        ports.begin(nic)
        uow.commit()
    converge(world.ctx)
    vm = world.get_vm(vm_id)
    assert (vm.status, vm.operation_id) == (VmStatus.UP, None)
    assert _running_on(world, vm_id) == [host], "converging a hot plug powered off the running VM"
    if world.nic(nic2.id).plugged:
        assert nic2.id in world.agents[host].nic_ids(vm_id)


def test_convergence_after_an_interrupted_hot_unplug_leaves_no_device_the_engine_calls_unplugged(
    world: World,
) -> None:
    """A hot unplug recorded at its first step (plugged=False committed, the agent not yet asked): convergence
    leaves the VM Up and the vNIC plugged on the host exactly when the engine says it is."""
    vm_id, (n1, n2) = world.vm("vm1", world.profiles[0], world.profiles[1])
    vms.start_vm(world.ctx, vm_id)
    host = world.host_name(vm_id)
    with world.ctx.uow() as uow:
        vm, nic = uow.vms.get(vm_id), uow.nics.get(n2)
        assert vm is not None and nic is not None
        nic.plugged = False
        in_flight(
            uow,
            vm,
            OperationKind.HOTUNPLUG,
            StepName.CLAIMED,
            op_id="op-unplug",
            nic_id=nic.id,
            source_host_id=vm.host_id,
        )
        uow.commit()
    converge(world.ctx)
    assert world.get_vm(vm_id).status == VmStatus.UP
    plugged_on_host = n2 in world.agents[host].nic_ids(vm_id)
    assert plugged_on_host == world.nic(n2).plugged, (
        f"engine: plugged={world.nic(n2).plugged}; host {host}: plugged={plugged_on_host}"
    )


def test_convergence_after_an_interrupted_migration_binds_the_ports_back_to_the_source(world: World) -> None:
    """A migration recorded at its ports step (the port already rebound to the destination, create-VM not sent):
    convergence keeps the VM Up on its source and binds the port back there."""
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    vms.start_vm(world.ctx, vm_id)
    source = world.host_name(vm_id)
    dest = "h2" if source == "h1" else "h1"
    [port] = world.provider.ports_of(n1)
    world.provider.update_port(
        port.id,
        PortRequest(
            network_id=port.network_id,
            mac_address=port.mac_address,
            name=port.name,
            device_id=n1,
            host_id=dest,
        ),
    )
    with world.ctx.uow() as uow:
        vm = uow.vms.get(vm_id)
        assert vm is not None
        vm.status = VmStatus.MIGRATING
        in_flight(
            uow,
            vm,
            OperationKind.MIGRATE,
            StepName.PORTS,
            op_id="op-m",
            source_host_id=vm.host_id,
            target_host_id=_host_id(world, dest),
        )
        uow.commit()
    converge(world.ctx)
    vm = world.get_vm(vm_id)
    assert (vm.status, world.host_name(vm_id)) == (VmStatus.UP, source)
    assert world.provider.ports[port.id].host_id == source, (
        "the port stays bound to the host the VM never reached"
    )


def test_convergence_after_a_migration_that_reached_its_destination_keeps_the_vm_running(
    world: World,
) -> None:
    """A migration recorded at its last step (verified on the destination, the source's VM already gone):
    convergence finishes it, and the VM stays Up on the destination."""
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    vms.start_vm(world.ctx, vm_id)
    source = world.host_name(vm_id)
    dest = "h2" if source == "h1" else "h1"
    world.agents[dest].vms[vm_id] = world.agents[source].vms.pop(vm_id)  # where the migration had got to
    with world.ctx.uow() as uow:
        vm = uow.vms.get(vm_id)
        assert vm is not None
        vm.status = VmStatus.MIGRATING
        in_flight(
            uow,
            vm,
            OperationKind.MIGRATE,
            StepName.SOURCE_OFF,
            op_id="op-m",
            source_host_id=vm.host_id,
            target_host_id=_host_id(world, dest),
        )
        uow.commit()
    converge(world.ctx)
    vm = world.get_vm(vm_id)
    assert _running_on(world, vm_id) != [], (
        "converge powered off a VM that runs on the migration's destination"
    )
    assert (vm.status, world.host_name(vm_id)) == (VmStatus.UP, dest)


# --- errors that escape as a 500 and leave a transient state -------------------------------------------------


def _json(answer: BaseModel) -> Any:
    return answer.model_dump(mode="json")


class _AgentOverHttp:
    """The agent API served from a FakeAgent through httpx.MockTransport, so the real AgentClient (and the real
    AgentClients cache) talk to it."""

    def __init__(self, fake: FakeAgent, on_request: Callable[[str, str], None] | None = None) -> None:
        self.fake, self.on_request = fake, on_request

    def __call__(self, request: httpx.Request) -> httpx.Response:
        method, path = request.method, request.url.path.removeprefix("/api/v1")
        if self.on_request is not None:
            self.on_request(method, path)
        body: Any = json.loads(request.content) if request.content else {}
        parts = path.strip("/").split("/")
        try:
            if (method, path) == ("GET", "/capabilities"):
                return httpx.Response(200, json=_json(self.fake.capabilities()))
            if (method, path) == ("PUT", "/networks"):
                sync = wire.NetworkSync.model_validate(body)
                return httpx.Response(200, json=_json(self.fake.sync_networks(sync.networks)))
            if (method, path) == ("GET", "/vms"):
                return httpx.Response(200, json={"vms": [_json(vm) for vm in self.fake.list_vms()]})
            if (method, path) == ("POST", "/vms"):
                return httpx.Response(201, json=_json(self.fake.create_vm(wire.VmSpec.model_validate(body))))
            if method == "GET" and parts[0] == "vms" and len(parts) == 2:
                found = self.fake.get_vm(parts[1])
                return httpx.Response(200, json=_json(found)) if found else httpx.Response(404, json={})
            if method == "DELETE" and parts[0] == "vms" and len(parts) == 2:
                self.fake.destroy_vm(parts[1])
                return httpx.Response(204)
        except HostFailure as exc:
            return httpx.Response(500, json={"error": {"code": "Failed", "message": exc.message}})
        return httpx.Response(404, json={"error": {"code": "NotFound", "message": path}})


def test_rotating_a_hosts_token_during_a_run_does_not_leave_the_vm_stuck(world: World) -> None:
    """AgentClients closes a host's cached client when its token changes, although a run still holds it; the
    run's next agent call raises RuntimeError ('client has been closed'), which run_vm does not catch (it
    catches EngineError only): no undo, the VM stays PoweringUp with its operation, on the host, and stop
    refuses it until the engine restarts; the API answers 500 'the operation was not applied'."""
    ctx = world.ctx
    rotate: list[str] = []

    def on_request(method: str, path: str) -> None:
        if (method, path) == ("POST", "/vms") and not rotate:
            with ctx.reader() as uow:
                vm = uow.vms.get(vm_id)
                assert vm is not None and vm.host_id is not None
                rotate.append(vm.host_id)
            hosts.update_host(ctx, rotate[0], hosts.HostChanges(root_password="rotated"))

    ctx.agent_client = AgentClients(
        ctx.secrets,
        factory=lambda where: AgentClient(
            where, transport=httpx.MockTransport(_AgentOverHttp(world.agents[where.name], on_request))
        ),
    )
    vm_id, _ = world.vm("vm1", world.profiles[0])
    escaped: Exception | None = None
    try:
        vms.start_vm(ctx, vm_id)
    except EngineError:
        pass  # a clear fault is fine
    except Exception as exc:  # what the API answers with a 500
        escaped = exc
    assert rotate, "the run never reached create-VM"
    vm = world.get_vm(vm_id)
    assert vm.operation_id is None and vm.status in (VmStatus.UP, VmStatus.DOWN), (
        f"the VM is left {vm.status.value} with operation {vm.operation_id}, running on {_running_on(world, vm_id)}"
        f"; the run raised {escaped!r}"
    )
    assert (vm.status == VmStatus.UP) == bool(_running_on(world, vm_id))
    assert escaped is None, f"not a clear fault: {escaped!r}"


def test_a_host_address_with_a_port_is_a_clear_fault_not_a_host_stuck_installing(
    make_engine: BuildEngine,
) -> None:
    """add_host commits the host (Installing), then builds the agent client outside refresh_host's error
    handling: an address httpx cannot put in a URL (here 'host:port', a common mistake) raises httpx.InvalidURL,
    a 500; the host stays Installing for good (every monitor round logs the same traceback)."""
    engine = make_engine(mac_pool_range="56:6f:11:00:00:00-56:6f:11:00:00:ff")
    ctx = engine.ctx
    with ctx.reader() as uow:
        cluster = uow.clusters.first(name="Default")
        assert cluster is not None
    escaped: Exception | None = None
    try:
        hosts.add_host(ctx, "typo", "127.0.0.1:54321", Ref(id=cluster.id), root_password="token")
    except EngineError:
        pass  # refused with a clear fault: fine
    except Exception as exc:  # what the API answers with a 500
        escaped = exc
    with ctx.reader() as uow:
        stored = uow.hosts.first(name="typo")
    if stored is not None:  # kept: then it must say why it is not Up
        assert stored.status == model.HostStatus.NON_RESPONSIVE and stored.status_detail, (
            f"host left {stored.status.value}; add_host raised {escaped!r}"
        )
    assert escaped is None, f"not a clear fault: {escaped!r}"
