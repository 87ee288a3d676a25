"""Many clients importing one provider network into one data center at once: one wins, the rest get a clean
409 with oVirt's message, and the engine has exactly one network."""

from __future__ import annotations

import threading
from typing import Any

import ovirtsdk4 as sdk
import ovirtsdk4.types as types

from tests.e2e.providers.conftest import Engine, Provider
from tests.e2e.providers.helpers import (
    add_provider,
    engine_networks,
    make_site,
    provider_network_named,
    unique,
)

CLIENTS = 6


def test_concurrent_imports_make_one_network(engine: Engine, system: Any, provider: Provider) -> None:
    member = provider.new_member()
    name = unique("race")
    with provider.neutron(member) as neutron:
        neutron.post("/networks", json={"network": {"name": name}}).raise_for_status()
    registered = add_provider(system, provider, member)
    ext = provider_network_named(system, registered.id, name)
    site = make_site(system)

    connections = [engine.connection() for _ in range(CLIENTS)]
    for conn in connections:
        conn.authenticate()
    barrier = threading.Barrier(CLIENTS)
    outcomes: list[tuple[int | None, str]] = []
    lock = threading.Lock()

    def attempt(conn: Any) -> None:
        svc = (
            conn.system_service()
            .openstack_network_providers_service()
            .provider_service(registered.id)
            .networks_service()
            .network_service(ext.id)
        )
        barrier.wait()
        try:
            svc.import_(data_center=types.DataCenter(id=site.dc.id))
            result: tuple[int | None, str] = (200, "")
        except sdk.Error as exc:
            result = (exc.code, exc.fault.detail if exc.fault is not None else str(exc))
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(c,)) for c in connections]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for conn in connections:
        conn.close()

    assert len(outcomes) == CLIENTS
    assert [o for o in outcomes if o[0] == 200] == [(200, "")], outcomes
    losers = [o for o in outcomes if o[0] != 200]
    expected = f"[Cannot import Network. The external network already exists as '{name}' in the data center.]"
    assert losers == [(409, expected)] * (CLIENTS - 1), losers
    assert [n.name for n in engine_networks(system, site.dc.id) if n.name == name] == [name]
    [net] = [n for n in engine_networks(system, site.dc.id) if n.name == name]
    assert [
        p.name for p in system.networks_service().network_service(net.id).vnic_profiles_service().list()
    ] == [name]


def test_concurrent_creates_on_the_provider_leave_no_orphan(
    engine: Engine, system: Any, provider: Provider
) -> None:
    """POST /networks with external_provider, one name, one DC, at once: the losers delete what they created on
    the provider, so the provider keeps exactly one network of that name."""
    member = provider.new_member()
    registered = add_provider(system, provider, member)
    site = make_site(system)
    name = unique("race-create")
    connections = [engine.connection() for _ in range(CLIENTS)]
    for conn in connections:
        conn.authenticate()
    barrier = threading.Barrier(CLIENTS)
    outcomes: list[tuple[int | None, str]] = []
    lock = threading.Lock()

    def attempt(conn: Any) -> None:
        networks = conn.system_service().networks_service()
        barrier.wait()
        try:
            networks.add(
                types.Network(
                    name=name,
                    data_center=types.DataCenter(id=site.dc.id),
                    external_provider=types.OpenStackNetworkProvider(id=registered.id),
                )
            )
            result: tuple[int | None, str] = (201, "")
        except sdk.Error as exc:
            result = (exc.code, exc.fault.detail if exc.fault is not None else str(exc))
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(c,)) for c in connections]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for conn in connections:
        conn.close()

    assert sorted(o[0] or 0 for o in outcomes) == [201] + [409] * (CLIENTS - 1), outcomes
    assert all(
        "already used by an existing logical network in the same data-center" in d
        for code, d in outcomes
        if code == 409
    ), outcomes
    assert [n.name for n in engine_networks(system, site.dc.id) if n.name == name] == [name]
    with provider.neutron(member) as neutron:
        assert [n["name"] for n in neutron.get("/networks").json()["networks"] if n["name"] == name] == [name]
