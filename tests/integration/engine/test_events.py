"""The audit log (/events) on SQLite and PostgreSQL: an event for each user action and state change, committed
with it, with oVirt's codes, the user and the entities it names; the login event a fresh engine already shows;
``from``, ``max``, ``search`` and paging through the API; pruning by age."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from neutrino.engine.api.app import create_app
from neutrino.engine.bootstrap import Engine
from neutrino.engine.commands import clusters, datacenters, events, hosts, nics, providers, vms
from neutrino.engine.commands.common import Ref
from neutrino.engine.commands.external_networks import (
    add_subnet,
    import_network,
    remove_external,
    remove_subnet,
)
from neutrino.engine.commands.migrate import migrate_vm
from neutrino.engine.commands.monitoring import monitor_all
from neutrino.engine.domain import model
from neutrino.engine.domain.audit import AuditType
from neutrino.engine.domain.errors import Conflict, HostFailure
from tests.integration.engine.conftest import BuildEngine
from tests.support.fakes import FakeAgent, FakeProvider

API = "/ovirt-engine/api"
ADMIN = events.Actor("admin-id", "admin@internal")


def newest(engine: Engine, count: int = 1) -> list[model.Event]:
    with engine.ctx.reader() as uow:
        return list(uow.events.list(order_by="id"))[-count:][::-1]


def codes_since(engine: Engine, after: int) -> list[int]:
    with engine.ctx.reader() as uow:
        return [e.code for e in uow.events.list(order_by="id") if (e.id or 0) > after]


def last_id(engine: Engine) -> int:
    return newest(engine)[0].id or 0


@pytest.fixture
def client(make_engine: BuildEngine) -> Iterator[tuple[Engine, TestClient]]:
    engine = make_engine()
    with TestClient(create_app(engine.ctx)) as c:
        yield engine, c


def login(c: TestClient) -> dict[str, str]:
    form = {
        "grant_type": "password",
        "username": "admin@internal",
        "password": "pw",
        "scope": "ovirt-app-api",
    }
    r = c.post("/ovirt-engine/sso/oauth/token", data=form)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}", "Accept": "application/json"}


def test_a_fresh_engine_shows_the_admin_login_first(client: tuple[Engine, TestClient]) -> None:
    # ovirt_host reads events_service().list(max=1)[0] right after logging in
    _, c = client
    headers = login(c)
    [event] = c.get(f"{API}/events", params={"max": "1"}, headers=headers).json()["event"]
    assert event["code"] == "30" and event["severity"] == "normal"  # USER_VDC_LOGIN
    assert event["id"] == event["index"] and int(event["id"]) > 0
    assert event["description"].startswith("User admin@internal connecting from ")
    assert event["user"]["name"] == "admin@internal" and event["user"]["id"]
    token = headers["Authorization"].split()[1]
    assert token not in event["description"]  # the session is named, its token never shown
    same = c.get(f"{API}/events/{event['id']}", headers=headers).json()
    assert same["code"] == "30"
    assert c.get(f"{API}/events/not-a-number", headers=headers).status_code == 404


def test_a_failed_login_is_an_error_event_quoting_the_name_safely(client: tuple[Engine, TestClient]) -> None:
    engine, c = client
    form = {"grant_type": "password", "username": "mallory\x01@internal", "password": "guess"}
    assert c.post("/ovirt-engine/sso/oauth/token", data=form).status_code == 400
    [failed] = newest(engine)
    assert (failed.code, failed.severity, failed.user_id) == (114, model.EventSeverity.ERROR, None)
    assert failed.description.startswith("User mallory?@internal connecting from ")
    xml = c.get(f"{API}/events", params={"max": "1"}, auth=("admin@internal", "pw"))
    assert xml.status_code == 200 and b"mallory?@internal" in xml.content  # well-formed: the SDK parses it


def test_from_max_search_and_pages(client: tuple[Engine, TestClient]) -> None:
    engine, c = client
    headers = login(c)
    start = last_id(engine)
    with events.acting_as(ADMIN):
        for i in range(5):
            datacenters.add_data_center(engine.ctx, f"ev-dc-{i}")
    listed = c.get(f"{API}/events", params={"from": str(start)}, headers=headers).json()["event"]
    assert [e["code"] for e in listed] == ["950"] * 5  # USER_ADD_STORAGE_POOL, newest first
    assert [int(e["index"]) for e in listed] == sorted((int(e["index"]) for e in listed), reverse=True)
    assert (
        listed[0]["description"]
        == "Data Center ev-dc-4, Compatibility Version 4.7 and Quota Type DISABLED was added by admin@internal"
    )
    assert listed[0]["data_center"]["id"] and listed[0]["user"]["name"] == "admin@internal"
    page = c.get(
        f"{API}/events", params={"from": str(start), "search": "type=950 page 2", "max": "2"}, headers=headers
    )
    assert [e["description"].split(",")[0] for e in page.json()["event"]] == [
        "Data Center ev-dc-2",
        "Data Center ev-dc-1",
    ]
    warned = c.get(f"{API}/events", params={"search": "severity>=warning"}, headers=headers).json()
    assert warned.get("event", []) == []  # nothing went wrong
    bad = c.get(f"{API}/events", params={"from": "yesterday"}, headers=headers)
    assert bad.status_code == 400 and "'from'" in bad.json()["detail"]
    bad = c.get(f"{API}/events", params={"search": "colour=red"}, headers=headers)
    assert bad.status_code == 400 and "unknown field 'colour'" in bad.json()["detail"]


def test_an_event_is_committed_with_its_change_or_not_at_all(make_engine: BuildEngine) -> None:
    engine = make_engine()
    ctx = engine.ctx
    before = last_id(engine)
    with events.acting_as(ADMIN):
        dc = datacenters.add_data_center(ctx, "ev-dc")
        with pytest.raises(Conflict):
            datacenters.add_data_center(ctx, "ev-dc")  # refused: its event rolled back with it
        cluster = clusters.add_cluster(ctx, "ev-cluster", Ref(id=dc.id))
        datacenters.update_data_center(ctx, dc.id, datacenters.DataCenterChanges(description="x"))
    assert codes_since(engine, before) == [
        AuditType.USER_ADD_STORAGE_POOL,
        AuditType.USER_ADD_CLUSTER,
        AuditType.USER_UPDATE_STORAGE_POOL,
    ]
    added = newest(engine, 2)[1]
    assert (added.cluster_id, added.cluster_name, added.data_center_id) == (cluster.id, "ev-cluster", dc.id)
    assert (added.user_id, added.user_name) == ("admin-id", "admin@internal")
    # the engine's own work names no user
    datacenters.update_data_center(ctx, dc.id, datacenters.DataCenterChanges(comment="c"))
    system = newest(engine)[0]
    assert system.user_id is None and system.description.endswith("was updated by SYSTEM")


def test_a_transactions_events_are_one_insert_and_it_reads_them_back(make_engine: BuildEngine) -> None:
    """Events are recorded as rows and inserted together at the commit (``EventRepository.record``); a read of
    the audit log in the same transaction sees them first, and a rollback drops them."""
    engine = make_engine()
    statements: list[str] = []
    listener = lambda *a: statements.append(a[2])  # noqa: E731 - (conn, cursor, statement, ...)
    sa.event.listen(engine.db, "before_cursor_execute", listener)
    try:
        with engine.ctx.uow() as uow:
            events.emit(uow, AuditType.USER_ADD_STORAGE_POOL, "first")
            events.emit(uow, AuditType.USER_ADD_CLUSTER, "second", severity=model.EventSeverity.WARNING)
            assert statements == []
            assert uow.events.count(description="second") == 1
            events.emit(uow, AuditType.USER_UPDATE_STORAGE_POOL, "third")
            uow.commit()
        with engine.ctx.uow() as uow:
            events.emit(uow, AuditType.USER_UPDATE_STORAGE_POOL, "rolled back")
            uow.flush()
    finally:
        sa.event.remove(engine.db, "before_cursor_execute", listener)
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO EVENTS")]
    assert len(inserts) == 3, statements  # first and second together, third at the commit, the flush's
    found = [(e.description, e.severity) for e in newest(engine, 3)]
    assert found == [
        ("third", model.EventSeverity.NORMAL),
        ("second", model.EventSeverity.WARNING),
        ("first", model.EventSeverity.NORMAL),
    ]


def test_vm_lifecycle_and_hosts(make_engine: BuildEngine) -> None:
    """Host added and Up, VM added, NIC added, run (Up on a host), migrate, stop; a host that stops answering;
    a stop that fails."""
    engine = make_engine(mac_pool_range="56:6f:20:00:00:00-56:6f:20:00:00:ff")
    ctx = engine.ctx
    agents = {"ev-h1": FakeAgent("ev-h1"), "ev-h2": FakeAgent("ev-h2")}
    ctx.provider_client = lambda provider, password=None: FakeProvider()
    ctx.agent_client = lambda host: agents[host.name]
    with ctx.reader() as uow:
        default = uow.clusters.first(name="Default")
        mgmt = uow.profiles.first(name="ovirtmgmt")
        assert default is not None and mgmt is not None
    start = last_id(engine)
    with events.acting_as(ADMIN):
        for name in agents:
            hosts.add_host(ctx, name, "127.0.0.1", Ref(id=default.id), root_password="token")
        vm = vms.add_vm(ctx, "ev-vm", Ref(id=default.id))
        nics.add_nic(ctx, vm.id, "nic1", Ref(id=mgmt.id))
        vms.start_vm(ctx, vm.id)
        migrate_vm(ctx, vm.id)
        vms.stop_vm(ctx, vm.id)
    assert codes_since(engine, start) == [
        AuditType.USER_ADD_VDS, AuditType.VDS_DETECTED,
        AuditType.USER_ADD_VDS, AuditType.VDS_DETECTED,
        AuditType.USER_ADD_VM, AuditType.NETWORK_ADD_VM_INTERFACE,
        AuditType.USER_RUN_VM,
        AuditType.VM_MIGRATION_START, AuditType.VM_MIGRATION_DONE,
        AuditType.USER_STOP_VM, AuditType.VM_DOWN,
    ]  # fmt: skip
    run = next(e for e in newest(engine, 5) if e.code == AuditType.USER_RUN_VM)
    assert (run.vm_name, run.cluster_id, run.user_name) == ("ev-vm", default.id, "admin@internal")
    assert run.host_name in agents and run.description == f"VM ev-vm started on Host {run.host_name}"
    # a host that stops answering: non responsive (ERROR), then Up again
    start = last_id(engine)
    agents["ev-h1"].down = True
    monitor_all(ctx)
    agents["ev-h1"].down = False
    monitor_all(ctx)
    assert codes_since(engine, start) == [AuditType.VDS_FAILURE, AuditType.VDS_DETECTED]
    failure = newest(engine, 2)[1]
    assert failure.severity == model.EventSeverity.ERROR and failure.host_name == "ev-h1"
    assert failure.description.startswith("Host ev-h1 is non responsive")
    # a stop the host refuses logs the failure alone, as oVirt logs "powered off by" once a stop succeeded
    with events.acting_as(ADMIN):
        vms.start_vm(ctx, vm.id)
        on = next(a for a in agents.values() if vm.id in a.vms)
        start = last_id(engine)
        on.fail_on.add("destroy_vm")
        with pytest.raises(HostFailure):
            vms.stop_vm(ctx, vm.id)
    assert codes_since(engine, start) == [AuditType.USER_FAILED_STOP_VM]


def test_old_events_are_pruned_and_indexes_never_come_back(make_engine: BuildEngine) -> None:
    engine = make_engine()
    kept = last_id(engine)  # the first start's events: recent
    with engine.ctx.uow() as uow:
        old = uow.events.add(model.Event("old", 30, time=model.utcnow() - timedelta(days=31)))
        uow.commit()
    assert events.prune(engine.ctx, timedelta(days=30)) == 1
    with engine.ctx.reader() as uow:
        assert uow.events.get(old.id) is None and uow.events.get(kept) is not None
        everything = list(uow.events.list(order_by="id"))
    # even with every event gone, the next one gets a higher index: a client's `from` stays meaningful
    assert events.prune(engine.ctx, timedelta(seconds=0)) == len(everything)
    with engine.ctx.uow() as uow:
        fresh = uow.events.add(model.Event("new", 30))
        uow.commit()
    assert fresh.id is not None and old.id is not None and fresh.id > old.id > kept


def test_provider_actions(make_engine: BuildEngine) -> None:
    """Add, test, import a network, add and remove a subnet, remove: each an event linking the provider."""
    engine = make_engine()
    ctx = engine.ctx
    fake = FakeProvider()
    ctx.provider_client = lambda provider, password=None: fake
    ext = fake.add_network("ev-ext")
    start = last_id(engine)
    with events.acting_as(ADMIN):
        provider = providers.add_provider(
            ctx, "ev-prov", url="http://p.invalid:9696", external_plugin_type="X"
        )
        providers.test_connectivity(ctx, provider.id)
        network = import_network(ctx, provider.id, ext.id, Ref(name="Default"))
        subnet = add_subnet(ctx, provider.id, ext.id, "ev-sub", "10.9.9.0/24")
        remove_subnet(ctx, provider.id, subnet.id)
        remove_external(ctx, network.id, remove_from_provider=False)
        providers.remove_provider(ctx, provider.id)
    assert codes_since(engine, start) == [
        AuditType.PROVIDER_ADDED, AuditType.PROVIDER_TEST_SUCCEEDED, AuditType.NETWORK_IMPORT_EXTERNAL_NETWORK,
        AuditType.PROVIDER_SUBNET_ADDED, AuditType.PROVIDER_SUBNET_REMOVED, AuditType.NETWORK_REMOVE_NETWORK,
        AuditType.PROVIDER_REMOVED,
    ]  # fmt: skip
    assert {(e.provider_id, e.provider_name) for e in newest(engine, 7)} == {(provider.id, "ev-prov")}
