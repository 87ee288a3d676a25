"""Two engines sharing one embedded provider (issue 18): each tags the ports it creates with its instance id,
and each one's janitor deletes only ports with its own tag — never the other engine's running ports, nor a
port nobody tagged.

`neutrino provider` and two `neutrino engine` processes (SQLite, 1 s janitors), one host agent each, driven
through the real ovirtsdk4; the provider is read and written as its admin over plain HTTP.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ovirtsdk4.types as types

from tests.e2e.lifecycle.conftest import MAC_POOL, PASSWORD, Process, Stack, engine_and_provider
from tests.e2e.lifecycle.helpers import (
    Neutron,
    add_host,
    add_vm,
    eventually,
    external_network,
    make_site,
    register_provider,
    unique,
    vm_service,
    vm_status,
)
from tests.support.servers import free_port

JANITOR_INTERVAL = 1.0


@contextmanager
def another_engine(directory: Path) -> Iterator[tuple[Stack, Future[Any]]]:
    """A second `neutrino engine` (own data directory and database), started in the background while the
    first stack starts (the future: ready); its ``provider_url`` is the caller's to set."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/ovirt-engine/api"
    directory.mkdir(parents=True)
    args = ["engine", "--listen", f"127.0.0.1:{port}", "--data-dir", str(directory / "engine")]
    args += ["--mac-pool-range", MAC_POOL, "--janitor-interval", str(JANITOR_INTERVAL)]
    engine = Process("engine", args, url, directory, {"NEUTRINO_ADMIN_PASSWORD": PASSWORD})
    stack = Stack("sqlite", directory, engine, url, provider_url="")
    starter = ThreadPoolExecutor(1)
    with stack._exit:
        stack._exit.callback(engine.stop)
        stack._exit.callback(starter.shutdown)  # first: the start has ended before the stop
        yield stack, starter.submit(engine.start)


def run_one_vm(stack: Stack, system: Any, host: str) -> str:
    """Register the provider, a network on it, a host and a VM with one vNIC, run it: the vNIC's id."""
    site = make_site(system, register_provider(system, stack))
    net = external_network(system, site)
    add_host(system, site, stack.agent(unique(host)))
    vm, (nic,) = add_vm(system, site, [net.profile])
    vm_service(system, vm.id).start()
    assert vm_status(system, vm.id) == types.VmStatus.UP
    return str(nic.id)


def stray(neutron: Neutron, network_id: str, tags: list[str]) -> str:
    """A port as an engine leaves one behind: device_owner oVirt, a vNIC nobody has."""
    body = {"network_id": network_id, "device_owner": "oVirt", "device_id": str(uuid.uuid4()), "tags": tags}
    return str(neutron.request("POST", "/v2.0/ports", json={"port": body})["port"]["id"])


def test_each_engines_janitor_leaves_the_other_engines_ports(tmp_path: Path) -> None:
    with (
        another_engine(tmp_path / "b") as (b, b_started),
        engine_and_provider("sqlite", tmp_path / "a", janitor_interval=JANITOR_INTERVAL) as a,
    ):
        b_started.result()
        b.provider_url = a.provider_url
        neutron = Neutron(a.provider_url)
        conns = [a.connection(), b.connection()]
        try:
            ids = [c.system_service().get().product_info.instance_id for c in conns]
            assert ids[0] and ids[1] and ids[0] != ids[1]
            nics = [
                run_one_vm(stack, c.system_service(), host)
                for stack, c, host in ((a, conns[0], "ha"), (b, conns[1], "hb"))
            ]
            running = [neutron.port_of(n) for n in nics]
            # tagged in the create request by the engine that made it
            assert [p["tags"] for p in running] == [[ids[0]], [ids[1]]]
            network = running[0]["network_id"]
            left_by = [stray(neutron, network, [i]) for i in ids]
            untagged = stray(neutron, network, [])

            def present() -> set[str]:
                return {p["id"] for p in neutron.engine_ports()}

            # each janitor deletes its own leftover (the other's is no concern of it) ...
            eventually(lambda: not (set(left_by) & present()), timeout=15.0, what="leftovers deleted")
            time.sleep(2 * JANITOR_INTERVAL + 0.5)  # ... and a few more rounds of both change nothing else
            assert {running[0]["id"], running[1]["id"], untagged} <= present()
        finally:
            for conn in conns:
                conn.close()
