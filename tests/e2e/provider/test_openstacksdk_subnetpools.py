"""Contract: the real openstacksdk against `neutrino provider` for subnet pools (subnet_allocation,
default-subnetpools), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from typing import Any

import pytest

if os.environ.get("CI") != "true":  # in CI nothing skips: the import below fails loudly instead
    pytest.importorskip("openstack", reason="openstacksdk is not installed (pip install -e .[test])")

from openstack import exceptions  # noqa: E402

from tests.e2e.provider.conftest import unique  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


def test_subnet_pools(conn: Any) -> None:
    assert {"subnet_allocation", "default-subnetpools"} <= {e.alias for e in conn.network.extensions()}
    pool = conn.network.create_subnet_pool(
        name=unique("pool"), prefixes=["10.44.0.0/24", "10.44.1.0/24"], minimum_prefix_length=26
    )
    assert pool.prefixes == ["10.44.0.0/23"] and pool.ip_version == 4
    assert (pool.minimum_prefix_length, pool.maximum_prefix_length, pool.default_prefix_length) == (
        26,
        32,
        26,
    )
    assert not pool.is_shared and not pool.is_default and pool.address_scope_id is None
    assert [p.id for p in conn.network.subnet_pools(name=pool.name)] == [pool.id]
    first_revision = pool.revision_number
    updated = conn.network.update_subnet_pool(pool.id, default_prefix_length=28, if_revision=first_revision)
    assert updated.default_prefix_length == 28 and updated.revision_number == first_revision + 1
    conn.network.set_tags(updated, ["red"])
    assert conn.network.get_subnet_pool(pool.id).tags == ["red"]
    net = conn.network.create_network(name=unique("net"))
    first = conn.network.create_subnet(network_id=net.id, ip_version=4, subnet_pool_id=pool.id)
    second = conn.network.create_subnet(
        network_id=net.id, ip_version=4, subnet_pool_id=pool.id, prefix_length=27
    )
    given = conn.network.create_subnet(
        network_id=net.id, ip_version=4, subnet_pool_id=pool.id, cidr="10.44.1.0/26"
    )
    assert (first.cidr, second.cidr, given.cidr) == ("10.44.0.0/28", "10.44.0.32/27", "10.44.1.0/26")
    assert {s.subnet_pool_id for s in (first, second, given)} == {pool.id}
    assert {s.id for s in conn.network.subnets(subnet_pool_id=pool.id)} == {first.id, second.id, given.id}
    with pytest.raises(exceptions.ConflictException, match="Cannot allocate requested subnet"):
        conn.network.create_subnet(
            network_id=net.id, ip_version=4, subnet_pool_id=pool.id, cidr="10.44.1.0/27"
        )
    with pytest.raises(exceptions.BadRequestException, match="maximum allowed prefix is 32"):
        conn.network.create_subnet(network_id=net.id, ip_version=4, subnet_pool_id=pool.id, prefix_length=33)
    with pytest.raises(exceptions.BadRequestException, match="Subnet pool has existing allocations"):
        conn.network.delete_subnet_pool(pool)
    with pytest.raises(exceptions.BadRequestException, match="Existing prefixes must be a subset"):
        conn.network.update_subnet_pool(pool, prefixes=["10.44.0.0/24"])
    for subnet in (first, second, given):
        conn.network.delete_subnet(subnet)
    conn.network.delete_network(net)
    conn.network.delete_subnet_pool(pool)
    assert conn.network.find_subnet_pool(pool.id) is None


def test_bad_subnet_pools_are_refused(conn: Any) -> None:
    before = {p.id for p in conn.network.subnet_pools()}
    for attrs, message in (
        ({"prefixes": ["10.45.0.0/33"]}, "'10.45.0.0/33' is not a valid IP subnet"),
        ({"prefixes": ["10.45.0.0/16", "fd00::/48"]}, "Cannot mix IPv4 and IPv6 prefixes in a subnet pool."),
        (
            {"prefixes": ["10.45.0.0/16"], "minimum_prefix_length": 28, "maximum_prefix_length": 24},
            r"Illegal prefix bounds: min_prefixlen=28, max_prefixlen=24\.",
        ),
        (
            {
                "prefixes": ["10.45.0.0/16"],
                "minimum_prefix_length": 24,
                "default_prefix_length": 30,
                "maximum_prefix_length": 28,
            },
            r"Illegal prefix bounds: default_prefixlen=30, max_prefixlen=28\.",
        ),
    ):
        with pytest.raises(exceptions.BadRequestException, match=message):
            conn.network.create_subnet_pool(name=unique("bad"), **attrs)
    assert {p.id for p in conn.network.subnet_pools()} == before
