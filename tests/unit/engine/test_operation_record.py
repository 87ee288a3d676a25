"""The operation record: its steps in order, each step's outcome, and how it closes."""

from __future__ import annotations

import pytest

from neutrino.engine.domain.operations import STEPS, Operation, OperationKind, OperationState, StepName


def test_a_claimed_operation_records_its_steps_and_closes_done() -> None:
    op = Operation.claim(OperationKind.RUN, "vm-1", target_host_id="h1")
    assert (op.step, op.state, op.reached(StepName.CLAIMED), op.reached(StepName.PORTS)) == (
        StepName.CLAIMED,
        OperationState.RUNNING,
        True,
        False,
    )
    op.enter(StepName.PORTS)
    op.enter(StepName.ON_HOST)
    assert op.reached(StepName.PORTS) and not op.reached(StepName.VERIFIED)
    op.close(OperationState.DONE)
    assert [(o.step, o.outcome) for o in op.outcomes()] == [
        (StepName.CLAIMED, "done"),
        (StepName.PORTS, "done"),
        (StepName.ON_HOST, "done"),
    ]
    assert not op.running and op.finished is not None


def test_an_undone_operation_says_which_step_failed_and_why() -> None:
    op = Operation.claim(OperationKind.HOTPLUG, "vm-1", nic_id="n1", source_host_id="h1")
    op.enter(StepName.PORTS)
    op.close(OperationState.UNDONE, "provider down")
    last = op.outcomes()[-1]
    assert (last.step, last.outcome, last.detail, op.error) == (
        StepName.PORTS,
        "failed",
        "provider down",
        "provider down",
    )


def test_a_step_the_kind_does_not_have_is_refused() -> None:
    op = Operation.claim(OperationKind.STOP, "vm-1")
    with pytest.raises(ValueError, match="no step ports"):
        op.enter(StepName.PORTS)
    with pytest.raises(ValueError, match="done or undone"):
        op.close(OperationState.RUNNING)


def test_every_kind_starts_claimed() -> None:
    assert all(steps[0] == StepName.CLAIMED for steps in STEPS.values())
    assert set(STEPS) == set(OperationKind)
