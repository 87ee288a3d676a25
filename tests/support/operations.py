"""Operation records as a stopped engine leaves them, for convergence tests: written through the store as the
engine's own claim and step records would be."""

from __future__ import annotations

from neutrino.engine.commands.operations import claim_vm
from neutrino.engine.domain import model
from neutrino.engine.domain.operations import STEPS, Operation, OperationKind, StepName
from neutrino.engine.store.uow import UnitOfWork


def in_flight(
    uow: UnitOfWork,
    vm: model.Vm,
    kind: OperationKind,
    reached: StepName,
    *,
    op_id: str | None = None,
    nic_id: str | None = None,
    source_host_id: str | None = None,
    target_host_id: str | None = None,
) -> Operation:
    """Claim ``vm`` for an operation of ``kind`` that got as far as ``reached`` (in the caller's transaction)."""
    op = claim_vm(uow, vm, kind, nic_id=nic_id, source_host_id=source_host_id, target_host_id=target_host_id)
    if op_id is not None:
        op.id = vm.operation_id = op_id
    order = STEPS[kind]
    for step in order[1 : order.index(reached) + 1]:
        op.enter(step)
    return op
