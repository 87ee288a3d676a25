"""Subnet pools (subnet_allocation, default-subnetpools) on the provider API, SQLite and PostgreSQL:
Neutron's fields, defaults and errors, subnets allocated from a pool (also concurrently), tags, quotas,
visibility."""

from __future__ import annotations

import ipaddress
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.integration.provider.conftest import Api, unique
from tests.integration.provider.server import RunningProvider


def _pool(api: Api, prefixes: list[str], **body: Any) -> dict[str, Any]:
    body.setdefault("name", unique("pool"))
    return api.post("subnetpools", "subnetpool", prefixes=prefixes, **body)


def _from_pool(api: Api, network_id: str, pool_id: str, ip_version: int = 4, **body: Any) -> httpx.Response:
    subnet = {"network_id": network_id, "ip_version": ip_version, "subnetpool_id": pool_id, **body}
    return api.c.post("/v2.0/subnets", json={"subnet": subnet})


def test_a_pool_as_neutron_shows_it(api: Api) -> None:
    listed = {e["alias"] for e in api.ok(api.c.get("/v2.0/extensions"))["extensions"]}
    assert {"subnet_allocation", "default-subnetpools"} <= listed and "address-scope" not in listed
    pool = _pool(api, ["10.9.0.0/24", "10.9.1.0/24", "10.9.0.128/25", "10.8.0.7/16"], min_prefixlen="26")
    assert pool["prefixes"] == ["10.8.0.0/16", "10.9.0.0/23"]  # compacted, host bits dropped
    assert (pool["ip_version"], pool["min_prefixlen"], pool["max_prefixlen"], pool["default_prefixlen"]) == (
        4,
        "26",
        "32",
        "26",
    )
    assert pool["shared"] is False and pool["is_default"] is False and pool["default_quota"] is None
    assert pool["address_scope_id"] is None and pool["tags"] == [] and pool["revision_number"] == 0
    assert pool["project_id"] == pool["tenant_id"] and pool["created_at"].endswith("Z")
    v6 = _pool(api, ["2001:db8:9::/48"], description="six")
    assert (v6["ip_version"], v6["min_prefixlen"], v6["max_prefixlen"], v6["description"]) == (
        6,
        "64",
        "128",
        "six",
    )
    renamed = api.ok(
        api.c.put(
            f"/v2.0/subnetpools/{pool['id']}",
            json={"subnetpool": {"prefixes": ["10.8.0.0/16", "10.9.0.0/16"]}},
        )
    )["subnetpool"]
    assert renamed["prefixes"] == ["10.8.0.0/15"] and renamed["revision_number"] == 1  # merged again
    stale = api.c.put(
        f"/v2.0/subnetpools/{pool['id']}",
        json={"subnetpool": {"name": "x"}},
        headers={"If-Match": "revision_number=0"},
    )
    api.error(stale, 412, "RevisionNumberConstraintFailed")
    api.ok(api.c.put(f"/v2.0/subnetpools/{pool['id']}/tags/blue"), 201)
    found = api.ok(api.c.get("/v2.0/subnetpools", params={"tags": "blue", "ip_version": 4}))["subnetpools"]
    assert [p["id"] for p in found] == [pool["id"]] and found[0]["revision_number"] == 2
    names = api.ok(api.c.get("/v2.0/subnetpools", params={"id": [pool["id"], v6["id"]], "fields": "name"}))
    assert sorted(names["subnetpools"], key=lambda p: p["name"]) == sorted(
        [{"name": pool["name"]}, {"name": v6["name"]}], key=lambda p: p["name"]
    )
    page = api.ok(api.c.get("/v2.0/subnetpools", params={"limit": 1, "sort_key": "name", "sort_dir": "desc"}))
    assert len(page["subnetpools"]) == 1 and page["subnetpools_links"][0]["rel"] == "next"
    for made in (pool, v6):
        api.ok(api.c.delete(f"/v2.0/subnetpools/{made['id']}"), 204)
    api.error(api.c.get(f"/v2.0/subnetpools/{pool['id']}"), 404, "SubnetPoolNotFound")


def test_bad_pools_are_refused_with_neutrons_errors(api: Api) -> None:
    before = api.ok(api.c.get("/v2.0/subnetpools"))["subnetpools"]
    for body, kind, message in (
        (
            {"prefixes": ["10.0.0.0/33"]},
            "HTTPBadRequest",
            "Invalid input for prefixes. Reason: '10.0.0.0/33' is not a valid IP subnet.",
        ),
        ({"prefixes": ["10.0.0.0"]}, "HTTPBadRequest", "'10.0.0.0' is not a valid IP subnet"),
        ({"prefixes": "10.0.0.0/8"}, "HTTPBadRequest", "is not a list"),
        ({"prefixes": []}, "EmptySubnetPoolPrefixList", "Empty subnet pool prefix list."),
        (
            {"prefixes": ["10.0.0.0/8", "fd00::/48"]},
            "PrefixVersionMismatch",
            "Cannot mix IPv4 and IPv6 prefixes",
        ),
        (
            {"prefixes": ["10.0.0.0/8"], "min_prefixlen": 28, "max_prefixlen": 24},
            "IllegalSubnetPoolPrefixBounds",
            "Illegal prefix bounds: min_prefixlen=28, max_prefixlen=24.",
        ),
        (
            {"prefixes": ["10.0.0.0/8"], "min_prefixlen": 24, "default_prefixlen": 20},
            "IllegalSubnetPoolPrefixBounds",
            "Illegal prefix bounds: default_prefixlen=20, min_prefixlen=24.",
        ),
        (
            {"prefixes": ["10.0.0.0/8"], "max_prefixlen": 33},
            "IllegalSubnetPoolPrefixBounds",
            "max_prefixlen=33, ip_version_max=32.",
        ),
        ({"prefixes": ["10.0.0.0/8"], "min_prefixlen": -1}, "HTTPBadRequest", "'-1' should be non-negative"),
        ({"prefixes": ["10.0.0.0/8"], "name": "  "}, "HTTPBadRequest", "Blank strings are not permitted"),
        (
            {"prefixes": ["10.0.0.0/8"], "ip_version": 4},
            "HTTPBadRequest",
            "Attribute 'ip_version' not allowed in POST",
        ),
    ):
        body.setdefault("name", unique("bad"))
        assert message in api.error(api.c.post("/v2.0/subnetpools", json={"subnetpool": body}), 400, kind)
    scope = api.c.post(
        "/v2.0/subnetpools",
        json={
            "subnetpool": {
                "name": "s",
                "prefixes": ["10.0.0.0/8"],
                "address_scope_id": "4" * 8 + "-4444-4444-4444-" + "4" * 12,
            }
        },
    )
    api.error(scope, 404, "AddressScopeNotFound")
    assert api.ok(api.c.get("/v2.0/subnetpools"))["subnetpools"] == before  # nothing made
    pool = _pool(api, ["10.7.0.0/24"], min_prefixlen=26)
    path = f"/v2.0/subnetpools/{pool['id']}"
    for body, kind, message in (
        (
            {"prefixes": ["10.7.0.0/25"]},
            "IllegalSubnetPoolPrefixUpdate",
            "Existing prefixes must be a subset of the new prefixes",
        ),
        ({"prefixes": ["fd00::/48"]}, "PrefixVersionMismatch", "Cannot mix"),
        ({"max_prefixlen": 25}, "IllegalSubnetPoolPrefixBounds", "min_prefixlen=26, max_prefixlen=25"),
        ({"shared": True}, "HTTPBadRequest", "Cannot update read-only attribute shared"),
    ):
        assert message in api.error(api.c.put(path, json={"subnetpool": body}), 400, kind)
    assert api.ok(api.c.get(path))["subnetpool"] == pool  # nothing changed
    api.ok(api.c.delete(path), 204)


def test_subnets_allocated_from_a_pool(api: Api) -> None:
    pool = _pool(api, ["10.6.0.0/24"], min_prefixlen=26, max_prefixlen=28, default_prefixlen=27)
    net = api.network()
    first = api.ok(_from_pool(api, net["id"], pool["id"]), 201)["subnet"]  # the pool's default length
    assert (first["cidr"], first["subnetpool_id"], first["gateway_ip"]) == (
        "10.6.0.0/27",
        pool["id"],
        "10.6.0.1",
    )
    assert first["allocation_pools"] == [{"start": "10.6.0.2", "end": "10.6.0.30"}]
    assert api.ok(api.c.get("/v2.0/subnets", params={"subnetpool_id": pool["id"]}))["subnets"] == [first]
    port = api.port(net["id"])  # a pool's subnet serves ports as any other
    assert port["fixed_ips"] == [{"subnet_id": first["id"], "ip_address": "10.6.0.2"}]
    api.ok(api.c.delete(f"/v2.0/ports/{port['id']}"), 204)
    # the smallest free block that holds the request: the /28 left beside a /28, not a fresh /27
    small = api.ok(_from_pool(api, net["id"], pool["id"], prefixlen=28, gateway_ip=None), 201)["subnet"]
    assert small["cidr"] == "10.6.0.32/28" and small["gateway_ip"] is None
    again = api.ok(_from_pool(api, net["id"], pool["id"], prefixlen=28), 201)["subnet"]
    assert again["cidr"] == "10.6.0.48/28"
    given = api.ok(_from_pool(api, net["id"], pool["id"], cidr="10.6.0.192/26"), 201)["subnet"]
    assert given["cidr"] == "10.6.0.192/26"
    for expected in ("10.6.0.64/26", "10.6.0.128/26"):  # now the pool is full
        assert api.ok(_from_pool(api, net["id"], pool["id"], prefixlen=26), 201)["subnet"]["cidr"] == expected
    for body, status, kind, message in (
        (
            {"cidr": "10.6.0.32/28"},
            409,
            "SubnetAllocationError",
            "Cannot allocate requested subnet from the available set of prefixes",
        ),
        ({"cidr": "10.5.0.0/26"}, 409, "SubnetAllocationError", "Cannot allocate requested subnet"),
        (
            {"prefixlen": 26},
            409,
            "SubnetAllocationError",
            "Insufficient prefix space to allocate subnet size /26",
        ),
        ({"prefixlen": 29}, 400, "MaxPrefixSubnetAllocationError", "maximum allowed prefix is 28"),
        ({"prefixlen": 25}, 400, "MinPrefixSubnetAllocationError", "minimum allowed prefix is 26"),
        (
            {"cidr": "10.6.0.128/26", "prefixlen": 26},
            400,
            "BadRequest",
            "cidr and prefixlen must not be supplied together",
        ),
        (
            {"allocation_pools": [{"start": "10.6.0.130", "end": "10.6.0.140"}]},
            400,
            "BadRequest",
            "allocation_pools allowed only for specific subnet requests.",
        ),
        ({"ip_version": 6}, 400, "BadRequest", "Cannot allocate IPv6 subnet from IPv4 subnet pool"),
    ):
        assert message in api.error(_from_pool(api, net["id"], pool["id"], **body), status, kind)
    other = _pool(api, ["10.4.0.0/24"], min_prefixlen=26)
    api.error(_from_pool(api, net["id"], other["id"]), 400, "NetworkSubnetPoolAffinityError")
    plain = api.c.post(
        "/v2.0/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 4, "cidr": "10.3.0.0/24"}}
    )
    api.error(plain, 400, "NetworkSubnetPoolAffinityError")
    no_cidr = api.c.post("/v2.0/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 4}})
    assert "a subnetpool must be specified in the absence of a cidr" in api.error(no_cidr, 400, "BadRequest")
    assert len(api.ok(api.c.get("/v2.0/subnets", params={"network_id": net["id"]}))["subnets"]) == 6
    in_use = api.c.delete(f"/v2.0/subnetpools/{pool['id']}")
    assert "Subnet pool has existing allocations" in api.error(in_use, 400, "SubnetPoolDeleteError")
    grown = api.ok(
        api.c.put(f"/v2.0/subnetpools/{pool['id']}", json={"subnetpool": {"prefixes": ["10.6.0.0/23"]}})
    )
    assert grown["subnetpool"]["prefixes"] == ["10.6.0.0/23"]
    assert (
        api.ok(_from_pool(api, net["id"], pool["id"], prefixlen=26), 201)["subnet"]["cidr"] == "10.6.1.0/26"
    )
    for subnet in api.ok(api.c.get("/v2.0/subnets", params={"network_id": net["id"]}))["subnets"]:
        api.ok(api.c.delete(f"/v2.0/subnets/{subnet['id']}"), 204)
    for made in (pool, other):
        api.ok(api.c.delete(f"/v2.0/subnetpools/{made['id']}"), 204)


def test_per_project_quota_and_default_pools(api: Api) -> None:
    pool = _pool(api, ["2001:db8:6::/48"], default_quota=2)
    net = api.network()
    api.ok(_from_pool(api, net["id"], pool["id"], ip_version=6), 201)  # a /64: one unit
    api.ok(_from_pool(api, net["id"], pool["id"], ip_version=6), 201)
    over = _from_pool(api, net["id"], pool["id"], ip_version=6)
    assert "Per-project subnet pool prefix quota exceeded." in api.error(over, 409, "SubnetPoolQuotaExceeded")
    default = _pool(api, ["10.2.0.0/16"], is_default=True, default_prefixlen=24)
    twice = api.c.post(
        "/v2.0/subnetpools",
        json={"subnetpool": {"name": "d", "prefixes": ["10.1.0.0/16"], "is_default": True}},
    )
    assert "Only one default may exist per IP family" in api.error(twice, 400, "InvalidInput")
    net4 = api.network()
    body = {"network_id": net4["id"], "ip_version": 4, "use_default_subnetpool": True}
    made = api.ok(api.c.post("/v2.0/subnets", json={"subnet": body}), 201)["subnet"]
    assert (made["cidr"], made["subnetpool_id"]) == ("10.2.0.0/24", default["id"])
    assert "use_default_subnetpool" not in made and "prefixlen" not in made
    api.ok(api.c.delete(f"/v2.0/subnets/{made['id']}"), 204)
    api.ok(api.c.put(f"/v2.0/subnetpools/{default['id']}", json={"subnetpool": {"is_default": False}}))
    gone = api.c.post("/v2.0/subnets", json={"subnet": body})
    assert "No default subnetpool found for IPv4" in api.error(gone, 400, "BadRequest")
    api.ok(api.c.delete(f"/v2.0/subnetpools/{default['id']}"), 204)


def test_projects_see_their_own_and_shared_pools(api: Api, shared_provider: RunningProvider) -> None:
    name = unique("sp")
    shared_provider.add_user(name, "pw", name + "-p")
    member = Api(shared_provider.client(shared_provider.token(name, "pw", name + "-p")))
    with member.c:
        mine = _pool(member, ["10.20.0.0/16"])
        hidden = _pool(api, ["10.21.0.0/16"])
        shared = _pool(api, ["10.22.0.0/16"], shared=True, min_prefixlen=24)
        seen = {p["id"] for p in member.ok(member.c.get("/v2.0/subnetpools"))["subnetpools"]}
        assert {mine["id"], shared["id"]} <= seen and hidden["id"] not in seen
        member.error(member.c.get(f"/v2.0/subnetpools/{hidden['id']}"), 404, "SubnetPoolNotFound")
        denied = member.c.post(
            "/v2.0/subnetpools",
            json={"subnetpool": {"name": "x", "prefixes": ["10.23.0.0/16"], "shared": True}},
        )
        member.error(denied, 403, "PolicyNotAuthorized")
        member.error(
            member.c.put(f"/v2.0/subnetpools/{shared['id']}", json={"subnetpool": {"name": "x"}}), 403
        )
        net = member.network()
        from_shared = member.ok(_from_pool(member, net["id"], shared["id"]), 201)["subnet"]
        assert from_shared["cidr"] == "10.22.0.0/24"
        member.error(_from_pool(member, member.network()["id"], hidden["id"]), 404, "SubnetPoolNotFound")
        member.ok(member.c.delete(f"/v2.0/subnets/{from_shared['id']}"), 204)
        member.ok(member.c.delete(f"/v2.0/subnetpools/{mine['id']}"), 204)
    for made in (hidden, shared):
        api.ok(api.c.delete(f"/v2.0/subnetpools/{made['id']}"), 204)


def test_concurrent_allocations_never_overlap(api: Api, shared_provider: RunningProvider) -> None:
    pool = _pool(api, ["10.30.0.0/23"], min_prefixlen=26, default_prefixlen=26)
    nets = [api.network()["id"] for _ in range(8)]
    token = shared_provider.token()

    def create(network_id: str) -> httpx.Response:
        with shared_provider.client(token) as client:
            body = {"subnet": {"network_id": network_id, "ip_version": 4, "subnetpool_id": pool["id"]}}
            return client.post("/v2.0/subnets", json=body)

    with ThreadPoolExecutor(max_workers=8) as workers:
        answers = list(workers.map(create, nets))
    assert sorted(r.status_code for r in answers) == [201] * 8, [
        r.text for r in answers if r.status_code != 201
    ]
    cidrs = sorted(ipaddress.ip_network(r.json()["subnet"]["cidr"]) for r in answers)
    assert cidrs == list(ipaddress.ip_network("10.30.0.0/23").subnets(new_prefix=26))  # every /26 once
    full = create(nets[0])
    assert "Insufficient prefix space" in api.error(full, 409, "SubnetAllocationError")


def test_prefix_operations(api: Api) -> None:
    listed = {e["alias"] for e in api.ok(api.c.get("/v2.0/extensions"))["extensions"]}
    assert "subnetpool-prefix-ops" in listed
    pool = _pool(api, ["192.168.1.0/24", "10.10.10.0/24"], min_prefixlen=24)
    path = f"/v2.0/subnetpools/{pool['id']}"
    added = api.ok(api.c.put(f"{path}/add_prefixes", json={"prefixes": ["192.168.0.0/24", "10.10.0.0/16"]}))
    assert added == {"prefixes": ["10.10.0.0/16", "192.168.0.0/23"]}
    assert api.ok(api.c.get(path))["subnetpool"]["revision_number"] == 1
    net = api.network()
    held = api.ok(_from_pool(api, net["id"], pool["id"], cidr="10.10.7.0/24"), 201)["subnet"]
    refused = api.c.put(f"{path}/remove_prefixes", json={"prefixes": ["10.10.0.0/20"]})
    assert "One or more the prefixes to be removed is in use by a subnet." in api.error(
        refused, 400, "IllegalSubnetPoolPrefixUpdate"
    )
    for bad in ({"prefixes": []}, {"prefixes": "10.0.0.0/8"}, {}):
        assert (
            api.error(api.c.put(f"{path}/add_prefixes", json=bad), 400)
            == "Request body contains invalid data"
        )
    api.error(
        api.c.put(f"{path}/add_prefixes", json={"prefixes": ["fd00::/48"]}), 400, "PrefixVersionMismatch"
    )
    removed = api.ok(
        api.c.put(f"{path}/remove_prefixes", json={"prefixes": ["10.10.128.0/17", "192.168.0.0/24"]})
    )
    assert removed == {"prefixes": ["10.10.0.0/17", "192.168.1.0/24"]}
    unchanged = api.ok(api.c.put(f"{path}/remove_prefixes", json={"prefixes": ["172.16.0.0/12"]}))
    assert unchanged == removed
    api.ok(api.c.delete(f"/v2.0/subnets/{held['id']}"), 204)
    api.ok(api.c.delete(path), 204)
