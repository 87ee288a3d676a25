"""What the northbound should hold, computed from the provider's database (the source of truth).

The mapping follows Neutron's OVN driver: network → Logical_Switch (+ a ``localnet`` port for flat
and VLAN networks), subnet → DHCP_Options, port → Logical_Switch_Port (and a DHCP_Options row of its own
when it has extra DHCP options or its own domain). Neutron ids and revision
numbers travel in ``external_ids``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa

from neutrino.agent_api import dhcp_options
from neutrino.provider.api.l3 import FLOATING_IP, ROUTER_GATEWAY
from neutrino.provider.backends.ovn import groups as security
from neutrino.provider.backends.ovn import model as m
from neutrino.provider.backends.ovn import routing
from neutrino.provider.ipam import ranges
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import UnitOfWork

log = logging.getLogger(__name__)

LEASE_TIME = "43200"
DHCPV6_MODES = ("dhcpv6-stateful", "dhcpv6-stateless")


@dataclass(frozen=True)
class Scope:
    """Which resources to load or repair: ids per kind, ``None`` for all of them."""

    networks: Collection[str] | None = None
    subnets: Collection[str] | None = None
    ports: Collection[str] | None = None
    #: security group ids, and :data:`~.model.DROP_GROUP` for the drop group
    port_groups: Collection[str] | None = None
    routers: Collection[str] | None = None
    #: Whether the port groups' members are loaded and compared. The maintenance does; a request
    #: does not (a group's members are as many as its ports): the ports it writes join and leave
    #: their groups in their own transactions, and its groups are compared on their ACLs.
    group_members: bool = True
    #: False: the port groups in scope are only created when missing, never compared or changed
    #: (a port's write, which must not undo a write of the groups themselves running beside it).
    compare_groups: bool = True

    @classmethod
    def only(
        cls,
        networks: Collection[str] = (),
        subnets: Collection[str] = (),
        ports: Collection[str] = (),
        port_groups: Collection[str] = (),
        compare_groups: bool = True,
        routers: Collection[str] = (),
    ) -> Scope:
        return cls(
            networks=set(networks),
            subnets=set(subnets),
            ports=set(ports),
            port_groups=set(port_groups),
            routers=set(routers),
            group_members=False,
            compare_groups=compare_groups,
        )


def _selected(uow: UnitOfWork, table: sa.Table, ids: Collection[str] | None) -> Sequence[sa.Row[Any]]:
    if ids is None:
        return uow.rows(sa.select(table))
    return uow.rows_among((table,), table.c.id, sorted(ids))


def load(uow: UnitOfWork, scope: Scope) -> m.State:
    """The desired rows of the resources in ``scope`` that exist in the provider's database."""
    state = m.State()
    for row in _selected(uow, t.networks, scope.networks):
        state.switches[row.id] = switch(row)
    subnets = _selected(uow, t.subnets, scope.subnets)
    ports = _selected(uow, t.ports, scope.ports)
    allocations = _allocations(uow, [p.id for p in ports])
    # the subnets the ports need and the networks the subnets need (MTU), whether in scope or not
    needed_subnets = {a.subnet_id for rows in allocations.values() for a in rows} | {s.id for s in subnets}
    all_subnets = {s.id: s for s in _selected(uow, t.subnets, needed_subnets)}
    networks = {n.id: n for n in _selected(uow, t.networks, {s.network_id for s in subnets})}
    for row in subnets:
        network = networks[row.network_id]
        options = dhcp(row, network.mtu, network.dns_domain)
        if options is not None:
            state.dhcp[row.id] = options
    groups = _groups(uow, [p.id for p in ports])
    pairs = _pairs(uow, [p.id for p in ports])
    extra = _extra_options(uow, [p.id for p in ports])
    for row in ports:
        if row.device_owner == FLOATING_IP:  # Neutron's is_lsp_ignored: the address is a NAT row's
            continue
        lsp = port(
            row, allocations.get(row.id, []), all_subnets, groups.get(row.id, []), pairs.get(row.id, [])
        )
        if row.id in extra or row.dns_domain:
            lsp = _own_dhcp(uow, state, lsp, row.dns_domain, extra.get(row.id, []), all_subnets, networks)
        state.ports[row.id] = lsp
    if scope.routers is None or scope.routers:
        state.routers = routing.load(uow, scope.routers)
    if scope.port_groups is None or scope.port_groups:
        state.port_groups = security.load(uow, scope.port_groups, members=scope.group_members)
    return state


def _allocations(uow: UnitOfWork, port_ids: list[str]) -> dict[str, list[sa.Row[Any]]]:
    out: dict[str, list[sa.Row[Any]]] = {}
    a = t.ip_allocations.c
    for row in uow.rows_among((a.port_id, a.subnet_id, a.ip_address), a.port_id, port_ids):
        out.setdefault(row.port_id, []).append(row)
    return out


def _extra_options(uow: UnitOfWork, port_ids: list[str]) -> dict[str, list[sa.Row[Any]]]:
    out: dict[str, list[sa.Row[Any]]] = {}
    c = t.port_extra_dhcp_opts.c
    for row in uow.rows_among((c.port_id, c.opt_name, c.opt_value, c.ip_version), c.port_id, port_ids):
        out.setdefault(row.port_id, []).append(row)
    return out


def _own_dhcp(
    uow: UnitOfWork,
    state: m.State,
    lsp: m.Port,
    domain: str,
    extra: Sequence[sa.Row[Any]],
    subnets: Mapping[str, sa.Row[Any]],
    networks: dict[str, sa.Row[Any]],
) -> m.Port:
    """Give ``lsp`` a DHCP_Options row of its own per IP version where it has options of its own
    (Neutron's ``_get_port_dhcp_options``): its subnet's row, plus the port's ``dns_domain`` (IPv4
    option 15) and its extra options mapped to OVN's names (a blank one takes the subnet's out),
    ``external_ids`` also naming the port. An option OVN cannot serve (stored before the backend
    was OVN) is left out."""
    own = {4: False, 6: False}
    for version, subnet_id in ((4, lsp.dhcpv4_subnet), (6, lsp.dhcpv6_subnet)):
        opts = sorted((o for o in extra if o.ip_version == version), key=lambda o: o.opt_name)
        if subnet_id is None or not (opts or (version == 4 and domain)):
            continue
        subnet = subnets[subnet_id]
        if subnet.network_id not in networks:
            networks.update((n.id, n) for n in _selected(uow, t.networks, {subnet.network_id}))
        network = networks[subnet.network_id]
        base = dhcp(subnet, network.mtu, network.dns_domain)
        if base is None:
            continue
        options = dict(base.options)
        if version == 4 and domain:
            options["domain_name"] = f'"{domain.rstrip(".")}"'
        for opt in opts:
            if dhcp_options.problem(opt.opt_name, opt.opt_value, version) or dhcp_options.ovn_problem(
                opt.opt_name, opt.opt_value, version
            ):
                log.info("port %s: DHCP option %s not served by OVN, left out", lsp.port_id, opt.opt_name)
                continue
            name, value = dhcp_options.ovn_option(opt.opt_name, opt.opt_value, version)
            if value is None:
                options.pop(name, None)
            else:
                options[name] = value
        external_ids = {**base.external_ids, m.PORT_ID: lsp.port_id}
        state.port_dhcp[(lsp.port_id, subnet_id)] = m.Dhcp(
            subnet_id, base.cidr, options, external_ids, port_id=lsp.port_id
        )
        own[version] = True
    return replace(lsp, dhcpv4_own=own[4], dhcpv6_own=own[6])


def _groups(uow: UnitOfWork, port_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    g = t.port_security_groups.c
    for row in uow.rows_among((g.port_id, g.security_group_id), g.port_id, port_ids):
        out.setdefault(row.port_id, []).append(row.security_group_id)
    return out


def _pairs(uow: UnitOfWork, port_ids: list[str]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    c = t.port_allowed_address_pairs.c
    for row in uow.rows_among((c.port_id, c.mac_address, c.ip_address), c.port_id, port_ids):
        out.setdefault(row.port_id, []).append({"mac_address": row.mac_address, "ip_address": row.ip_address})
    for found in out.values():
        found.sort(key=lambda p: (":" in p["ip_address"], p["ip_address"], p["mac_address"]))
    return out


def switch(row: sa.Row[Any]) -> m.Switch:
    localnet = None
    if row.network_type in ("flat", "vlan"):
        localnet = m.Localnet(
            row.physical_network, row.segmentation_id if row.network_type == "vlan" else None
        )
    return m.Switch(
        network_id=row.id,
        external_ids={
            m.NETWORK_NAME: row.name,
            m.REVISION: str(row.revision_number),
            "neutron:mtu": str(row.mtu),
        },
        other_config={"mtu": str(row.mtu)},
        localnet=localnet,
    )


def server_mac(subnet_id: str) -> str:
    """The DHCP server's MAC of a subnet: derived from its id, so every computation agrees."""
    digest = hashlib.sha256(subnet_id.encode()).digest()
    return "fa:16:3e:" + ":".join(f"{b:02x}" for b in digest[:3])


def _braced(items: Sequence[str]) -> str:
    return "{" + ", ".join(items) + "}"


def dhcp(row: sa.Row[Any], mtu: int, domain: str = "") -> m.Dhcp | None:
    """A subnet's DHCP_Options, or None when OVN serves it no DHCP; ``domain`` the network's
    ``dns_domain`` (dns-integration: DHCPv4 option 15, quoted as OVN's string options are)."""
    if not row.enable_dhcp:
        return None
    net = ipaddress.ip_network(row.cidr)
    nameservers = [s for s in row.dns_nameservers if ipaddress.ip_address(s).version == net.version]
    options: dict[str, str] = {}
    if net.version == 4:
        # No gateway: the first usable address stands for the DHCP server (OVN answers as it).
        server = row.gateway_ip or ranges.default_gateway(net) or str(net.network_address)
        options.update(server_id=server, server_mac=server_mac(row.id), lease_time=LEASE_TIME, mtu=str(mtu))
        if row.gateway_ip:
            options["router"] = row.gateway_ip
        routes = [f"{r['destination']},{r['nexthop']}" for r in row.host_routes]
        if routes:
            if row.gateway_ip:
                routes.append(f"0.0.0.0/0,{row.gateway_ip}")
            options["classless_static_route"] = _braced(routes)
        if domain:
            options["domain_name"] = f'"{domain.rstrip(".")}"'
    else:
        if row.ipv6_address_mode not in DHCPV6_MODES:
            return None
        options["server_id"] = server_mac(row.id)
        if row.ipv6_address_mode == "dhcpv6-stateless":
            options["dhcpv6_stateless"] = "true"
    if nameservers:
        options["dns_server"] = _braced(nameservers)
    return m.Dhcp(
        subnet_id=row.id,
        cidr=str(net),
        options=options,
        external_ids={m.SUBNET_ID: row.id, m.REVISION: str(row.revision_number)},
    )


def port(
    row: sa.Row[Any],
    allocations: Sequence[sa.Row[Any]],
    subnets: dict[str, sa.Row[Any]],
    groups: Sequence[str],
    pairs: Sequence[Mapping[str, str]] = (),
) -> m.Port:
    ordered = sorted(allocations, key=lambda a: (":" in a.ip_address, a.subnet_id, a.ip_address))
    ips = [a.ip_address for a in ordered]
    mac_ips = " ".join([row.mac_address, *ips])
    addresses: tuple[str, ...] = (mac_ips,) if row.port_security_enabled else (mac_ips, "unknown")
    port_security: tuple[str, ...] = ()
    if row.port_security_enabled:
        port_security, pair_macs = _port_security(row.mac_address, ips, pairs)
        addresses += pair_macs
    cidrs = [f"{a.ip_address}/{ipaddress.ip_network(subnets[a.subnet_id].cidr).prefixlen}" for a in ordered]
    v4 = v6 = None
    for a in ordered:
        subnet = subnets[a.subnet_id]
        if not subnet.enable_dhcp:
            continue
        if subnet.ip_version == 4 and v4 is None:
            v4 = subnet.id
        elif subnet.ip_version == 6 and v6 is None and subnet.ipv6_address_mode in DHCPV6_MODES:
            v6 = subnet.id
    options = {"requested-chassis": row.binding_host_id} if row.binding_host_id else {}
    if v4 is not None and row.dns_name:
        # dns-integration: the guest's name, its dns_name's first label (DHCPv4 option 12), quoted as
        # DHCP_Options' strings are: ovn-northd 23.03 copies it into the DHCP action as it is, and an
        # unquoted name breaks the port's DHCP. Without one OVN sends none (the builtin's dnsmasq sends
        # host-<address>)
        options["hostname"] = f'"{row.dns_name.split(".")[0]}"'
    kind = ""
    if routing.is_router_port(row.device_owner):
        # the switch side of a router's port: OVN forwards to its Logical_Router_Port
        kind, addresses, v4, v6, groups = m.ROUTER_TYPE, ("router",), None, None, ()
        options = {"router-port": m.router_port_name(row.id)}
        if row.device_owner == ROUTER_GATEWAY:
            options["nat-addresses"] = "router"  # gratuitous ARPs for the NAT addresses
    return m.Port(
        port_id=row.id,
        network_id=row.network_id,
        addresses=addresses,
        port_security=port_security if not kind else (),
        enabled=bool(row.admin_state_up),
        options=options,
        type=kind,
        external_ids={
            "neutron:port_name": row.name,
            "neutron:device_id": row.device_id,
            "neutron:device_owner": row.device_owner,
            "neutron:project_id": row.project_id,
            "neutron:network_name": m.switch_name(row.network_id),
            "neutron:cidrs": " ".join(cidrs),
            "neutron:security_group_ids": " ".join(sorted(groups)),
            m.REVISION: str(row.revision_number),
        },
        dhcpv4_subnet=v4,
        dhcpv6_subnet=v6,
    )


def _port_security(
    mac: str, ips: Sequence[str], pairs: Sequence[Mapping[str, str]]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A port's ``port_security`` with its allowed address pairs, as Neutron's OVN driver writes
    it: pairs with the port's MAC join its own entry ("MAC IPs pair-IPs"), a pair with another
    MAC is an entry of its own ("pair-MAC pair-IP"); and the other MACs, which ``addresses``
    lists too so that OVN delivers frames sent to them."""
    own = [mac, *ips]
    others: dict[str, list[str]] = {}
    for pair in pairs:
        if pair["mac_address"] == mac:
            own.append(pair["ip_address"])
        else:
            others.setdefault(pair["mac_address"], []).append(pair["ip_address"])
    entries = [" ".join(own), *(f"{m} {ip}" for m, found in sorted(others.items()) for ip in found)]
    return tuple(entries), tuple(sorted(others))
