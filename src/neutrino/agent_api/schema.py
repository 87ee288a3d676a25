"""Wire models of the agent API (requests and answers); the prose contract is :mod:`neutrino.agent_api`.

The engine (the client) and the agent (the server) both import this module; it imports pydantic
and nothing else of Neutrino but its sibling :mod:`.dhcp_options`. The models the agent reads (requests, and what it stores in its
state file) reject unknown fields (``extra="forbid"``) so a typo fails loudly; the answer-only
models (:class:`Capabilities` and the list envelopes) ignore them, so a reader keeps working with
a newer agent.

Requests: :class:`VmSpec` (with :class:`NicSpec`, :class:`ExternalNet`, :class:`InternalNet`),
:class:`NetworkSpec`, :class:`NetworkSync`, :class:`DhcpSpec`, :class:`SecurityGroupSpec`.
Answers: :class:`VmState` (:class:`NicState`, :class:`Plugged`), :class:`VmList`,
:class:`VmDestroyed`, :class:`NetworkState`, :class:`NetworkList`, :class:`NetworkSyncResult`,
:class:`DhcpList`, :class:`SecurityGroupList`, :class:`Capabilities`, :class:`ErrorBody`.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from neutrino.agent_api import dhcp_options

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
#: a DNS domain: labels of letters, digits and inner hyphens (pydantic's regex has no look-around)
_DOMAIN = r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
_BRIDGE = r"^[A-Za-z0-9_.;-]{1,15}$"
#: what the Linux kernel takes as a device name (dev_valid_name): at most 15 bytes, no '/', ':' or white space
_DEVICE = re.compile(r"^(?!\.{1,2}$)[^/:\s\x00]{1,15}$")


def _peers(values: list[str]) -> list[str]:
    try:
        return [str(ip_address(v)) for v in values]
    except ValueError as exc:
        raise ValueError(f"tunnel_peers: {exc}") from exc


def _mac(label: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        value = value.lower()
        if not _MAC.match(value):
            raise ValueError(f"{label} must look like 56:6f:1a:2b:3c:4d")
        return value

    return check


#: an Ethernet address, lower-cased
Mac = Annotated[str, AfterValidator(_mac("mac"))]
#: other hosts' tunnel (VXLAN) addresses
TunnelPeers = Annotated[list[str], AfterValidator(_peers)]


#: the longest string a request to the agent may carry in a field with no tighter limit
MAX_TEXT = 4096


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=MAX_TEXT)


class PortFixedIp(_Wire):
    """One fixed IP of a provider port."""

    subnet_id: str = Field(pattern=_ID)
    ip_address: IPv4Address | IPv6Address


class PortAddressPair(_Wire):
    """One allowed address pair of a provider port: an address or CIDR, with its own MAC or the port's."""

    ip_address: str = Field(min_length=1, max_length=64)
    mac_address: Mac | None = None

    @field_validator("ip_address")
    @classmethod
    def _address_or_cidr(cls, value: str) -> str:
        try:
            ip_network(value, strict=False)
        except ValueError as exc:
            raise ValueError(f"ip_address must be an address or CIDR: {exc}") from exc
        return value


class PortDnsAssignment(_Wire):
    """One entry of a provider port's ``dns_assignment``: the name its guest has at one of its addresses."""

    hostname: str = Field(default="", max_length=255)
    ip_address: str = Field(min_length=1, max_length=64)
    fqdn: str = Field(default="", max_length=255)


class PortDhcpOption(_Wire):
    """One of a provider port's ``extra_dhcp_opts`` as the provider has it (the agent leaves out of the
    lease what its DHCP server cannot serve, as it does for the provider's ports)."""

    opt_name: str = Field(min_length=1, max_length=255)
    opt_value: str = ""
    ip_version: int = 4


#: :class:`Capabilities.accepts`: :class:`PortDetails`' DNS and DHCP fields
PORT_LEASE = "port_lease"


class PortDetails(_Wire):
    """The provider port of a vNIC as the engine created or found it, so the agent can write the
    port's DHCP lease and its filter before the guest starts, without asking the provider.

    The DNS and DHCP fields (None: not sent, as by an engine before them) make the plug-time lease the one
    the agent's follower later computes from the provider (host name, domain, extra options): with them the
    network's DHCP server is not restarted when the follower reads the port."""

    fixed_ips: list[PortFixedIp] = Field(default_factory=list)
    port_security_enabled: bool | None = Field(default=None, description="None: the provider's default (on)")
    allowed_address_pairs: list[PortAddressPair] = Field(default_factory=list)
    dns_assignment: list[PortDnsAssignment] | None = Field(default=None, max_length=256)
    dns_domain: str | None = Field(default=None, max_length=255, description="the port's own dns_domain")
    network_dns_domain: str | None = Field(
        default=None, max_length=255, description="its network's dns_domain"
    )
    extra_dhcp_opts: list[PortDhcpOption] | None = Field(default=None, max_length=256)

    @property
    def names_its_lease(self) -> bool:
        """Whether the engine sent what the port's DHCP lease is made of beyond its addresses."""
        return self.dns_assignment is not None and self.extra_dhcp_opts is not None


class ExternalNet(_Wire):
    """Connection details of a vNIC on an external (provider) network."""

    vnic_id: str = Field(pattern=_ID, description="the provider's port id")
    provider_type: str = "OPENSTACK_NETWORK"
    plugin_type: str = Field(min_length=1, description="e.g. LINUX_BRIDGE, OPEN_VSWITCH")
    network_id: str = Field(pattern=_ID, description="the provider's network id")
    network_type: str | None = Field(default=None, description="vxlan, flat, vlan, local, ... when known")
    segmentation_id: int | None = Field(default=None, ge=0, le=16777215)
    physical_network: str | None = None
    security_groups: list[str] | None = Field(
        default=None, description="None: provider default; []: none; list: these group ids"
    )
    tunnel_peers: TunnelPeers = Field(
        default_factory=list, description="peer hosts' tunnel (VXLAN) addresses"
    )
    port: PortDetails | None = Field(
        default=None,
        description="the provider port's addresses (its id is vnic_id, its MAC the vNIC's); "
        "None: the agent reads them from the provider",
    )


class InternalNet(_Wire):
    """An internal (non-external) VM network of the host's cluster, by name and bridge."""

    network: str = Field(min_length=1, max_length=256)
    bridge: str | None = Field(default=None, pattern=_BRIDGE, description="default: the network name")

    @property
    def bridge_name(self) -> str:
        return self.bridge or self.network


class NicSpec(_Wire):
    """One vNIC of a VM: exactly one of ``external`` and ``internal``."""

    nic_id: str = Field(pattern=_ID, description="the engine's vNIC id")
    name: str = Field(min_length=1, max_length=64)
    mac: Mac
    mtu: int | None = Field(default=None, ge=68, le=65535)
    external: ExternalNet | None = None
    internal: InternalNet | None = None

    @model_validator(mode="after")
    def _one_network(self) -> NicSpec:
        if (self.external is None) == (self.internal is None):
            raise ValueError("a nic needs exactly one of 'external' and 'internal'")
        return self

    @property
    def device_id(self) -> str:
        """The id the host device is named after: the port id, or the nic id on internal networks."""
        return self.external.vnic_id if self.external else self.nic_id


class VmSpec(_Wire):
    """The create-VM request."""

    vm_id: str = Field(pattern=_ID)
    name: str = Field(min_length=1, max_length=255)
    memory_mb: int = Field(default=1024, ge=1)
    vcpus: int = Field(default=1, ge=1)
    nics: list[NicSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> VmSpec:
        for attr in ("nic_id", "mac", "device_id"):
            values = [getattr(n, attr) for n in self.nics]
            if len(values) != len(set(values)):
                raise ValueError(f"nics must have distinct {attr}s")
        return self


class Plugged(_Wire):
    """What a vNIC driver actually did, as reported in list-VMs."""

    driver: str
    vnic_id: str | None = None
    plugin_type: str | None = None
    mac: str
    security_groups: list[str] | None = None
    device: str | None = None
    bridge: str | None = None
    details: dict[str, object] = Field(default_factory=dict)


NicStateName = Literal["plugged", "unplugged", "failed"]


class NicState(_Wire):
    """One vNIC in list-VMs: the request as given and what the agent made of it."""

    spec: NicSpec
    state: NicStateName
    plugged: Plugged | None = None
    error: str | None = None


class VmState(_Wire):
    """One VM in list-VMs."""

    vm_id: str
    name: str
    status: Literal["Up", "Down"]
    backend: str
    memory_mb: int
    vcpus: int
    nics: list[NicState]


class NetworkSpec(_Wire):
    """The set-up-network request (an internal network of the host's cluster)."""

    bridge: str | None = Field(default=None, pattern=_BRIDGE)
    mtu: int | None = Field(default=None, ge=68, le=65535)


class NetworkState(_Wire):
    """An internal network the host carries."""

    network: str
    bridge: str
    mtu: int | None = None


class NetworkSyncItem(_Wire):
    """One internal network in a sync request."""

    network: str = Field(min_length=1, max_length=256)
    bridge: str | None = Field(default=None, pattern=_BRIDGE, description="default: the network name")
    mtu: int | None = Field(default=None, ge=68, le=65535)

    @model_validator(mode="after")
    def _bridge_named(self) -> NetworkSyncItem:
        """Without a bridge, the bridge is the network's name: it must then be one Linux can give a device."""
        too_long = len(self.network.encode("utf-8", "replace")) > 15
        if self.bridge is None and (too_long or not _DEVICE.match(self.network)):
            raise ValueError(
                f"network: '{self.network[:32]}' cannot name a bridge (1-15 characters, no '/', ':' or"
                " white space): give a bridge"
            )
        return self

    def state(self) -> NetworkState:
        return NetworkState(network=self.network, bridge=self.bridge or self.network, mtu=self.mtu)


class NetworkSync(_Wire):
    """The sync-networks request: every internal network the host should carry."""

    networks: list[NetworkSyncItem]

    @model_validator(mode="after")
    def _unique(self) -> NetworkSync:
        names = [n.network for n in self.networks]
        bridges = [n.state().bridge for n in self.networks]
        if len(names) != len(set(names)) or len(bridges) != len(set(bridges)):
            raise ValueError("networks must have distinct names and bridges")
        return self


class DhcpOption(_Wire):
    """One extra DHCP option of a host (a port's ``extra_dhcp_opts``): a dnsmasq option name or
    number, its value, and the IP version of the leases it goes with (see :mod:`.dhcp_options`)."""

    name: str
    value: str = ""
    ip_version: Literal[4, 6] = 4

    @model_validator(mode="after")
    def _servable(self) -> DhcpOption:
        if (reason := dhcp_options.problem(self.name, self.value, self.ip_version)) is not None:
            raise ValueError(reason)
        return self


class DhcpHost(_Wire):
    """One static lease (an IPv6 one is served on a DHCPv6 subnet, see :class:`DhcpSubnet6`), with
    the host name and domain its guest is told (DHCP options 12 and 15) and its extra options."""

    mac: Mac
    ip: IPv4Address | IPv6Address
    hostname: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]{1,63}$")
    domain: str | None = Field(default=None, pattern=_DOMAIN, max_length=253)
    options: list[DhcpOption] = Field(default_factory=list)


def _check_in_subnet(cidr: IPv4Network, server_ip: IPv4Address, gateway_ip: IPv4Address | None) -> None:
    for label, address in (("server_ip", server_ip), ("gateway_ip", gateway_ip)):
        if address is not None and address not in cidr:
            raise ValueError(f"{label} {address} is not in {cidr}")


class DhcpSubnet(_Wire):
    """One IPv4 subnet a network's DHCP server serves: its range, the server's address in it, and
    the options its clients get."""

    cidr: IPv4Network
    server_ip: IPv4Address
    gateway_ip: IPv4Address | None = None
    dns_servers: list[IPv4Address] = Field(default_factory=list, description="DHCP option 6")

    @model_validator(mode="after")
    def _in_subnet(self) -> DhcpSubnet:
        _check_in_subnet(self.cidr, self.server_ip, self.gateway_ip)
        return self


Ipv6Mode = Literal["slaac", "dhcpv6-stateless", "dhcpv6-stateful"]


class DhcpSubnet6(_Wire):
    """One IPv6 subnet a network's DHCP server serves, by its Neutron modes: ``ipv6_ra_mode`` set,
    the server sends router advertisements for the prefix (none otherwise: another router's job);
    ``ipv6_address_mode`` (default: the RA mode) ``slaac`` (addresses by SLAAC, no DHCPv6),
    ``dhcpv6-stateless`` (SLAAC, options by DHCPv6), ``dhcpv6-stateful`` or none (addresses by
    DHCPv6: the static leases of ``hosts`` in the prefix)."""

    cidr: IPv6Network
    server_ip: IPv6Address
    dns_servers: list[IPv6Address] = Field(default_factory=list, description="DHCPv6 option 23 / RDNSS")
    ipv6_ra_mode: Ipv6Mode | None = None
    ipv6_address_mode: Ipv6Mode | None = None

    @model_validator(mode="after")
    def _in_subnet(self) -> DhcpSubnet6:
        if self.server_ip not in self.cidr:
            raise ValueError(f"server_ip {self.server_ip} is not in {self.cidr}")
        if self.address_mode in ("slaac", "dhcpv6-stateless") and self.cidr.prefixlen != 64:
            raise ValueError(f"{self.address_mode} needs a /64 prefix, not {self.cidr}")
        return self

    @property
    def address_mode(self) -> Ipv6Mode | None:
        return self.ipv6_address_mode or self.ipv6_ra_mode

    @property
    def stateful(self) -> bool:
        """Addresses come by DHCPv6."""
        return self.address_mode in (None, "dhcpv6-stateful")


class DhcpSpec(_Wire):
    """The set-up-DHCP request: serve static leases on one provider network's IPv4 subnet(s), and
    router advertisements and DHCPv6 on its IPv6 subnets. A network with IPv6 subnets only has no
    ``cidr`` and ``server_ip``."""

    network_id: str = Field(pattern=_ID)
    plugin_type: str = Field(min_length=1)
    network_type: str | None = None
    segmentation_id: int | None = Field(default=None, ge=0, le=16777215)
    physical_network: str | None = None
    tunnel_peers: TunnelPeers = Field(default_factory=list)
    cidr: IPv4Network | None = None
    server_ip: IPv4Address | None = None
    gateway_ip: IPv4Address | None = None
    dns_servers: list[IPv4Address] = Field(default_factory=list, description="DHCP option 6")
    extra_subnets: list[DhcpSubnet] = Field(
        default_factory=list, description="more IPv4 subnets of the network, served by the same server"
    )
    ipv6_subnets: list[DhcpSubnet6] = Field(
        default_factory=list, description="the network's IPv6 subnets, served by the same server"
    )
    server_mac: Annotated[str, AfterValidator(_mac("server_mac"))] | None = Field(
        default=None, description="MAC of the server's port; default: random"
    )
    mtu: int | None = Field(default=None, ge=68, le=65535)
    lease_seconds: int = Field(default=86400, ge=120)
    hosts: list[DhcpHost] = Field(default_factory=list)

    @model_validator(mode="after")
    def _in_subnet(self) -> DhcpSpec:
        if self.cidr is None or self.server_ip is None:
            if self.cidr is not None or self.server_ip is not None:
                raise ValueError("cidr and server_ip go together")
            if self.extra_subnets or self.gateway_ip or self.dns_servers:
                raise ValueError("extra_subnets, gateway_ip and dns_servers need cidr")
            if not self.ipv6_subnets:
                raise ValueError("a DHCP server needs cidr or ipv6_subnets")
        else:
            _check_in_subnet(self.cidr, self.server_ip, self.gateway_ip)
        cidrs: list[IPv4Network | IPv6Network] = [s.cidr for s in self.subnets()]
        cidrs += [s.cidr for s in self.ipv6_subnets]
        for i, net in enumerate(cidrs):
            if any(net.version == other.version and net.overlaps(other) for other in cidrs[:i]):
                raise ValueError(f"subnet {net} overlaps another subnet of the network")
        for i, host in enumerate(self.hosts):
            if not any(host.ip.version == net.version and host.ip in net for net in cidrs):
                raise ValueError(f"hosts.{i}.ip {host.ip} is not in {', '.join(map(str, cidrs))}")
        return self

    def subnets(self) -> list[DhcpSubnet]:
        """Every IPv4 subnet served: ``cidr`` first, then ``extra_subnets``."""
        if self.cidr is None or self.server_ip is None:
            return []
        primary = DhcpSubnet(
            cidr=self.cidr, server_ip=self.server_ip, gateway_ip=self.gateway_ip, dns_servers=self.dns_servers
        )
        return [primary, *self.extra_subnets]

    def external(self) -> ExternalNet:
        """The server's port as a vNIC driver sees it."""
        return ExternalNet(
            vnic_id=f"dhcp-{self.network_id}"[:128],
            plugin_type=self.plugin_type,
            network_id=self.network_id,
            network_type=self.network_type,
            segmentation_id=self.segmentation_id,
            physical_network=self.physical_network,
            tunnel_peers=self.tunnel_peers,
        )


class SecurityGroupRule(BaseModel):
    """One Neutron security group rule (``/v2.0/security-group-rules`` shape; other fields such
    as ``id`` or ``tenant_id`` are accepted and ignored, so provider JSON can be passed as is)."""

    model_config = ConfigDict(extra="ignore")

    direction: Literal["ingress", "egress"]
    ethertype: Literal["IPv4", "IPv6"] = "IPv4"
    protocol: str | int | None = None
    port_range_min: int | None = Field(default=None, ge=0, le=65535)
    port_range_max: int | None = Field(default=None, ge=0, le=65535)
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None

    @field_validator("protocol")
    @classmethod
    def _protocol(cls, value: str | int | None) -> str | int | None:
        if value is None or isinstance(value, int):
            if isinstance(value, int) and not 0 <= value <= 255:
                raise ValueError("protocol numbers are 0-255")
            return value
        if value.isdigit():
            return cls._protocol(int(value))
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,15}", value.lower()):
            raise ValueError(f"unknown protocol {value!r}")
        return value.lower()

    @model_validator(mode="after")
    def _prefix(self) -> SecurityGroupRule:
        if self.remote_ip_prefix is not None:
            try:
                net = ip_network(self.remote_ip_prefix, strict=False)
            except ValueError as exc:
                raise ValueError(f"remote_ip_prefix: {exc}") from exc
            if f"IPv{net.version}" != self.ethertype:
                raise ValueError(f"remote_ip_prefix {self.remote_ip_prefix} is not {self.ethertype}")
            self.remote_ip_prefix = str(net)
        return self


class SecurityGroupSpec(_Wire):
    """The set-security-group request: a group's rules, and the addresses of its members (what
    ``remote_group_id`` rules of any group referring to it match)."""

    rules: list[SecurityGroupRule] = Field(default_factory=list)
    member_ips: list[str] = Field(default_factory=list)

    @field_validator("member_ips")
    @classmethod
    def _members(cls, values: list[str]) -> list[str]:
        try:
            return [str(ip_network(v, strict=False)) if "/" in v else str(ip_address(v)) for v in values]
        except ValueError as exc:
            raise ValueError(f"member_ips: {exc}") from exc


# -- answers ------------------------------------------------------------------------------------
class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


class VmList(_Answer):
    """``GET /vms``."""

    vms: list[VmState]


class VmDestroyed(_Answer):
    """``DELETE /vms/{vm_id}``: the VM is gone from the agent; ``warnings`` name what could not be
    cleaned on the host."""

    vm_id: str
    warnings: list[str] = Field(default_factory=list)


class NetworkList(_Answer):
    """``GET /networks``."""

    networks: list[NetworkState]


class NetworkSyncResult(_Answer):
    """``PUT /networks``: every network carried now, those torn down, and those kept because
    running vNICs still use them."""

    networks: list[NetworkState]
    removed: list[str] = Field(default_factory=list)
    in_use: list[str] = Field(default_factory=list)


class DhcpList(_Answer):
    """``GET /dhcp``."""

    dhcp: list[DhcpSpec]


class SecurityGroupList(_Answer):
    """``GET /security-groups``: group id → group."""

    security_groups: dict[str, SecurityGroupSpec]


class ErrorDetail(_Answer):
    code: str = Field(description="the error leaf, e.g. PlugFailed, VmNotFound")
    message: str


class ErrorBody(_Answer):
    """The body of every non-2xx answer."""

    error: ErrorDetail


class BackendDescription(BaseModel):
    """The VM backend in the capabilities: its name and backend-specific facts."""

    model_config = ConfigDict(extra="allow")

    name: str


class DriverDescription(_Answer):
    """One vNIC driver in the capabilities."""

    name: str
    plugin_types: list[str]
    network_types: list[str] = Field(description='"*": any')
    security_groups: bool
    details: dict[str, object] = Field(
        default_factory=dict, description="driver specific; omitted when empty"
    )

    @model_serializer(mode="wrap")
    def _without_empty_details(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        data: dict[str, object] = handler(self)
        if not self.details:
            data.pop("details", None)
        return data


class PluginTypeSupport(_Answer):
    """What the host plugs for one plugin type: the engine schedules a vNIC only onto a host with
    an entry for its plugin type that supports its network type (and groups, when it has some)."""

    driver: str
    binding_host_id: str = Field(description="the value for the port's binding:host_id")
    network_types: list[str]
    security_groups: bool


class ExternalNetworkUse(_Answer):
    """A provider network with plugged vNICs on the host."""

    network_id: str
    plugin_type: str
    network_type: str | None = None
    segmentation_id: int | None = None
    vnics: int


class CarriedNetworks(_Answer):
    internal: list[NetworkState] = Field(default_factory=list)
    external: list[ExternalNetworkUse] = Field(default_factory=list)
    dhcp: list[str] = Field(default_factory=list, description="provider networks served DHCP here")


class CertificateState(_Answer):
    """The certificate the engine's CA issued this agent (absent when it serves one of its own or plain HTTP):
    when it expires, and ``renewal_due``: fewer days are left than the agent's ``cert_renew_days``, so the engine
    should issue it a new one (``PUT /enrollment`` over the mutual-TLS channel)."""

    serial_number: str
    not_after: datetime.datetime
    renewal_due: bool


class Capabilities(_Answer):
    """``GET /capabilities``: who the host is and what it can plug."""

    host_name: str
    tunnel_ip: str | None = None
    vm_backend: BackendDescription
    vnic_drivers: dict[str, DriverDescription]
    plugin_types: dict[str, PluginTypeSupport]
    networks: CarriedNetworks
    security_groups: list[str] = Field(default_factory=list)
    certificate: CertificateState | None = None
    accepts: list[str] = Field(
        default_factory=list,
        description="what this agent's requests may carry beyond the first contract (PORT_LEASE): an engine sends "
        "it only to agents that say so, as an older agent refuses a field it does not know",
    )


class EnrollmentState(_Wire):
    """``GET /enrollment``: whether the engine's CA certified this agent yet, the request to certify its key
    (PEM, a CSR naming the host), and ``proof``: :func:`enrollment_proof` of the request with the host's
    token, so the engine signs only a key of the agent that knows the token (the token never crosses the
    wire before the agent's certificate is trusted)."""

    enrolled: bool
    certificate_request: str
    proof: str


class EnrollmentCertificate(_Wire):
    """``PUT /enrollment``: the agent's certificate chain signed by the engine's CA, that CA (whose client
    certificates the agent then requires), and ``proof``: :func:`enrollment_proof` of both with the token."""

    certificate: str = Field(min_length=1, max_length=65536)
    ca_certificate: str = Field(min_length=1, max_length=65536)
    proof: str = Field(min_length=64, max_length=64)


def enrollment_proof(token: str, *parts: str) -> str:
    """HMAC-SHA256 of ``parts`` keyed by the host's token: each side of an enrollment shows it knows the
    token without sending it."""
    message = "\n".join(("neutrino-enrollment", *parts)).encode()
    return hmac.new(token.encode(), message, hashlib.sha256).hexdigest()
