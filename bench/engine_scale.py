"""Bench: the engine at scale — N VMs with 2 external vNICs each, started P at a time on A host agents.

The engine and its embedded provider run in this process, wired as ``neutrino up`` wires them (its
``build_services``, plain HTTP, each server on its own uvicorn thread), so the bench counts server-side what
each VM costs: every SQL statement the engine's database engines run (SQLAlchemy's ``before_cursor_execute``
event, both the writer and the reader engine) and every request the provider serves (an ASGI middleware
around its app: Keystone and Neutron alike). The host agents run as processes with the in-memory host
network, as ``bench/engine_run_vms.py`` starts them. The engine's background jobs (provider sync, janitor,
host monitor) are set to hourly, so what is counted is the runs alone.

VMs start in windows of W (default 100): each window's VMs are started P at a time through
``POST /vms/{id}/start`` (answered once the VM is Up), then the counters are read. Per window it reports
VMs/s, time to Up (p50, p95), SQL statements and provider calls per VM; the figures of the last window
against the first one after warm-up (the 100th VM on) show whether the engine's cost grows with what it holds.

    python bench/engine_scale.py [--vms 1000] [--parallel 20] [--agents 10] [--window 100] [--db URL]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.sso import sso_token  # noqa: E402

from bench.engine_import_networks import Counting, Server  # noqa: E402
from bench.engine_run_vms import free_port, percentile, process  # noqa: E402
from neutrino import up  # noqa: E402
from neutrino.engine.store.database import QueryCounter  # noqa: E402

PASSWORD = "bench-secret"
SETUP_THREADS = 8
FLAT = 0.20  # the bound: within 20 % from the 100th to the last VM


@dataclass
class Window:
    first: int  # index of its first VM
    vms: int
    seconds: float
    to_up: list[float]
    statements: int
    provider_calls: int

    @property
    def rate(self) -> float:
        return self.vms / self.seconds

    @property
    def p50(self) -> float:
        return statistics.median(self.to_up)

    @property
    def p95(self) -> float:
        return percentile(self.to_up, 0.95)

    @property
    def sql_per_vm(self) -> float:
        return self.statements / self.vms

    @property
    def calls_per_vm(self) -> float:
        return self.provider_calls / self.vms


@dataclass
class Result:
    vms: int
    parallel: int
    agents: int
    backend: str
    setup: float
    windows: list[Window] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(w.seconds for w in self.windows)

    def all_to_up(self) -> list[float]:
        return [d for w in self.windows for d in w.to_up]

    def growth(self) -> dict[str, float]:
        """Each figure of the last window over the same figure of the first window after warm-up (the second
        window when there are more than two, else the first): 1.0 is flat. Per-VM costs and times, so > 1 is
        worse for every one of them (the rate is inverted: seconds per VM)."""
        base = self.windows[1] if len(self.windows) > 2 else self.windows[0]
        last = self.windows[-1]
        return {
            "s/VM": (1 / last.rate) / (1 / base.rate),
            "p50": last.p50 / base.p50,
            "p95": last.p95 / base.p95,
            "SQL/VM": last.sql_per_vm / base.sql_per_vm,
            "calls/VM": last.calls_per_vm / base.calls_per_vm,
        }


def _in_parallel(items: list[Any], parallel: int, call: Callable[[Any], Any]) -> list[Any]:
    with ThreadPoolExecutor(parallel) as pool:
        return list(pool.map(call, items))


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in os.environ for the block (the in-process engine reads its settings there), then as before."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class Stack:
    """Engine and provider in this process as ``neutrino up`` builds them, counted; A agents as processes."""

    def __init__(self, running: ExitStack, data: Path, agents: int) -> None:
        engine_port, provider_port, agent_port = free_port(), free_port(), free_port()
        parser = argparse.ArgumentParser()
        up.configure(parser)
        args = parser.parse_args(
            [
                *("--data-dir", str(data / "up"), "--datapath", "memory", "--provider-sync-interval", "3600"),
                *(
                    "--engine-listen",
                    f"127.0.0.1:{engine_port}",
                    "--provider-listen",
                    f"127.0.0.1:{provider_port}",
                ),
                *("--agent-listen", f"127.0.0.1:{agent_port}"),
            ]
        )
        services = up.build_services(args)
        [engine_svc] = [s for s in services if s.name == "engine"]
        [provider_svc] = [s for s in services if s.name == "provider"]
        self.provider_app = provider_svc.app = Counting(provider_svc.app)
        built = engine_svc.app.state.engine
        self.counters = [QueryCounter(built.db)]
        if built.read_db is not built.db:
            self.counters.append(QueryCounter(built.read_db))
        self.backend = built.db.dialect.name
        for svc in services:
            host, port = svc.host_port
            running.enter_context(Server(svc.app, port, host))
        for svc in services:
            if svc.after_start is not None:
                svc.after_start()
        running.callback(built.dispose)
        self.url = f"http://127.0.0.1:{engine_port}/ovirt-engine"
        self.hosts = [self._agent(running, data, f"scale-host{i + 1}") for i in range(agents)]

    @staticmethod
    def _agent(running: ExitStack, data: Path, name: str) -> tuple[str, int, str]:
        port, token = free_port(), secrets.token_urlsafe(16)
        args = ["agent", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data / name), f"--token={token}"]
        args += ["--host-name", name, "--host-net", "memory", "--log-level", "warning"]
        running.enter_context(
            process(args, f"http://127.0.0.1:{port}/api/v1/capabilities", data / f"{name}.log")
        )
        return name, port, token

    def statements(self) -> int:
        return sum(c.count for c in self.counters)


def _api(url: str, connections: int) -> httpx.Client:
    token = sso_token(url.removesuffix("/ovirt-engine"), PASSWORD)
    return httpx.Client(
        base_url=f"{url}/api",
        timeout=300,
        limits=httpx.Limits(max_connections=connections),
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )


def _post(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    resp = api.post(path, json=body)
    if resp.status_code not in (200, 201):
        raise SystemExit(f"POST {path} failed: {resp.status_code} {resp.text}")
    return dict(resp.json())


def _setup(api: httpx.Client, hosts: list[tuple[str, int, str]], vms: int) -> list[str]:
    """A data center and cluster with two provider networks, the agents as its hosts, and the VMs (each with a
    vNIC on each network), through the API as JSON; the VMs' ids."""
    [provider] = [
        p
        for p in api.get("/openstacknetworkproviders").json()["openstack_network_provider"]
        if p["name"] == up.PROVIDER_NAME
    ]
    dc = _post(api, "/datacenters", {"name": "scale", "local": "false"})
    cpu = {"architecture": "x86_64", "type": "Intel Nehalem Family"}
    providers = {"external_provider": [{"id": provider["id"]}]}
    cluster = _post(
        api,
        "/clusters",
        {
            "name": "scale",
            "data_center": {"id": dc["id"]},
            "cpu": cpu,
            "external_network_providers": providers,
        },
    )
    profiles = []
    for name in ("scale-red", "scale-blue"):
        body = {"name": name, "data_center": {"id": dc["id"]}, "external_provider": {"id": provider["id"]}}
        net = _post(api, "/networks", body)
        _post(api, f"/clusters/{cluster['id']}/networks", {"id": net["id"], "required": "false"})
        profiles.append(api.get(f"/networks/{net['id']}/vnicprofiles").json()["vnic_profile"][0]["id"])
    for name, port, token in hosts:
        body = {"name": name, "address": "127.0.0.1", "port": port, "root_password": token}
        host = _post(api, "/hosts", {**body, "cluster": {"id": cluster["id"]}})
        if host["status"] != "up":
            raise SystemExit(f"host {name} is {host['status']}: {host.get('status_detail')}")

    def add_vm(i: int) -> str:
        body = {"name": f"scale-vm-{i:05d}", "cluster": {"id": cluster["id"]}, "template": {"name": "Blank"}}
        vm = _post(api, "/vms", body)
        for n, profile in enumerate(profiles, 1):
            _post(api, f"/vms/{vm['id']}/nics", {"name": f"nic{n}", "vnic_profile": {"id": profile}})
        return str(vm["id"])

    return _in_parallel(list(range(vms)), SETUP_THREADS, add_vm)


def measure(
    vms: int = 1000, parallel: int = 20, agents: int = 10, window: int = 100, db: str | None = None
) -> Result:
    env = {
        "NEUTRINO_INSECURE_HTTP": "1",
        "NEUTRINO_ADMIN_PASSWORD": PASSWORD,
        "NEUTRINO_JANITOR_INTERVAL": "3600",
        "NEUTRINO_HOST_MONITOR_INTERVAL": "3600",
        **({"NEUTRINO_DB": db} if db else {}),
    }
    with _environment(env), tempfile.TemporaryDirectory() as tmp, ExitStack() as running:
        stack = Stack(running, Path(tmp), agents)
        api = running.enter_context(_api(stack.url, max(parallel, SETUP_THREADS)))
        t0 = time.perf_counter()
        vm_ids = _setup(api, stack.hosts, vms)
        result = Result(vms, parallel, agents, stack.backend, time.perf_counter() - t0)

        def start(vm_id: str) -> float:
            t = time.perf_counter()
            resp = api.post(
                f"/vms/{vm_id}/start", content=b"{}", headers={"Content-Type": "application/json"}
            )
            if resp.status_code != 200:
                raise SystemExit(f"start failed: {resp.status_code} {resp.text}")
            return time.perf_counter() - t

        for first in range(0, vms, window):
            batch = vm_ids[first : first + window]
            sql0, calls0 = stack.statements(), stack.provider_app.count
            t = time.perf_counter()
            to_up = _in_parallel(batch, parallel, start)
            seconds = time.perf_counter() - t
            sql, calls = stack.statements() - sql0, stack.provider_app.count - calls0
            result.windows.append(Window(first, len(batch), seconds, to_up, sql, calls))

        up_now = api.get("/vms", params={"search": "cluster=scale and status=up"}).json().get("vm", [])
        if len(up_now) != vms:
            raise SystemExit(f"{len(up_now)} of {vms} VMs are Up after the runs")
        return result


def report(result: Result) -> str:
    all_up = result.all_to_up()
    lines = [
        f"backend: {result.backend}; {result.vms} VMs x 2 external vNICs, {result.parallel} at a time, "
        f"{result.agents} agents (in-memory host network); setup {result.setup:.1f} s",
        f"all: {result.vms / result.total:.1f} VMs/s, time to Up p50 {statistics.median(all_up) * 1000:.0f} ms, "
        f"p95 {percentile(all_up, 0.95) * 1000:.0f} ms",
        f"{'VMs':>11} {'VMs/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'SQL/VM':>7} {'calls/VM':>8}",
    ]
    for w in result.windows:
        lines.append(
            f"{w.first + 1:>5}-{w.first + w.vms:<5} {w.rate:7.1f} {w.p50 * 1000:7.0f} {w.p95 * 1000:7.0f} "
            f"{w.sql_per_vm:7.1f} {w.calls_per_vm:8.2f}"
        )
    growth = result.growth()
    flat = all(v <= 1 + FLAT for v in growth.values())
    lines.append(
        "last window / first after warm-up: "
        + ", ".join(f"{k} {v:.2f}" for k, v in growth.items())
        + f"  ({'flat' if flat else 'GROWS'}: bound {1 + FLAT:.2f})"
    )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vms", type=int, default=1000)
    p.add_argument("--parallel", type=int, default=20)
    p.add_argument("--agents", type=int, default=10)
    p.add_argument("--window", type=int, default=100)
    p.add_argument("--db", default=None, help="engine SQLAlchemy URL (default: SQLite in the data directory)")
    args = p.parse_args()
    print(report(measure(args.vms, args.parallel, args.agents, args.window, args.db)))


if __name__ == "__main__":
    main()
