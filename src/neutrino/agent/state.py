"""The agent's persistent state: ``DATA_DIR/state.json``, rewritten atomically on each change.

It holds what the agent was asked to run (VMs with their NICs, internal networks), so a
restarted agent can replay every plug idempotently. :class:`HostStore` is that state in memory,
shared by the agent's parts under one lock.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from neutrino.agent.datapath.router import RouterSpec
from neutrino.agent_api.schema import (
    DhcpSpec,
    NetworkState,
    NicSpec,
    NicStateName,
    Plugged,
    SecurityGroupSpec,
    VmSpec,
)
from neutrino.private_files import FILE_MODE, private_dir

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
    #: with a provider link: the routers this host's L3 part runs (router id → what it applied)
    routers: dict[str, RouterSpec] = Field(default_factory=dict)

    def plugged_nics(self) -> Iterator[tuple[StoredVm, StoredNic]]:
        """Every NIC in state ``plugged``, with its VM."""
        for vm in self.vms.values():
            for nic in vm.nics.values():
                if nic.state == "plugged":
                    yield vm, nic

    def external_in_use(self, network_id: str, but: StoredNic | None = None, *, routers: bool = True) -> bool:
        """Whether a plugged vNIC (other than ``but``), a DHCP server or (unless not ``routers``) a
        router's leg uses the provider network."""
        if network_id in self.dhcp:
            return True
        if routers and any(leg.net.network_id == network_id for r in self.routers.values() for leg in r.legs):
            return True
        return any(
            other is not but
            and other.spec.external is not None
            and other.spec.external.network_id == network_id
            for _, other in self.plugged_nics()
        )

    def network_users(self, network: str) -> list[str]:
        """The plugged vNICs on an internal network, by nic id."""
        return sorted(
            nic.spec.nic_id
            for _, nic in self.plugged_nics()
            if nic.spec.internal is not None and nic.spec.internal.network == network
        )


class StateFile:
    """Load and save :class:`AgentState` in one JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._written: str | None = None  # what this object last wrote (or read) there

    def load(self) -> AgentState:
        if not self.path.exists():
            return AgentState()
        text = self.path.read_text()
        state = AgentState.model_validate_json(text)
        self._written = state.model_dump_json(indent=1)
        return state

    def save(self, state: AgentState) -> None:
        """Write ``state`` (fsynced, then renamed into place); nothing when the file already holds it."""
        text = state.model_dump_json(indent=1)
        if text == self._written and self.path.exists():
            return
        private_dir(self.path.parent)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()  # a crash's leftover, maybe of another mode
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE), "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self._written = text


@dataclass
class PendingPlugs:
    """What vNICs on their way to being plugged need (between the provider follower's prefetch and
    the end of the verb): kept by the follower's rounds though no plugged vNIC uses it yet."""

    groups: Counter[str] = field(default_factory=Counter)
    ports: Counter[str] = field(default_factory=Counter)
    networks: Counter[str] = field(default_factory=Counter)

    def add(self, groups: Iterable[str], ports: Iterable[str], networks: Iterable[str]) -> None:
        self.groups.update(groups)
        self.ports.update(ports)
        self.networks.update(networks)

    def remove(self, groups: Iterable[str], ports: Iterable[str], networks: Iterable[str]) -> None:
        for counter, done in ((self.groups, groups), (self.ports, ports), (self.networks, networks)):
            counter.subtract(done)
            for key in [k for k, n in counter.items() if n <= 0]:
                del counter[key]

    def __bool__(self) -> bool:
        """Whether a verb is on its way to plugging vNICs of provider networks."""
        return bool(self.ports or self.networks or self.groups)


class HostStore:
    """The agent's state in memory and its file. Every part changes ``state`` holding ``lock`` (one
    lock: the verbs are serialized as a whole) and calls :meth:`save` after a change."""

    def __init__(self, file: StateFile) -> None:
        self.file = file
        self.state: AgentState = file.load()
        self.lock = threading.RLock()
        self.pending = PendingPlugs()
        self._once = threading.local()  # per thread: depth of saves_once blocks, and a save due

    def save(self) -> None:
        """Write the state to its file (fsynced), or, inside :meth:`saves_once` in this thread, at its end."""
        if getattr(self._once, "depth", 0):
            self._once.due = True
            return
        self.file.save(self.state)

    @contextlib.contextmanager
    def saves_once(self) -> Iterator[None]:
        """Around one verb: the saves its parts make in this thread become one, at the end (also when
        it raises), instead of a write and an fsync each (a plug made some eight)."""
        once = self._once
        once.depth = getattr(once, "depth", 0) + 1
        try:
            yield
        finally:
            once.depth -= 1
            if once.depth == 0 and getattr(once, "due", False):
                once.due = False
                with self.lock:  # the verb may have let go of it (and woken the follower) by now
                    self.file.save(self.state)
