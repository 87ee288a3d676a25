"""A router's interfaces: Neutron's ``add_router_interface`` / ``remove_router_interface``.

By subnet: a new ``network:router_interface`` port of the router's project takes the subnet's
gateway address (an IPv6 subnet joins the router's port with IPv6 addresses on that network, as
Neutron keeps one such port per network); removing it deletes the port, or only the prefix from
a port that has several. By port: an existing unbound port with addresses moves to the router
(at most one IPv4 subnet on it); removing it deletes the port, as Neutron does.

Neutron's checks kept: one port per subnet per router and no overlapping subnets on one router,
counting every subnet of the gateway's network (400); a subnet needs a gateway address and must
be the caller's (400); an interface that floating IPs or routes need stays (409).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from neutrino.provider import errors
from neutrino.provider.api import l3
from neutrino.provider.api.ports import insert_service_port, reallocate
from neutrino.provider.api.resource import utcnow
from neutrino.provider.api.subnets import visible as subnet_visible
from neutrino.provider.api.validators import validate
from neutrino.provider.context import RequestContext
from neutrino.provider.ipam import allocator, ranges
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import UnitOfWork


def _bad(msg: str) -> errors.BadRequest:
    return errors.BadRequest(resource="router", msg=msg)


def add(uow: UnitOfWork, ctx: RequestContext, router: sa.Row[Any], body: Any) -> dict[str, Any]:
    """Attach what ``body`` names to ``router`` (locked by the caller); Neutron's answer."""
    port_id, subnet_id = _interface_info(body, removal=False)
    if port_id is not None:
        port, subnets = _add_by_port(uow, ctx, router, port_id)
    else:
        assert subnet_id is not None
        port, subnets = _add_by_subnet(uow, ctx, router, subnet_id)
    uow.note_changed("ports", [port.id])
    return _interface_answer(router.id, port, subnets[-1].id, [s.id for s in subnets])


def remove(uow: UnitOfWork, ctx: RequestContext, router_id: str, body: Any) -> dict[str, Any]:
    """Detach what ``body`` names from the router (locked by the caller); Neutron's answer."""
    port_id, subnet_id = _interface_info(body, removal=True)
    if port_id is not None:
        port, subnets = _remove_by_port(uow, router_id, port_id, subnet_id)
    else:
        assert subnet_id is not None
        port, subnets = _remove_by_subnet(uow, ctx, router_id, subnet_id)
    uow.note_changed("ports", [port.id])
    return _interface_answer(router_id, port, subnets[0].id, [s.id for s in subnets])


def _add_by_subnet(
    uow: UnitOfWork, ctx: RequestContext, router: sa.Row[Any], subnet_id: str
) -> tuple[sa.Row[Any], list[sa.Row[Any]]]:
    subnet = _subnet(uow, ctx, subnet_id)
    if not subnet.gateway_ip:
        raise _bad("Subnet for router interface must have a gateway IP")
    if subnet.project_id != ctx.project_id and not ctx.is_admin:
        raise _bad(
            f"Cannot add interface to router because subnet {subnet_id} is not owned by project "
            "making the request"
        )
    _check_address_mode(subnet)
    check_new_subnets(uow, router.id, [subnet])
    wanted = {"subnet_id": subnet.id, "ip_address": subnet.gateway_ip}
    if subnet.ip_version == 6 and (shared := _ipv6_port(uow, router.id, subnet.network_id)) is not None:
        # Neutron: a router has one port with IPv6 subnets per network; a new prefix joins it
        a = t.ip_allocations.c
        held = [
            {"subnet_id": h.subnet_id, "ip_address": h.ip_address}
            for h in uow.rows(sa.select(a.subnet_id, a.ip_address).where(a.port_id == shared.id))
        ]
        reallocate(uow, shared, [*held, wanted], shared.mac_address, allow_gateway=True)
        touch_port(uow, shared.id)
        return shared, [subnet]
    network = uow.one_or_none(sa.select(t.networks).where(t.networks.c.id == subnet.network_id))
    assert network is not None
    port_id, _ = insert_service_port(
        uow,
        network,
        project_id=router.project_id,
        device_id=router.id,
        device_owner=l3.ROUTER_INTERFACE,
        requested=[wanted],
        allow_gateway=True,
    )
    uow.execute(
        sa.insert(t.router_ports).values(port_id=port_id, router_id=router.id, port_type=l3.ROUTER_INTERFACE)
    )
    return port_row(uow, port_id), [subnet]


def _add_by_port(
    uow: UnitOfWork, ctx: RequestContext, router: sa.Row[Any], port_id: str
) -> tuple[sa.Row[Any], list[sa.Row[Any]]]:
    stmt = sa.select(t.ports).where(t.ports.c.id == port_id)
    if not ctx.is_admin:
        stmt = stmt.where(t.ports.c.project_id == ctx.project_id)
    port = uow.one_or_none(stmt)
    if port is None:
        raise errors.PortNotFound(port_id=port_id)
    uow.lock_rows(t.ports, [port_id])
    if port.device_id:
        raise errors.PortInUse(net_id=port.network_id, port_id=port.id, device_id=port.device_id)
    subnets = port_subnets(uow, port.id)
    if not subnets:
        raise _bad("Router port must have at least one fixed IP")
    for subnet in subnets:
        _check_address_mode(subnet)
    if any(s.ip_version == 6 for s in subnets) and (other := _ipv6_port(uow, router.id, port.network_id)):
        raise _bad(
            f"Router already contains IPv6 port {other.id} belonging to network id {port.network_id}. "
            "Only one IPv6 port from the same network subnet can be connected to a router."
        )
    check_new_subnets(uow, router.id, subnets)
    if len([s for s in subnets if s.ip_version == 4]) > 1:
        raise _bad("Cannot have multiple IPv4 subnets on router port")
    if not ctx.is_admin:
        _check_in_pools(uow, ctx, port.id, subnets)
    uow.execute(
        sa.update(t.ports)
        .where(t.ports.c.id == port.id)
        .values(
            device_id=router.id,
            device_owner=l3.ROUTER_INTERFACE,
            updated_at=utcnow(),
            revision_number=t.ports.c.revision_number + 1,
        )
    )
    uow.execute(
        sa.insert(t.router_ports).values(port_id=port.id, router_id=router.id, port_type=l3.ROUTER_INTERFACE)
    )
    return port_row(uow, port.id), subnets


def _check_in_pools(uow: UnitOfWork, ctx: RequestContext, port_id: str, subnets: list[sa.Row[Any]]) -> None:
    """Neutron: a project may not hand a router an address outside the pools of a subnet it
    does not own (such as another project's gateway address)."""
    by_id = {s.id: s for s in subnets}
    a = t.ip_allocations.c
    for held in uow.rows(sa.select(a.subnet_id, a.ip_address).where(a.port_id == port_id)):
        subnet = by_id[held.subnet_id]
        value = int(ipaddress.ip_address(held.ip_address))
        in_pool = any(start <= value <= end for start, end in ranges.pool_ranges(subnet.allocation_pools))
        if not in_pool and subnet.project_id != ctx.project_id:
            raise _bad(
                f"Cannot add interface to router because specified port {port_id} has an IP address "
                f"out of the allocation pool of subnet {subnet.id}, which is not owned by the project "
                "making the request"
            )


def _remove_by_port(
    uow: UnitOfWork, router_id: str, port_id: str, subnet_id: str | None
) -> tuple[sa.Row[Any], list[sa.Row[Any]]]:
    port = next((p for p in router_ports(uow, router_id, l3.ROUTER_INTERFACE) if p.id == port_id), None)
    if port is None:
        raise errors.RouterInterfaceNotFound(router_id=router_id, port_id=port_id)
    subnets = port_subnets(uow, port.id)
    if subnet_id is not None and subnet_id not in {s.id for s in subnets}:
        raise errors.SubnetMismatchForPort(port_id=port_id, subnet_id=subnet_id)
    for subnet in subnets:
        _check_interface_unused(uow, router_id, subnet)
    l3.drop_port(uow, port.id)
    return port, subnets


def _remove_by_subnet(
    uow: UnitOfWork, ctx: RequestContext, router_id: str, subnet_id: str
) -> tuple[sa.Row[Any], list[sa.Row[Any]]]:
    subnet = _subnet(uow, ctx, subnet_id)
    ports = [
        p for p in router_ports(uow, router_id, l3.ROUTER_INTERFACE) if p.network_id == subnet.network_id
    ]
    if ports:
        _check_interface_unused(uow, router_id, subnet)
    for port in ports:
        held = [s.id for s in port_subnets(uow, port.id)]
        if subnet_id not in held:
            continue
        if len(held) > 1:  # a port with several IPv6 prefixes loses one
            a = t.ip_allocations.c
            allocation = uow.rows(
                sa.select(a.subnet_id, a.ip_address).where(a.port_id == port.id, a.subnet_id == subnet_id)
            )
            allocator.release(uow, port.id, [(x.subnet_id, x.ip_address) for x in allocation])
            touch_port(uow, port.id)
        else:
            l3.drop_port(uow, port.id)
        return port, [subnet]
    raise errors.RouterInterfaceNotFoundForSubnet(router_id=router_id, subnet_id=subnet_id)


def _check_interface_unused(uow: UnitOfWork, router_id: str, subnet: sa.Row[Any]) -> None:
    """Floating IPs reaching ports on the subnet through this router, and routes whose nexthop
    is on it, need the interface."""
    net = ipaddress.ip_network(subnet.cidr)
    f, a = t.floating_ips.c, t.ip_allocations.c
    on_subnet = {r.port_id for r in uow.rows(sa.select(a.port_id).where(a.subnet_id == subnet.id))}
    for fip in uow.rows(
        sa.select(f.fixed_port_id, f.fixed_ip_address).where(
            f.router_id == router_id, f.fixed_ip_address.is_not(None)
        )
    ):
        if ipaddress.ip_address(fip.fixed_ip_address) in net and fip.fixed_port_id in on_subnet:
            raise errors.RouterInterfaceInUseByFloatingIP(router_id=router_id, subnet_id=subnet.id)
    r = t.router_routes.c
    for route in uow.rows(sa.select(r.nexthop).where(r.router_id == router_id)):
        if ipaddress.ip_address(route.nexthop) in net:
            raise errors.RouterInterfaceInUseByRoute(router_id=router_id, subnet_id=subnet.id)


# --- shared checks and lookups -------------------------------------------------------------


def check_new_subnets(uow: UnitOfWork, router_id: str, new: Sequence[sa.Row[Any]]) -> None:
    """Neutron's ``_check_for_dup_router_subnets``: the router has no port on these subnets
    yet, and none of them overlaps a subnet it reaches (all of its gateway network's)."""
    a, rp, s = t.ip_allocations.c, t.router_ports.c, t.subnets.c
    new_ids = {n.id for n in new}
    reached: set[str] = set()
    for held in uow.rows(
        sa.select(a.subnet_id, a.network_id, rp.port_type)
        .join(t.router_ports, rp.port_id == a.port_id)
        .where(rp.router_id == router_id)
    ):
        if held.subnet_id in new_ids:
            raise _bad(f"Router already has a port on subnet {held.subnet_id}")
        if held.port_type == l3.ROUTER_GATEWAY:
            reached.update(r.id for r in uow.rows(sa.select(s.id).where(s.network_id == held.network_id)))
        else:
            reached.add(held.subnet_id)
    if not reached:
        return
    for other in uow.rows(sa.select(s.id, s.cidr).where(s.id.in_(sorted(reached)))):
        for subnet in new:
            if ranges.overlaps(other.cidr, subnet.cidr):
                raise _bad(
                    f"Cidr {subnet.cidr} of subnet {subnet.id} overlaps with cidr {other.cidr} of subnet {other.id}"
                )


def _subnet(uow: UnitOfWork, ctx: RequestContext, subnet_id: str) -> sa.Row[Any]:
    stmt = sa.select(t.subnets).where(t.subnets.c.id == subnet_id)
    if (scope := subnet_visible(ctx)) is not None:
        stmt = stmt.where(scope)
    subnet = uow.one_or_none(stmt)
    if subnet is None:
        raise errors.SubnetNotFound(subnet_id=subnet_id)
    return subnet


def port_row(uow: UnitOfWork, port_id: str) -> sa.Row[Any]:
    port = uow.one_or_none(sa.select(t.ports).where(t.ports.c.id == port_id))
    if port is None:  # a router's own port: present by construction
        raise errors.PortNotFound(port_id=port_id)
    return port


def router_ports(uow: UnitOfWork, router_id: str, port_type: str) -> list[sa.Row[Any]]:
    rp = t.router_ports.c
    return list(
        uow.rows(
            sa.select(t.ports)
            .join(t.router_ports, rp.port_id == t.ports.c.id)
            .where(rp.router_id == router_id, rp.port_type == port_type)
            .order_by(t.ports.c.created_at, t.ports.c.id)
        )
    )


def port_subnets(uow: UnitOfWork, port_id: str) -> list[sa.Row[Any]]:
    a = t.ip_allocations.c
    return list(
        uow.rows(
            sa.select(t.subnets)
            .join(t.ip_allocations, a.subnet_id == t.subnets.c.id)
            .where(a.port_id == port_id)
            .order_by(t.subnets.c.ip_version, t.subnets.c.created_at, t.subnets.c.id)
        )
    )


def _ipv6_port(uow: UnitOfWork, router_id: str, network_id: str) -> sa.Row[Any] | None:
    """The router's interface on this network that has IPv6 addresses, if any."""
    for port in router_ports(uow, router_id, l3.ROUTER_INTERFACE):
        if port.network_id == network_id and any(s.ip_version == 6 for s in port_subnets(uow, port.id)):
            return port
    return None


def touch_port(uow: UnitOfWork, port_id: str) -> None:
    uow.execute(
        sa.update(t.ports)
        .where(t.ports.c.id == port_id)
        .values(updated_at=utcnow(), revision_number=t.ports.c.revision_number + 1)
    )


def _interface_info(body: Any, *, removal: bool) -> tuple[str | None, str | None]:
    """``{"subnet_id": S}`` or ``{"port_id": P}`` (both only to remove): Neutron's
    ``_validate_interface_info``."""
    info = body if isinstance(body, dict) else {}
    if "port_id" not in info and "subnet_id" not in info:
        raise _bad("Either subnet_id or port_id must be specified")
    for key in ("port_id", "subnet_id"):
        if key in info and (reason := validate(info[key], {"type:uuid": None})):
            raise _bad(reason)
    if not removal and "port_id" in info and "subnet_id" in info:
        raise _bad("Cannot specify both subnet-id and port-id")
    return info.get("port_id"), info.get("subnet_id")


def _check_address_mode(subnet: sa.Row[Any]) -> None:
    if subnet.ip_version == 6 and subnet.ipv6_ra_mode is None and subnet.ipv6_address_mode is not None:
        raise _bad(
            f"IPv6 subnet {subnet.id} configured to receive RAs from an external router cannot be added "
            "to Neutron Router."
        )


def _interface_answer(
    router_id: str, port: sa.Row[Any], subnet_id: str, subnet_ids: list[str]
) -> dict[str, Any]:
    """Neutron's ``_make_router_interface_info``."""
    return {
        "id": router_id,
        "tenant_id": port.project_id,
        "project_id": port.project_id,
        "port_id": port.id,
        "network_id": port.network_id,
        "subnet_id": subnet_id,
        "subnet_ids": subnet_ids,
    }
