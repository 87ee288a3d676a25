"""Convergence: finish or undo the operations a stopped engine left in flight, at start, and those waiting for a
host when its agent comes back.

Nothing is inferred: each running operation's record says its kind and the step it reached, and the
convergence of that kind decides from there (asking the hosts where the step may have reached them). A VM
claimed or in a transient state without a record (a store written by an older engine) gets one first.

| kind      | step reached        | what converging does                                                        |
|-----------|---------------------|------------------------------------------------------------------------------|
| run       | claimed             | undo: VM Down (no host was chosen, so none was asked)                       |
| run       | ports … verified    | the host the ports step recorded runs it as planned: finish (Up; a port it   |
|           |                     | created unrecorded found by device_id); else undo (destroy there, ports gone)|
| stop      | any                 | destroy on the host and finish (Down); a host that does not answer: wait     |
| hotplug/… | any                 | each vNIC ends as the host has it; a host that does not answer: wait         |
| migrate   | claimed             | nothing moved: Up on the source                                              |
| migrate   | ports … source_off  | the destination runs it: finish there; else off the destination, ports back |
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from neutrino.agent_api import schema as wire
from neutrino.engine.commands import events, ports
from neutrino.engine.commands.common import EngineContext
from neutrino.engine.commands.migrate import finish_migration, undo_migration
from neutrino.engine.commands.operations import OperationLog, claim_vm, running
from neutrino.engine.commands.placement import Placement, plan_vm, reported_nics
from neutrino.engine.commands.provisioning import ports_created_unrecorded, release_created
from neutrino.engine.commands.run_vm import finish_run, finish_stop, undo_run
from neutrino.engine.domain import model
from neutrino.engine.domain.audit import AuditType
from neutrino.engine.domain.errors import EngineError
from neutrino.engine.domain.model import TRANSIENT_VM_STATUSES, NicState, VmStatus
from neutrino.engine.domain.operations import Operation, OperationKind, OperationState, StepName

log = logging.getLogger(__name__)

INTERRUPTED = "the engine stopped before the operation finished"


def converge(ctx: EngineContext) -> int:
    """Finish or undo every operation in flight that this process is not performing. Returns the VMs touched."""
    _record_unrecorded(ctx)
    with ctx.reader() as uow:
        ops = [op for op in running(uow) if op.id not in ctx.active_operations]
    for op in ops:
        converge_operation(ctx, op)
    return len({op.vm_id for op in ops})


def converge_host(ctx: EngineContext, host_id: str) -> int:
    """The host's agent answers again: the operations that were waiting for it."""
    with ctx.reader() as uow:
        ops = [
            op
            for op in running(uow)
            if op.id not in ctx.active_operations and host_id in (op.source_host_id, op.target_host_id)
        ]
    for op in ops:
        converge_operation(ctx, op)
    return len(ops)


def converge_operation(ctx: EngineContext, op: Operation) -> None:
    """Converge one recorded operation, unless this process is already performing or converging it."""
    with ctx.operations_lock:
        if op.id in ctx.active_operations:
            return
        ctx.active_operations.add(op.id)
    try:
        found = _situation(ctx, op)
        if found is None:
            _close_gone(ctx, OperationLog.of(ctx, op))
        else:
            CONVERGERS[op.kind](ctx, found)
    except Exception:  # one VM must not keep the others in flight; its record stays for the next try
        log.exception("converging %s operation %s of VM %s failed", op.kind.value, op.id, op.vm_id)
    finally:
        ctx.active_operations.discard(op.id)


def _record_unrecorded(ctx: EngineContext) -> None:
    """VMs claimed or in a transient state with no running record: a record at its furthest step, its kind
    told by the VM's status, so the hosts are asked."""
    with ctx.uow() as uow:
        claimed = {op.vm_id for op in running(uow)}
        for vm in uow.vms.list():
            if vm.id in claimed or not (vm.operation_id or vm.status in TRANSIENT_VM_STATUSES):
                continue
            kind = {
                VmStatus.POWERING_DOWN: OperationKind.STOP,
                VmStatus.MIGRATING: OperationKind.MIGRATE,
                VmStatus.UP: OperationKind.HOTPLUG,
            }.get(vm.status, OperationKind.RUN)
            op = claim_vm(
                uow,
                vm,
                kind,
                source_host_id=vm.host_id if kind != OperationKind.RUN else None,
                target_host_id=vm.host_id if kind == OperationKind.RUN else None,
            )
            op.enter(StepName.ON_HOST if kind != OperationKind.MIGRATE else StepName.CLAIMED)
            log.warning(
                "converge: VM %s was in flight without a record; treated as a %s", vm.name, kind.value
            )
        uow.commit()


def _ask(ctx: EngineContext, host: model.Host | None, vm_id: str) -> wire.VmState | None:
    if host is None:
        return None
    try:
        return ctx.agent_client(host).get_vm(vm_id)
    except EngineError as exc:
        log.warning("converge: cannot ask host %s about VM %s: %s", host.name, vm_id, exc.message)
        return None


def _complete(report: wire.VmState | None, placement: Placement | None) -> bool:
    if report is None or placement is None:
        return False
    nics = reported_nics(report)
    return report.status == "Up" and all(
        (found := nics.get(p.nic_id)) is not None and found.state == "plugged" for p in placement.nics
    )


def _note(ctx: EngineContext, vm_id: str, what: str) -> None:
    with ctx.uow() as uow:
        vm = uow.vms.get(vm_id)
        if vm is not None:
            events.emit(
                uow,
                AuditType.OPERATION_CONVERGED,
                f"VM {vm.name}: the engine restarted during an operation; {what}.",
                vm=vm,
            )
        uow.commit()


def _close_gone(ctx: EngineContext, oplog: OperationLog) -> None:
    with ctx.uow() as uow:
        oplog.close(uow, OperationState.UNDONE, "the VM is gone")
        uow.commit()


@dataclass
class Situation:
    """What converging one operation starts from: its record and log, the VM, the operation's source and
    target hosts, and the VM's plan (None if it cannot be planned again, e.g. its network left the provider)."""

    op: Operation
    log: OperationLog
    vm: model.Vm
    source: model.Host | None
    target: model.Host | None
    placement: Placement | None


def _situation(ctx: EngineContext, op: Operation) -> Situation | None:
    """None when the VM is gone."""
    with ctx.reader() as uow:
        vm = uow.vms.get(op.vm_id)
        if vm is None:
            return None
        source = uow.hosts.get(op.source_host_id) if op.source_host_id else None
        target = uow.hosts.get(op.target_host_id) if op.target_host_id else None
        try:
            placement: Placement | None = plan_vm(uow, vm, "run")
        except EngineError as exc:
            log.warning("converge: VM %s cannot be planned again: %s", vm.name, exc.message)
            placement = None
    return Situation(op, OperationLog.of(ctx, op), vm, source, target, placement)


# --- per kind ----------------------------------------------------------------------------------------------


def _converge_run(ctx: EngineContext, now: Situation) -> None:
    op, oplog, vm, host, placement = now.op, now.log, now.vm, now.target, now.placement
    if host is None:  # no host chosen yet: none was asked to create it
        undo_run(ctx, oplog, vm.id, None, INTERRUPTED)
        return
    # a run does not record its host step before asking the host (the host is recorded with the ports step):
    # whether the host runs the VM is asked of the host itself
    report = _ask(ctx, host, vm.id)
    if placement is not None and _complete(report, placement):
        found = ports_created_unrecorded(ctx, vm.id, op.id)
        finish_run(ctx, oplog, vm.id, host, placement, found=found)
        _note(ctx, vm.id, f"the VM runs on {host.name} as intended")
        return
    undo_run(ctx, oplog, vm.id, host if report is not None else None, INTERRUPTED)


def _converge_stop(ctx: EngineContext, now: Situation) -> None:
    oplog, vm, host = now.log, now.vm, now.source
    if host is not None:
        try:
            ctx.agent_client(host).destroy_vm(vm.id)
        except EngineError as exc:
            log.warning("converge: cannot finish stopping VM %s on %s: %s", vm.name, host.name, exc.message)
            return  # it waits for the host: the next start, or the host's agent coming back
    finish_stop(ctx, oplog, vm.id)
    _note(ctx, vm.id, "its stop is finished")


def _converge_nics(ctx: EngineContext, now: Situation) -> None:
    """A hot plug or unplug was in flight on a running VM: each vNIC ends as the host has it — one the host
    does not have is unplugged (its port released if the operation made it), one the engine unplugged is taken
    out of the host (or, if that fails, plugged again in the engine)."""
    op, oplog, vm, host = now.op, now.log, now.vm, now.source
    report = _ask(ctx, host, vm.id)
    if host is None or report is None:
        return  # it waits for the host
    on_host = reported_nics(report)
    client = ctx.agent_client(host)
    unplug_failed: set[str] = set()
    with ctx.reader() as uow:
        wanted_off = [n.id for n in uow.nics.list(vm_id=vm.id) if not n.plugged and n.id in on_host]
    for nic_id in wanted_off:
        try:
            client.hotunplug_nic(vm.id, nic_id)
        except EngineError:
            unplug_failed.add(nic_id)
    found = ports_created_unrecorded(ctx, vm.id, op.id)
    orphans = []
    with ctx.uow() as uow:
        for nic in uow.nics.list(vm_id=vm.id):
            if nic.id in unplug_failed:
                nic.plugged = True
            elif nic.plugged and nic.vnic_profile_id and nic.id not in on_host:
                nic.plugged = False
                orphan = release_created(
                    uow, nic, op.id, "the hot plug that created it did not finish", found
                )
                orphans += [orphan] if orphan else []
                ports.fail(nic, "the engine stopped before the hot plug finished")
            elif not nic.plugged and ports.nic_state(nic) == NicState.PLUGGED:
                ports.step(nic, "unplugged", f"hot unplugged from host {host.name}", NicState.UNPLUGGED)
            elif nic.plugged and nic.id in on_host:
                nic.port_created_by = None if nic.port_created_by == op.id else nic.port_created_by
                if ports.nic_state(nic) in (
                    NicState.PREPARING,
                    NicState.PORT_READY,
                ):  # the hot plug got there
                    ports.step(nic, "plugged", f"hot plugged on host {host.name}", NicState.PLUGGED)
        oplog.close(uow, OperationState.DONE)
        uow.commit()
    ports.reap(ctx, orphans)
    _note(ctx, vm.id, "its vNICs are as its host has them")


def _converge_migration(ctx: EngineContext, now: Situation) -> None:
    """Finish a migration that reached its destination; else the VM stays on its source, ports bound back."""
    op, oplog, vm, source, target, placement = now.op, now.log, now.vm, now.source, now.target, now.placement
    if source is None or placement is None:
        undo_run(ctx, oplog, vm.id, None, INTERRUPTED)
        return
    if target is not None and op.reached(StepName.ON_HOST) and _complete(_ask(ctx, target, vm.id), placement):
        try:
            ctx.agent_client(source).destroy_vm(vm.id)
        except EngineError as exc:
            log.warning("converge: cannot remove VM %s from %s: %s", vm.name, source.name, exc.message)
        finish_migration(ctx, oplog, vm.id, placement, source, target)
        _note(ctx, vm.id, f"its migration to {target.name} is complete")
        return
    undo_migration(
        ctx, oplog, vm.id, placement, source, target if op.reached(StepName.ON_HOST) else None, INTERRUPTED
    )
    _note(ctx, vm.id, f"its migration did not finish; it stays on {source.name}")


CONVERGERS: dict[OperationKind, Callable[[EngineContext, Situation], None]] = {
    OperationKind.RUN: _converge_run,
    OperationKind.STOP: _converge_stop,
    OperationKind.HOTPLUG: _converge_nics,
    OperationKind.HOTUNPLUG: _converge_nics,
    OperationKind.MIGRATE: _converge_migration,
}
