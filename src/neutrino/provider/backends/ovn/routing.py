"""Routers and floating IPs as OVN logical routers, computed from the provider's database.

The mapping follows Neutron's OVN driver (``ovn_client.py``: ``create_router``,
``_add_router_ext_gw``, ``create_router_port``, ``_create_or_update_floatingip``):

- router → Logical_Router ``neutron-<id>`` (``enabled`` = ``admin_state_up``; the name, revision
  and gateway port in ``external_ids``);
- each of its ports (interfaces and gateway) → Logical_Router_Port ``lrp-<port id>`` (the port's
  MAC, ``networks`` = its addresses with their subnets' prefixes); the switch side is the port's
  own LSP, of type ``router`` (:func:`.desired.port`);
- the gateway's LRP is bound to one gateway chassis (:func:`gateway_chassis`), and the router
  gets a default route via the external subnet's gateway;
- with ``enable_snat``, a ``snat`` NAT per IPv4 subnet behind the router, to the gateway address;
- each associated floating IP → a ``dnat_and_snat`` NAT (centralized: on the gateway chassis, no
  ``logical_port`` / ``external_mac``);
- each extraroute → a static route.

A floating IP's own port (``network:floatingip``) has no LSP, as in Neutron: the address lives
in the NAT row only.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from neutrino.provider.api.agents import AGENT_DOWN_TIME, OVN_AGENT_TYPE
from neutrino.provider.api.l3 import ROUTER_GATEWAY, ROUTER_INTERFACE
from neutrino.provider.api.resource import utcnow
from neutrino.provider.backends.ovn import model as m
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import UnitOfWork

#: what a chassis sets in ``ovn-cms-options`` to offer itself as a gateway (Neutron's word)
GATEWAY_OPTION = "enable-chassis-as-gw"
IS_EXT_GW = "neutron:is_ext_gw"


def load(uow: UnitOfWork, ids: Collection[str] | None) -> dict[str, m.Router]:
    """The desired Logical_Routers of these routers (None: all) that exist in the database."""
    r = t.routers
    stmt = sa.select(r)
    if ids is not None:
        if not ids:
            return {}
        stmt = stmt.where(r.c.id.in_(sorted(ids)))
    routers = list(uow.rows(stmt))
    if not routers:
        return {}
    router_ids = [x.id for x in routers]
    rp, p = t.router_ports.c, t.ports.c
    ports: dict[str, list[sa.Row[Any]]] = {}
    for row in uow.rows(
        sa.select(t.ports, rp.router_id)
        .join(t.router_ports, rp.port_id == p.id)
        .where(rp.router_id.in_(router_ids))
        .order_by(p.id)
    ):
        ports.setdefault(row.router_id, []).append(row)
    port_ids = [row.id for rows in ports.values() for row in rows]
    a = t.ip_allocations.c
    addresses: dict[str, list[sa.Row[Any]]] = {}
    for row in uow.rows(sa.select(a.port_id, a.subnet_id, a.ip_address).where(a.port_id.in_(port_ids))):
        addresses.setdefault(row.port_id, []).append(row)
    subnet_ids = {x.subnet_id for rows in addresses.values() for x in rows}
    subnets = {s.id: s for s in uow.rows(sa.select(t.subnets).where(t.subnets.c.id.in_(subnet_ids)))}
    networks = {
        n.id: n
        for n in uow.rows(
            sa.select(t.networks.c.id, t.networks.c.physical_network).where(
                t.networks.c.id.in_({row.network_id for rows in ports.values() for row in rows})
            )
        )
    }
    f = t.floating_ips.c
    fips: dict[str, list[sa.Row[Any]]] = {}
    for fip in uow.rows(
        sa.select(t.floating_ips).where(f.router_id.in_(router_ids), f.fixed_ip_address.is_not(None))
    ):
        fips.setdefault(fip.router_id, []).append(fip)
    rr = t.router_routes.c
    extra: dict[str, list[sa.Row[Any]]] = {}
    for route in uow.rows(sa.select(t.router_routes).where(rr.router_id.in_(router_ids))):
        extra.setdefault(route.router_id, []).append(route)
    chassis = _chassis(uow)
    out = {}
    for row in routers:
        mine = ports.get(row.id, [])
        gateway = next((x for x in mine if x.id == row.gw_port_id), None)
        physnet = networks[gateway.network_id].physical_network if gateway is not None else None
        out[row.id] = router(
            row,
            mine,
            addresses,
            subnets,
            fips.get(row.id, []),
            extra.get(row.id, []),
            gateway_chassis(row.id, physnet, chassis) if gateway is not None else (),
        )
    return out


def router(
    row: sa.Row[Any],
    ports: Sequence[sa.Row[Any]],
    addresses: dict[str, list[sa.Row[Any]]],
    subnets: dict[str, sa.Row[Any]],
    fips: Sequence[sa.Row[Any]],
    extra_routes: Sequence[sa.Row[Any]],
    chassis: tuple[str, ...],
) -> m.Router:
    """One router's Logical_Router, from its row, its ports (with their addresses and subnets),
    its associated floating IPs, its routes and the gateway's chassis."""
    external_ids = {m.ROUTER_NAME: row.name, m.REVISION: str(row.revision_number)}
    if row.gw_port_id:
        external_ids["neutron:gw_port_id"] = row.gw_port_id
    lrps = {p.id: router_port(row, p, addresses.get(p.id, []), subnets, chassis) for p in ports}
    routes = {m.Route(x.destination, x.nexthop) for x in extra_routes}
    nat: set[m.Nat] = set()
    gateway = addresses.get(row.gw_port_id, []) if row.gw_port_id else []
    for held in gateway:
        subnet = subnets[held.subnet_id]
        if subnet.gateway_ip:
            default = "0.0.0.0/0" if subnet.ip_version == 4 else "::/0"
            routes.add(
                m.Route(default, subnet.gateway_ip, ((IS_EXT_GW, "true"), ("neutron:subnet_id", subnet.id)))
            )
    external = sorted(x.ip_address for x in gateway if subnets[x.subnet_id].ip_version == 4)
    if external:
        if row.enable_snat:
            behind = [x for p in ports if p.id != row.gw_port_id for x in addresses.get(p.id, [])]
            nat.update(
                m.Nat("snat", external[0], subnets[x.subnet_id].cidr)
                for x in behind
                if subnets[x.subnet_id].ip_version == 4
            )
        nat.update(floating_nat(fip) for fip in fips)
    return m.Router(
        router_id=row.id,
        enabled=bool(row.admin_state_up),
        external_ids=external_ids,
        ports=lrps,
        nat=frozenset(nat),
        routes=frozenset(routes),
    )


def router_port(
    router: sa.Row[Any],
    port: sa.Row[Any],
    held: list[sa.Row[Any]],
    subnets: dict[str, sa.Row[Any]],
    chassis: tuple[str, ...],
) -> m.RouterPort:
    """A router's port as its LRP: the gateway's bound to ``chassis``."""
    external_ids = {
        m.REVISION: str(port.revision_number),
        m.ROUTER_NAME: router.id,
        m.NETWORK_NAME: m.switch_name(port.network_id),
        "neutron:subnet_ids": " ".join(sorted({x.subnet_id for x in held})),
    }
    is_gateway = port.id == router.gw_port_id
    if is_gateway:
        external_ids[IS_EXT_GW] = "True"
    prefix = {s: ipaddress.ip_network(subnets[s].cidr).prefixlen for s in {x.subnet_id for x in held}}
    return m.RouterPort(
        port_id=port.id,
        mac=port.mac_address,
        networks=tuple(sorted(f"{x.ip_address}/{prefix[x.subnet_id]}" for x in held)),
        external_ids=external_ids,
        gateway_chassis=chassis if is_gateway else (),
    )


def floating_nat(fip: sa.Row[Any]) -> m.Nat:
    """An associated floating IP's ``dnat_and_snat`` row (centralized on the gateway chassis)."""
    return m.Nat(
        "dnat_and_snat",
        fip.floating_ip_address,
        fip.fixed_ip_address,
        (
            (m.FIP_ID, fip.id),
            ("neutron:fip_port_id", fip.fixed_port_id),
            (m.REVISION, str(fip.revision_number)),
        ),
    )


# --- the gateway's chassis ----------------------------------------------------------------------


class Chassis:
    """What the agents table says of one OVN chassis (mirrored from the southbound)."""

    def __init__(self, name: str, physnets: frozenset[str], gateway: bool, alive: bool) -> None:
        self.name, self.physnets, self.gateway, self.alive = name, physnets, gateway, alive


def _chassis(uow: UnitOfWork) -> list[Chassis]:
    c = t.agents.c
    deadline: datetime = utcnow() - AGENT_DOWN_TIME
    out = []
    for row in uow.rows(
        sa.select(c.configurations, c.heartbeat_timestamp).where(c.agent_type == OVN_AGENT_TYPE)
    ):
        conf = row.configurations or {}
        name = conf.get("chassis_name")
        if not name:
            continue
        mappings = str(conf.get("bridge-mappings", ""))
        physnets = frozenset(x.split(":", 1)[0].strip() for x in mappings.split(",") if ":" in x)
        options = {o.strip() for o in str(conf.get("ovn-cms-options", "")).split(",")}
        out.append(Chassis(name, physnets, GATEWAY_OPTION in options, row.heartbeat_timestamp >= deadline))
    return out


def gateway_chassis(router_id: str, physnet: str | None, chassis: Iterable[Chassis]) -> tuple[str, ...]:
    """The chassis a router's gateway is bound to: among the chassis offering themselves as
    gateways (``ovn-cms-options=enable-chassis-as-gw``), or, when none does, those that map the
    external network's physical network (any chassis for an overlay external network); the
    alive ones if any are. One of them, picked by a hash of the router's id (routers spread over
    the candidates, and every computation agrees without state); () when there is none.

    One chassis, not an HA list: with several, ovn-controller decides between them by BFD, which
    this project's labs do not exercise. A gateway chassis that dies is replaced by the next
    maintenance pass once the agents list says it is not alive."""
    every = list(chassis)
    candidates = [c for c in every if c.gateway] or [
        c for c in every if physnet is None or physnet in c.physnets
    ]
    alive = [c for c in candidates if c.alive] or candidates
    if not alive:
        return ()
    names = sorted(c.name for c in alive)
    pick = int.from_bytes(hashlib.sha256(router_id.encode()).digest()[:8], "big") % len(names)
    return (names[pick],)


def is_router_port(device_owner: str) -> bool:
    return device_owner in (ROUTER_INTERFACE, ROUTER_GATEWAY)
