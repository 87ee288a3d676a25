"""What the L3 part reads from the network provider about the routers it hosts, and how that
becomes :class:`~neutrino.agent.datapath.router.RouterSpec`: legs from the routers' ports
(``network:router_interface`` and ``network:router_gateway``, with their networks' segments and
their subnets' prefix lengths), the default route from the gateway subnet's gateway, SNAT from
``enable_snat``, the floating IPs associated through each router, its static routes.

A router that is administratively down keeps its legs, plugged into their networks but without
an address (so it neither answers nor routes: no route, NAT or floating IP either): its ports
are in place, ACTIVE, and its admin state says whether it forwards — as OVN (our other backend,
and Neutron's default) shows the ports of a disabled router, and as tempest expects of the
routers it creates down. Never imports :mod:`neutrino.provider`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from neutrino.agent.datapath.router import FloatingIpSpec, RouterLeg, RouterSpec, StaticRoute
from neutrino.agent.vnic.linux_bridge import VXLAN_OVERHEAD
from neutrino.agent_api.schema import ExternalNet
from neutrino.neutron_client import FloatingIp, Network, NeutronClient, Port, Router, Subnet

ROUTER_INTERFACE = "network:router_interface"
ROUTER_GATEWAY = "network:router_gateway"
LEG_KINDS = {ROUTER_INTERFACE: "internal", ROUTER_GATEWAY: "gateway"}


@dataclass(frozen=True)
class RouterReads:
    """Everything about some routers, as read from the provider."""

    routers: Sequence[Router]
    ports: Sequence[Port]
    subnets: Sequence[Subnet]
    networks: Sequence[Network]
    floating_ips: Sequence[FloatingIp]


def read_routers(neutron: NeutronClient, routers: Sequence[Router]) -> RouterReads:
    """The ports of ``routers``, their networks and, for the routers administratively up, their
    subnets and floating IPs (four reads, none without routers)."""
    ids = sorted(r.id for r in routers)
    if not ids:
        return RouterReads(routers, [], [], [], [])
    ports = [p for p in neutron.list_ports(device_id=ids) if p.device_owner in LEG_KINDS]
    up = {r.id for r in routers if r.admin_state_up}
    subnet_ids = _subnet_ids(ports, up)
    network_ids = sorted({p.network_id for p in ports})
    return RouterReads(
        routers=routers,
        ports=ports,
        subnets=neutron.list_subnets(id=subnet_ids) if subnet_ids else [],
        networks=neutron.list_networks(id=network_ids) if network_ids else [],
        floating_ips=neutron.list_floating_ips(router_id=sorted(up)) if up else [],
    )


def _subnet_ids(ports: Iterable[Port], up: Collection[str]) -> list[str]:
    """The subnets of the ports of the routers ``up`` (a router down has no address to give)."""
    return sorted({ip.subnet_id for p in ports if p.device_id in up for ip in p.fixed_ips})


#: kinds of change (the provider's change token) after which routers and their ports are read again
ROUTER_KINDS = frozenset({"routers", "l3_agents"})


def reread(neutron: NeutronClient, reads: RouterReads, changed: frozenset[str]) -> RouterReads:
    """``reads`` brought up to date after changes of the kinds ``changed`` that leave the
    routers and their ports as they were (floating IPs, networks, subnets): only those are read."""
    up = sorted(r.id for r in reads.routers if r.admin_state_up)
    floating_ips = reads.floating_ips
    if "floatingips" in changed:
        floating_ips = neutron.list_floating_ips(router_id=up) if up else []
    subnets, networks = reads.subnets, reads.networks
    if changed & {"subnets", "networks"}:
        subnet_ids = _subnet_ids(reads.ports, up)
        network_ids = sorted({p.network_id for p in reads.ports})
        subnets = neutron.list_subnets(id=subnet_ids) if subnet_ids else []
        networks = neutron.list_networks(id=network_ids) if network_ids else []
    return RouterReads(reads.routers, reads.ports, subnets, networks, floating_ips)


def router_specs(reads: RouterReads, plugin_type: str, underlay_mtu: int) -> dict[str, RouterSpec]:
    """Each router of ``reads`` as this host runs it, its legs plugged as ``plugin_type`` vNICs."""
    subnets = {s.id: s for s in reads.subnets}
    networks = {n.id: n for n in reads.networks}
    specs = {}
    for router in reads.routers:
        ports = [
            p
            for p in reads.ports
            if p.device_id == router.id and p.device_owner in LEG_KINDS and p.network_id in networks
        ]
        legs = [
            _leg(port, networks[port.network_id], subnets if router.admin_state_up else {}, plugin_type,
                 underlay_mtu)
            for port in sorted(ports, key=lambda p: p.id)
        ]  # fmt: skip
        if not router.admin_state_up:
            specs[router.id] = RouterSpec(router_id=router.id, legs=legs)
            continue
        gateway = next((p for p in ports if p.device_owner == ROUTER_GATEWAY), None)
        specs[router.id] = RouterSpec(
            router_id=router.id,
            legs=legs,
            gateway_ip=_gateway_ip(gateway, subnets),
            snat=router.gateway is None or router.gateway.enable_snat is not False,
            floating_ips=_floating_ips(router, reads.floating_ips) if gateway is not None else [],
            routes=[StaticRoute(destination=r.destination, nexthop=r.nexthop) for r in router.routes],
        )
    return specs


def _leg(
    port: Port, network: Network, subnets: dict[str, Subnet], plugin_type: str, underlay_mtu: int
) -> RouterLeg:
    kind = network.network_type or ("vxlan" if network.segmentation_id is not None else None)
    mtu = network.mtu or None
    if kind == "vxlan":
        mtu = min(mtu or underlay_mtu, underlay_mtu - VXLAN_OVERHEAD)
    addresses = [
        f"{ip.ip_address}/{ipaddress.ip_network(subnets[ip.subnet_id].cidr).prefixlen}"
        for ip in port.fixed_ips
        if ip.subnet_id in subnets and ip.ip_address
    ]
    return RouterLeg(
        port_id=port.id,
        kind=LEG_KINDS[port.device_owner],  # type: ignore[arg-type]
        mac=port.mac_address,
        mtu=mtu,
        addresses=addresses,
        net=ExternalNet(
            vnic_id=port.id,
            plugin_type=plugin_type,
            network_id=network.id,
            network_type=network.network_type,
            segmentation_id=network.segmentation_id,
            physical_network=network.physical_network,
            security_groups=[],  # a router's ports are not filtered; its guests' are
        ),
    )


def _gateway_ip(gateway: Port | None, subnets: dict[str, Subnet]) -> str | None:
    """The gateway address of the gateway port's first IPv4 subnet that has one."""
    for ip in gateway.fixed_ips if gateway is not None else ():
        subnet = subnets.get(ip.subnet_id)
        if subnet is not None and subnet.ip_version == 4 and subnet.gateway_ip:
            return subnet.gateway_ip
    return None


def _floating_ips(router: Router, floating_ips: Iterable[FloatingIp]) -> list[FloatingIpSpec]:
    return sorted(
        (
            FloatingIpSpec(id=f.id, floating_ip=f.floating_ip_address, fixed_ip=f.fixed_ip_address)
            for f in floating_ips
            if f.router_id == router.id and f.port_id and f.fixed_ip_address and f.floating_ip_address
        ),
        key=lambda f: f.id,
    )
