"""The port paths built for speed (issue 17) answer what the general ones do, on each backend.

A create renders the port from what it wrote instead of reading it back, and a list renders rows
through a precomputed plan: both must give exactly what ``GET /v2.0/ports/<id>`` gives. Sustained
concurrent creates (16 clients, each creating in a loop, as the bench does) never share an address
or a MAC.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa

from neutrino.provider.api import attributes, ports
from neutrino.provider.api.ports import PortService
from neutrino.provider.api.query import ListQuery, select_page
from neutrino.provider.context import RequestContext
from neutrino.provider.store import rows as rows_
from neutrino.provider.store.db import Database
from tests.integration.provider.conftest import Api
from tests.integration.provider.server import RunningProvider

CLIENTS = 16
PER_CLIENT = 8


def _full_port_body(network_id: str, v4_subnet: str, group_id: str) -> dict[str, Any]:
    return {
        "network_id": network_id,
        "name": "full",
        "description": "every field",
        "fixed_ips": [{"subnet_id": v4_subnet}],
        "security_groups": [group_id],
        "allowed_address_pairs": [{"ip_address": "10.9.9.9"}, {"ip_address": "10.8.0.0/24", "mac_address": "FA:16:3E:00:00:01"}],
        "tags": ["zeta", "alpha"],
        "binding:host_id": "host-a",
        "binding:profile": {"k": "v"},
        "device_owner": "compute:nova",
        "device_id": "vm-1",
    }  # fmt: skip


def test_a_create_answers_what_show_and_list_answer(provider: RunningProvider) -> None:
    with provider.admin() as client:
        api = Api(client)
        net = api.network()
        v4 = api.subnet(net["id"], "10.77.0.0/24")
        api.subnet(net["id"], "fd00:77::/64", ipv6_address_mode="slaac", ipv6_ra_mode="slaac")
        api.subnet(net["id"], "fd00:78::/64")  # stateful DHCPv6: one address from its pool
        group = api.post("security-groups", "security_group", name="g")
        created = [
            api.port(net["id"]),  # everything by default: an address on each subnet, the default group
            api.post("ports", "port", **_full_port_body(net["id"], v4["id"], group["id"])),
            api.port(net["id"], port_security_enabled=False),
        ]
        bulk = api.ok(
            client.post("/v2.0/ports", json={"ports": [{"network_id": net["id"], "tags": ["b", "a"]}] * 2}),
            201,
        )["ports"]
        listed = {
            p["id"]: p for p in api.ok(client.get("/v2.0/ports", params={"network_id": net["id"]}))["ports"]
        }
        assert len(listed) == 5
        for port in [*created, *bulk]:
            shown = api.ok(client.get(f"/v2.0/ports/{port['id']}"))["port"]
            assert port == shown
            assert listed[port["id"]] == shown
        full = created[1]
        assert [ip["subnet_id"] for ip in full["fixed_ips"]] == [v4["id"]]
        assert full["tags"] == ["alpha", "zeta"]
        assert full["allowed_address_pairs"] == [
            {"ip_address": "10.8.0.0/24", "mac_address": "fa:16:3e:00:00:01"},
            {"ip_address": "10.9.9.9", "mac_address": full["mac_address"]},
        ]
        assert full["binding:vif_type"] != "unbound" and full["binding:host_id"] == "host-a"
        assert len(created[0]["fixed_ips"]) == 3 and ":" not in created[0]["fixed_ips"][0]["ip_address"]
        assert created[0]["security_groups"] and created[2]["security_groups"] == []


def test_a_member_sees_the_same_port_in_its_create_and_its_list(provider: RunningProvider) -> None:
    provider.add_user("speedy", "speedy-secret", "speedy-project")
    with provider.client(provider.token("speedy", "speedy-secret", "speedy-project")) as client:
        api = Api(client)
        net = api.network()
        api.subnet(net["id"], "10.78.0.0/24")
        port = api.port(net["id"], tags=["t"])
        assert "binding:host_id" not in port  # admin-only attributes stay hidden from a member
        assert api.ok(client.get("/v2.0/ports"))["ports"] == [port]
        fields = api.ok(client.get("/v2.0/ports", params={"fields": ["id", "tags"]}))["ports"]
        assert fields == [{"id": port["id"], "tags": ["t"]}]


async def _sustained_creates(provider: RunningProvider, token: str, network_id: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(
        base_url=provider.url, headers={"X-Auth-Token": token}, timeout=120, limits=limits
    ) as client:

        async def one_client() -> list[httpx.Response]:
            return [
                await client.post("/v2.0/ports", json={"port": {"network_id": network_id}})
                for _ in range(PER_CLIENT)
            ]

        answers = await asyncio.gather(*[one_client() for _ in range(CLIENTS)])
    return [r for answer in answers for r in answer]


def test_16_clients_creating_in_loops_never_share_an_address_or_a_mac(provider: RunningProvider) -> None:
    token = provider.token()
    with provider.client(token) as client:
        api = Api(client)
        net = api.network()
        api.subnet(net["id"], "10.79.0.0/24")
        api.subnet(net["id"], "fd00:79::/64")
        with ThreadPoolExecutor(max_workers=1) as pool:  # a fresh event loop, whatever this thread has
            responses = pool.submit(asyncio.run, _sustained_creates(provider, token, net["id"])).result()
        assert Counter(r.status_code for r in responses) == {201: CLIENTS * PER_CLIENT}
        ports = [r.json()["port"] for r in responses]
        addresses = [ip["ip_address"] for p in ports for ip in p["fixed_ips"]]
        assert len(addresses) == 2 * len(ports) == len(set(addresses))
        assert len({p["mac_address"] for p in ports}) == len(ports)
        listed = api.ok(client.get("/v2.0/ports", params={"network_id": net["id"]}))["ports"]
        assert sorted(ip["ip_address"] for p in listed for ip in p["fixed_ips"]) == sorted(addresses)


def test_a_default_group_deleted_after_a_create_is_made_again_for_the_next(provider: RunningProvider) -> None:
    # the provider remembers that the project has its default group; an admin deleting it must not
    # leave the next port without one
    with provider.admin() as client:
        api = Api(client)
        net = api.network()
        api.subnet(net["id"], "10.80.0.0/24")
        first = api.port(net["id"])
        (old_group,) = first["security_groups"]
        api.ok(client.delete(f"/v2.0/ports/{first['id']}"), 204)
        api.ok(client.delete(f"/v2.0/security-groups/{old_group}"), 204)
        second = api.port(net["id"])
        (new_group,) = second["security_groups"]
        assert new_group != old_group
        group = api.ok(client.get(f"/v2.0/security-groups/{new_group}"))["security_group"]
        assert group["name"] == "default"


def _child_alone(uow: Any, child: rows_.ChildList, ids: list[str]) -> dict[str, list[Any]]:
    """``child``'s lists read the plain way: its own statement, SQLAlchemy rows, sorted here."""
    found: dict[str, list[Any]] = {i: [] for i in ids}
    names = (child.fields,) if isinstance(child.fields, str) else child.fields
    for row in uow.rows(child.statement().where(child.table.c[child.parent].in_(ids))):
        values = tuple(row)[1:]
        found[row[0]].append(
            values[0] if isinstance(child.fields, str) else dict(zip(names, values, strict=True))
        )
    return {i: sorted(v, key=child.order) for i, v in found.items()}


def test_a_list_read_from_raw_rows_is_byte_for_byte_the_row_objects_one(
    provider: RunningProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The list path (``PortService.list_records``: DBAPI tuples, ``store.rows`` converters) renders
    exactly the bytes the general path (SQLAlchemy rows and result processors, then ``expand``) does,
    on a database holding every kind of value a port has; and that is what ``GET /v2.0/ports`` sends."""
    with provider.admin() as client:
        api = Api(client)
        net = api.network()
        v4 = api.subnet(net["id"], "10.81.0.0/24")
        api.subnet(net["id"], "fd00:81::/64", ipv6_address_mode="slaac", ipv6_ra_mode="slaac")
        v6 = api.subnet(net["id"], "fd00:82::/64")
        groups = [api.post("security-groups", "security_group", name=f"g{i}")["id"] for i in range(3)]
        full = _full_port_body(net["id"], v4["id"], groups[0])
        api.post("ports", "port", **{**full, "security_groups": groups, "fixed_ips": [
            {"subnet_id": v6["id"]}, {"subnet_id": v4["id"]}, {"subnet_id": v4["id"], "ip_address": "10.81.0.200"}
        ], "tags": ["ünï", 'q"uote', "back\\slash", "tab\tz", "0"], "name": "ñame ✓", "dns_name": "web-1",
           "dns_domain": "corp.example.", "extra_dhcp_opts": [
               {"opt_name": "ntp-server", "opt_value": "10.81.0.5"}, {"opt_name": "bootfile-name", "opt_value": "pxe.0"},
               {"opt_name": "dns-server", "opt_value": "fd00:81::53", "ip_version": 6}],
           "binding:profile": {"nested": {"list": [1, 2.5, None, True], "s": "é"}, "big": 2**53}})  # fmt: skip
        api.port(net["id"])  # every default
        api.port(net["id"], port_security_enabled=False, admin_state_up=False, fixed_ips=[])
        bulk = [{"network_id": net["id"], "tags": [f"t{i}"], "device_id": f"d{i}"} for i in range(20)]
        api.ok(client.post("/v2.0/ports", json={"ports": bulk}), 201)
        answer = client.get("/v2.0/ports", params={"network_id": net["id"]})
        assert answer.status_code == 200
        # pages sorted on a timestamp (PostgreSQL selects its wire text, and still sorts on the column)
        by_time = {"network_id": net["id"], "sort_key": ["created_at", "id"], "sort_dir": ["desc", "asc"]}
        whole = api.ok(client.get("/v2.0/ports", params=by_time))["ports"]
        pages, href = (
            [],
            f"/v2.0/ports?network_id={net['id']}&sort_key=created_at&sort_key=id&sort_dir=desc&sort_dir=asc&limit=6",
        )
        while href:
            page = api.ok(client.get(href))
            pages += page["ports"]
            href = next((link["href"] for link in page.get("ports_links", []) if link["rel"] == "next"), None)
        assert pages == whole and len(whole) == 23
        assert [p["created_at"] for p in whole] == sorted((p["created_at"] for p in whole), reverse=True)

    service = PortService(provider.settings)
    db = Database(provider.settings.database_url(), pool_size=1)
    try:
        ctx = RequestContext.admin()
        q = ListQuery(filters={"network_id": [net["id"]]})
        with db.reader() as uow:
            rows = select_page(uow.conn, service.definition, service.table, q, None, service.special_filters)
            general = service.expand(uow, ctx, rows)  # PostgreSQL: one statement per child list
            monkeypatch.setattr(rows_, "PG_UNION_FROM", 1)  # and here their one UNION statement
            fast, ids = service.list_records(uow, ctx, q)
            alone = {name: _child_alone(uow, child, ids) for name, child in ports.CHILDREN.items()}
    finally:
        db.dispose()
    assert len(fast) == 23 and ids == [r.id for r in rows]
    # the one UNION ALL statement reads what one plain statement per child list reads
    for name, lists in alone.items():
        assert [p[name] for p in fast] == [lists[i] for i in ids], name
    assert sum(len(p["extra_dhcp_opts"]) for p in fast) == 3 and sum(len(p["tags"]) for p in fast) == 25
    assert orjson.dumps(fast) == orjson.dumps(general)
    rendered = attributes.render_all(service.definition, fast, ctx)
    assert answer.content == orjson.dumps({"ports": rendered})
    first = next(p for p in fast if p["name"] == "ñame ✓")
    v6_flags = [":" in ip["ip_address"] for ip in first["fixed_ips"]]
    assert len(v6_flags) >= 3 and v6_flags == sorted(v6_flags)  # IPv4 first
    assert [(o["ip_version"], o["opt_name"]) for o in first["extra_dhcp_opts"]] == [
        (4, "bootfile-name"),
        (4, "ntp-server"),
        (6, "dns-server"),
    ]
    assert {a["hostname"] for a in first["dns_assignment"]} == {"web-1"}
    assert first["security_groups"] == sorted(groups) and first["binding:profile"]["big"] == 2**53
    assert isinstance(first["admin_state_up"], bool) and first["created_at"].endswith("Z")


def test_a_random_mac_the_network_has_is_drawn_again(
    provider: RunningProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The port's insert itself finds a taken MAC (ON CONFLICT DO NOTHING on the network's MAC key):
    a random one is drawn again, a given one is MacAddressInUse, a network out of draws a Conflict."""
    with provider.admin() as client:
        api = Api(client)
        net = api.network()
        taken = api.port(net["id"])["mac_address"]
        draws = iter([taken, taken, "fa:16:3e:00:00:02"])
        monkeypatch.setattr(ports, "random_mac", lambda: next(draws))
        assert api.port(net["id"])["mac_address"] == "fa:16:3e:00:00:02"
        api.error(client.post("/v2.0/ports", json={"port": {"network_id": net["id"], "mac_address": taken}}), 409, "MacAddressInUse")  # fmt: skip
        monkeypatch.setattr(ports, "random_mac", lambda: taken)
        api.error(client.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}), 409, "Conflict")
        assert len(api.ok(client.get("/v2.0/ports", params={"network_id": net["id"]}))["ports"]) == 2


def test_every_statement_of_a_port_create_is_compiled_once(provider: RunningProvider) -> None:
    """After a first create, the next creates find every statement they run compiled in SQLAlchemy's
    cache: the dialects' ``ON CONFLICT`` insert has no cache key of its own, and compiling it anew cost
    about a seventh of a create's CPU (it runs as a text with typed parameters)."""
    assert provider.app is not None
    engine = provider.app.state.provider.db.engine
    seen: list[tuple[str, str]] = []

    def executed(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        seen.append((str(getattr(context, "cache_hit", None)), statement))

    with provider.admin() as client:
        api = Api(client)
        net = api.network()
        v4 = api.subnet(net["id"], "10.87.0.0/24")
        group = api.post("security-groups", "security_group", name="compiled")["id"]
        body = _full_port_body(net["id"], v4["id"], group)
        del body["network_id"], body["name"], body["fixed_ips"]
        api.port(net["id"], **body)  # the first compiles
        sa.event.listen(engine, "after_cursor_execute", executed)
        try:
            made = [api.port(net["id"], **body, mac_address=f"fa:16:3e:87:00:0{i}") for i in range(3)]
            taken = {**body, "network_id": net["id"], "mac_address": made[0]["mac_address"]}
            api.error(client.post("/v2.0/ports", json={"port": taken}), 409, "MacAddressInUse")
        finally:
            sa.event.remove(engine, "after_cursor_execute", executed)
    assert seen and [s for s in seen if s[0] != "CacheStats.CACHE_HIT"] == []
    assert sum("INSERT INTO ports " in statement for _, statement in seen) == 4
