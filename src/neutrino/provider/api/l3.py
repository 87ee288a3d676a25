"""What routers and floating IPs impose on networks, subnets and ports (Neutron's L3 callbacks).

Routers (``routers.py``) and floating IPs (``floatingips.py``) own ports: a router its gateway
and its interfaces (rows of ``router_ports``), a floating IP the port holding its address. Those
ports are deleted through their owner, never through the port API (``ServicePortInUse``); a
port that a floating IP is associated with can be deleted, which disassociates it; a network
stops being external only without gateways; a subnet's gateway address cannot move while a
router's interface holds it. The helpers here are what networks, subnets and ports call for
that, so that neither side imports the other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from neutrino.provider import errors
from neutrino.provider.api.resource import utcnow
from neutrino.provider.ipam import allocator
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import UnitOfWork

ROUTER_INTERFACE = "network:router_interface"
ROUTER_GATEWAY = "network:router_gateway"
FLOATING_IP = "network:floatingip"
L3_OWNERS = (ROUTER_INTERFACE, ROUTER_GATEWAY, FLOATING_IP)

ACTIVE = "ACTIVE"
DOWN = "DOWN"


def check_port_deletion(uow: UnitOfWork, port: sa.Row[Any]) -> None:
    """Refuse deleting a router's or a floating IP's port through the port API while its owner
    exists (a port left behind by an owner that is gone may go)."""
    if port.device_owner not in L3_OWNERS:
        return
    if port.device_owner == FLOATING_IP:
        c = t.floating_ips.c
        owned = sa.select(c.id).where(c.floating_port_id == port.id)
    else:
        owned = sa.select(t.router_ports.c.router_id).where(t.router_ports.c.port_id == port.id)
    if uow.one_or_none(owned) is not None:
        raise errors.ServicePortInUse(port_id=port.id, reason=f"has device owner {port.device_owner}")


def disassociate_floating_ips(uow: UnitOfWork, port_id: str) -> None:
    """Neutron, deleting a port: the floating IPs associated with it stay, unassociated."""
    c = t.floating_ips.c
    ids = [r.id for r in uow.rows(sa.select(c.id).where(c.fixed_port_id == port_id))]
    if not ids:
        return
    uow.execute(
        sa.update(t.floating_ips)
        .where(c.id.in_(ids))
        .values(
            fixed_port_id=None,
            fixed_ip_address=None,
            router_id=None,
            status=DOWN,
            updated_at=utcnow(),
            revision_number=c.revision_number + 1,
        )
    )
    uow.note_changed("floatingips", ids)


def check_floating_ip_addresses(uow: UnitOfWork, port_id: str) -> None:
    """After a port's addresses changed: the ones floating IPs are associated with must remain."""
    c, a = t.floating_ips.c, t.ip_allocations.c
    kept = sa.select(a.ip_address).where(a.port_id == port_id)
    lost = uow.one_or_none(
        sa.select(c.id).where(c.fixed_port_id == port_id, c.fixed_ip_address.not_in(kept)).limit(1)
    )
    if lost is not None:
        raise errors.BadRequest(
            resource="port",
            msg=f"Cannot update the fixed_ips of the port {port_id}, because its original fixed_ip "
            "has been associated to a floating ip",
        )


def drop_port(uow: UnitOfWork, port_id: str) -> None:
    """Delete a port's rows (its addresses, groups, router membership and itself)."""
    allocator.release(uow, port_id)
    uow.execute(sa.delete(t.port_security_groups).where(t.port_security_groups.c.port_id == port_id))
    uow.execute(sa.delete(t.router_ports).where(t.router_ports.c.port_id == port_id))
    uow.execute(sa.delete(t.ports).where(t.ports.c.id == port_id))


def delete_floating_ips(uow: UnitOfWork, rows: Iterable[sa.Row[Any]]) -> None:
    """Delete floating IPs and their ports."""
    for row in rows:
        uow.execute(sa.delete(t.floating_ips).where(t.floating_ips.c.id == row.id))
        drop_port(uow, row.floating_port_id)
        uow.note_changed("floatingips", [row.id])
        uow.note_changed("ports", [row.floating_port_id])


def delete_unassociated_floating_ips(uow: UnitOfWork, network_id: str) -> None:
    """Neutron, deleting an external network: its unassociated floating IPs go with it (the
    associated ones keep their ports on it, so the network is still in use)."""
    c = t.floating_ips.c
    delete_floating_ips(
        uow,
        uow.rows(
            sa.select(t.floating_ips).where(c.floating_network_id == network_id, c.fixed_port_id.is_(None))
        ),
    )


def has_gateway_ports(uow: UnitOfWork, network_id: str) -> bool:
    p = t.ports.c
    stmt = sa.select(p.id).where(p.network_id == network_id, p.device_owner == ROUTER_GATEWAY).limit(1)
    return uow.one_or_none(stmt) is not None


def check_gateway_move(uow: UnitOfWork, subnet_id: str, current_gateway: str | None) -> None:
    """A subnet's gateway address cannot change while a router's interface holds it."""
    if current_gateway is None:
        return
    a, rp = t.ip_allocations.c, t.router_ports.c
    holder = uow.one_or_none(
        sa.select(a.port_id)
        .join(t.router_ports, rp.port_id == a.port_id)
        .where(a.subnet_id == subnet_id, a.ip_address == current_gateway)
        .limit(1)
    )
    if holder is not None:
        raise errors.GatewayIpInUse(ip_address=current_gateway, port_id=holder.port_id)


def floating_ip_status(uow: UnitOfWork, router_id: str, router_admin_state_up: bool | None) -> str:
    """ACTIVE while associated through a router that is administratively up, else DOWN; DOWN too
    while an L3 agent hosts the router (the builtin backend's datapath): that agent reports ACTIVE
    once the address is in place, as Neutron's L3 agents do."""
    if not router_admin_state_up or router_hosted(uow, router_id):
        return DOWN
    return ACTIVE


def router_hosted(uow: UnitOfWork, router_id: str) -> bool:
    """Whether an L3 agent hosts the router (a binding of the builtin backend's scheduler)."""
    b = t.router_l3_agent_bindings.c
    return uow.one_or_none(sa.select(b.router_id).where(b.router_id == router_id)) is not None


def refresh_floating_ip_status(uow: UnitOfWork, router_id: str, admin_state_up: bool) -> None:
    """A router's administrative state moved: the floating IPs through it follow."""
    c = t.floating_ips.c
    status = floating_ip_status(uow, router_id, admin_state_up)
    ids = [r.id for r in uow.rows(sa.select(c.id).where(c.router_id == router_id, c.status != status))]
    if ids:
        uow.execute(
            sa.update(t.floating_ips)
            .where(c.id.in_(ids))
            .values(status=status, updated_at=utcnow(), revision_number=c.revision_number + 1)
        )
        uow.note_changed("floatingips", ids)
