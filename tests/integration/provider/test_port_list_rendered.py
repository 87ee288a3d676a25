"""An admin's list of ports sends the ports it keeps rendered by version (``api.rendered``): whatever
changes a port, through any path, the next list shows it as ``GET /v2.0/ports/<id>`` does, on each
backend; a member's list and a list of some fields are their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa

from neutrino.provider.api.ports import PortService
from neutrino.provider.api.query import ListQuery
from neutrino.provider.api.rendered import RenderCache
from neutrino.provider.context import RequestContext
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import Database
from tests.integration.provider.conftest import Api
from tests.integration.provider.server import RunningProvider


def _listed_as_shown(client: httpx.Client, network_id: str) -> dict[str, dict[str, Any]]:
    """The network's ports as an admin's list sends them, checked against their shows, and against a
    second list (the same bytes: the second comes from what the first kept)."""
    params = {"network_id": network_id}
    first, second = client.get("/v2.0/ports", params=params), client.get("/v2.0/ports", params=params)
    assert first.status_code == second.status_code == 200, first.text
    assert first.content == second.content
    listed = {port["id"]: port for port in first.json()["ports"]}
    for port_id, port in listed.items():
        assert port == client.get(f"/v2.0/ports/{port_id}").json()["port"]
    return listed


def _status_as_ovn_writes_it(provider: RunningProvider, port_id: str, status: str) -> None:
    """The OVN backend stores a port's status when OVN reports it up or down, without a revision."""
    db = Database(provider.settings.database_url(), pool_size=1)
    try:
        with db.uow() as uow:
            uow.execute(sa.update(t.ports).where(t.ports.c.id == port_id).values(status=status))
            uow.commit()
    finally:
        db.dispose()


def test_every_change_of_a_port_shows_in_the_next_list(provider: RunningProvider) -> None:
    with provider.admin() as client:
        api = Api(client)
        net = api.network()
        v4 = api.subnet(net["id"], "10.83.0.0/24")
        group = api.post("security-groups", "security_group", name="listed")["id"]
        port = api.port(net["id"], name="a", tags=["t1"])
        other = api.port(net["id"], name="b")
        path = f"/v2.0/ports/{port['id']}"

        def put(**body: Any) -> Callable[[], httpx.Response]:
            return lambda: client.put(path, json={"port": body})

        report = {"agent_report": {"host": "host-a", "agent_type": "Linux bridge agent",
                                   "ports": [{"id": port["id"], "status": "ACTIVE"}]}}  # fmt: skip
        changes: list[tuple[str, Callable[[], httpx.Response], Callable[[dict[str, Any]], bool]]] = [
            ("name", put(name="a2"), lambda p: p["name"] == "a2"),
            ("tag", lambda: client.put(f"{path}/tags/t2"), lambda p: p["tags"] == ["t1", "t2"]),
            ("groups", put(security_groups=[group]), lambda p: p["security_groups"] == [group]),
            ("address", put(fixed_ips=[{"subnet_id": v4["id"], "ip_address": "10.83.0.99"}]),
             lambda p: [ip["ip_address"] for ip in p["fixed_ips"]] == ["10.83.0.99"]
             and p["dns_assignment"][0]["ip_address"] == "10.83.0.99"),
            ("pairs", put(allowed_address_pairs=[{"ip_address": "10.83.1.0/24"}]),
             lambda p: [a["ip_address"] for a in p["allowed_address_pairs"]] == ["10.83.1.0/24"]),
            ("dhcp options", put(extra_dhcp_opts=[{"opt_name": "ntp-server", "opt_value": "10.83.0.5"}]),
             lambda p: [o["opt_value"] for o in p["extra_dhcp_opts"]] == ["10.83.0.5"]),
            ("binding", put(**{"binding:host_id": "host-a"}), lambda p: p["binding:host_id"] == "host-a"),
            ("profile", put(**{"binding:profile": {"x": 1}}), lambda p: p["binding:profile"]["x"] == 1),
            # equal to 1 in Python, yet another value: the revision moves (``revisions.unchanged``)
            ("profile's type", put(**{"binding:profile": {"x": True}}), lambda p: p["binding:profile"]["x"] is True),
            ("agent report", lambda: client.post("/v2.0/agent-reports", json=report),
             lambda p: p["status"] == "ACTIVE"),
            ("tags cleared", lambda: client.delete(f"{path}/tags"), lambda p: p["tags"] == []),
        ]  # fmt: skip
        assert set(_listed_as_shown(client, net["id"])) == {port["id"], other["id"]}
        for what, change, holds in changes:
            before = _listed_as_shown(client, net["id"])[port["id"]]["revision_number"]
            answer = change()
            assert answer.status_code < 300, (what, answer.text)
            if answer.request.method == "PUT" and answer.content and "port" in answer.json():
                assert holds(answer.json()["port"]), (what, answer.text)
            listed = _listed_as_shown(client, net["id"])
            assert holds(listed[port["id"]]), (what, listed[port["id"]])
            assert listed[port["id"]]["revision_number"] > before, what
        revision = listed[port["id"]]["revision_number"]

        _status_as_ovn_writes_it(provider, port["id"], "DOWN")
        listed = _listed_as_shown(client, net["id"])
        assert listed[port["id"]]["status"] == "DOWN"
        assert listed[port["id"]]["revision_number"] == revision

        api.ok(client.delete(f"/v2.0/ports/{other['id']}"), 204)
        assert set(_listed_as_shown(client, net["id"])) == {port["id"]}
        # a page (limit, marker) of kept ports, and its links, as of a plain list
        more = [api.port(net["id"], name=f"p{i}")["id"] for i in range(4)]
        ids = sorted([port["id"], *more])
        page = api.ok(
            client.get("/v2.0/ports", params={"network_id": net["id"], "limit": 2, "marker": ids[0]})
        )
        assert [p["id"] for p in page["ports"]] == ids[1:3]
        assert {link["rel"] for link in page["ports_links"]} == {"next", "previous"}


def test_a_member_and_a_list_of_fields_get_their_own_renders(provider: RunningProvider) -> None:
    provider.add_user("lister", "lister-secret", "lister-project")
    with provider.client(provider.token("lister", "lister-secret", "lister-project")) as member:
        mine = Api(member)
        net = mine.network()
        mine.subnet(net["id"], "10.84.0.0/24")
        port = mine.port(net["id"])
    with provider.admin() as admin:
        listed = Api(admin).ok(admin.get("/v2.0/ports", params={"network_id": net["id"]}))["ports"]
        assert [p["id"] for p in listed] == [port["id"]] and "binding:host_id" in listed[0]
        fields = Api(admin).ok(admin.get("/v2.0/ports", params={"network_id": net["id"], "fields": "id"}))
        assert fields["ports"] == [{"id": port["id"]}]
    with provider.client(provider.token("lister", "lister-secret", "lister-project")) as member:
        seen = Api(member).ok(member.get("/v2.0/ports"))["ports"]
        assert seen == [port] and "binding:host_id" not in seen[0]


def test_what_is_kept_stays_within_its_limit_the_oldest_going_first() -> None:
    kept = RenderCache(limit_bytes=10)
    made = kept.keep([(("a", 0, "DOWN"), b'"aaaa"'), (("b", 0, "DOWN"), b'"bb"')])
    assert set(made) == {("a", 0, "DOWN"), ("b", 0, "DOWN")} and kept.size == 10
    kept.keep([(("c", 0, "DOWN"), b'"c"')])
    assert kept.get(("a", 0, "DOWN")) is None and kept.get(("b", 0, "DOWN")) is not None
    assert kept.size == 7 and len(kept) == 2
    # a version kept again replaces what it had; a render larger than the limit is not kept
    kept.keep([(("b", 0, "DOWN"), b'"b"'), (("z", 0, "DOWN"), b'"' + b"z" * 20 + b'"')])
    assert kept.size == 6 and kept.get(("z", 0, "DOWN")) is None


def test_a_port_the_page_read_missed_is_read_by_its_id(
    provider: RunningProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When most of a page is not kept, the page is read as a plain list; a port that read missed
    (created, or moved in the order, between the two reads) is read by its id, not left out."""
    with provider.admin() as client:
        api = Api(client)
        net = api.network()
        api.subnet(net["id"], "10.85.0.0/24")
        made = sorted(api.port(net["id"], name=f"m{i}")["id"] for i in range(3))
        plain = client.get("/v2.0/ports", params={"network_id": net["id"]}).content
    service = PortService(provider.settings)
    db = Database(provider.settings.database_url(), pool_size=1)
    read = service.list_records
    monkeypatch.setattr(service, "list_records", lambda *a: (lambda got: (got[0][1:], got[1][1:]))(read(*a)))
    try:
        ctx = RequestContext.admin()
        with db.reader() as uow:
            items, ids = service.list_rendered(uow, ctx, ListQuery(filters={"network_id": [net["id"]]}))
    finally:
        db.dispose()
    assert ids == made and len(service.rendered) == 3
    assert orjson.dumps({"ports": items}) == plain
