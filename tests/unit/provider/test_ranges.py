"""IPAM arithmetic: usable range, defaults, pool checks, first free address, EUI-64."""

from __future__ import annotations

import ipaddress

import pytest

from neutrino.provider import errors
from neutrino.provider.ipam import ranges
from neutrino.provider.ipam.allocator import Subnet, resolve_request


def net(cidr: str) -> ranges.IPNetwork:
    return ipaddress.ip_network(cidr)


@pytest.mark.parametrize(
    ("cidr", "gateway", "pools"),
    [
        ("10.0.0.0/24", "10.0.0.1", [{"start": "10.0.0.2", "end": "10.0.0.254"}]),
        ("10.0.0.0/30", "10.0.0.1", [{"start": "10.0.0.2", "end": "10.0.0.2"}]),
        ("10.0.0.0/31", "10.0.0.0", [{"start": "10.0.0.1", "end": "10.0.0.1"}]),
        ("fd00::/64", "fd00::1", [{"start": "fd00::2", "end": "fd00::ffff:ffff:ffff:ffff"}]),
    ],
)
def test_defaults(cidr: str, gateway: str, pools: list[dict[str, str]]) -> None:
    assert ranges.default_gateway(net(cidr)) == gateway
    assert ranges.default_pools(net(cidr), gateway) == pools


def test_pools_around_a_gateway_in_the_middle_and_without_gateway() -> None:
    assert ranges.default_pools(net("10.0.0.0/29"), "10.0.0.3") == [
        {"start": "10.0.0.1", "end": "10.0.0.2"},
        {"start": "10.0.0.4", "end": "10.0.0.6"},
    ]
    assert ranges.default_pools(net("10.0.0.0/29"), None) == [{"start": "10.0.0.1", "end": "10.0.0.6"}]


def test_pool_checks() -> None:
    n = net("10.0.0.0/24")
    ranges.check_pools(n, [{"start": "10.0.0.10", "end": "10.0.0.20"}], "10.0.0.1")
    with pytest.raises(ranges.OutOfBoundsAllocationPool):
        ranges.check_pools(n, [{"start": "10.0.0.10", "end": "10.0.1.20"}], None)
    with pytest.raises(ranges.InvalidAllocationPool):
        ranges.check_pools(n, [{"start": "10.0.0.20", "end": "10.0.0.10"}], None)
    with pytest.raises(ranges.OverlappingAllocationPools):
        ranges.check_pools(
            n, [{"start": "10.0.0.1", "end": "10.0.0.9"}, {"start": "10.0.0.5", "end": "10.0.0.20"}], None
        )
    with pytest.raises(ranges.GatewayConflictWithAllocationPools):
        ranges.check_pools(n, [{"start": "10.0.0.1", "end": "10.0.0.9"}], "10.0.0.1")


def test_first_free_takes_the_lowest_free_address_of_the_pools() -> None:
    pools = [(10, 12), (20, 22)]
    assert ranges.first_free(pools, set()) == 10
    assert ranges.first_free(pools, {10, 11}) == 12
    assert ranges.first_free(pools, {10, 11, 12, 20}) == 21
    assert ranges.first_free(pools, {10, 11, 12, 20, 21, 22}) is None


def test_eui64() -> None:
    assert ranges.eui64(net("fd00::/64"), "fa:16:3e:00:00:01") == "fd00::f816:3eff:fe00:1"


def test_overlaps() -> None:
    assert ranges.overlaps("10.0.0.0/24", "10.0.0.128/25")
    assert not ranges.overlaps("10.0.0.0/24", "10.0.1.0/24")
    assert not ranges.overlaps("10.0.0.0/24", "fd00::/64")


def _subnet(sid: str, cidr: str, gateway: str | None) -> Subnet:
    pools = ranges.pool_ranges(ranges.default_pools(net(cidr), gateway))
    return Subnet(id=sid, cidr=cidr, ip_version=net(cidr).version, gateway_ip=gateway, pools=tuple(pools), ipv6_address_mode=None)  # fmt: skip


def test_resolve_request_matches_addresses_to_subnets() -> None:
    subnets = [_subnet("a", "10.0.0.0/24", "10.0.0.1"), _subnet("b", "10.1.0.0/24", "10.1.0.1")]
    plan = resolve_request(subnets, "n", [{"ip_address": "10.1.0.7"}, {"subnet_id": "a"}])
    assert [(s.id, a) for s, a in plan] == [("b", "10.1.0.7"), ("a", None)]
    with pytest.raises(errors.InvalidIpForNetwork):
        resolve_request(subnets, "n", [{"ip_address": "10.2.0.7"}])
    with pytest.raises(errors.InvalidIpForSubnet):
        resolve_request(subnets, "n", [{"subnet_id": "a", "ip_address": "10.1.0.7"}])
    with pytest.raises(errors.InvalidInput):
        resolve_request(subnets, "n", [{"subnet_id": "zzz"}])
    for taken in ("10.0.0.1", "10.0.0.0", "10.0.0.255"):  # gateway, network, broadcast
        with pytest.raises(errors.IpAddressInUse):
            resolve_request(subnets, "n", [{"ip_address": taken}])
