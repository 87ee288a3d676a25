"""What the engine needs from a network provider, whatever speaks behind it.

The engine's commands depend on ``NetworkProvider``; the Neutron adapter implements it over HTTP, and
tests can use a fake at this seam. Provider records are lenient: unknown keys are ignored and fields older
Neutrons lack (``mtu``, ``project_id``, ``port_security_enabled``) are optional.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

DEVICE_OWNER = "oVirt"


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    try:
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class ProviderNetwork:
    id: str
    name: str
    status: str | None = None
    mtu: int | None = None
    project_id: str | None = None
    network_type: str | None = None
    physical_network: str | None = None
    segmentation_id: int | None = None
    port_security_enabled: bool | None = None
    shared: bool = False
    subnet_ids: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ProviderNetwork:
        return cls(
            id=str(d["id"]),
            name=str(d.get("name") or ""),
            status=_str(d.get("status")),
            mtu=_int(d.get("mtu")),
            project_id=_str(d.get("project_id") or d.get("tenant_id")),
            network_type=_str(d.get("provider:network_type")),
            physical_network=_str(d.get("provider:physical_network")),
            segmentation_id=_int(d.get("provider:segmentation_id")),
            port_security_enabled=d.get("port_security_enabled"),
            shared=bool(d.get("shared", False)),
            subnet_ids=tuple(str(s) for s in d.get("subnets") or ()),
        )


@dataclass(frozen=True)
class ProviderSubnet:
    id: str
    network_id: str
    name: str
    cidr: str
    ip_version: int
    gateway_ip: str | None = None
    dns_nameservers: tuple[str, ...] = ()
    enable_dhcp: bool = True

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ProviderSubnet:
        return cls(
            id=str(d["id"]),
            network_id=str(d.get("network_id") or ""),
            name=str(d.get("name") or ""),
            cidr=str(d.get("cidr") or ""),
            ip_version=_int(d.get("ip_version")) or 4,
            gateway_ip=_str(d.get("gateway_ip")),
            dns_nameservers=tuple(str(s) for s in d.get("dns_nameservers") or ()),
            enable_dhcp=bool(d.get("enable_dhcp", True)),
        )


@dataclass(frozen=True)
class ProviderPort:
    id: str
    network_id: str
    mac_address: str
    name: str = ""
    device_id: str = ""
    device_owner: str = ""
    status: str | None = None
    security_groups: tuple[str, ...] = ()
    fixed_ips: tuple[tuple[str, str], ...] = ()  # (subnet_id, ip_address)
    host_id: str | None = None
    vif_type: str | None = None
    vif_details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ProviderPort:
        details = d.get("binding:vif_details")
        return cls(
            id=str(d["id"]),
            network_id=str(d.get("network_id") or ""),
            mac_address=str(d.get("mac_address") or "").lower(),
            name=str(d.get("name") or ""),
            device_id=str(d.get("device_id") or ""),
            device_owner=str(d.get("device_owner") or ""),
            status=_str(d.get("status")),
            security_groups=tuple(str(g) for g in d.get("security_groups") or ()),
            fixed_ips=tuple(
                (str(ip.get("subnet_id", "")), str(ip.get("ip_address", "")))
                for ip in d.get("fixed_ips") or ()
                if isinstance(ip, dict)
            ),
            host_id=_str(d.get("binding:host_id")) or None,
            vif_type=_str(d.get("binding:vif_type")),
            # some Neutrons send a dict, some a JSON string, old ones nothing
            vif_details=details if isinstance(details, dict) else {},
        )


@dataclass(frozen=True)
class ProviderAgent:
    host: str
    agent_type: str
    alive: bool

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ProviderAgent:
        return cls(
            host=str(d.get("host") or ""),
            agent_type=str(d.get("agent_type") or ""),
            alive=bool(d.get("alive", False)),
        )


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


@dataclass(frozen=True)
class PortResult:
    port: ProviderPort
    binding_refused: bool = False  # the provider's policy forbade binding:host_id; created without it


class NetworkProvider(Protocol):
    def test_connectivity(self) -> None: ...
    def list_networks(self) -> list[ProviderNetwork]: ...
    def get_network(self, network_id: str) -> ProviderNetwork | None: ...
    def create_network(self, name: str, mtu: int | None = None) -> ProviderNetwork: ...
    def delete_network(self, network_id: str) -> None: ...
    def list_subnets(self, network_id: str) -> list[ProviderSubnet]: ...
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
    def list_ports(self, device_owner: str = DEVICE_OWNER) -> list[ProviderPort]: ...
    def create_port(self, request: PortRequest) -> PortResult: ...
    def update_port(self, port_id: str, request: PortRequest) -> PortResult: ...
    def delete_port(self, port_id: str) -> None: ...
    def agents(self) -> list[ProviderAgent] | None: ...
