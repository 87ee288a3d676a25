"""Subnet pool arithmetic (``ipam/prefixes.py``): compaction, bounds, free space, which block a request
takes, quota units. Expected values are Neutron's (``SubnetPoolReader``, ``SubnetAllocator``)."""

from __future__ import annotations

import ipaddress

import pytest

from neutrino.provider import errors
from neutrino.provider.ipam import prefixes


def nets(*cidrs: str) -> list[prefixes.IPNetwork]:
    return [ipaddress.ip_network(c) for c in cidrs]


def test_prefixes_are_compacted_and_of_one_version() -> None:
    assert prefixes.compact(["10.0.1.0/24", "10.0.0.0/24", "10.0.0.128/25", "10.0.3.9/24"]) == nets(
        "10.0.0.0/23", "10.0.3.0/24"
    )
    assert prefixes.compact(["2001:db8::/48", "2001:db8:0:1::/64"]) == nets("2001:db8::/48")
    with pytest.raises(errors.EmptySubnetPoolPrefixList):
        prefixes.compact([])
    with pytest.raises(errors.PrefixVersionMismatch):
        prefixes.compact(["10.0.0.0/8", "fd00::/8"])


def test_bounds_default_as_neutron_and_refuse_what_cannot_hold() -> None:
    assert prefixes.bounds(4, None, None, None) == prefixes.Bounds(8, 32, 8)
    assert prefixes.bounds(6, None, None, None) == prefixes.Bounds(64, 128, 64)
    assert prefixes.bounds(4, 20, 28, None) == prefixes.Bounds(20, 28, 20)
    assert prefixes.bounds(4, 0, 0, 0) == prefixes.Bounds(0, 0, 0)
    for args, text in (
        ((4, 28, 24, None), "min_prefixlen=28, max_prefixlen=24"),
        ((4, None, 33, None), "max_prefixlen=33, ip_version_max=32"),
        ((6, None, 129, None), "max_prefixlen=129, ip_version_max=128"),
        ((4, 16, 24, 8), "default_prefixlen=8, min_prefixlen=16"),
        ((4, 16, 24, 26), "default_prefixlen=26, max_prefixlen=24"),
    ):
        with pytest.raises(errors.IllegalSubnetPoolPrefixBounds, match=text):
            prefixes.bounds(*args)


def test_prefix_length_limits() -> None:
    limits = prefixes.Bounds(24, 28, 26)
    prefixes.check_prefixlen(24, limits)
    prefixes.check_prefixlen(28, limits)
    with pytest.raises(errors.MaxPrefixSubnetAllocationError, match="maximum allowed prefix is 28"):
        prefixes.check_prefixlen(29, limits)
    with pytest.raises(errors.MinPrefixSubnetAllocationError, match="minimum allowed prefix is 24"):
        prefixes.check_prefixlen(23, limits)


def test_free_space_is_the_prefixes_minus_the_allocations_smallest_first() -> None:
    pool = nets("10.0.0.0/24", "10.1.0.0/24")
    assert prefixes.free_blocks(pool, []) == pool
    free = prefixes.free_blocks(pool, nets("10.0.0.0/26", "10.0.0.64/27", "10.9.0.0/24"))
    assert free == nets("10.0.0.96/27", "10.0.0.128/25", "10.1.0.0/24")
    # an allocation wider than a prefix (the pool grew around it) takes the whole prefix
    assert prefixes.free_blocks(nets("10.0.0.0/25"), nets("10.0.0.0/24")) == []
    assert prefixes.free_blocks(pool, pool) == []
    v6 = prefixes.free_blocks(nets("2001:db8::/62"), nets("2001:db8::/64", "10.0.0.0/8"))
    assert v6 == nets("2001:db8:0:1::/64", "2001:db8:0:2::/63")


def test_a_request_takes_the_first_subnet_of_the_smallest_block_that_holds_it() -> None:
    free = prefixes.free_blocks(nets("10.0.0.0/24"), nets("10.0.0.0/28", "10.0.0.64/26"))
    # free: .16/28, .32/27, .128/25
    assert prefixes.first_fit(free, 28) == ipaddress.ip_network("10.0.0.16/28")
    assert prefixes.first_fit(free, 27) == ipaddress.ip_network("10.0.0.32/27")
    assert prefixes.first_fit(free, 26) == ipaddress.ip_network("10.0.0.128/26")
    assert prefixes.first_fit(free, 25) == ipaddress.ip_network("10.0.0.128/25")
    assert prefixes.first_fit(free, 24) is None
    assert prefixes.is_free(free, ipaddress.ip_network("10.0.0.160/27"))
    assert not prefixes.is_free(free, ipaddress.ip_network("10.0.0.0/27"))  # half taken
    assert not prefixes.is_free(free, ipaddress.ip_network("10.0.1.0/28"))  # outside the pool
    assert not prefixes.is_free(free, ipaddress.ip_network("fd00::/64"))


def test_allocating_until_full_hands_out_every_block_once() -> None:
    pool = nets("10.0.0.0/25", "10.0.0.192/26")
    taken: list[prefixes.IPNetwork] = []
    while (found := prefixes.first_fit(prefixes.free_blocks(pool, taken), 27)) is not None:
        assert all(not found.overlaps(t) for t in taken)  # type: ignore[arg-type]
        taken.append(found)
    assert sorted(taken) == nets(*(f"10.0.0.{i}/27" for i in (0, 32, 64, 96, 192, 224)))


def test_covers() -> None:
    assert prefixes.covers(nets("10.0.0.0/16"), nets("10.0.1.0/24", "10.0.0.0/16"))
    assert not prefixes.covers(nets("10.0.0.0/24"), nets("10.0.0.0/23"))
    assert not prefixes.covers(nets("10.0.0.0/8"), nets("fd00::/8"))


def test_quota_units_are_addresses_for_ipv4_and_64s_for_ipv6() -> None:
    assert prefixes.quota_units(4, 30) == 4
    assert prefixes.quota_units(4, 24) == 256
    assert prefixes.quota_units(6, 64) == 1
    assert prefixes.quota_units(6, 48) == 65536
    assert prefixes.quota_units(6, 65) == 0.5
