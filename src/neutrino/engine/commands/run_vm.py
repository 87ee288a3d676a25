"""Run and stop VMs on hosts (architecture: "Run"): validate, schedule, find or create each external vNIC's
port, have the host agent create the VM, and call it Up only once the agent's list-VMs reports every plugged
vNIC with the port, plugin type, MAC and groups the engine sent.

Both are operations (``commands.operations``): claimed with a record, performed step by step, undone on any
failure — the VM ends Down and the error names the vNIC and the cause. Ports survive VM stop (oVirt 3.3.1 and
later).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from neutrino.agent_api import schema as wire
from neutrino.engine.commands import events, ports
from neutrino.engine.commands.common import EngineContext, get_or_404, placed_or_404
from neutrino.engine.commands.events import EventScope
from neutrino.engine.commands.operations import OperationLog, Step, perform
from neutrino.engine.commands.placement import MIB, Placement, choose_host, plan_vm, resolve, vms_on_hosts
from neutrino.engine.commands.provisioning import (
    act_on_ports,
    bind_ports,
    nic_specs,
    ports_created_unrecorded,
    release_created,
    settle_nics,
    verify_report,
    write_intents,
    write_results,
)
from neutrino.engine.domain import model
from neutrino.engine.domain.audit import AuditType
from neutrino.engine.domain.errors import Conflict, EngineError, HostFailure
from neutrino.engine.domain.model import HostStatus, NicState, VmStatus, utcnow
from neutrino.engine.domain.operations import Operation, OperationKind, OperationState, StepName
from neutrino.engine.store.uow import UnitOfWork

TYPE = "VM"


def status_name(status: VmStatus) -> str:
    return {
        "wait_for_launch": "WaitForLaunch",
        "powering_up": "PoweringUp",
        "powering_down": "PoweringDown",
        "not_responding": "NotResponding",
        "image_locked": "ImageLocked",
    }.get(status.value, status.value.title())


# --- run ---------------------------------------------------------------------------------------------------


def run_vm(ctx: EngineContext, vm_id: str) -> model.Vm:
    # one transaction reads what the run is planned and scheduled from (the VM's vNICs, profiles, networks,
    # providers, hosts, the VMs on those hosts, what its events name) and claims the VM: the writers' turn
    # (store/database.py) makes holding it a few statements longer cheaper than a reader of their own
    with ctx.uow() as uow:
        placed = placed_or_404(uow, vm_id)
        vm, scope = placed.vm, EventScope(placed.cluster, placed.data_center)
        _check_can_run(vm)
        placement = plan_vm(uow, vm, nics=uow.nics.list(vm_id=vm_id))
        counts = vms_on_hosts(uow, placement)
        vm.status = VmStatus.WAIT_FOR_LAUNCH
        log = OperationLog.claim(ctx, uow, vm, OperationKind.RUN)
        for plan in placement.nics:  # read by plan_vm: this unit of work holds them
            ports.begin(get_or_404(uow.nics, plan.nic_id, "VM network interface"))
        uow.commit()
        name, memory = vm.name, vm.memory
    return perform(ctx, RunVm(ctx, log, vm, name, memory, placement, counts, scope))


def _check_can_run(vm: model.Vm) -> None:
    if vm.is_running:
        raise Conflict(f"Cannot run VM because the VM is in {status_name(vm.status)} status.")


class RunVm:
    """Schedule (claimed) → ports bound to the chosen host → the VM created there → its report verified."""

    def __init__(
        self,
        ctx: EngineContext,
        log: OperationLog,
        vm: model.Vm,
        name: str,
        memory: int,
        placement: Placement,
        counts: dict[str, int],
        scope: EventScope,
    ) -> None:
        vm_id = vm.id
        self.ctx, self.log, self.vm_id, self.placement = ctx, log, vm_id, placement
        # the VM as this run last committed it: attached by each step, not read again (``_vm``)
        self.vm: model.Vm | None = vm
        self.counts = counts  # the VMs on each of the placement's hosts, read with the claim
        self.scope = scope  # the cluster and data center its events name, read with the claim
        self.spec = wire.VmSpec(vm_id=vm_id, name=name, memory_mb=max(1, memory // MIB))
        self.host: model.Host | None = None
        self.on_host = False  # from the create-VM call on, the host may hold the VM: the undo destroys it
        # the ports acted on, their results not committed yet: the host step (or the undo) writes them
        self.acted = False
        self.nic_specs: list[wire.NicSpec] = []
        self.reported: wire.VmState | None = None  # the agent's answer to create-VM: its report of the VM

    def steps(self) -> Iterator[Step]:
        # the ports step's record shares its transaction with the host chosen and the port intents. The host
        # step's record is not written ahead: what it does is found on the host the ports step recorded
        # (convergence asks it); the ports as the provider answered are, so the vNICs show them while the host
        # plugs
        yield Step(StepName.CLAIMED, self._schedule)
        yield Step(StepName.PORTS, self._ports, on_enter=self._place)
        yield Step(StepName.ON_HOST, self._create, write_ahead=False)
        yield Step(StepName.VERIFIED, self._verify, write_ahead=False)

    def _schedule(self) -> None:
        # the networks, the agents' health and the vNICs' ports: one read each per provider, all at once
        resolve(self.ctx, self.placement, look_up=True)
        self.host = choose_host(None, self.placement, "run", counts=self.counts)
        bind_ports(self.placement, self.host)

    def _place(self, uow: UnitOfWork, op: Operation) -> None:
        assert self.host is not None
        # what is read comes before what is written (the VM attached, the vNICs read): one flush, at the commit
        vm = self._vm(uow)
        write_intents(uow, self.placement, self.log.op_id)
        op.target_host_id = vm.host_id = self.host.id

    def _vm(self, uow: UnitOfWork) -> model.Vm:
        """The VM in ``uow``: attached as the claim or the last step committed it (while the run holds the
        claim, its writers are the run and, for a VM in an operation, no one else: the host monitor leaves
        it alone), else read."""
        self.vm = uow.vms.held(self.vm, self.vm_id) or get_or_404(uow.vms, self.vm_id, TYPE)
        return self.vm

    def _ports(self) -> None:
        act_on_ports(self.ctx, self.placement, self.log.op_id, "run")  # a failure records what was done
        self.acted = True

    def _create(self) -> None:
        assert self.host is not None
        self._record_ports()
        self.nic_specs = nic_specs(self.placement)
        self.on_host = True
        try:
            self.reported = self.ctx.agent_client(self.host).create_vm(
                self.spec.model_copy(update={"nics": self.nic_specs})
            )
        except HostFailure as exc:
            raise _run_failure(exc) from exc

    def _record_ports(self) -> None:
        """The ports as the provider answered, on the vNICs (the undo releases them by what the vNICs record)."""
        if self.acted:
            with self.ctx.uow() as uow:
                self._vm(uow)  # first: the port events name it, and a read of it then would flush the vNICs
                write_results(uow, self.placement, self.log.op_id, self.scope)
                uow.commit()
            self.acted = False

    def _verify(self) -> None:
        verify_report(self.reported, self.placement, self.nic_specs, "run")

    def finish(self) -> model.Vm:
        assert self.host is not None
        return finish_run(self.ctx, self.log, self.vm_id, self.host, self.placement, self.scope, self._vm)

    def undo(self, error: str) -> None:
        self._record_ports()
        undo_run(self.ctx, self.log, self.vm_id, self.host if self.on_host else None, error)

    def failure(self, error: str) -> EngineError:
        return HostFailure(f"Cannot run VM. {error}")


def _run_failure(exc: HostFailure) -> HostFailure:
    return exc if exc.message.startswith("Cannot run VM.") else HostFailure(f"Cannot run VM. {exc.message}")


def finish_run(
    ctx: EngineContext,
    log: OperationLog,
    vm_id: str,
    host: model.Host,
    placement: Placement,
    scope: EventScope | None = None,
    vm_in: Callable[[UnitOfWork], model.Vm] | None = None,
    *,
    found: dict[str, str] | None = None,
) -> model.Vm:
    """The run is done: the VM Up on ``host``, its planned vNICs plugged (``found``: ports the run created but
    never recorded, by vNIC, as convergence finds them), the operation closed (``vm_in``: how the run has its
    VM in a unit of work; read by default)."""
    with ctx.uow() as uow:
        vm = vm_in(uow) if vm_in is not None else get_or_404(uow.vms, vm_id, TYPE)
        nics = uow.nics.list(vm_id=vm_id)  # before anything is written: one flush, at the commit
        log.close(uow, OperationState.DONE)
        vm.status, vm.start_time, vm.host_id = VmStatus.UP, utcnow(), host.id
        plugged = {p.nic_id for p in placement.nics}
        settle_nics(uow, vm.id, log.op_id, plugged, f"on host {host.name}", nics=nics, found=found)
        events.emit(
            uow,
            AuditType.USER_RUN_VM,
            f"VM {vm.name} started on Host {host.name}",
            vm=vm,
            host=host,
            **(scope or EventScope()).links(),
        )
        uow.commit()
        return vm


def undo_run(ctx: EngineContext, log: OperationLog, vm_id: str, host: model.Host | None, error: str) -> None:
    """Undo a failed (or abandoned) run: the VM off the host, the ports the run created deleted, the VM Down."""
    warnings = []
    if host is not None:
        try:
            ctx.agent_client(host).destroy_vm(vm_id)
        except EngineError as exc:
            warnings.append(exc.message)
    found = ports_created_unrecorded(ctx, vm_id, log.op_id)
    orphans = []
    with ctx.uow() as uow:
        vm = uow.vms.get(vm_id)
        log.close(uow, OperationState.UNDONE, error)
        if vm is None:
            uow.commit()
            return
        vm.status, vm.host_id = VmStatus.DOWN, None
        for nic in uow.nics.list(vm_id=vm.id):
            orphan = release_created(uow, nic, log.op_id, "the run that created it failed", found)
            orphans += [orphan] if orphan else []
            if ports.nic_state(nic) in (NicState.PREPARING, NicState.PORT_READY, NicState.PLUGGED):
                ports.step(nic, "rolled back", error, NicState.UNPLUGGED)
        detail = f" ({'; '.join(warnings)})" if warnings else ""
        events.emit(
            uow,
            AuditType.USER_FAILED_RUN_VM,
            f"Failed to run VM {vm.name}: {error}{detail} (User: {events.actor()}).",
            vm=vm,
            host=host,
        )
        uow.commit()
    ports.reap(ctx, orphans)


# --- stop --------------------------------------------------------------------------------------------------


def stop_vm(ctx: EngineContext, vm_id: str, action: str = "stop") -> model.Vm:
    """Power the VM off on its host. Its vNICs' ports stay (oVirt 3.3.1+); only the devices go."""
    # one transaction checks the VM, reads what the stop's events name (its host, cluster and data center)
    # and claims it (as a run's, see run_vm). The user's event goes in with the finish, as oVirt logs it once
    # the command succeeded (a failure logs the failure alone)
    with ctx.uow() as uow:
        placed = placed_or_404(uow, vm_id)
        vm, host, scope = placed.vm, placed.host, EventScope(placed.cluster, placed.data_center)
        if not vm.is_running:
            return vm  # as oVirt: stopping a VM that is down succeeds and changes nothing
        if vm.operation_id is not None:
            raise Conflict(f"Cannot {action} VM because the VM is in {status_name(vm.status)} status.")
        before = vm.status
        vm.status = VmStatus.POWERING_DOWN
        log = OperationLog.claim(ctx, uow, vm, OperationKind.STOP, source_host_id=vm.host_id)
        uow.commit()
    stop = StopVm(ctx, log, vm_id, host, before, action, scope)
    stop.vm = vm  # as the claim committed it: the finish attaches it
    return perform(ctx, stop)


class StopVm:
    """The VM destroyed on its host (a host that does not answer and is not Up: the VM is considered down)."""

    def __init__(
        self,
        ctx: EngineContext,
        log: OperationLog,
        vm_id: str,
        host: model.Host | None,
        before: VmStatus,
        action: str,
        scope: EventScope | None = None,
    ) -> None:
        self.ctx, self.log, self.vm_id, self.host, self.before, self.action = (
            ctx,
            log,
            vm_id,
            host,
            before,
            action,
        )
        self.warning = ""
        self.vm: model.Vm | None = None  # the VM as the claim committed it (set by stop_vm)
        self.scope = scope or EventScope()

    def steps(self) -> Iterator[Step]:
        # destroying is idempotent and convergence finishes any interrupted stop: nothing to write ahead
        yield Step(StepName.ON_HOST, self._destroy, write_ahead=False)

    def _destroy(self) -> None:
        if self.host is None:
            return
        try:
            self.ctx.agent_client(self.host).destroy_vm(self.vm_id)
        except HostFailure as exc:
            if self.host.status == HostStatus.UP:
                raise HostFailure(f"Cannot {self.action} VM. {exc.message}") from exc
            self.warning = (
                f" Host {self.host.name} is not responding ({exc.message}); the VM is considered down."
            )

    def finish(self) -> model.Vm:
        def vm_in(uow: UnitOfWork) -> model.Vm:
            return uow.vms.held(self.vm, self.vm_id) or get_or_404(uow.vms, self.vm_id, TYPE)

        return finish_stop(
            self.ctx, self.log, self.vm_id, self.warning, self.scope, vm_in, by=(self.action, self.host)
        )

    def undo(self, error: str) -> None:
        with self.ctx.uow() as uow:
            vm = uow.vms.get(self.vm_id)
            if vm is not None:
                vm.status = self.before
                events.emit(
                    uow,
                    AuditType.USER_FAILED_STOP_VM,
                    f"Failed to power off VM {vm.name} (Host: {self.host.name if self.host else 'none'}, User: {events.actor()}): {error}",
                    vm=vm,
                    host=self.host,
                )
            self.log.close(uow, OperationState.UNDONE, error)
            uow.commit()

    def failure(self, error: str) -> EngineError:
        return HostFailure(f"Cannot {self.action} VM. {error}")


def finish_stop(
    ctx: EngineContext,
    log: OperationLog,
    vm_id: str,
    warning: str = "",
    scope: EventScope | None = None,
    vm_in: Callable[[UnitOfWork], model.Vm] | None = None,
    by: tuple[str, model.Host | None] | None = None,
) -> model.Vm:
    """The stop is done: the VM Down, its vNICs unplugged (their ports kept), the operation closed; ``by``:
    the user's action ("stop" or "shutdown") and the VM's host, logged as oVirt logs a stop that succeeded
    (convergence finishing a stop logs none: its user is not known)."""
    with ctx.uow() as uow:
        vm = vm_in(uow) if vm_in is not None else get_or_404(uow.vms, vm_id, TYPE)
        nics = uow.nics.list(vm_id=vm.id)  # before anything is written: one flush, at the commit
        if by is not None:
            action, host = by
            on = f"Host: {host.name if host else 'none'}"
            if action == "shutdown":
                kind = AuditType.USER_INITIATED_SHUTDOWN_VM
                said = f"VM shutdown initiated by {events.actor()} on VM {vm.name} ({on})."
            else:
                kind, said = AuditType.USER_STOP_VM, f"VM {vm.name} powered off by {events.actor()} ({on})."
            events.emit(uow, kind, said, vm=vm, host=host, **(scope or EventScope()).links())
        log.close(uow, OperationState.DONE)  # before the VM: it is then written once, the claim released too
        vm.status, vm.stop_time, vm.host_id = VmStatus.DOWN, utcnow(), None
        for nic in nics:
            if ports.nic_state(nic) in (NicState.PLUGGED, NicState.PORT_READY):
                ports.step(nic, "unplugged", "the VM stopped; its port is kept", NicState.UNPLUGGED)
        severity = model.EventSeverity.WARNING if warning else None
        events.emit(
            uow,
            AuditType.VM_DOWN,
            f"VM {vm.name} is down.{warning}",
            severity=severity,
            vm=vm,
            **(scope or EventScope()).links(),
        )
        uow.commit()
        return vm
