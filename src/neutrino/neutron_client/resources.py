"""Neutron's resources as the client reads them: frozen dataclasses, each built by ``from_json``.

Lenient, because real Neutrons differ: unknown keys are ignored, fields older Neutrons lack (``mtu``,
``project_id``, ``port_security_enabled``, the IPv6 modes) are optional, and a value of the wrong type reads
as absent. Except in a security group rule: there an absent match field means "any", so a rule with a value
that cannot be read is refused (``ValueError``, which the client reports as ``BadResponse``) rather than
read wider than it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, NamedTuple, TypeVar

#: One JSON object as decoded; values are checked where they are read.
JsonObject = Mapping[str, object]


def _text(d: JsonObject, key: str) -> str:
    value = d.get(key)
    return "" if value is None or isinstance(value, dict | list) else str(value)


def _opt_text(d: JsonObject, key: str) -> str | None:
    return _text(d, key) or None


def _opt_int(d: JsonObject, key: str) -> int | None:
    value = d.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _opt_bool(d: JsonObject, key: str) -> bool | None:
    value = d.get(key)
    return value if isinstance(value, bool) else None


def _texts(d: JsonObject, key: str) -> tuple[str, ...]:
    value = d.get(key)
    return tuple(str(v) for v in value if v is not None) if isinstance(value, list) else ()


def _objects(d: JsonObject, key: str) -> list[JsonObject]:
    value = d.get(key)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _object(d: JsonObject, key: str) -> dict[str, object]:
    value = d.get(key)
    return dict(value) if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Network:
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
    external: bool = False  # router:external (extension external-net): routers' gateways live here
    dns_domain: str = ""  # dns-integration

    @classmethod
    def from_json(cls, d: JsonObject) -> Network:
        return cls(
            id=_text(d, "id"),
            name=_text(d, "name"),
            status=_opt_text(d, "status"),
            mtu=_opt_int(d, "mtu"),
            project_id=_opt_text(d, "project_id") or _opt_text(d, "tenant_id"),
            network_type=_opt_text(d, "provider:network_type"),
            physical_network=_opt_text(d, "provider:physical_network"),
            segmentation_id=_opt_int(d, "provider:segmentation_id"),
            port_security_enabled=_opt_bool(d, "port_security_enabled"),
            shared=d.get("shared") is True,
            subnet_ids=_texts(d, "subnets"),
            external=d.get("router:external") is True,
            dns_domain=_text(d, "dns_domain"),
        )


@dataclass(frozen=True)
class Subnet:
    id: str
    network_id: str
    name: str
    cidr: str
    ip_version: int
    gateway_ip: str | None = None
    dns_nameservers: tuple[str, ...] = ()
    enable_dhcp: bool = True
    ipv6_ra_mode: str | None = None
    ipv6_address_mode: str | None = None
    created_at: str | None = None

    @classmethod
    def from_json(cls, d: JsonObject) -> Subnet:
        return cls(
            id=_text(d, "id"),
            network_id=_text(d, "network_id"),
            name=_text(d, "name"),
            cidr=_text(d, "cidr"),
            ip_version=_opt_int(d, "ip_version") or 4,
            gateway_ip=_opt_text(d, "gateway_ip"),
            dns_nameservers=_texts(d, "dns_nameservers"),
            enable_dhcp=bool(d.get("enable_dhcp", True)),
            ipv6_ra_mode=_opt_text(d, "ipv6_ra_mode"),
            ipv6_address_mode=_opt_text(d, "ipv6_address_mode"),
            created_at=_opt_text(d, "created_at"),
        )


class FixedIp(NamedTuple):
    subnet_id: str
    ip_address: str


class AddressPair(NamedTuple):
    ip_address: str
    mac_address: str | None = None


class DhcpOpt(NamedTuple):
    """One of a port's ``extra_dhcp_opts`` (extension ``extra_dhcp_opt``)."""

    opt_name: str
    opt_value: str
    ip_version: int = 4


class DnsAssignment(NamedTuple):
    """One entry of a port's ``dns_assignment`` (extension ``dns-integration``)."""

    hostname: str
    ip_address: str
    fqdn: str


def _dhcp_opts(d: JsonObject) -> tuple[DhcpOpt, ...]:
    return tuple(
        DhcpOpt(_text(o, "opt_name"), _text(o, "opt_value"), _opt_int(o, "ip_version") or 4)
        for o in _objects(d, "extra_dhcp_opts")
        if _text(o, "opt_name")
    )


def _dns_assignment(d: JsonObject) -> tuple[DnsAssignment, ...]:
    return tuple(
        DnsAssignment(_text(a, "hostname"), _text(a, "ip_address"), _text(a, "fqdn"))
        for a in _objects(d, "dns_assignment")
        if _text(a, "ip_address")
    )


@dataclass(frozen=True)
class Port:
    id: str
    network_id: str
    mac_address: str  # lower case
    name: str = ""
    device_id: str = ""
    device_owner: str = ""
    status: str | None = None
    security_groups: tuple[str, ...] = ()
    fixed_ips: tuple[FixedIp, ...] = ()
    host_id: str | None = None  # binding:host_id
    vif_type: str | None = None  # binding:vif_type
    vif_details: dict[str, object] = field(default_factory=dict, hash=False)  # binding:vif_details
    port_security_enabled: bool | None = None
    allowed_address_pairs: tuple[AddressPair, ...] = ()
    project_id: str | None = None
    extra_dhcp_opts: tuple[DhcpOpt, ...] = ()
    dns_name: str = ""
    dns_domain: str = ""  # dns-domain-ports
    dns_assignment: tuple[DnsAssignment, ...] = ()
    tags: tuple[str, ...] = ()  # standard-attr-tag

    @classmethod
    def from_json(cls, d: JsonObject) -> Port:
        return cls(
            id=_text(d, "id"),
            network_id=_text(d, "network_id"),
            mac_address=_text(d, "mac_address").lower(),
            name=_text(d, "name"),
            device_id=_text(d, "device_id"),
            device_owner=_text(d, "device_owner"),
            status=_opt_text(d, "status"),
            security_groups=_texts(d, "security_groups"),
            fixed_ips=_fixed_ips(d, "fixed_ips"),
            host_id=_opt_text(d, "binding:host_id"),
            vif_type=_opt_text(d, "binding:vif_type"),
            # some Neutrons send an object, some a JSON string, old ones nothing
            vif_details=_object(d, "binding:vif_details"),
            port_security_enabled=_opt_bool(d, "port_security_enabled"),
            allowed_address_pairs=tuple(
                AddressPair(_text(p, "ip_address"), _opt_text(p, "mac_address"))
                for p in _objects(d, "allowed_address_pairs")
                if _text(p, "ip_address")
            ),
            project_id=_opt_text(d, "project_id") or _opt_text(d, "tenant_id"),
            extra_dhcp_opts=_dhcp_opts(d),
            dns_name=_text(d, "dns_name"),
            dns_domain=_text(d, "dns_domain"),
            dns_assignment=_dns_assignment(d),
            tags=_texts(d, "tags"),
        )


def _rule_text(d: JsonObject, key: str) -> str | None:
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"security group rule {d.get('id')}: '{key}' is {value!r}, not a string")


def _rule_port(d: JsonObject, key: str) -> int | None:
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise ValueError(f"security group rule {d.get('id')}: '{key}' is {value!r}, not a port number")


@dataclass(frozen=True)
class SecurityGroupRule:
    """One rule as Neutron has it. ``protocol`` is a name or a number as text; None (like every absent match
    field) means any."""

    id: str
    security_group_id: str
    direction: str
    ethertype: str = "IPv4"
    protocol: str | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None
    remote_address_group_id: str | None = None

    @classmethod
    def from_json(cls, d: JsonObject) -> SecurityGroupRule:
        direction = _rule_text(d, "direction")
        if direction is None:
            raise ValueError(f"security group rule {d.get('id')}: no 'direction'")
        return cls(
            id=_text(d, "id"),
            security_group_id=_text(d, "security_group_id"),
            direction=direction,
            ethertype=_rule_text(d, "ethertype") or "IPv4",
            protocol=_rule_text(d, "protocol"),
            port_range_min=_rule_port(d, "port_range_min"),
            port_range_max=_rule_port(d, "port_range_max"),
            remote_ip_prefix=_rule_text(d, "remote_ip_prefix"),
            remote_group_id=_rule_text(d, "remote_group_id"),
            remote_address_group_id=_rule_text(d, "remote_address_group_id"),
        )


@dataclass(frozen=True)
class SecurityGroup:
    """``rules`` is None when Neutron did not inline them (list them with ``security_group_id``)."""

    id: str
    name: str
    project_id: str | None = None
    rules: tuple[SecurityGroupRule, ...] | None = None

    @classmethod
    def from_json(cls, d: JsonObject) -> SecurityGroup:
        rules = d.get("security_group_rules")
        return cls(
            id=_text(d, "id"),
            name=_text(d, "name"),
            project_id=_opt_text(d, "project_id") or _opt_text(d, "tenant_id"),
            rules=(
                tuple(SecurityGroupRule.from_json(r) for r in _objects(d, "security_group_rules"))
                if isinstance(rules, list)
                else None
            ),
        )


@dataclass(frozen=True)
class NetworkAgent:
    """A Neutron agent (the ``agent`` extension): one per host and type."""

    host: str
    agent_type: str
    alive: bool
    id: str = ""
    binary: str = ""
    admin_state_up: bool = True
    configurations: dict[str, object] = field(default_factory=dict, hash=False)

    @property
    def tunneling_ip(self) -> str | None:
        """The address its host's tunnels (VXLAN) end at, if it has any."""
        return _opt_text(self.configurations, "tunneling_ip")

    @property
    def tunnel_types(self) -> tuple[str, ...]:
        return _texts(self.configurations, "tunnel_types")

    @classmethod
    def from_json(cls, d: JsonObject) -> NetworkAgent:
        return cls(
            host=_text(d, "host"),
            agent_type=_text(d, "agent_type"),
            alive=d.get("alive") is True,
            id=_text(d, "id"),
            binary=_text(d, "binary"),
            admin_state_up=d.get("admin_state_up") is not False,
            configurations=_object(d, "configurations"),
        )


def _fixed_ips(d: JsonObject, key: str) -> tuple[FixedIp, ...]:
    return tuple(FixedIp(_text(ip, "subnet_id"), _text(ip, "ip_address")) for ip in _objects(d, key))


@dataclass(frozen=True)
class ExternalGateway:
    """A router's ``external_gateway_info``. ``enable_snat`` is None from a Neutron without the
    ``ext-gw-mode`` extension (which then always translates)."""

    network_id: str
    enable_snat: bool | None = None
    fixed_ips: tuple[FixedIp, ...] = ()

    @classmethod
    def from_json(cls, d: JsonObject) -> ExternalGateway:
        return cls(
            network_id=_text(d, "network_id"),
            enable_snat=_opt_bool(d, "enable_snat"),
            fixed_ips=_fixed_ips(d, "external_fixed_ips"),
        )


class Route(NamedTuple):
    """A router's static route (extension ``extraroute``)."""

    destination: str
    nexthop: str


@dataclass(frozen=True)
class Router:
    """A Neutron router (extension ``router``). Its interfaces are ports: see
    ``NeutronClient.list_router_interfaces``."""

    id: str
    name: str
    status: str | None = None
    admin_state_up: bool = True
    project_id: str | None = None
    gateway: ExternalGateway | None = None
    routes: tuple[Route, ...] = ()

    @classmethod
    def from_json(cls, d: JsonObject) -> Router:
        gateway = d.get("external_gateway_info")
        return cls(
            id=_text(d, "id"),
            name=_text(d, "name"),
            status=_opt_text(d, "status"),
            admin_state_up=d.get("admin_state_up") is not False,
            project_id=_opt_text(d, "project_id") or _opt_text(d, "tenant_id"),
            gateway=ExternalGateway.from_json(gateway) if isinstance(gateway, dict) and gateway else None,
            routes=tuple(
                Route(_text(r, "destination"), _text(r, "nexthop"))
                for r in _objects(d, "routes")
                if _text(r, "destination") and _text(r, "nexthop")
            ),
        )


@dataclass(frozen=True)
class FloatingIp:
    """A floating IP (extension ``router``): an address on ``floating_network_id``, associated
    with ``port_id``'s ``fixed_ip_address`` through ``router_id``, or with nothing."""

    id: str
    floating_ip_address: str
    floating_network_id: str
    status: str | None = None
    port_id: str | None = None
    fixed_ip_address: str | None = None
    router_id: str | None = None
    project_id: str | None = None
    description: str = ""

    @classmethod
    def from_json(cls, d: JsonObject) -> FloatingIp:
        return cls(
            id=_text(d, "id"),
            floating_ip_address=_text(d, "floating_ip_address"),
            floating_network_id=_text(d, "floating_network_id"),
            status=_opt_text(d, "status"),
            port_id=_opt_text(d, "port_id"),
            fixed_ip_address=_opt_text(d, "fixed_ip_address"),
            router_id=_opt_text(d, "router_id"),
            project_id=_opt_text(d, "project_id") or _opt_text(d, "tenant_id"),
            description=_text(d, "description"),
        )


T = TypeVar("T")


@dataclass(frozen=True)
class Resource(Generic[T]):
    """A Neutron collection: its path under ``/v2.0``, the keys of one item and of the list, its type."""

    path: str
    member: str
    parse: Callable[[JsonObject], T]

    @property
    def plural(self) -> str:
        return self.path.replace("-", "_")


NETWORKS = Resource("networks", "network", Network.from_json)
SUBNETS = Resource("subnets", "subnet", Subnet.from_json)
PORTS = Resource("ports", "port", Port.from_json)
SECURITY_GROUPS = Resource("security-groups", "security_group", SecurityGroup.from_json)
SECURITY_GROUP_RULES = Resource("security-group-rules", "security_group_rule", SecurityGroupRule.from_json)
AGENTS = Resource("agents", "agent", NetworkAgent.from_json)
ROUTERS = Resource("routers", "router", Router.from_json)
FLOATING_IPS = Resource("floatingips", "floatingip", FloatingIp.from_json)
