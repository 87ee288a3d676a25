"""What the agent reads from the network provider (typed resources of
:mod:`neutrino.neutron_client`, read leniently: a field a provider omits takes Neutron's default)
and how it becomes what the host applies: security groups with their members, the addresses a
port's guest may send from, where router advertisements may come from, and the DHCP server of a
network. Never imports :mod:`neutrino.provider`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import Executor
from ipaddress import ip_address

from pydantic import ValidationError

from neutrino.agent.datapath.firewall import link_local, source
from neutrino.agent.plugging import NetworkUse
from neutrino.agent_api.schema import (
    DhcpHost,
    DhcpOption,
    DhcpSpec,
    DhcpSubnet,
    DhcpSubnet6,
    SecurityGroupRule,
    SecurityGroupSpec,
)
from neutrino.neutron_client import BadRequest, Network, NeutronClient, Port, Subnet
from neutrino.neutron_client import SecurityGroupRule as NeutronRule

log = logging.getLogger(__name__)

DHCP_OWNER = "network:dhcp"
#: ports whose link-local address may send router advertisements: the DHCP servers (the agents'
#: dnsmasq advertises where there is no L3 agent) and a Neutron router's interfaces (radvd)
RA_OWNERS = (
    DHCP_OWNER,
    "network:router_interface",
    "network:router_interface_distributed",
    "network:ha_router_replicated_interface",
)


def dhcp_device_id(host: str, network_id: str) -> str:
    """``device_id`` of the provider port of this host's DHCP server on a network."""
    return f"dhcp{host}-{network_id}"


def port_addresses(port: Port) -> list[str]:
    """What a port's guest may send from: its fixed IPs and allowed address pairs."""
    found = [ip.ip_address for ip in port.fixed_ips if ip.ip_address]
    found += [pair.ip_address for pair in port.allowed_address_pairs if pair.ip_address]
    return sorted(set(found))


def port_sources(port: Port) -> list[str]:
    """What a port's guest may send from, for anti-spoofing: its fixed IPs and allowed address
    pairs, a pair with a MAC other than the port's naming its MAC (:func:`firewall.source`)."""
    own = (port.mac_address or "").lower()
    found = {ip.ip_address for ip in port.fixed_ips if ip.ip_address}
    for pair in port.allowed_address_pairs:
        mac = (pair.mac_address or own).lower()
        found.add(source(pair.ip_address, None if mac == own else mac))
    return sorted(found)


def port_groups(port: Port) -> list[str]:
    """The groups the port's vNIC is filtered with: none when port security is disabled."""
    if port.port_security_enabled is False:
        return []
    return sorted(set(port.security_groups))


def ra_sources(ports: Iterable[Port], networks: Iterable[str]) -> dict[str, list[str]]:
    """For each of ``networks``, the link-local addresses of its ports in :data:`RA_OWNERS`
    (modified EUI-64 of their MACs, what their kernels configure)."""
    found: dict[str, set[str]] = {network: set() for network in networks}
    for port in ports:
        if port.network_id in found and port.device_owner in RA_OWNERS and port.mac_address:
            found[port.network_id].add(link_local(port.mac_address))
    return {network: sorted(addresses) for network, addresses in found.items()}


def serves_dhcp(subnet: Subnet) -> bool:
    """Whether this host's DHCP server has something to serve on the subnet: DHCP (IPv4), router
    advertisements (IPv6 with ``ipv6_ra_mode``) or DHCPv6 (IPv6 not in ``slaac`` address mode)."""
    if subnet.ip_version == 4:
        return True
    return bool(subnet.ipv6_ra_mode) or subnet.ipv6_address_mode != "slaac"


#: what of a Neutron rule the host's firewall applies
_RULE_FIELDS = tuple(SecurityGroupRule.model_fields)


def _rules(raw: Iterable[NeutronRule], group_id: str) -> list[SecurityGroupRule]:
    rules = []
    for item in raw:
        if item.remote_address_group_id:
            log.warning("security group %s: rule %s uses an address group; ignored", group_id, item.id)
            continue
        try:
            rules.append(SecurityGroupRule.model_validate({f: getattr(item, f) for f in _RULE_FIELDS}))
        except ValidationError as exc:  # a rule we cannot express allows nothing
            log.warning("security group %s: rule %s ignored: %s", group_id, item.id, exc)
    return sorted(rules, key=lambda r: r.model_dump_json())


def _groups(neutron: NeutronClient, ids: set[str]) -> dict[str, list[SecurityGroupRule]]:
    found = {g.id: g for g in neutron.list_security_groups(id=sorted(ids)) if g.id in ids}
    without = sorted(g for g, group in found.items() if group.rules is None)
    raw: dict[str, list[NeutronRule]] = {g: list(group.rules or ()) for g, group in found.items()}
    if without:  # a provider that does not inline the rules
        for rule in neutron.list_security_group_rules(security_group_id=without):
            if rule.security_group_id in raw:
                raw[rule.security_group_id].append(rule)
    return {g: _rules(items, g) for g, items in raw.items()}


def _members(neutron: NeutronClient, ids: set[str]) -> tuple[dict[str, set[str]], set[str]]:
    try:
        ports = neutron.list_ports(security_groups=sorted(ids))
    except BadRequest:
        ports = neutron.list_ports()  # a provider that cannot filter ports by group
    members: dict[str, set[str]] = {g: set() for g in ids}
    member_ports = set()
    for port in ports:
        for group in set(port.security_groups) & ids:
            members[group].update(port_addresses(port))
            member_ports.add(port.id)
    return members, member_ports


def read_groups(
    neutron: NeutronClient, ids: Iterable[str], pool: Executor | None = None
) -> dict[str, SecurityGroupSpec]:
    """The groups ``ids`` the provider has, and the groups their rules refer to, as the host
    applies them: rules (sorted, so that equal groups compare equal) and member addresses. With
    ``pool``, the members of ``ids`` are read in it while their rules are read (one round trip,
    not two, unless the rules refer to other groups)."""
    return read_groups_and_members(neutron, ids, pool)[0]


def read_rules(neutron: NeutronClient, ids: Iterable[str]) -> dict[str, list[SecurityGroupRule]]:
    """The rules of the groups ``ids`` the provider has and of the groups their rules refer to."""
    wanted = set(ids)
    if not wanted:
        return {}
    rules = _groups(neutron, wanted)
    referenced = {r.remote_group_id for rs in rules.values() for r in rs if r.remote_group_id} - set(rules)
    if referenced:
        rules.update(_groups(neutron, referenced))
    return rules


def read_groups_and_members(
    neutron: NeutronClient, ids: Iterable[str], pool: Executor | None = None
) -> tuple[dict[str, SecurityGroupSpec], set[str]]:
    """:func:`read_groups`, and the ids of the ports whose addresses are members (what a change of
    one of those ports may change)."""
    wanted = set(ids)
    early = pool.submit(_members, neutron, wanted) if pool is not None and wanted else None
    try:
        rules = read_rules(neutron, wanted)
    finally:
        read = early.result() if early is not None else None  # never left running on its own
    if not rules:
        return {}, set()
    if read is None:
        members, member_ports = _members(neutron, set(rules))
    else:
        members, member_ports = read
        if set(rules) - wanted:  # groups the rules refer to: their members too
            more, more_ports = _members(neutron, set(rules) - wanted)
            members.update(more)
            member_ports |= more_ports
    specs = {
        g: SecurityGroupSpec(rules=rs, member_ips=sorted(members[g], key=lambda a: (":" in a, a)))
        for g, rs in rules.items()
    }
    return specs, member_ports


def dhcp_host(port: Port, ip: str, network_domain: str = "") -> DhcpHost:
    """The static lease of ``port``'s address ``ip``: its guest's host name (the ``dns_assignment``
    hostname's first label; dnsmasq's ``host-<ip>`` without one), its domain (the port's
    ``dns_domain``, else the network's, else what follows the first label of the assignment's
    ``fqdn``) and the port's
    ``extra_dhcp_opts``. What dnsmasq could not serve (a provider's option it does not know, a name
    that is no host name) is left out and logged: one bad option would stop the network's server."""
    lease = DhcpHost.model_validate({"mac": port.mac_address, "ip": ip})
    assigned = next((a for a in port.dns_assignment if a.ip_address == ip), None)
    hostname = assigned.hostname.split(".")[0] if assigned and assigned.hostname else None
    domain = (port.dns_domain or network_domain).rstrip(".")
    if not domain and assigned:
        domain = assigned.fqdn.rstrip(".").partition(".")[2]
    options: list[DhcpOption] = []
    for opt in port.extra_dhcp_opts:
        try:
            options.append(
                DhcpOption.model_validate(
                    {"name": opt.opt_name, "value": opt.opt_value, "ip_version": opt.ip_version}
                )
            )
        except ValidationError as exc:
            log.warning("port %s: DHCP option %s left out: %s", port.id, opt.opt_name, _reason(exc))
    for update in ({"hostname": hostname}, {"domain": domain or None}, {"options": options}):
        try:
            lease = DhcpHost.model_validate({**lease.model_dump(), **update})
        except ValidationError as exc:
            log.warning(
                "port %s: %s left out of its DHCP lease: %s", port.id, next(iter(update)), _reason(exc)
            )
    return lease


def _reason(exc: ValidationError) -> str:
    return "; ".join(str(e.get("msg")) for e in exc.errors())


def dhcp_spec(
    use: NetworkUse,
    network: Network,
    subnets: list[Subnet],
    server: dict[str, str],
    port: Port,
    ports: list[Port],
) -> DhcpSpec:
    """The DHCP server of a provider network this host serves: its ``subnets`` to serve (as
    :func:`serves_dhcp` says), ``server`` the server's address on each (subnet id → address, from
    this host's DHCP ``port``), static leases for the network's other ``ports``."""

    def of_version(version: int, values: Iterable[str]) -> list[str]:
        return [v for v in values if ip_address(v).version == version]

    served = [
        DhcpSubnet.model_validate(
            {
                "cidr": s.cidr,
                "server_ip": server[s.id],
                "gateway_ip": s.gateway_ip or None,
                "dns_servers": of_version(4, s.dns_nameservers),
            }
        )
        for s in subnets
        if s.ip_version == 4
    ]
    served6 = {
        s.id: DhcpSubnet6.model_validate(
            {
                "cidr": s.cidr,
                "server_ip": server[s.id],
                "dns_servers": of_version(6, s.dns_nameservers),
                "ipv6_ra_mode": s.ipv6_ra_mode or None,
                "ipv6_address_mode": s.ipv6_address_mode or None,
            }
        )
        for s in subnets
        if s.ip_version == 6
    }
    leased = [s.id for s in subnets if s.id not in served6 or served6[s.id].stateful]
    hosts = []
    for other in ports:
        if other.device_owner == DHCP_OWNER or not other.mac_address:
            continue
        given: dict[str, str] = {}
        for fixed in other.fixed_ips:
            given.setdefault(fixed.subnet_id, fixed.ip_address)
        hosts += [
            dhcp_host(other, given[subnet_id], network.dns_domain)
            for subnet_id in leased
            if given.get(subnet_id)
        ]
    mtu = network.mtu or None
    if use.max_mtu is not None:
        mtu = min(mtu or use.max_mtu, use.max_mtu)
    first = served[0] if served else None
    return DhcpSpec(
        network_id=use.network_id,
        plugin_type=use.plugin_type,
        network_type=use.network_type or network.network_type,
        segmentation_id=(
            use.segmentation_id
            if use.network_type or use.segmentation_id is not None
            else network.segmentation_id
        ),  # fmt: skip
        physical_network=use.physical_network or network.physical_network,
        tunnel_peers=list(use.tunnel_peers),
        cidr=first.cidr if first else None,
        server_ip=first.server_ip if first else None,
        gateway_ip=first.gateway_ip if first else None,
        dns_servers=first.dns_servers if first else [],
        extra_subnets=served[1:],
        ipv6_subnets=list(served6.values()),
        server_mac=port.mac_address or None,
        mtu=mtu,
        hosts=sorted(hosts, key=lambda h: (h.ip.version, int(h.ip), h.mac)),
    )
