"""One runner for the engine's long-running VM operations (run, stop, hot plug, hot unplug, migrate).

Each kind is a ``Flow``: its steps, what finishing writes, how it is undone and how an unexpected error is
worded. ``perform`` owns the rest, the same for every kind: it records each step before the step acts outside
the database (``OperationLog.enter``), and on any failure undoes the flow and raises one clear fault — the
step's own engine error as it worded it, or the flow's wording of an unexpected one. The record is closed (done
or undone) in the transaction that writes the VM's final state, which also releases the VM's claim.

    claim (the caller's transaction: VM locked, Operation written, vm.operation_id set)
      └─ perform: for each step: enter (commit, write-ahead) → act
            ├─ all acted → flow.finish()       closes DONE with the VM's final state
            └─ any error → flow.undo(error)    closes UNDONE with the VM's final state → raise
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from neutrino.engine.commands.common import EngineContext
from neutrino.engine.domain import model
from neutrino.engine.domain.errors import EngineError
from neutrino.engine.domain.model import utcnow
from neutrino.engine.domain.operations import Operation, OperationKind, OperationState, StepName
from neutrino.engine.store.uow import UnitOfWork

log = logging.getLogger(__name__)

T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True)
class Step:
    name: StepName
    act: Callable[[], None]
    # written in the transaction that records the step, before it acts (e.g. the host a run chose)
    on_enter: Callable[[UnitOfWork, Operation], None] | None = None
    # a step that only reads (e.g. verifying the host's report) needs no commit of its own: its record goes
    # in with the next one
    write_ahead: bool = True


class Flow(Protocol[T_co]):
    """One kind of operation, bound to one operation record."""

    log: OperationLog

    def steps(self) -> Iterable[Step]: ...  # may be a generator: later steps can depend on earlier ones
    def finish(self) -> T_co: ...
    def undo(self, error: str) -> None: ...
    def failure(self, error: str) -> EngineError: ...


class OperationLog:
    """The record of one operation, as its runner, its steps and its undo write it."""

    def __init__(
        self,
        ctx: EngineContext,
        op_id: str,
        step: StepName = StepName.CLAIMED,
        record: Operation | None = None,
    ) -> None:
        self.ctx, self.op_id, self.step = ctx, op_id, step
        self._pending: list[tuple[StepName, datetime]] = []
        # the record as this process last wrote it: while it performs the operation no one else writes it
        # (convergence leaves active operations alone), so each step attaches it instead of reading it again
        self._record = record

    @classmethod
    def claim(
        cls, ctx: EngineContext, uow: UnitOfWork, vm: model.Vm, kind: OperationKind, **ids: str | None
    ) -> OperationLog:
        """``claim_vm`` and the log of the new operation, which this process now performs."""
        op = claim_vm(uow, vm, kind, **ids)
        ctx.active_operations.add(op.id)
        return cls(ctx, op.id, record=op)

    @classmethod
    def of(cls, ctx: EngineContext, op: Operation) -> OperationLog:
        """The log of a recorded operation (convergence takes over one a stopped engine left)."""
        return cls(ctx, op.id, op.step)

    def enter(
        self,
        step: StepName,
        on_enter: Callable[[UnitOfWork, Operation], None] | None = None,
        commit: bool = True,
    ) -> None:
        self.step = step
        self._pending.append((step, utcnow()))
        if commit or on_enter is not None:
            with self.ctx.uow() as uow:
                # what the step writes goes first, the record's steps after: the step's own reads (the vNICs it
                # writes) then find nothing pending to flush, and the transaction is one flush, at the commit
                if on_enter is not None:
                    op = self._attached(uow)
                    if op is not None:
                        on_enter(uow, op)
                self.write(uow)  # the record is in ``uow`` already: no statement
                uow.commit()

    def write(self, uow: UnitOfWork) -> Operation | None:
        """The steps entered since the last commit, into the caller's transaction."""
        op = self._attached(uow)
        if op is not None:
            for step, at in self._pending:
                op.enter(step, at)
        self._pending.clear()
        self._record = op
        return op

    def _attached(self, uow: UnitOfWork) -> Operation | None:
        record, self._record = self._record, None
        return uow.operations.held(record, self.op_id)  # read when none yet or its transaction failed

    def close(self, uow: UnitOfWork, state: OperationState, error: str = "") -> None:
        """The operation is over (in the caller's transaction, with the VM's final state); the VM's claim ends."""
        op = self.write(uow)
        if op is None:
            return
        if op.running:
            op.close(state, error)
        vm = uow.vms.get(op.vm_id)
        if vm is not None and vm.operation_id == op.id:
            vm.operation_id = None


def claim_vm(
    uow: UnitOfWork,
    vm: model.Vm,
    kind: OperationKind,
    *,
    nic_id: str | None = None,
    source_host_id: str | None = None,
    target_host_id: str | None = None,
) -> Operation:
    """Write a new operation on ``vm`` (its row locked by the caller) and claim the VM for it, in the caller's
    transaction."""
    op = Operation.claim(
        kind, vm.id, nic_id=nic_id, source_host_id=source_host_id, target_host_id=target_host_id
    )
    uow.operations.add(op)
    vm.operation_id = op.id
    return op


def perform(ctx: EngineContext, flow: Flow[T_co]) -> T_co:
    """Run the flow's steps, recording each; on any error undo the flow and raise one clear fault. From its
    claim to here, the operation is this process's (``EngineContext.active_operations``): convergence leaves it
    alone; one whose undo failed is left to convergence."""
    try:
        return _perform(flow)
    finally:
        ctx.active_operations.discard(flow.log.op_id)


def _perform(flow: Flow[T_co]) -> T_co:
    try:
        for step in flow.steps():
            if step.name != flow.log.step:
                flow.log.enter(step.name, step.on_enter, commit=step.write_ahead)
            step.act()
    except Exception as exc:  # whatever went wrong, the operation is undone and the user gets a clear fault
        error = exc.message if isinstance(exc, EngineError) else f"internal error: {exc}"
        try:
            flow.undo(error)
        except Exception:  # the record stays running: convergence finishes the undo
            log.exception("undoing operation %s failed", flow.log.op_id)
        if isinstance(exc, EngineError):
            raise
        raise flow.failure(error) from exc
    return flow.finish()


def running(uow: UnitOfWork) -> list[Operation]:
    return list(uow.operations.list(state=OperationState.RUNNING, order_by="started"))


def running_to(uow: UnitOfWork, host_id: str) -> int:
    """Operations in flight that are bringing a VM to ``host_id`` (a run or a migration)."""
    return uow.operations.count(state=OperationState.RUNNING, target_host_id=host_id)
