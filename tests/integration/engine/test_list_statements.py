"""The list calls the bench measures (bench/engine_list_vms.py), at CI size: `GET /vms?follow=nics` and
`GET /events?max=100` run as many SQL statements with ten times the rows (200 VMs, 1,500 events), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from bench.engine_list_vms import counters_of, measure, populate, populate_events
from starlette.testclient import TestClient

from neutrino.engine.api.app import create_app
from neutrino.engine.bootstrap import Engine
from tests.integration.engine.conftest import BuildEngine


@pytest.fixture
def engine(make_engine: BuildEngine) -> Engine:
    return make_engine(mac_pool_range="56:6f:30:00:00:00-56:6f:30:00:ff:ff")


def test_list_statements_do_not_grow_with_rows(engine: Engine) -> None:
    counters = counters_of(engine)
    with TestClient(create_app(engine.ctx), base_url="http://test/ovirt-engine/api") as client:
        form = {
            "grant_type": "password",
            "username": "admin@internal",
            "password": "pw",
            "scope": "ovirt-app-api",
        }
        token = client.post("http://test/ovirt-engine/sso/oauth/token", data=form).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"  # checked once, then cached: as a client runs
        seen: dict[str, list[int]] = {"vms": [], "events": []}
        for first, more_vms, more_events in ((0, 20, 150), (20, 180, 1350)):
            populate(engine.db, more_vms, start=first)
            populate_events(engine.db, more_events)
            for what, path, params in (
                ("vms", "/vms", {"follow": "nics"}),
                ("events", "/events", {"max": "100"}),
            ):
                for accept in ("application/xml", "application/json"):
                    seen[what].append(measure(client.get, counters, path, params, accept, 1).statements)
        body = client.get("/vms", params={"follow": "nics"}, headers={"Accept": "application/json"}).json()
        assert len(body["vm"]) == 200 and all(len(v["nics"]["nic"]) == 1 for v in body["vm"])
        events = client.get("/events", params={"max": "100"}, headers={"Accept": "application/json"}).json()
        assert len(events["event"]) == 100
    # one read transaction: at most its BEGIN, the list, the NICs, and for VMs the clusters (a VM's CPU
    # architecture is its cluster's), read once whatever the number of VMs
    assert len(set(seen["vms"])) == 1 and seen["vms"][0] <= 4, seen
    assert len(set(seen["events"])) == 1 and seen["events"][0] <= 2, seen
