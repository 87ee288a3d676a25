"""Address allocation for ports, inside the caller's unit of work.

Every subnet an allocation touches is locked first (``SELECT ... FOR UPDATE`` on PostgreSQL; the
single SQLite writer otherwise), then a free pool address is chosen. The (subnet_id, ip_address)
primary key backs this up: a race that slipped past the lock would fail the insert, never hand
out one address twice.

Neutron's rules when a port asks for nothing: one IPv4 address (from the first IPv4 subnet with
room), one address from the first stateful IPv6 subnet with room, and an EUI-64 address on every
SLAAC / DHCPv6-stateless subnet. A network without subnets gives a port no address.

Within a subnet the allocator takes the address after the highest allocated one, and fills holes
left by released addresses only once the pools' tails are used up (see ``_pick``).

The statements of the create path are built once (module constants with bound parameters), so
SQLAlchemy finds them compiled in its cache instead of building and hashing a new statement per call;
a port create calls :func:`allocate` last before its commit, so the subnet lock is held for as few
round trips as possible.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from neutrino.provider import errors
from neutrino.provider.ipam import ranges
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import UnitOfWork

AUTO_ADDRESS_MODES = ("slaac", "dhcpv6-stateless")
#: Offsets from the network address at or past this are stored as NULL (far IPv6 addresses).
MAX_OFFSET = 2**62


@dataclass(frozen=True)
class Subnet:
    id: str
    cidr: str
    ip_version: int
    gateway_ip: str | None
    pools: tuple[tuple[int, int], ...]
    ipv6_address_mode: str | None

    @functools.cached_property
    def net(self) -> ranges.IPNetwork:
        return ipaddress.ip_network(self.cidr)

    @property
    def auto_address(self) -> bool:
        return self.ip_version == 6 and self.ipv6_address_mode in AUTO_ADDRESS_MODES

    @classmethod
    def of(cls, row: Any) -> Subnet:
        return cls(
            id=row.id,
            cidr=row.cidr,
            ip_version=row.ip_version,
            gateway_ip=row.gateway_ip,
            pools=tuple(ranges.pool_ranges(row.allocation_pools)),
            ipv6_address_mode=row.ipv6_address_mode,
        )


_alloc = t.ip_allocations.c
_SUBNETS_OF_NETWORK = (
    sa.select(t.subnets)
    .where(t.subnets.c.network_id == sa.bindparam("network_id"))
    .order_by(t.subnets.c.created_at, t.subnets.c.id)
)
_HIGHEST_IN_POOL = sa.select(sa.func.max(_alloc.ip_offset)).where(
    _alloc.subnet_id == sa.bindparam("subnet_id"),
    _alloc.ip_offset.between(sa.bindparam("low"), sa.bindparam("high")),
)
_ADDRESS_HOLDER = sa.select(_alloc.port_id).where(
    _alloc.subnet_id == sa.bindparam("subnet_id"), _alloc.ip_address == sa.bindparam("ip_address")
)
_INSERT_ALLOCATION = sa.insert(t.ip_allocations)


def network_subnets(uow: UnitOfWork, network_id: str) -> list[Subnet]:
    rows = uow.execute(_SUBNETS_OF_NETWORK, {"network_id": network_id}).all()
    return [Subnet.of(r) for r in rows]


def _offset(subnet: Subnet, address: str) -> int | None:
    offset = int(ipaddress.ip_address(address)) - int(subnet.net.network_address)
    return offset if offset < MAX_OFFSET else None


def _taken(uow: UnitOfWork, subnet: Subnet) -> set[int]:
    c = t.ip_allocations.c
    base = int(subnet.net.network_address)
    rows = uow.rows(sa.select(c.ip_offset, c.ip_address).where(c.subnet_id == subnet.id))
    return {
        base + r.ip_offset if r.ip_offset is not None else int(ipaddress.ip_address(r.ip_address))
        for r in rows
    }


def _is_taken(uow: UnitOfWork, subnet_id: str, address: str) -> bool:
    holder = uow.execute(_ADDRESS_HOLDER, {"subnet_id": subnet_id, "ip_address": address}).first()
    return holder is not None


def _pick(uow: UnitOfWork, subnet: Subnet) -> str | None:
    """The address after the highest one allocated in a pool (one indexed MAX per pool), else,
    once every pool's tail is used, the lowest free address: released addresses are reused last."""
    base = int(subnet.net.network_address)
    for start, end in sorted(subnet.pools):
        low, high = start - base, min(end - base, MAX_OFFSET - 1)
        if low > high:
            continue
        highest = uow.execute(_HIGHEST_IN_POOL, {"subnet_id": subnet.id, "low": low, "high": high}).scalar()
        candidate = low if highest is None else highest + 1
        if candidate <= high:
            # Free without asking: every row stores its offset when it is below MAX_OFFSET (as
            # every pool offset here is), so a row holding this address would have made it `highest`.
            return str(ipaddress.ip_address(base + candidate))
    value = ranges.first_free(subnet.pools, _taken(uow, subnet))
    return None if value is None else str(ipaddress.ip_address(value))


def resolve_request(
    subnets: Sequence[Subnet],
    network_id: str,
    fixed_ips: list[dict[str, Any]],
    *,
    allow_gateway: bool = False,
) -> list[tuple[Subnet, str | None]]:
    """Match each requested ``{subnet_id?, ip_address?}`` to a subnet of the network (no I/O).

    A subnet's gateway address is refused unless ``allow_gateway`` (a router's interface)."""
    by_id = {s.id: s for s in subnets}
    out: list[tuple[Subnet, str | None]] = []
    for item in fixed_ips:
        address = item.get("ip_address")
        if "subnet_id" in item:
            subnet = by_id.get(item["subnet_id"])
            if subnet is None:
                raise errors.InvalidInput(
                    error_message=f"Failed to create port on network {network_id}, because fixed_ips included "
                    f"invalid subnet {item['subnet_id']}"
                )
            if address is not None and ipaddress.ip_address(address) not in subnet.net:
                raise errors.InvalidIpForSubnet(ip_address=address)
        else:
            found = [s for s in subnets if ipaddress.ip_address(str(address)) in s.net]
            if not found:
                raise errors.InvalidIpForNetwork(ip_address=address)
            subnet = found[0]
        if address is not None:
            address = str(ipaddress.ip_address(address))
            if (address == subnet.gateway_ip and not allow_gateway) or int(ipaddress.ip_address(address)) in (
                int(subnet.net.network_address),
                int(subnet.net.broadcast_address)
                if subnet.ip_version == 4 and subnet.net.prefixlen < 31
                else -1,
            ):
                raise errors.IpAddressInUse(net_id=network_id, ip_address=address)
        out.append((subnet, address))
    return out


def allocate(
    uow: UnitOfWork,
    *,
    network_id: str,
    port_id: str,
    mac_address: str,
    requested: list[dict[str, Any]] | None,
    keep: Sequence[tuple[str, str]] = (),
    ip_version: int | None = None,
    allow_gateway: bool = False,
) -> list[tuple[str, str]]:
    """Allocate and record addresses for a port; returns [(subnet_id, ip_address)].

    ``requested`` None means "as Neutron would choose" (only from ``ip_version``'s subnets when
    given: a floating IP's port). ``keep`` lists allocations the port already holds and keeps (a
    port update): they are neither re-checked nor re-inserted. ``allow_gateway``: the port may
    take a subnet's gateway address (a router's interface).
    """
    subnets = network_subnets(uow, network_id)
    if not subnets:
        if requested:
            raise errors.InvalidIpForNetwork(ip_address=requested[0].get("ip_address", ""))
        return []
    plan: list[tuple[list[Subnet], str | None]]  # (candidate subnets, wanted address or None)
    if requested is None:
        chosen = [s for s in subnets if ip_version in (None, s.ip_version)]
        v4 = [s for s in chosen if s.ip_version == 4]
        v6_stateful = [s for s in chosen if s.ip_version == 6 and not s.auto_address]
        plan = [(group, None) for group in (v4, v6_stateful) if group]
        plan.extend(([s], ranges.eui64(s.net, mac_address)) for s in chosen if s.auto_address)
    else:
        resolved = resolve_request(subnets, network_id, requested, allow_gateway=allow_gateway)
        plan = [([subnet], address) for subnet, address in resolved]
    uow.lock_rows(t.subnets, [s.id for s in subnets])

    kept = set(keep)
    result: list[tuple[str, str]] = []
    for group, wanted in plan:
        subnet, address = group[0], wanted
        if address is None and subnet.auto_address:
            address = ranges.eui64(subnet.net, mac_address)
        if address is None:
            for candidate in group:  # the first subnet with room
                address = _pick(uow, candidate)
                if address is not None:
                    subnet = candidate
                    break
            if address is None:
                raise errors.IpAddressGenerationFailure(net_id=network_id)
        elif (subnet.id, address) in kept:
            result.append((subnet.id, address))
            continue
        elif _is_taken(uow, subnet.id, address) or (subnet.id, address) in result:
            raise errors.IpAddressInUse(net_id=network_id, ip_address=address)
        uow.execute(
            _INSERT_ALLOCATION,
            {
                "subnet_id": subnet.id,
                "ip_address": address,
                "port_id": port_id,
                "network_id": network_id,
                "ip_offset": _offset(subnet, address),
            },
        )
        result.append((subnet.id, address))
    return result


def release(uow: UnitOfWork, port_id: str, allocations: Sequence[tuple[str, str]] | None = None) -> None:
    """Free a port's addresses (all of them, or the listed ones)."""
    stmt = sa.delete(t.ip_allocations).where(t.ip_allocations.c.port_id == port_id)
    if allocations is None:
        uow.execute(stmt)
        return
    for subnet_id, address in allocations:
        uow.execute(
            stmt.where(t.ip_allocations.c.subnet_id == subnet_id, t.ip_allocations.c.ip_address == address)
        )
