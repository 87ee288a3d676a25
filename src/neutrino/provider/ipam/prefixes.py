"""Subnet pools' prefix arithmetic, without I/O: Neutron's ``SubnetPoolReader`` (prefixes compacted, the
IP version they imply, prefix length bounds and their defaults) and ``SubnetAllocator`` (what is free,
which block a request takes, the per-project quota in address units).

A pool's free space is its prefixes minus the CIDRs of the subnets allocated from it, compacted into
CIDR blocks. A request for a prefix length takes the first subnet of the smallest free block that holds
it (blocks of one length in address order), so large blocks stay whole as long as possible; a request
for a given CIDR must lie inside one free block.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from neutrino.provider import errors
from neutrino.provider.ipam.ranges import IPNetwork

#: per IP version: longest prefix, default min_prefixlen, the quota's unit (a /32, a /64), as Neutron's
#: ``SubnetPoolHelper``
MAX_PREFIXLEN = {4: 32, 6: 128}
DEFAULT_MIN_PREFIXLEN = {4: 8, 6: 64}
QUOTA_UNIT = {4: 32, 6: 64}


def network(cidr: str) -> IPNetwork:
    """A CIDR as a network, host bits dropped (``10.0.0.1/24`` is ``10.0.0.0/24``)."""
    return ipaddress.ip_network(cidr, strict=False)


def compact(prefixes: Iterable[str]) -> list[IPNetwork]:
    """The prefixes merged into the fewest CIDRs covering the same addresses, in address order: Neutron's
    ``IPSet(...).compact()`` (overlapping or adjacent prefixes are not an error, they merge)."""
    nets = [network(p) for p in prefixes]
    if not nets:
        raise errors.EmptySubnetPoolPrefixList()
    if len({n.version for n in nets}) > 1:
        raise errors.PrefixVersionMismatch()
    return _collapse(nets)


def _collapse(nets: Iterable[IPNetwork]) -> list[IPNetwork]:
    """``ipaddress.collapse_addresses`` of networks of one IP version, in address order."""
    return cast(list[IPNetwork], list(ipaddress.collapse_addresses(cast(Iterable[Any], nets))))


def covers(outer: Iterable[IPNetwork], inner: Iterable[IPNetwork]) -> bool:
    """Whether every address of ``inner`` is in ``outer`` (same IP version)."""
    wide = list(outer)
    return all(any(n.version == o.version and n.subnet_of(o) for o in wide) for n in inner)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Bounds:
    min_prefixlen: int
    max_prefixlen: int
    default_prefixlen: int


def bounds(ip_version: int, minimum: int | None, maximum: int | None, default: int | None) -> Bounds:
    """The prefix length bounds, each defaulted as Neutron does (min 8 or 64, max 32 or 128, default the
    min) and checked: min <= default <= max <= the address length, else ``IllegalSubnetPoolPrefixBounds``."""
    low = DEFAULT_MIN_PREFIXLEN[ip_version] if minimum is None else minimum
    high = MAX_PREFIXLEN[ip_version] if maximum is None else maximum
    usual = low if default is None else default
    if low > high:
        raise errors.IllegalSubnetPoolPrefixBounds(
            prefix_type="min_prefixlen", prefixlen=low, base_prefix_type="max_prefixlen", base_prefixlen=high
        )
    if high > MAX_PREFIXLEN[ip_version]:
        raise errors.IllegalSubnetPoolPrefixBounds(
            prefix_type="max_prefixlen",
            prefixlen=high,
            base_prefix_type="ip_version_max",
            base_prefixlen=MAX_PREFIXLEN[ip_version],
        )
    if usual < low:
        raise errors.IllegalSubnetPoolPrefixBounds(
            prefix_type="default_prefixlen",
            prefixlen=usual,
            base_prefix_type="min_prefixlen",
            base_prefixlen=low,
        )
    if usual > high:
        raise errors.IllegalSubnetPoolPrefixBounds(
            prefix_type="default_prefixlen",
            prefixlen=usual,
            base_prefix_type="max_prefixlen",
            base_prefixlen=high,
        )
    return Bounds(low, high, usual)


def check_prefixlen(prefixlen: int, limits: Bounds) -> None:
    if prefixlen > limits.max_prefixlen:
        raise errors.MaxPrefixSubnetAllocationError(prefixlen=prefixlen, max_prefixlen=limits.max_prefixlen)
    if prefixlen < limits.min_prefixlen:
        raise errors.MinPrefixSubnetAllocationError(prefixlen=prefixlen, min_prefixlen=limits.min_prefixlen)


def free_blocks(prefixes: Iterable[IPNetwork], allocated: Iterable[IPNetwork]) -> list[IPNetwork]:
    """The pool's free space as CIDR blocks, smallest first (address order within one length)."""
    blocks = list(prefixes)
    for taken in allocated:
        remaining: list[IPNetwork] = []
        for block in blocks:
            if block.version != taken.version or not block.overlaps(taken):
                remaining.append(block)
            elif taken.subnet_of(cast(Any, block)) and taken != block:
                remaining.extend(cast(Any, block).address_exclude(taken))
            # else the block lies inside what was taken: none of it is free
        blocks = remaining
    merged = _collapse(blocks)
    return sorted(merged, key=lambda n: n.prefixlen, reverse=True)  # stable: address order kept per length


def first_fit(free: Iterable[IPNetwork], prefixlen: int) -> IPNetwork | None:
    """The subnet a request for ``prefixlen`` gets (Neutron's ``_allocate_any_subnet``), or None."""
    for block in free:
        if prefixlen >= block.prefixlen:
            return cast(IPNetwork, next(block.subnets(new_prefix=prefixlen)))
    return None


def is_free(free: Iterable[IPNetwork], cidr: IPNetwork) -> bool:
    """Whether ``cidr`` lies wholly inside one free block (Neutron's ``_allocate_specific_subnet``)."""
    return any(block.version == cidr.version and cidr.subnet_of(block) for block in free)  # type: ignore[arg-type]


def quota_units(ip_version: int, prefixlen: int) -> float:
    """How much of a pool's ``default_quota`` a subnet of ``prefixlen`` uses: its size in /32s (IPv4) or
    /64s (IPv6); a longer IPv6 prefix uses a fraction, as in Neutron."""
    return float(2 ** (QUOTA_UNIT[ip_version] - prefixlen))
