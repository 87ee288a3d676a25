"""Bench: run N VMs with 2 external vNICs each, P at a time, through the oVirt API.

`neutrino up` (engine and embedded provider; the engine on SQLite by default) and host agents (in-memory host
network) run as processes on 127.0.0.1, as a user runs them. Each VM start is one ``POST /vms/{id}/start``,
answered once the VM is Up (its ports found or created on the provider, the agent's create-VM done and its
list-VMs checked).

Reports the time to Up per VM (median, p95), the total, and — as the baseline measured in the same run — the
same port calls (find by device_id, then create, with the very bodies the engine sends: the vNICs' ids, MACs,
names, networks and binding hosts) made directly against the provider with the engine's Neutron client, P at
a time. The engine's overhead is the ratio of the two.

    python bench/engine_run_vms.py [--vms 100] [--parallel 10] [--agents 2] [--db URL]
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as types

from neutrino.engine.provider_clients.base import PortRequest
from neutrino.engine.provider_clients.neutron import NeutronProvider
from neutrino.neutron_client import Credentials, Endpoint

PASSWORD = "bench-secret"
PROVIDER_NAME, SERVICE_USER, SERVICE_PROJECT = (
    "neutrino-provider",
    "neutrino-engine",
    "service",
)  # see neutrino.up


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def process(args: list[str], ready_url: str, log: Path, env: dict[str, str] | None = None) -> Iterator[None]:
    """``python -m neutrino.cli ARGS`` until the block ends (SIGTERM to its process group)."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "neutrino.cli", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            # over plain HTTP, as the bench always measured, unless the environment says otherwise
            env={"NEUTRINO_INSECURE_HTTP": "1", **os.environ, **(env or {})},
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{args[0]} did not start:\n{log.read_text()}")
            try:
                httpx.get(ready_url, timeout=1.0)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed_in_parallel(
    items: list[Any], parallel: int, call: Callable[[Any], None]
) -> tuple[list[float], float]:
    """Each item's call time, and the wall time of all of them, ``parallel`` at a time."""

    def one(item: Any) -> float:
        t0 = time.perf_counter()
        call(item)
        return time.perf_counter() - t0

    t0 = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        durations = list(pool.map(one, items))
    return durations, time.perf_counter() - t0


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vms", type=int, default=100)
    p.add_argument("--parallel", type=int, default=10)
    p.add_argument("--agents", type=int, default=2)
    p.add_argument("--db", default=None, help="engine SQLAlchemy URL (default: SQLite in the data directory)")
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as running:
        data = Path(tmp)
        engine_port, provider_port, local_agent_port = free_port(), free_port(), free_port()
        api_url = f"http://127.0.0.1:{engine_port}/ovirt-engine/api"
        provider_url = f"http://127.0.0.1:{provider_port}"
        env = {
            "NEUTRINO_ADMIN_PASSWORD": PASSWORD,
            "NEUTRINO_JANITOR_INTERVAL": "3600",
            **({"NEUTRINO_DB": args.db} if args.db else {}),
        }
        # `neutrino up` brings its own agent too (host `local` of the Default cluster, not of the bench's cluster)
        running.enter_context(
            process(
                [
                    "up",
                    "--data-dir",
                    str(data / "up"),
                    "--engine-listen",
                    f"127.0.0.1:{engine_port}",
                    "--provider-listen",
                    f"127.0.0.1:{provider_port}",
                    "--agent-listen",
                    f"127.0.0.1:{local_agent_port}",
                    "--datapath",
                    "memory",
                ],
                api_url,
                data / "up.log",
                env,
            )
        )
        agents = []
        for i in range(args.agents):
            port, token, name = free_port(), secrets.token_urlsafe(16), f"bench-host{i + 1}"
            running.enter_context(
                process(
                    [
                        "agent",
                        "--listen",
                        f"127.0.0.1:{port}",
                        "--data-dir",
                        str(data / name),
                        f"--token={token}",
                        "--host-name",
                        name,
                        "--host-net",
                        "memory",
                        "--log-level",
                        "warning",
                    ],
                    f"http://127.0.0.1:{port}/api/v1/capabilities",
                    data / f"{name}.log",
                )
            )
            agents.append((name, port, token))

        # --- setup through the SDK (not timed) ---------------------------------------------------------
        t0 = time.perf_counter()
        conn = sdk.Connection(url=api_url, username="admin@internal", password=PASSWORD, timeout=300)
        system = conn.system_service()
        [provider] = [
            x for x in system.openstack_network_providers_service().list() if x.name == PROVIDER_NAME
        ]
        dc = system.data_centers_service().add(types.DataCenter(name="bench", local=False))
        cluster = system.clusters_service().add(
            types.Cluster(
                name="bench",
                data_center=types.DataCenter(id=dc.id),
                cpu=types.Cpu(architecture=types.Architecture.X86_64, type="Intel Nehalem Family"),
                external_network_providers=[types.ExternalProvider(id=provider.id)],
            )
        )
        profiles, network_ids = [], {}
        for name in ("bench-red", "bench-blue"):
            net = system.networks_service().add(
                types.Network(
                    name=name,
                    data_center=types.DataCenter(id=dc.id),
                    external_provider=types.OpenStackNetworkProvider(id=provider.id),
                )
            )
            system.clusters_service().cluster_service(cluster.id).networks_service().add(
                types.Network(id=net.id, required=False)
            )
            [profile] = system.networks_service().network_service(net.id).vnic_profiles_service().list()
            profiles.append(profile)
        for ext in (
            system.openstack_network_providers_service()
            .provider_service(provider.id)
            .networks_service()
            .list()
        ):
            network_ids[ext.name] = ext.id
        for name, port, token in agents:
            host = system.hosts_service().add(
                types.Host(
                    name=name,
                    address="127.0.0.1",
                    port=port,
                    root_password=token,
                    cluster=types.Cluster(id=cluster.id),
                )
            )
            assert host.status == types.HostStatus.UP, (name, host.status, host.status_detail)
        vms: list[tuple[str, list[types.Nic]]] = []
        for i in range(args.vms):
            vm = system.vms_service().add(
                types.Vm(
                    name=f"bench-vm-{i:04d}",
                    cluster=types.Cluster(id=cluster.id),
                    template=types.Template(name="Blank"),
                )
            )
            nics_svc = system.vms_service().vm_service(vm.id).nics_service()
            vms.append(
                (
                    vm.id,
                    [
                        nics_svc.add(types.Nic(name=f"nic{n}", vnic_profile=types.VnicProfile(id=pr.id)))
                        for n, pr in enumerate(profiles, 1)
                    ],
                )
            )
        conn.close()
        setup = time.perf_counter() - t0

        # --- baseline: the engine's port calls, with the engine's bodies, straight to the provider ------
        secret = (data / "up" / "provider" / "engine-user.secret").read_text().strip()
        client = NeutronProvider(
            Endpoint(
                url=provider_url,
                credentials=Credentials(f"{provider_url}/v3", SERVICE_USER, secret, SERVICE_PROJECT),
            )
        )
        client.list_networks()  # the token, as the engine has it by now
        net_of = {profiles[0].id: network_ids["bench-red"], profiles[1].id: network_ids["bench-blue"]}
        made: list[str] = []

        def port_calls(item: tuple[int, tuple[str, list[types.Nic]]]) -> None:
            i, (_, nics) = item
            for nic in nics:
                assert client.find_port(nic.id) is None
                made.append(
                    client.create_port(
                        PortRequest(
                            network_id=net_of[nic.vnic_profile.id],
                            mac_address=nic.mac.address,
                            name=nic.name,
                            device_id=nic.id,
                            host_id=agents[i % len(agents)][0],
                        )
                    ).port.id
                )

        direct, direct_total = timed_in_parallel(list(enumerate(vms)), args.parallel, port_calls)
        for port_id in made:  # the engine must find nothing and create them itself
            client.delete_port(port_id)

        # --- the engine: POST /vms/{id}/start, answered once the VM is Up --------------------------------
        token = httpx.post(
            f"http://127.0.0.1:{engine_port}/ovirt-engine/sso/oauth/token",
            data={
                "grant_type": "password",
                "scope": "ovirt-app-api",
                "username": "admin@internal",
                "password": PASSWORD,
            },
        ).json()["access_token"]
        api = httpx.Client(
            base_url=api_url,
            timeout=300,
            limits=httpx.Limits(max_connections=args.parallel),
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "Content-Type": "application/json",
            },
        )

        def start(item: tuple[str, list[types.Nic]]) -> None:
            resp = api.post(f"/vms/{item[0]}/start", content=b"{}")
            if resp.status_code != 200:
                raise SystemExit(f"start failed: {resp.status_code} {resp.text}")

        to_up, total = timed_in_parallel(vms, args.parallel, start)
        statuses = [v["status"] for v in api.get("/vms", params={"search": "cluster=bench"}).json()["vm"]]
        ports = client.list_ports()
        api.close()
        assert statuses.count("up") == args.vms, statuses
        assert len(ports) == 2 * args.vms, len(ports)

        n = args.vms
        print(
            f"backend: {'SQLite' if not args.db else args.db.split(':')[0]}; {n} VMs x 2 external vNICs, "
            f"{args.parallel} at a time, {args.agents} agent(s) (setup {setup:.1f} s)"
        )
        print(
            f"time to Up:  median {ms(statistics.median(to_up))}, p95 {ms(percentile(to_up, 0.95))}; "
            f"total {total:.2f} s ({n / total:.1f} VMs/s)"
        )
        print(
            f"baseline, the same port calls direct (find + create per vNIC): median {ms(statistics.median(direct))}"
            f", p95 {ms(percentile(direct, 0.95))} per VM; total {direct_total:.2f} s"
        )
        print(
            f"engine/baseline: total {total / direct_total:.1f}, median {statistics.median(to_up) / statistics.median(direct):.1f}"
        )


if __name__ == "__main__":
    main()
