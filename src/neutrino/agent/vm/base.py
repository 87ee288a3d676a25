"""The VM backend contract.

A backend creates and destroys the guest and the host end of each vNIC; vNIC drivers then
connect that host end to its network. Every method is idempotent, because the agent replays
its state after a restart.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from neutrino.agent.datapath.hostnet import HostNet
from neutrino.agent.datapath.linux_net import tap_name
from neutrino.agent_api.schema import NicSpec, VmSpec


class VmBackendError(Exception):
    """The backend could not create, change or destroy a VM."""


@dataclass(frozen=True)
class BackendContext:
    """What the agent gives its VM backend."""

    host_net: HostNet
    data_dir: Path
    netns_prefix: str = "nvm-"
    guest_dhcp: bool = True
    integration_bridge: str = "br-int"  # where a libvirt domain's OPEN_VSWITCH vNICs go


@dataclass(frozen=True)
class AttachedNic:
    """A vNIC as the backend attached it: its slot in the guest and its host device name."""

    spec: NicSpec
    slot: int

    @property
    def device(self) -> str:
        return tap_name(self.spec.device_id)


class VmBackend(ABC):
    """Base class of VM backends."""

    name: str = ""

    def __init__(self, context: BackendContext) -> None:
        self.context = context

    def describe(self) -> dict[str, object]:
        """What the backend is, for the capabilities report."""
        return {"name": self.name}

    @abstractmethod
    def create(self, vm: VmSpec) -> None:
        """The guest exists (without NICs yet)."""

    @abstractmethod
    def attach(self, vm: VmSpec, nic: AttachedNic) -> None:
        """The host end of ``nic`` exists when the backend creates it at this point."""

    @abstractmethod
    def detach(self, vm: VmSpec, nic: AttachedNic) -> None:
        """The host end of ``nic`` and its guest end are gone."""

    @abstractmethod
    def start(self, vm: VmSpec, nics: list[AttachedNic]) -> None:
        """The guest runs with these NICs (called after every change of its NICs too)."""

    @abstractmethod
    def destroy(self, vm: VmSpec) -> None:
        """The guest and everything the backend made for it are gone."""
