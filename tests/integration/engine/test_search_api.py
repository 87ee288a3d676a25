"""Search, the audit log and the access log through HTTP, as clients use them: ovirtsdk4's ``list(search=...)``
(the terms ovirt_vm, ovirt_nic and the SDK's examples send), ``events_service().list(max=1, from_=...)``,
raw XML/JSON, and the line each request leaves in the data dir's engine.log. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from neutrino.engine.app import create_app
from neutrino.engine.bootstrap import Engine
from neutrino.engine.commands import clusters, datacenters, events, vms
from neutrino.engine.commands.common import Ref
from neutrino.engine.domain import model
from tests.support.servers import listening_socket

ADMIN = events.Actor("admin", "admin@internal")


@dataclass
class Served:
    engine: Engine
    url: str  # .../ovirt-engine/api

    def connection(self) -> Any:
        import ovirtsdk4 as sdk

        return sdk.Connection(url=self.url, username="admin@internal", password="pw")


@pytest.fixture(scope="module")
def served(shared_engine: Engine) -> Iterator[Served]:
    """The engine's full app (lifespan, access log) in a uvicorn thread, with two data centers of its own."""
    ctx = shared_engine.ctx
    with events.acting_as(ADMIN):
        for dc_name, cluster_names in (("api-dc-a", ["api-a1", "api-a2"]), ("api-dc-b", ["api-b1"])):
            dc = datacenters.add_data_center(ctx, dc_name)
            for name in cluster_names:
                cluster = clusters.add_cluster(ctx, name, Ref(id=dc.id))
                for i in range(3):
                    vms.add_vm(ctx, f"{name}-vm{i}", Ref(id=cluster.id), memory=(i + 1) * 1024**3)
    sock = listening_socket()
    port = sock.getsockname()[1]
    app = create_app(shared_engine.settings, shared_engine)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the engine did not start"
        time.sleep(0.02)
    try:
        yield Served(shared_engine, f"http://127.0.0.1:{port}/ovirt-engine/api")
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def system(served: Served) -> Iterator[Any]:
    conn = served.connection()
    yield conn.system_service()
    conn.close()


def names(items: list[Any]) -> list[str]:
    return [i.name for i in items]


def test_the_sdk_searches_as_the_ansible_modules_do(system: Any) -> None:
    # ovirt_nic and the SDK's add_vm_nic.py: the data center of a cluster
    [dc] = system.data_centers_service().list(search="Clusters.name=api-b1")
    assert dc.name == "api-dc-b"
    # ovirt_vm: the template in the cluster's data center, then an existing VM's template
    [blank] = system.templates_service().list(search="name=Blank and datacenter=api-dc-a")
    assert blank.id == model.BLANK_TEMPLATE_ID
    assert names(system.templates_service().list(search="vm.name=api-a1-vm0")) == ["Blank"]
    # module_utils.search_by_name: a quoted name
    assert names(system.vms_service().list(search='name="api-a2-vm1"')) == ["api-a2-vm1"]
    assert names(system.clusters_service().list(search="datacenter=api-dc-a")) == ["api-a1", "api-a2"]


def test_the_sdk_sorts_pages_and_compares(system: Any) -> None:
    found = system.vms_service().list(search="datacenter=api-dc-a and memory>=2048 sortby name desc", max=3)
    assert names(found) == ["api-a2-vm2", "api-a2-vm1", "api-a1-vm2"]
    second = system.vms_service().list(
        search="datacenter=api-dc-a and memory>=2048 sortby name desc page 2", max=3
    )
    assert names(second) == ["api-a1-vm1"]
    either = system.vms_service().list(search="name=api-b1-vm0 or cluster=api-a1 and memory<2048")
    assert names(either) == ["api-a1-vm0", "api-b1-vm0"]
    assert names(system.vms_service().list(search="NAME=API-B1-VM0", case_sensitive=False)) == ["api-b1-vm0"]


def test_an_unknown_field_is_a_400_naming_it(system: Any) -> None:
    import ovirtsdk4 as sdk

    with pytest.raises(sdk.Error) as err:
        system.vms_service().list(search="colour=blue")
    assert err.value.code == 400
    assert "unknown field 'colour'" in str(err.value) and "datacenter" in str(err.value)


def test_the_sdk_reads_the_audit_log_as_ovirt_host_does(served: Served, system: Any) -> None:
    events_service = system.events_service()
    last = events_service.list(max=1)[0]
    assert int(last.id) == last.index and last.code == 30  # this very connection's login
    with events.acting_as(ADMIN):
        datacenters.add_data_center(served.engine.ctx, "api-dc-later")
    newer = events_service.list(from_=int(last.id))
    assert [(e.code, e.data_center.id is not None) for e in newer] == [(950, True)]
    assert events_service.list(from_=int(last.id), search="severity>=warning") == []
    assert [e.code for e in events_service.list(from_=int(last.id) - 1, search="type=30")] == [30]


def test_raw_xml_and_json_and_the_access_log(served: Served) -> None:
    with httpx.Client(auth=("admin@internal", "pw"), timeout=30) as http:
        r = http.get(f"{served.url}/datacenters", params={"search": "Clusters.name=api-a*"})
        assert r.status_code == 200 and r.text.count("<data_center ") == 1 and "api-dc-a" in r.text
        r = http.get(
            f"{served.url}/events",
            params={"max": "2", "search": "type=950 sortby index"},
            headers={"Accept": "application/json"},
        )
        found = r.json()["event"]
        assert len(found) == 2 and int(found[0]["index"]) < int(found[1]["index"])
        bad = http.get(f"{served.url}/vms", params={"search": "name=x or"})
        assert bad.status_code == 400 and "a condition is missing at the end" in bad.text
    log = (served.engine.settings.data_dir / "engine.log").read_text()
    line = next(x for x in log.splitlines() if "GET /ovirt-engine/api/datacenters 200 " in x)
    assert line.split()[1] == "engine" and line.endswith("user=admin@internal")
    assert "search" not in line and "pw" not in log.replace("pwd", "")  # no query string, no password
    assert any(" GET /ovirt-engine/api/vms 400 " in x for x in log.splitlines())
