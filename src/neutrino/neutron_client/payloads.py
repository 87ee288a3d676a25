"""What the client sends: typed requests whose fields declare their wire names.

A field left :data:`UNSET` is not sent, so Neutron applies its default (on create) or keeps the value (on
update); that differs from every value, ``None`` and ``()`` included (``security_groups=()`` asks for a port
in no group, UNSET for one in the project's default group).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Final, NamedTuple

from neutrino.neutron_client.resources import JsonObject, NetworkAgent


class Unset(enum.Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET


def _wire(key: str | None = None, *, many: bool = False) -> Unset:
    """An optional field sent as ``key`` (its own name by default); ``many``: a tuple, sent as a list."""
    return field(default=UNSET, metadata={"wire": key, "many": many})


class FixedIpRequest(NamedTuple):
    """An address wanted on a port: on ``subnet_id`` (any free one), or exactly ``ip_address``, or both."""

    subnet_id: str | None = None
    ip_address: str | None = None

    def to_json(self) -> dict[str, str]:
        return {k: v for k, v in self._asdict().items() if v is not None}


class PortStatus(NamedTuple):
    id: str
    status: str  # ACTIVE, DOWN, BUILD or ERROR


class FloatingIpStatus(NamedTuple):
    """An L3 agent's word on a floating IP: ACTIVE (in place for ``fixed_ip_address``) or ERROR."""

    id: str
    status: str
    fixed_ip_address: str


def _value(value: object) -> object:
    if isinstance(value, FixedIpRequest | PortStatus | FloatingIpStatus):
        return value.to_json() if isinstance(value, FixedIpRequest) else value._asdict()
    if isinstance(value, tuple):
        return [_value(v) for v in value]
    if isinstance(value, Mapping):
        return dict(value)
    return value


@dataclass(frozen=True)
class _Payload:
    """``to_json()`` from the declarations: UNSET fields left out, wire names applied."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("many") and value is not UNSET and not isinstance(value, tuple):
                raise ValueError(f"{type(self).__name__}.{f.name}: a tuple, not {type(value).__name__}")

    def to_json(self) -> dict[str, object]:
        return {
            f.metadata.get("wire") or f.name: _value(getattr(self, f.name))
            for f in fields(self)
            if getattr(self, f.name) is not UNSET
        }


@dataclass(frozen=True)
class PortCreate(_Payload):
    network_id: str
    name: str | Unset = _wire()
    mac_address: str | Unset = _wire()
    device_id: str | Unset = _wire()
    device_owner: str | Unset = _wire()
    fixed_ips: tuple[FixedIpRequest, ...] | Unset = _wire(many=True)
    security_groups: tuple[str, ...] | Unset = _wire(many=True)
    host_id: str | Unset = _wire("binding:host_id")
    project_id: str | Unset = _wire("tenant_id")  # tenant_id: what old Neutrons and new ones both read
    admin_state_up: bool | Unset = _wire()
    port_security_enabled: bool | Unset = _wire()
    tags: tuple[str, ...] | Unset = _wire(many=True)  # tag-ports-during-bulk-creation


@dataclass(frozen=True)
class PortUpdate(_Payload):
    """A port's new values. ``fixed_ips`` replaces all of them (send the kept ones too). Neutron lets only
    admins change a MAC address, so there is none here: a new MAC means a new port."""

    name: str | Unset = _wire()
    device_id: str | Unset = _wire()
    device_owner: str | Unset = _wire()
    fixed_ips: tuple[FixedIpRequest, ...] | Unset = _wire(many=True)
    security_groups: tuple[str, ...] | Unset = _wire(many=True)
    host_id: str | Unset = _wire("binding:host_id")
    admin_state_up: bool | Unset = _wire()
    port_security_enabled: bool | Unset = _wire()


@dataclass(frozen=True)
class NetworkCreate(_Payload):
    name: str
    mtu: int | Unset = _wire()
    admin_state_up: bool | Unset = _wire()
    shared: bool | Unset = _wire()


@dataclass(frozen=True)
class SubnetCreate(_Payload):
    network_id: str
    cidr: str
    ip_version: int
    name: str | Unset = _wire()
    gateway_ip: str | None | Unset = _wire()  # None: a subnet without a gateway
    dns_nameservers: tuple[str, ...] | Unset = _wire(many=True)
    enable_dhcp: bool | Unset = _wire()
    ipv6_ra_mode: str | Unset = _wire()
    ipv6_address_mode: str | Unset = _wire()


@dataclass(frozen=True)
class AgentReport(_Payload):
    """A host agent's report to Neutrino's embedded provider (``POST /v2.0/agent-reports``, extension
    ``neutrino-agent-report``): it is alive, what it can carry (``configurations``, e.g. ``tunneling_ip``,
    ``tunnel_types``, ``interface_mappings``) and the status of the ports it plugged."""

    host: str
    agent_type: str
    configurations: Mapping[str, object] = field(default_factory=dict)
    ports: tuple[PortStatus, ...] = field(default=(), metadata={"many": True})
    binary: str | Unset = _wire()
    #: an L3 agent's floating IPs (only sent when set: older providers take no such key)
    floatingips: tuple[FloatingIpStatus, ...] | Unset = _wire(many=True)


@dataclass(frozen=True)
class AgentReportAnswer:
    """The provider's answer: the agent as ``GET /v2.0/agents/{id}`` shows it, and the ports whose status the
    report changed."""

    agent: NetworkAgent
    updated_ports: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, d: JsonObject) -> AgentReportAnswer:
        agent, updated = d.get("agent"), d.get("updated_ports")
        return cls(
            NetworkAgent.from_json(agent if isinstance(agent, dict) else {}),
            tuple(str(p) for p in updated) if isinstance(updated, list) else (),
        )
