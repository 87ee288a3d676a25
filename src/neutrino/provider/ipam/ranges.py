"""Subnet range rules, without I/O: usable range, default gateway and pools, pool checks, first free
address, IPv6 EUI-64 addresses. The single place that says which addresses of a CIDR are usable."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

from neutrino.provider import errors

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class GatewayConflictWithAllocationPools(errors.InUse):
    message = "Gateway ip %(ip_address)s conflicts with allocation pool %(pool)s."


class InvalidAllocationPool(errors.BadRequest):
    message = "The allocation pool %(pool)s is not valid."


class OutOfBoundsAllocationPool(errors.BadRequest):
    message = "The allocation pool %(pool)s spans beyond the subnet cidr %(subnet_cidr)s."


class OverlappingAllocationPools(errors.Conflict):
    message = "Found overlapping allocation pools: %(pool_1)s %(pool_2)s for subnet %(subnet_cidr)s."


def usable_range(net: IPNetwork) -> tuple[int, int] | None:
    """First and last address a host may hold: IPv4 skips network and broadcast (except /31, /32),
    IPv6 skips the subnet-router anycast address."""
    first, last = int(net.network_address), int(net.broadcast_address)
    if net.version == 4:
        if net.prefixlen < 31:
            first, last = first + 1, last - 1
    elif net.prefixlen < 128:
        first += 1
    return (first, last) if first <= last else None


def default_gateway(net: IPNetwork) -> str | None:
    span = usable_range(net)
    return None if span is None else str(ipaddress.ip_address(span[0]))


def default_pools(net: IPNetwork, gateway: str | None) -> list[dict[str, str]]:
    """The whole usable range minus the gateway, as Neutron's ``allocation_pools``."""
    span = usable_range(net)
    if span is None:
        return []
    first, last = span
    pieces: list[tuple[int, int]] = [(first, last)]
    if gateway is not None:
        gw = int(ipaddress.ip_address(gateway))
        pieces = (
            [(a, b) for a, b in ((first, gw - 1), (gw + 1, last)) if a <= b]
            if first <= gw <= last
            else pieces
        )
    return [{"start": _addr(net, a), "end": _addr(net, b)} for a, b in pieces]


def _addr(net: IPNetwork, value: int) -> str:
    return str(ipaddress.IPv4Address(value) if net.version == 4 else ipaddress.IPv6Address(value))


def check_pools(
    net: IPNetwork, pools: Sequence[dict[str, str]], gateway: str | None
) -> list[tuple[int, int]]:
    """Validate requested pools against the subnet and its gateway; returns them as int ranges."""
    ranges: list[tuple[int, int]] = []
    for pool in pools:
        start, end = ipaddress.ip_address(pool["start"]), ipaddress.ip_address(pool["end"])
        text = f"{pool['start']}-{pool['end']}"
        if start.version != net.version or end.version != net.version or int(start) > int(end):
            raise InvalidAllocationPool(pool=text)
        if start not in net or end not in net:
            raise OutOfBoundsAllocationPool(pool=text, subnet_cidr=str(net))
        ranges.append((int(start), int(end)))
    ordered = sorted(ranges)
    for (a1, b1), (a2, b2) in zip(ordered, ordered[1:], strict=False):
        if a2 <= b1:
            raise OverlappingAllocationPools(
                pool_1=f"{_addr(net, a1)}-{_addr(net, b1)}",
                pool_2=f"{_addr(net, a2)}-{_addr(net, b2)}",
                subnet_cidr=str(net),
            )
    if gateway is not None:
        gw = int(ipaddress.ip_address(gateway))
        for a, b in ranges:
            if a <= gw <= b:
                raise GatewayConflictWithAllocationPools(
                    ip_address=gateway, pool=f"{_addr(net, a)}-{_addr(net, b)}"
                )
    return ranges


def pool_ranges(pools: Iterable[dict[str, Any]]) -> list[tuple[int, int]]:
    return [(int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"]))) for p in pools]


def first_free(ranges: Iterable[tuple[int, int]], taken: set[int]) -> int | None:
    """Lowest address of the pools not in ``taken`` (at most ``len(taken) + 1`` steps per pool)."""
    for start, end in sorted(ranges):
        value = start
        while value <= end:
            if value not in taken:
                return value
            value += 1
    return None


def in_pools(value: int, ranges: Iterable[tuple[int, int]]) -> bool:
    return any(a <= value <= b for a, b in ranges)


def eui64(net: IPNetwork, mac: str) -> str:
    """The SLAAC address of ``mac`` in a /64 (modified EUI-64: flip the U/L bit, insert ff:fe)."""
    octets = [int(x, 16) for x in mac.split(":")]
    octets[0] ^= 0x02
    iid = bytes(octets[:3] + [0xFF, 0xFE] + octets[3:])
    return str(ipaddress.IPv6Address(int(net.network_address) | int.from_bytes(iid, "big")))


def overlaps(a: str, b: str) -> bool:
    na, nb = ipaddress.ip_network(a, strict=False), ipaddress.ip_network(b, strict=False)
    return na.version == nb.version and na.overlaps(nb)
