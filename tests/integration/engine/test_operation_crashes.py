"""The engine killed at every step of every operation (run, stop, hot plug, hot unplug, migrate), then started
again: convergence reads the operation's record and leaves engine, hosts and provider agreeing.

"Killed" is a BaseException raised from the operation log at the chosen point: nothing catches it, so the
command's open transaction rolls back and no undo runs, as when the process dies. The matrix runs on SQLite;
a subset runs on PostgreSQL too. Provider and agents are fakes at the engine's own seams.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from neutrino.engine.commands import converge as convergence
from neutrino.engine.commands import nics, operations, vms
from neutrino.engine.commands.common import Ref
from neutrino.engine.commands.migrate import migrate_vm
from neutrino.engine.commands.monitoring import monitor_all
from neutrino.engine.domain.model import NicState, VmStatus
from neutrino.engine.domain.operations import OperationState, StepName
from tests.integration.engine import test_lifecycle as lifecycle

World = lifecycle.World
world = lifecycle.world


class Killed(BaseException):
    """The engine process died here."""


@pytest.fixture
def kill_at(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], None]:
    """``kill_at(moment, step)``: die when the operation log enters ``step`` — "before" its record is committed
    (the previous step has acted), "after" it (recorded, not acted) — or ("finish", "") before it closes done."""

    def arm(moment: str, step: str) -> None:
        enter, close = operations.OperationLog.enter, operations.OperationLog.close

        def entering(self: operations.OperationLog, name: StepName, *args: Any, **kw: Any) -> None:
            if name == step and moment == "before":
                raise Killed(f"before {name}")
            enter(self, name, *args, **kw)
            if name == step and moment == "after":
                raise Killed(f"after {name}")

        def closing(self: operations.OperationLog, uow: Any, state: OperationState, error: str = "") -> None:
            if moment == "finish" and state == OperationState.DONE:
                raise Killed("before finishing")
            close(self, uow, state, error)

        monkeypatch.setattr(operations.OperationLog, "enter", entering)
        monkeypatch.setattr(operations.OperationLog, "close", closing)

    return arm


def restart(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new engine process: no operation is its own, and the log is the real one again."""
    monkeypatch.undo()
    world.ctx.active_operations.clear()
    assert convergence.converge(world.ctx) == 1


def crash(command: Callable[[], object]) -> None:
    with pytest.raises(Killed):
        command()


def host_of(world: World, vm_id: str) -> str | None:
    vm = world.get_vm(vm_id)
    return world.host_name(vm_id) if vm.host_id else None


def assert_agreed(world: World, vm_id: str) -> None:
    """Nothing in flight; engine, hosts and provider agree on where the VM runs and what is plugged."""
    vm = world.get_vm(vm_id)
    assert vm.status in (VmStatus.UP, VmStatus.DOWN) and vm.operation_id is None, (vm.status, vm.operation_id)
    with world.ctx.reader() as uow:
        assert not operations.running(uow), "an operation is still in flight after convergence"
        vm_nics = list(uow.nics.list(vm_id=vm_id))
    running_on = sorted(name for name, agent in world.agents.items() if vm_id in agent.vms)
    if vm.status == VmStatus.DOWN:
        assert running_on == [] and vm.host_id is None, running_on
    else:
        assert running_on == [host_of(world, vm_id)], running_on
    on_host = set(world.agents[running_on[0]].nic_ids(vm_id)) if running_on else set()
    for nic in vm_nics:
        plugged_here = vm.status == VmStatus.UP and nic.plugged
        assert (nic.id in on_host) == plugged_here, (nic.name, nic.plugged, on_host)
        assert (nic.provisioning.state == NicState.PLUGGED) == plugged_here, (
            nic.name,
            nic.provisioning.state,
        )
        assert nic.port_created_by is None
        ports = world.provider.ports_of(nic.id)
        if nic.port_id is not None:  # a port the engine records exists; none other is left for the vNIC
            assert [p.id for p in ports] == [nic.port_id]
        else:
            assert ports == [], f"{nic.name}: provider ports {ports} the engine does not know"
        if plugged_here and nic.vnic_profile_id != world.internal_profile:
            assert ports and ports[0].host_id == host_of(world, vm_id), "the port is bound where the VM runs"


# --- the matrix --------------------------------------------------------------------------------------------

RUN = [
    ("before", "ports"),
    ("after", "ports"),
    ("before", "on_host"),
    ("after", "on_host"),
    ("before", "verified"),
]
HOTPLUG = RUN
HOTUNPLUG = [("before", "on_host"), ("after", "on_host")]
MIGRATE = [*RUN, ("before", "source_off"), ("after", "source_off")]
STOP = [("before", "on_host")]
FINISH = [("finish", "")]


def _ids(points: list[tuple[str, str]]) -> list[str]:
    return [f"{m}-{s}" if s else m for m, s in points]


def _sqlite_with_pg(points: list[tuple[str, str]], on_pg: set[tuple[str, str]]) -> list[Any]:
    """Each point on SQLite; the ones in ``on_pg`` on PostgreSQL too."""
    cases = []
    for point in points:
        for backend in ("sqlite", "postgresql") if point in on_pg else ("sqlite",):
            cases.append(pytest.param(backend, point, id=f"{backend}-{_ids([point])[0]}"))
    return cases


@pytest.mark.parametrize(
    ("database_url", "point"),
    _sqlite_with_pg([*RUN, *FINISH], {("after", "ports"), ("finish", "")}),
    indirect=["database_url"],
)
def test_a_run_killed_at_each_step(
    world: World, kill_at: Callable[[str, str], None], monkeypatch: pytest.MonkeyPatch, point: tuple[str, str]
) -> None:
    vm_id, (n1, n2) = world.vm("vm1", world.profiles[0], world.internal_profile)
    kill_at(*point)
    crash(lambda: vms.start_vm(world.ctx, vm_id))
    restart(world, monkeypatch)
    assert_agreed(world, vm_id)
    # the host was told to create the VM from "on_host" on: what it runs decides; before that, nothing ran
    reached_host = point in (("before", "verified"), ("finish", ""))
    assert world.get_vm(vm_id).status == (VmStatus.UP if reached_host else VmStatus.DOWN)
    if not reached_host:
        assert world.provider.ports_of(n1) == [], "the port the interrupted run created is deleted"


@pytest.mark.parametrize(
    ("database_url", "point"), _sqlite_with_pg([*STOP, *FINISH], {("finish", "")}), indirect=["database_url"]
)
def test_a_stop_killed_at_each_step(
    world: World, kill_at: Callable[[str, str], None], monkeypatch: pytest.MonkeyPatch, point: tuple[str, str]
) -> None:
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    vms.start_vm(world.ctx, vm_id)
    port = world.nic(n1).port_id
    kill_at(*point)
    crash(lambda: vms.stop_vm(world.ctx, vm_id))
    restart(world, monkeypatch)
    assert_agreed(world, vm_id)
    assert world.get_vm(vm_id).status == VmStatus.DOWN
    assert world.nic(n1).port_id == port, "a stop keeps the port"


@pytest.mark.parametrize(
    ("database_url", "point"),
    _sqlite_with_pg([*HOTPLUG, *FINISH], {("after", "on_host")}),
    indirect=["database_url"],
)
def test_a_hot_plug_killed_at_each_step(
    world: World, kill_at: Callable[[str, str], None], monkeypatch: pytest.MonkeyPatch, point: tuple[str, str]
) -> None:
    vm_id, _ = world.vm("vm1", world.profiles[0])
    vms.start_vm(world.ctx, vm_id)
    kill_at(*point)
    crash(lambda: nics.add_nic(world.ctx, vm_id, "nic2", Ref(id=world.profiles[1])))
    restart(world, monkeypatch)
    assert_agreed(world, vm_id)
    vm = world.get_vm(vm_id)
    assert vm.status == VmStatus.UP, "an interrupted hot plug never powers the VM off"
    with world.ctx.reader() as uow:
        added = uow.nics.first(vm_id=vm_id, name="nic2")
    assert added is not None
    plugged_by_host = point in (("before", "verified"), ("finish", ""))
    assert added.plugged == plugged_by_host


@pytest.mark.parametrize(
    ("database_url", "point"),
    _sqlite_with_pg([*HOTUNPLUG, *FINISH], {("before", "on_host")}),
    indirect=["database_url"],
)
def test_a_hot_unplug_killed_at_each_step(
    world: World, kill_at: Callable[[str, str], None], monkeypatch: pytest.MonkeyPatch, point: tuple[str, str]
) -> None:
    vm_id, (n1, n2) = world.vm("vm1", world.profiles[0], world.profiles[1])
    vms.start_vm(world.ctx, vm_id)
    port = world.nic(n2).port_id
    kill_at(*point)
    crash(lambda: nics.set_plugged(world.ctx, vm_id, n2, False))
    restart(world, monkeypatch)
    assert_agreed(world, vm_id)
    assert world.get_vm(vm_id).status == VmStatus.UP
    assert not world.nic(n2).plugged and world.nic(n2).port_id == port, "unplugged, its port kept"


@pytest.mark.parametrize(
    ("database_url", "point"),
    _sqlite_with_pg([*MIGRATE, *FINISH], {("after", "ports"), ("after", "source_off")}),
    indirect=["database_url"],
)
def test_a_migration_killed_at_each_step(
    world: World, kill_at: Callable[[str, str], None], monkeypatch: pytest.MonkeyPatch, point: tuple[str, str]
) -> None:
    vm_id, (n1, n2) = world.vm("vm1", world.profiles[0], world.internal_profile)
    vms.start_vm(world.ctx, vm_id)
    source = world.host_name(vm_id)
    dest = "h2" if source == "h1" else "h1"
    kill_at(*point)
    crash(lambda: migrate_vm(world.ctx, vm_id))
    restart(world, monkeypatch)
    assert_agreed(world, vm_id)
    created_on_dest = point not in (
        ("before", "ports"),
        ("after", "ports"),
        ("before", "on_host"),
        ("after", "on_host"),
    )
    assert (world.get_vm(vm_id).status, host_of(world, vm_id)) == (
        VmStatus.UP,
        dest if created_on_dest else source,
    )


def test_each_kind_lists_the_points_it_is_killed_at() -> None:
    """The matrix covers every step of every kind (a new step needs its crash test)."""
    from neutrino.engine.domain.operations import STEPS, OperationKind

    covered = {
        OperationKind.RUN: RUN,
        OperationKind.HOTPLUG: HOTPLUG,
        OperationKind.HOTUNPLUG: HOTUNPLUG,
        OperationKind.MIGRATE: MIGRATE,
        OperationKind.STOP: STOP,
    }
    for kind, steps in STEPS.items():
        assert {s.value for s in steps[1:]} == {step for _, step in covered[kind]}, kind


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_operation_waiting_for_its_host_converges_when_the_agent_answers_again(
    world: World, kill_at: Callable[[str, str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    vms.start_vm(world.ctx, vm_id)
    host = world.host_name(vm_id)
    kill_at("finish", "")
    crash(lambda: vms.stop_vm(world.ctx, vm_id))
    monkeypatch.undo()
    world.ctx.active_operations.clear()
    world.agents[host].down = True  # the engine restarts while the host does not answer
    convergence.converge(world.ctx)
    with world.ctx.reader() as uow:
        [waiting] = operations.running(uow)
    assert (waiting.kind, waiting.vm_id) == ("stop", vm_id), "the stop waits for its host"
    assert world.get_vm(vm_id).status == VmStatus.POWERING_DOWN
    world.agents[host].down = False
    monitor_all(world.ctx)  # the host monitor sees the agent again
    assert_agreed(world, vm_id)
    assert world.get_vm(vm_id).status == VmStatus.DOWN
