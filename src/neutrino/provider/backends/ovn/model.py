"""The northbound rows this backend owns, as plain values both sides of a comparison use.

:mod:`.desired` computes them from the provider's database, :mod:`.northbound` reads them from
OVN's; two equal values mean nothing to repair.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: external_ids keys (Neutron's OVN driver uses the same).
REVISION = "neutron:revision_number"
NETWORK_NAME = "neutron:network_name"
SECURITY_GROUP_IDS = "neutron:security_group_ids"
SUBNET_ID = "subnet_id"
#: a port's own DHCP_Options row carries its port id besides its subnet's (Neutron's)
PORT_ID = "port_id"
LOCALNET = "localnet"


def switch_name(network_id: str) -> str:
    return f"neutron-{network_id}"


def network_of(switch: str) -> str | None:
    return switch.removeprefix("neutron-") if switch.startswith("neutron-") else None


def localnet_name(network_id: str) -> str:
    return f"provnet-{network_id}"


@dataclass(frozen=True)
class Localnet:
    """The ``localnet`` port of a flat or VLAN provider network."""

    physnet: str
    tag: int | None


@dataclass(frozen=True)
class Switch:
    """A network's Logical_Switch (named ``neutron-<network id>``)."""

    network_id: str
    external_ids: Mapping[str, str]
    other_config: Mapping[str, str]
    localnet: Localnet | None = None


@dataclass(frozen=True)
class Dhcp:
    """A subnet's DHCP_Options row (found by ``external_ids:subnet_id``), or a port's own row on
    that subnet (``external_ids:port_id`` too): the subnet's options plus the port's extra ones."""

    subnet_id: str
    cidr: str
    options: Mapping[str, str]
    external_ids: Mapping[str, str]
    port_id: str = ""


#: a DHCP_Options row's key: its subnet id, or (port id, subnet id) for a port's own row
DhcpKey = str | tuple[str, str]


@dataclass(frozen=True)
class Port:
    """A port's Logical_Switch_Port (named by the port id)."""

    port_id: str
    network_id: str
    addresses: tuple[str, ...]
    port_security: tuple[str, ...]
    enabled: bool
    options: Mapping[str, str]
    external_ids: Mapping[str, str]
    #: the subnets whose DHCP_Options the port refers to (resolved to row uuids when written)
    dhcpv4_subnet: str | None = None
    dhcpv6_subnet: str | None = None
    #: whether the port refers to its own row on that subnet (extra DHCP options, its own domain)
    dhcpv4_own: bool = False
    dhcpv6_own: bool = False
    #: "" for a VM's port, :data:`ROUTER_TYPE` for a router's (interface or gateway)
    type: str = ""


#: The drop-all group: every port with port security is a member (what no group allows is dropped).
DROP_GROUP = "neutron_pg_drop"
RULE_ID = "neutron:security_group_rule_id"
GROUP_ID = "neutron:security_group_id"


def port_group_name(group_id: str) -> str:
    """A security group's Port_Group (OVN names allow no '-')."""
    return "pg_" + group_id.replace("-", "_")


@dataclass(frozen=True)
class Acl:
    direction: str  # from-lport | to-lport
    priority: int
    match: str
    action: str
    rule_id: str = ""  # the security group rule's id; empty for the drop group's


@dataclass(frozen=True)
class PortGroup:
    """A security group's Port_Group, or the drop group (``group_id`` = :data:`DROP_GROUP`)."""

    group_id: str
    ports: frozenset[str]
    acls: frozenset[Acl]

    @property
    def name(self) -> str:
        return DROP_GROUP if self.group_id == DROP_GROUP else port_group_name(self.group_id)


def groups_of(port: Port) -> frozenset[str]:
    """The Port_Group names a port is a member of, by its row: its security groups' (as written in
    its ``external_ids``) and, with port security, the drop group's."""
    names = {port_group_name(g) for g in port.external_ids.get(SECURITY_GROUP_IDS, "").split()}
    if port.port_security:
        names.add(DROP_GROUP)
    return frozenset(names)


ROUTER_TYPE = "router"
#: our ports' LSP types (a localnet port is the switch's, not a Neutron port)
PORT_TYPES = ("", ROUTER_TYPE)
ROUTER_NAME = "neutron:router_name"
FIP_ID = "neutron:fip_id"


def router_name(router_id: str) -> str:
    """A router's Logical_Router (the same prefix as switches, another table)."""
    return f"neutron-{router_id}"


def router_of(name: str) -> str | None:
    return name.removeprefix("neutron-") if name.startswith("neutron-") else None


def router_port_name(port_id: str) -> str:
    """The Logical_Router_Port of a router's port (its switch side is the LSP named by the port id)."""
    return f"lrp-{port_id}"


Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class RouterPort:
    """A router's interface or gateway as a Logical_Router_Port ``lrp-<port id>``."""

    port_id: str
    mac: str
    networks: tuple[str, ...]  # "address/prefix", sorted
    external_ids: Mapping[str, str]
    #: the gateway's chassis (``gateway_chassis`` rows), highest priority first; () for an interface
    gateway_chassis: tuple[str, ...] = ()


@dataclass(frozen=True)
class Nat:
    """A NAT row of a router: ``snat`` per subnet behind it, ``dnat_and_snat`` per floating IP."""

    type: str
    external_ip: str
    logical_ip: str
    external_ids: Pairs = ()


@dataclass(frozen=True)
class Route:
    """A Logical_Router_Static_Route: the gateway's default route, or an extraroute."""

    ip_prefix: str
    nexthop: str
    external_ids: Pairs = ()


@dataclass(frozen=True)
class Router:
    """A router's Logical_Router ``neutron-<router id>`` with everything it holds."""

    router_id: str
    enabled: bool
    external_ids: Mapping[str, str]
    ports: Mapping[str, RouterPort]
    nat: frozenset[Nat]
    routes: frozenset[Route]


@dataclass
class State:
    """Rows by Neutron id. ``None`` for a scope means "every resource of that kind"."""

    switches: dict[str, Switch] = field(default_factory=dict)
    dhcp: dict[str, Dhcp] = field(default_factory=dict)
    #: ports' own DHCP_Options rows by (port id, subnet id)
    port_dhcp: dict[tuple[str, str], Dhcp] = field(default_factory=dict)
    ports: dict[str, Port] = field(default_factory=dict)
    port_groups: dict[str, PortGroup] = field(default_factory=dict)
    routers: dict[str, Router] = field(default_factory=dict)
