"""A vNIC's provisioning (a Neutrino extension shown on every NIC): where it stands, the steps that got it there
with their times, and what its provider says of its port.

The record is a value: every change makes a new one (``with_step``, ``begin``), checked against the allowed
transitions of ``NicState``, so a command that would, say, call a never-provisioned vNIC plugged fails loudly
instead of showing a state the host never reported.

    from any state:  begin ──► PREPARING     fail ──► FAILED     port released ──► NONE
    PREPARING  ──► PORT_READY ──► PLUGGED            (an internal network's vNIC: PREPARING ──► PLUGGED)
    PLUGGED    ──► PORT_READY ──► PLUGGED            (a migration rebinds its port)
    FAILED     ──► PORT_READY / PLUGGED              (the part that failed is retried, e.g. a migration undone)
    any of them ──► UNPLUGGED                        (VM down, vNIC unplugged, attempt undone)

A port or a plug needs an attempt begun: NONE or UNPLUGGED never become PORT_READY or PLUGGED directly.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from neutrino.engine.domain.errors import Conflict

MAX_STEPS = 20


class NicState(enum.StrEnum):
    """Where a vNIC's provisioning stands."""

    NONE = "none"  # never provisioned, or its port was released
    PREPARING = "preparing"  # its port is being found, created or updated
    PORT_READY = "port_ready"  # the provider port is ready; the host has not plugged it yet
    PLUGGED = "plugged"  # the host reported it plugged with the port the engine sent
    UNPLUGGED = "unplugged"  # not on any host now (VM down, NIC unplugged); its port stays
    FAILED = "failed"  # the last attempt failed: see last_error


# state -> the states a step may move it to; ``begin`` (PREPARING), ``fail`` (FAILED) and a released port
# (NONE) are allowed from every state and are not repeated here
ALLOWED: dict[NicState, frozenset[NicState]] = {
    NicState.NONE: frozenset({NicState.UNPLUGGED}),
    NicState.PREPARING: frozenset({NicState.PORT_READY, NicState.PLUGGED, NicState.UNPLUGGED}),
    NicState.PORT_READY: frozenset({NicState.PORT_READY, NicState.PLUGGED, NicState.UNPLUGGED}),
    NicState.PLUGGED: frozenset({NicState.PORT_READY, NicState.PLUGGED, NicState.UNPLUGGED}),
    NicState.UNPLUGGED: frozenset({NicState.UNPLUGGED}),
    NicState.FAILED: frozenset({NicState.PORT_READY, NicState.PLUGGED, NicState.UNPLUGGED}),
}
_FROM_ANYWHERE = frozenset({NicState.PREPARING, NicState.FAILED, NicState.NONE})


class IllegalTransition(Conflict):
    """A command tried to move a vNIC's provisioning where its state does not lead."""


@dataclass(frozen=True)
class Step:
    name: str
    time: str  # ISO 8601, milliseconds
    detail: str = ""


@dataclass(frozen=True)
class Provisioning:
    state: NicState = NicState.NONE
    steps: tuple[Step, ...] = ()
    last_error: str | None = None
    port_id: str | None = None
    provider_status: str | None = None  # the provider's port status (ACTIVE, DOWN, ...)
    binding_host: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)  # keys a newer engine wrote

    @property
    def recorded(self) -> bool:
        """Anything was ever provisioned (the NIC shows a ``provisioning`` element)."""
        return bool(self.steps) or self.state != NicState.NONE

    def can_become(self, state: NicState) -> bool:
        return state in _FROM_ANYWHERE or state in ALLOWED[self.state]

    def with_step(
        self,
        name: str,
        detail: str,
        at: datetime,
        state: NicState | None = None,
        **fields: str | None,
    ) -> Provisioning:
        """This record with one more step (the last MAX_STEPS kept), moved to ``state`` when given; ``fields``
        set ``last_error``, ``port_id``, ``provider_status`` or ``binding_host``."""
        unknown = set(fields) - {"last_error", "port_id", "provider_status", "binding_host"}
        if unknown:
            raise TypeError(f"unknown provisioning fields: {sorted(unknown)}")
        changes: dict[str, Any] = dict(fields)
        if state is not None:
            if not self.can_become(state):
                raise IllegalTransition(
                    f"A vNIC's provisioning cannot go from {self.state.value} to {state.value} (step '{name}')."
                )
            changes["state"] = state
            if state != NicState.FAILED:
                changes.setdefault("last_error", None)
        step = Step(name, at.isoformat(timespec="milliseconds"), detail)
        return replace(self, steps=(*self.steps, step)[-MAX_STEPS:], **changes)

    def begin(self) -> Provisioning:
        """A new attempt: the steps of the previous one are dropped."""
        return replace(self, state=NicState.PREPARING, steps=(), last_error=None)

    def with_provider_status(self, status: str | None) -> Provisioning:
        return replace(self, provider_status=status)

    # --- storage (a JSON column) -------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = dict(self.extra)
        if not self.recorded and self.provider_status is None and self.port_id is None:
            return data
        data.update(
            state=self.state.value,
            steps=[{"name": s.name, "time": s.time, "detail": s.detail} for s in self.steps],
            last_error=self.last_error,
            port_id=self.port_id,
            provider_status=self.provider_status,
            binding_host=self.binding_host,
        )
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Provisioning:
        """Lenient: what an older or newer engine stored reads back without failing."""
        if not data:
            return cls()
        known = {"state", "steps", "last_error", "port_id", "provider_status", "binding_host"}
        try:
            state = NicState(data.get("state") or NicState.NONE.value)
        except ValueError:
            state = NicState.NONE
        steps = tuple(
            Step(str(s.get("name") or ""), str(s.get("time") or ""), str(s.get("detail") or ""))
            for s in data.get("steps") or ()
            if isinstance(s, dict)
        )

        def text(key: str) -> str | None:
            value = data.get(key)
            return None if value is None else str(value)

        return cls(
            state=state,
            steps=steps,
            last_error=text("last_error"),
            port_id=text("port_id"),
            provider_status=text("provider_status"),
            binding_host=text("binding_host"),
            extra={k: v for k, v in data.items() if k not in known},
        )
