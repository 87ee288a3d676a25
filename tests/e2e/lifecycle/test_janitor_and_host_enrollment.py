"""The vNIC port lifecycle through the real ovirtsdk4: what a user sees when a port the engine gave up is found
again by the next run, and when a host is enrolled with an address the agent client cannot use.

`neutrino engine` and `neutrino provider` run apart (SQLite), the engine with a 2 s janitor; a proxy of the
test's own sits in front of the provider to refuse port deletions while the test wants them refused.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import ovirtsdk4 as sdk
import ovirtsdk4.types as types
import pytest

from tests.e2e.lifecycle.conftest import Stack, engine_and_provider
from tests.e2e.lifecycle.helpers import (
    Neutron,
    add_host,
    add_vm,
    external_network,
    make_site,
    provisioning,
    register_provider,
    unique,
    vm_service,
    vm_status,
)
from tests.support.proxy import Proxy, proxy_to

JANITOR_INTERVAL = 2.0


@dataclass
class World:
    stack: Stack
    system: Any
    neutron: Neutron
    provider_proxy: Proxy
    provider_id: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    directory = tmp_path_factory.mktemp("janitor")
    with (
        engine_and_provider("sqlite", directory, janitor_interval=JANITOR_INTERVAL) as stack,
        proxy_to(stack.provider_url) as provider_proxy,
    ):
        conn = stack.connection()
        system = conn.system_service()
        provider_id = register_provider(system, stack, provider_proxy.url)
        yield World(stack, system, Neutron(stack.provider_url), provider_proxy, provider_id)
        provider_proxy.before = None
        conn.close()


class _Refused(Exception):
    """Raised in the proxy: the connection closes without an answer, as a provider that went away does."""


def _refuse_port_deletes(method: str, path: str) -> None:
    if method == "DELETE" and path.startswith("/v2.0/ports"):
        raise _Refused(path)


def test_a_port_the_engine_gave_up_and_then_reused_is_not_deleted_by_the_janitor(world: World) -> None:
    """Snapshot preview while the provider does not take deletions: the replaced vNIC's port is recorded as an
    orphan for the janitor. The restored vNIC has the same id and MAC, so the next run finds that very port by
    device_id and runs the VM with it; once the provider takes deletions again, the janitor deletes the port of
    the running VM's vNIC."""
    site = make_site(world.system, world.provider_id)
    net = external_network(world.system, site)
    add_host(world.system, site, world.stack.agent(unique("r")))
    vm, (nic1,) = add_vm(world.system, site, [net.profile])
    vm_svc = vm_service(world.system, vm.id)
    snap = vm_svc.snapshots_service().add(types.Snapshot(description="one nic"))
    vm_svc.start()
    vm_svc.stop()
    kept = world.neutron.port_of(nic1.id)["id"]

    world.provider_proxy.before = _refuse_port_deletes
    try:
        vm_svc.preview_snapshot(snapshot=types.Snapshot(id=snap.id), restore_memory=False)
        vm_svc.start()
    finally:
        world.provider_proxy.before = None
    assert vm_status(world.system, vm.id) == types.VmStatus.UP
    used = provisioning(world.stack, vm.id, nic1.id)["port_id"]
    assert [p["id"] for p in world.neutron.ports_of(nic1.id)] == [used]

    deadline = time.monotonic() + 4 * JANITOR_INTERVAL + 2
    while time.monotonic() < deadline:  # a few janitor rounds
        left = [p["id"] for p in world.neutron.ports_of(nic1.id)]
        assert left == [used], (
            f"the janitor deleted port {used} (the one given up at preview: {kept}) while "
            f"VM {vm.name} runs with it; the provider now has {left}"
        )
        time.sleep(0.5)


def test_a_host_address_the_agent_client_cannot_use_is_a_clear_fault(world: World) -> None:
    """'127.0.0.1:PORT' as a host's address (the agent's port given twice, a common slip): the engine stores the
    host (Installing), then fails building the agent client with httpx.InvalidURL, outside refresh_host's error
    handling: the SDK gets a 500 'the operation was not applied', yet the host exists and stays Installing
    forever (the monitor logs the same traceback every round)."""
    site = make_site(world.system, world.provider_id)
    agent = world.stack.agent(unique("addr"))
    name = unique("typo")
    code: int | None = None
    detail = ""
    try:
        world.system.hosts_service().add(
            types.Host(
                name=name,
                address=f"127.0.0.1:{agent.port}",
                port=agent.port,
                root_password=agent.token,
                cluster=types.Cluster(id=site.cluster.id),
            )
        )
    except sdk.Error as exc:
        code, detail = exc.code, (exc.fault.detail if exc.fault is not None else str(exc)) or ""
    time.sleep(2.5)  # a couple of monitor rounds (1 s)
    stored = [h for h in world.system.hosts_service().list() if h.name == name]
    if stored:  # kept: then it must say why it is not Up, as any unreachable host does
        assert stored[0].status == types.HostStatus.NON_RESPONSIVE, (
            f"host {name} is {stored[0].status}; the add answered {code}: {detail}"
        )
    assert code in (None, 400), f"the add answered {code}: {detail}"


def test_a_host_is_removed_the_way_the_sdk_examples_remove_one(world: World) -> None:
    """ovirtsdk4's own examples (and Ansible's ovirt_host state=absent) remove a host by deactivating it,
    waiting for Maintenance, then removing it. The engine has no host actions at all: deactivate answers 404,
    so a script that follows the SDK cannot remove a host."""
    site = make_site(world.system, world.provider_id)
    host = add_host(world.system, site, world.stack.agent(unique("m")))
    host_svc = world.system.hosts_service().host_service(host.id)
    host_svc.deactivate()
    deadline = time.monotonic() + 20
    while host_svc.get().status != types.HostStatus.MAINTENANCE:
        assert time.monotonic() < deadline, f"host still {host_svc.get().status}"
        time.sleep(0.5)
    host_svc.remove()
    assert host.id not in {h.id for h in world.system.hosts_service().list()}
