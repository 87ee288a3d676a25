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

from neutrino.provider.api import attributes
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


def _plain_renders(provider: RunningProvider, network_id: str) -> dict[str, bytes]:
    """The network's ports as the plain list path renders them (a fresh service: nothing kept)."""
    service, db = PortService(provider.settings), Database(provider.settings.database_url(), pool_size=1)
    try:
        with db.reader() as uow:
            records, ids = service.list_records(
                uow, RequestContext.admin(), ListQuery(filters={"network_id": [network_id]})
            )
    finally:
        db.dispose()
    rendered = attributes.render_all(service.definition, records, RequestContext.admin())
    return {port_id: orjson.dumps(r) for port_id, r in zip(ids, rendered, strict=True)}


def test_ports_written_are_kept_as_a_list_renders_them(provider: RunningProvider) -> None:
    """A port created (alone or in bulk) or updated is kept rendered at its new version by the write
    itself, byte for byte as the plain list path renders it read back; the list after sends them all
    from what the writes kept."""
    assert provider.app is not None
    kept = provider.app.state.provider.services["ports"].rendered
    with provider.admin() as client:
        api = Api(client)
        net = api.network()
        v4 = api.subnet(net["id"], "10.86.0.0/24")
        api.subnet(net["id"], "fd00:86::/64", ip_version=6, ipv6_address_mode="slaac", ipv6_ra_mode="slaac")
        group = api.post("security-groups", "security_group", name="written")["id"]
        made = [
            api.port(net["id"], name="plain", tags=["t1"]),
            api.port(net["id"], **{"binding:host_id": "host-w", "binding:profile": {"b": 1, "a": [1.0, True, None]}}),
            api.port(net["id"], security_groups=[group], dns_name="written", device_owner="compute:nova",
                     allowed_address_pairs=[{"ip_address": "10.86.1.0/24", "mac_address": "fa:16:3e:00:00:01"}],
                     extra_dhcp_opts=[{"opt_name": "ntp-server", "opt_value": "10.86.0.5"}]),
            api.port(net["id"], port_security_enabled=False, fixed_ips=[
                {"subnet_id": v4["id"], "ip_address": "10.86.0.30"}, {"subnet_id": v4["id"], "ip_address": "10.86.0.20"}]),
        ]  # fmt: skip
        bulk = client.post(
            "/v2.0/ports", json={"ports": [{"network_id": net["id"], "tags": [f"b{i}"]} for i in range(3)]}
        )
        assert bulk.status_code == 201, bulk.text
        made += bulk.json()["ports"]
        updated = client.put(
            f"/v2.0/ports/{made[0]['id']}",
            json={
                "port": {"name": "renamed", "fixed_ips": [{"subnet_id": v4["id"], "ip_address": "10.86.0.9"}]}
            },
        )
        assert updated.status_code == 200, updated.text
        versions = {p["id"]: (p["id"], p["revision_number"], p["status"]) for p in made}
        versions[made[0]["id"]] = (
            made[0]["id"],
            updated.json()["port"]["revision_number"],
            made[0]["status"],
        )
        plain = _plain_renders(provider, net["id"])
        assert set(plain) == set(versions)
        for port_id, version in versions.items():
            fragment = kept.get(version)
            assert fragment is not None, f"port {port_id} at {version} not kept by its write"
            assert orjson.dumps(fragment) == plain[port_id]
        listed = client.get("/v2.0/ports", params={"network_id": net["id"]})
        assert listed.content == orjson.dumps({"ports": [orjson.Fragment(plain[i]) for i in sorted(plain)]})
