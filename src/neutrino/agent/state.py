"""The agent's persistent state: ``DATA_DIR/state.json``, rewritten atomically on each change.

It holds what the agent was asked to run (VMs with their NICs, internal networks), so a
restarted agent can replay every plug idempotently.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field

from neutrino.agent_api.schema import (
    DhcpSpec,
    NetworkState,
    NicSpec,
    NicStateName,
    Plugged,
    SecurityGroupSpec,
    VmSpec,
)

STATE_VERSION = 1


class StoredNic(BaseModel):
    spec: NicSpec
    slot: int
    state: NicStateName = "unplugged"
    plugged: Plugged | None = None
    error: str | None = None
    #: with a provider link: the port's security groups as the provider sync last read them,
    #: when they differ from ``spec``'s (``[]``: none, or port security disabled); None: ``spec``'s
    provider_groups: list[str] | None = None

    def applied_spec(self) -> NicSpec:
        """``spec`` with the security groups the host applies (the provider's, when they changed
        after the plug)."""
        ext = self.spec.external
        if ext is None or self.provider_groups is None:
            return self.spec
        applied = ext.model_copy(update={"security_groups": list(self.provider_groups)})
        return self.spec.model_copy(update={"external": applied})


class StoredVm(BaseModel):
    spec: VmSpec  # as created; ``nics`` below is the current set
    nics: dict[str, StoredNic] = Field(default_factory=dict)

    def current_spec(self) -> VmSpec:
        """The VM as the host runs it: its current NICs, with the groups applied to them."""
        ordered = sorted(self.nics.values(), key=lambda n: n.slot)
        return self.spec.model_copy(update={"nics": [n.applied_spec() for n in ordered]})


class AgentState(BaseModel):
    version: int = STATE_VERSION
    vms: dict[str, StoredVm] = Field(default_factory=dict)
    networks: dict[str, NetworkState] = Field(default_factory=dict)
    dhcp: dict[str, DhcpSpec] = Field(default_factory=dict)
    security_groups: dict[str, SecurityGroupSpec] = Field(default_factory=dict)
    #: with a provider link: networks whose DHCP server the agent runs for the provider → the
    #: id of this host's DHCP port there
    provider_dhcp: dict[str, str] = Field(default_factory=dict)
    #: networks whose DHCP port this host still has to delete on the provider
    dhcp_ports_to_release: list[str] = Field(default_factory=list)
    #: provider port id → the fixed IPs the provider gave it (what its guest may send from)
    port_addresses: dict[str, list[str]] = Field(default_factory=dict)
    #: provider network id → the link-local addresses router advertisements on it may come from
    #: (its DHCP ports' and router interfaces'); a network not listed: any link-local address
    ra_sources: dict[str, list[str]] = Field(default_factory=dict)


class StateFile:
    """Load and save :class:`AgentState` in one JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> AgentState:
        if not self.path.exists():
            return AgentState()
        return AgentState.model_validate_json(self.path.read_text())

    def save(self, state: AgentState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w") as fh:
            fh.write(state.model_dump_json(indent=1))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
