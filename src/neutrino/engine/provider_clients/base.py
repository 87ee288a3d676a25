"""What the engine needs from a network provider, whatever speaks behind it.

The engine's commands depend on ``NetworkProvider``; the Neutron adapter (``neutron.py``) implements it with
:mod:`neutrino.neutron_client`, and tests can use a fake at this seam. The provider's records are that
client's lenient types (unknown keys ignored, fields older Neutrons lack optional) under engine names.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from neutrino.neutron_client import FloatingIp as ProviderFloatingIp
from neutrino.neutron_client import Network as ProviderNetwork
from neutrino.neutron_client import NetworkAgent as ProviderAgent
from neutrino.neutron_client import Port as ProviderPort
from neutrino.neutron_client import PortResult
from neutrino.neutron_client import Router as ProviderRouter
from neutrino.neutron_client import Subnet as ProviderSubnet

__all__ = [
    "DEVICE_OWNER",
    "ROUTING_EXTENSION",
    "NetworkProvider",
    "PortRequest",
    "PortResult",
    "ProviderAgent",
    "ProviderFloatingIp",
    "ProviderNetwork",
    "ProviderPort",
    "ProviderRouter",
    "ProviderSubnet",
    "Tagging",
]

DEVICE_OWNER = "oVirt"
#: the extension a provider lists when it has routers and floating IPs
ROUTING_EXTENSION = "router"


class Tagging(enum.Enum):
    """How a provider lets the engine tag the ports it creates with its instance id (the tag that tells its
    janitor which ports are its own)."""

    ON_CREATE = "on create"  # tag-ports-during-bulk-creation: ``tags`` in the port's POST
    AFTER_CREATE = "after create"  # standard-attr-tag only: POST, then PUT /ports/{id}/tags/{tag}
    NONE = "none"  # no tags: ports untagged, the janitor as before tags existed


#: the extension aliases behind each way
TAG_EXTENSION = "standard-attr-tag"
TAG_ON_CREATE_EXTENSION = "tag-ports-during-bulk-creation"


def tagging_of(extensions: set[str]) -> Tagging:
    if TAG_EXTENSION not in extensions:
        return Tagging.NONE
    return Tagging.ON_CREATE if TAG_ON_CREATE_EXTENSION in extensions else Tagging.AFTER_CREATE


@dataclass(frozen=True)
class PortRequest:
    """A port the engine wants for a vNIC. ``security_groups`` None means: the provider's default."""

    network_id: str
    mac_address: str
    name: str
    device_id: str
    host_id: str | None = None
    security_groups: tuple[str, ...] | None = None
    project_id: str | None = None
    device_owner: str = DEVICE_OWNER
    #: port_security_enabled; None: the network's default
    port_security: bool | None = None
    #: tags sent in the create request (a provider with Tagging.ON_CREATE only)
    tags: tuple[str, ...] = ()


class NetworkProvider(Protocol):
    def test_connectivity(self) -> None: ...
    def list_networks(self) -> list[ProviderNetwork]: ...
    def get_network(self, network_id: str) -> ProviderNetwork | None: ...
    def get_networks(self, network_ids: list[str]) -> list[ProviderNetwork]: ...
    def create_network(self, name: str, mtu: int | None = None) -> ProviderNetwork: ...
    def delete_network(self, network_id: str) -> None: ...
    def list_subnets(self, network_id: str | None = None) -> list[ProviderSubnet]: ...
    def create_subnet(
        self,
        network_id: str,
        name: str,
        cidr: str,
        ip_version: int,
        gateway_ip: str | None,
        dns_nameservers: list[str],
    ) -> ProviderSubnet: ...
    def delete_subnet(self, subnet_id: str) -> None: ...
    def extensions(self) -> set[str]: ...
    def find_port(self, device_id: str) -> ProviderPort | None: ...
    def find_ports(self, device_ids: list[str]) -> list[ProviderPort]: ...
    def list_ports(self, device_owner: str = DEVICE_OWNER) -> list[ProviderPort]: ...
    def create_port(self, request: PortRequest) -> PortResult: ...
    def update_port(self, port_id: str, request: PortRequest) -> PortResult: ...
    def delete_port(self, port_id: str) -> None: ...
    # how ports can be tagged (read from the extensions, kept a while by the client), and one tag added
    def tagging(self) -> Tagging: ...
    def tag_port(self, port_id: str, tag: str) -> None: ...
    def agents(self) -> list[ProviderAgent] | None: ...
    # routing, read only (for display), on a provider whose extensions include ROUTING_EXTENSION
    def list_routers(self) -> list[ProviderRouter]: ...
    def get_router(self, router_id: str) -> ProviderRouter | None: ...
    def list_router_ports(self, router_ids: list[str] | None = None) -> list[ProviderPort]: ...
    def list_floating_ips(self, router_id: str | None = None) -> list[ProviderFloatingIp]: ...
