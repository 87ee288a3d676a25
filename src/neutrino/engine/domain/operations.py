"""Long-running operations on a VM as records: run, stop, hot plug, hot unplug and migrate.

An operation is written in the transaction that claims its VM (``Vm.operation_id`` names it while it runs),
says which step it has reached before each step that acts outside the database (the provider, a host), and is
closed — done or undone — in the transaction that writes the VM's final state. So after a crash the engine does
not infer what was in flight: ``converge`` reads the kind and the step and finishes or undoes exactly that.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from neutrino.engine.domain.model import new_id, utcnow


class OperationKind(enum.StrEnum):
    RUN = "run"
    STOP = "stop"
    HOTPLUG = "hotplug"
    HOTUNPLUG = "hotunplug"
    MIGRATE = "migrate"


class OperationState(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    UNDONE = "undone"  # it failed (or was abandoned) and what it had done was undone


class StepName(enum.StrEnum):
    """The steps of every kind, in the order they happen. The ones that act outside the database are written
    before they start, so a crash during one is known."""

    CLAIMED = "claimed"  # the VM is claimed; nothing done outside the database yet
    PORTS = "ports"  # provider ports are being found, created or (re)bound
    ON_HOST = "on_host"  # the host agent was asked to create the VM / plug or unplug the vNIC
    VERIFIED = "verified"  # the host reports exactly what was sent
    SOURCE_OFF = "source_off"  # (migrate) the VM is being removed from its source host


STEPS: dict[OperationKind, tuple[StepName, ...]] = {
    OperationKind.RUN: (StepName.CLAIMED, StepName.PORTS, StepName.ON_HOST, StepName.VERIFIED),
    OperationKind.STOP: (StepName.CLAIMED, StepName.ON_HOST),
    OperationKind.HOTPLUG: (StepName.CLAIMED, StepName.PORTS, StepName.ON_HOST, StepName.VERIFIED),
    OperationKind.HOTUNPLUG: (StepName.CLAIMED, StepName.ON_HOST),
    OperationKind.MIGRATE: (
        StepName.CLAIMED,
        StepName.PORTS,
        StepName.ON_HOST,
        StepName.VERIFIED,
        StepName.SOURCE_OFF,
    ),
}


@dataclass(frozen=True)
class StepOutcome:
    step: StepName
    started: datetime
    outcome: str = "started"  # started | done | failed | undone
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step.value,
            "started": self.started.isoformat(timespec="milliseconds"),
            "outcome": self.outcome,
            "detail": self.detail,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepOutcome:
        return cls(
            StepName(data["step"]),
            datetime.fromisoformat(str(data["started"])),
            str(data.get("outcome") or "started"),
            str(data.get("detail") or ""),
        )


@dataclass(eq=False)
class Operation:
    kind: OperationKind
    vm_id: str
    nic_id: str | None = None  # hot plug / hot unplug
    source_host_id: str | None = None  # where the VM runs (stop, hot plug/unplug, migrate)
    target_host_id: str | None = None  # where it goes (run: the chosen host; migrate: the destination)
    step: StepName = StepName.CLAIMED
    state: OperationState = OperationState.RUNNING
    started: datetime = field(default_factory=utcnow)
    finished: datetime | None = None
    error: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)  # StepOutcome.to_json(), in order
    id: str = field(default_factory=new_id)

    @classmethod
    def claim(
        cls,
        kind: OperationKind,
        vm_id: str,
        *,
        nic_id: str | None = None,
        source_host_id: str | None = None,
        target_host_id: str | None = None,
    ) -> Operation:
        """A new operation at its first step."""
        op = cls(kind, vm_id, nic_id, source_host_id, target_host_id)
        op.enter(StepName.CLAIMED, op.started)
        return op

    @property
    def running(self) -> bool:
        return self.state == OperationState.RUNNING

    def reached(self, step: StepName) -> bool:
        """The operation got to ``step`` (it may have been interrupted during it)."""
        order = STEPS[self.kind]
        return step in order and order.index(self.step) >= order.index(step)

    def outcomes(self) -> list[StepOutcome]:
        return [StepOutcome.from_json(s) for s in self.steps]

    def enter(self, step: StepName, at: datetime | None = None) -> None:
        """Record that ``step`` starts: the previous step is done."""
        if step not in STEPS[self.kind]:
            raise ValueError(f"a {self.kind.value} operation has no step {step.value}")
        self._settle_last("done")
        self.step = step
        self.steps = [*self.steps, StepOutcome(step, at or utcnow()).to_json()]

    def close(self, state: OperationState, error: str = "", at: datetime | None = None) -> None:
        """The operation is over: DONE (its last step done) or UNDONE (its last step failed, then undone)."""
        if state == OperationState.RUNNING:
            raise ValueError("an operation closes as done or undone")
        self._settle_last("done" if state == OperationState.DONE else "failed", error)
        self.state, self.error, self.finished = state, error, at or utcnow()

    def _settle_last(self, outcome: str, detail: str = "") -> None:
        if self.steps and self.steps[-1].get("outcome") == "started":
            last = dict(self.steps[-1], outcome=outcome)
            if detail:
                last["detail"] = detail
            self.steps = [*self.steps[:-1], last]
