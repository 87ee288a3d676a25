"""Bench: what TLS costs, plain HTTP and HTTPS measured side by side in the same run, with keep-alive clients
(the connection, and so the handshake, is made once per client, as the engine's and the SDK's pools do).

- the provider (``bench/provider_ports.py``'s workload): two ``neutrino provider`` processes on SQLite, one
  ``--insecure-http``, one ``--tls-cert`` from the engine's PKI; port creates at 1 and 8 clients, and the
  ports list (all, and a page of 100);
- the engine (``bench/engine_list_vms.py``'s calls): one engine with N VMs and M events, served by two
  uvicorn servers (plain, and TLS with the engine's own certificate) in a process of its own; ``GET /vms?follow=nics`` and
  ``GET /events?max=100`` in JSON.

    python bench/tls_cost.py [--creates 300] [--list-ports 2000] [--vms 1000] [--events 10000] [--rounds 3]

Port creates alternate plain and TLS ``--rounds`` times and keep each side's best; the lists are single
requests interleaved plain/TLS in ABBA order (``--rounds`` x 10 for the provider's, ``--rounds`` x ``--requests``
for the engine's) and compared by their medians, so a neighbour's burst or a drift of the machine lands on
both sides alike. Cost = TLS time / plain time - 1 (the target: at most 20 %).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.sso import sso_token  # noqa: E402

from bench.engine_list_vms import Server, populate, populate_events, quiet_settings  # noqa: E402
from bench.provider_ports import _creates  # noqa: E402
from bench.provider_process import free_port, provider_process  # noqa: E402
from bench.provider_process import token as get_token  # noqa: E402
from neutrino.engine import pki  # noqa: E402
from neutrino.engine.app import create_app  # noqa: E402
from neutrino.engine.bootstrap import build  # noqa: E402

Rows = list[tuple[str, float, float]]  # what, plain seconds, TLS seconds (lower is better)


def best_of(rounds: int, plain: Callable[[], float], tls: Callable[[], float]) -> tuple[float, float]:
    """Each side's best over ``rounds`` alternations."""
    p, t = [], []
    for _ in range(rounds):
        p.append(plain())
        t.append(tls())
    return min(p), min(t)


def paired(samples: int, plain: Callable[[], float], tls: Callable[[], float]) -> tuple[float, float]:
    """Each side's median over ``samples`` single requests, taken in ABBA order (plain, TLS, TLS, plain, ...) so
    that a drift of the machine (a neighbour's burst, the CPU's clock, a cache warming) lands on both sides alike:
    the noise of a few milliseconds between runs is larger than the TLS cost of one request."""
    p, t = [], []
    for i in range(samples):
        if i % 2:
            t.append(tls())
            p.append(plain())
        else:
            p.append(plain())
            t.append(tls())
    return statistics.median(p), statistics.median(t)


def provider_side(tmp: Path, ca: pki.EnginePki, args: argparse.Namespace) -> Rows:
    cert = pki.issue_server_pair(ca, tmp / "tls", "provider", ["127.0.0.1"])
    trust = ssl.create_default_context(cafile=str(ca.ca_cert))
    rows: Rows = []
    with (
        provider_process(tmp / "plain", f"sqlite:///{tmp / 'plain.db'}") as plain_base,
        provider_process(tmp / "tls-p", f"sqlite:///{tmp / 'tls.db'}", tls=cert) as tls_base,
    ):
        sides = {}
        for base, verify in ((plain_base, True), (tls_base, trust)):
            token = get_token(base, verify)
            client = httpx.Client(base_url=base, headers={"X-Auth-Token": token}, timeout=300, verify=verify)
            net = client.post("/v2.0/networks", json={"network": {"name": "bench"}}).json()["network"]
            client.post("/v2.0/subnets", json={"subnet": {"network_id": net["id"], "cidr": "10.128.0.0/16",
                                                          "ip_version": 4}})  # fmt: skip
            asyncio.run(_creates(base, token, net["id"], 4, 40, verify))  # warm-up
            sides[base] = (token, net["id"], client, verify)

        for clients in (1, 8):

            def run(base: str, clients: int = clients) -> float:
                token, net_id, _, verify = sides[base]
                elapsed, lat = asyncio.run(_creates(base, token, net_id, clients, args.creates, verify))
                return elapsed / len(lat)  # seconds per port

            p, t = best_of(args.rounds, lambda: run(plain_base), lambda: run(tls_base))
            rows.append((f"provider create_port, {clients} client(s) (s/port)", p, t))

        for base in (plain_base, tls_base):
            _, net_id, client, _ = sides[base]
            have = len(
                client.get("/v2.0/ports", params={"network_id": net_id, "fields": "id"}).json()["ports"]
            )
            while have < args.list_ports:
                batch = min(500, args.list_ports - have)
                client.post("/v2.0/ports", json={"ports": [{"network_id": net_id} for _ in range(batch)]})
                have += batch

        for label, extra in ((f"all {args.list_ports}+", {}), ("page of 100", {"limit": "100"})):

            def listing(base: str, extra: dict[str, str] = extra) -> float:
                _, net_id, client, _ = sides[base]
                t0 = time.perf_counter()
                client.get("/v2.0/ports", params={"network_id": net_id, **extra}).raise_for_status()
                return time.perf_counter() - t0

            for base in sides:
                listing(base)  # warm
            p, t = paired(args.rounds * 10, lambda: listing(plain_base), lambda: listing(tls_base))
            rows.append((f"provider list_ports {label} (s)", p, t))
        for _, _, client, _ in sides.values():
            client.close()
    return rows


def _serve_engine(tmp: Path, vms: int, events: int, ports: tuple[int, int], ready: Connection) -> None:
    """In a child process: one engine with ``vms`` VMs and ``events`` events served by two uvicorn servers of
    the same app, plain on ``ports[0]`` and TLS on ``ports[1]``; sends its CA's path when both serve, stops
    when the parent sends anything. A process of its own, as the engine is for its clients: in the bench's
    process the servers' threads and the client would take turns at one GIL, and a TLS answer's extra turns of
    the event loop would each wait for the client's thread to let go of it."""
    settings = quiet_settings(tmp / "engine", None).model_copy(update={"insecure_http": False})
    engine = build(settings)
    populate(engine.db, vms)
    populate_events(engine.db, events)
    app = create_app(settings, engine)
    tls = {"ssl_certfile": str(engine.pki.server_cert), "ssl_keyfile": str(engine.pki.server_key)}
    # one app, two servers: the second one does not run the app's lifespan (its jobs) again
    with Server(app, ports[0]), Server(app, ports[1], lifespan="off", **tls):
        ready.send(str(engine.pki.ca_cert))
        ready.recv()
    engine.dispose()


def engine_side(tmp: Path, args: argparse.Namespace) -> Rows:
    plain_port, tls_port = free_port(), free_port()
    parent_end, child_end = multiprocessing.Pipe()
    child = multiprocessing.get_context("fork").Process(
        target=_serve_engine, args=(tmp, args.vms, args.events, (plain_port, tls_port), child_end)
    )
    child.start()
    rows: Rows = []
    try:
        if not parent_end.poll(600):
            raise RuntimeError("the engine did not start")
        trust = ssl.create_default_context(cafile=parent_end.recv())
        clients = {}
        for scheme, port, verify in (("http", plain_port, True), ("https", tls_port, trust)):
            base = f"{scheme}://127.0.0.1:{port}"
            token = sso_token(base, "bench", verify=verify)
            clients[scheme] = httpx.Client(base_url=f"{base}/ovirt-engine/api", verify=verify, timeout=300,
                                           headers={"Authorization": f"Bearer {token}",
                                                    "Accept": "application/json"})  # fmt: skip
        for label, path, params in (
            (f"engine GET /vms?follow=nics, {args.vms} VMs (s)", "/vms", {"follow": "nics"}),
            (f"engine GET /events?max=100 of {args.events} (s)", "/events", {"max": "100"}),
            ("engine GET /clusters?max=1 (s)", "/clusters", {"max": "1"}),
        ):

            def call(scheme: str, path: str = path, params: dict[str, str] = params) -> float:
                t0 = time.perf_counter()
                clients[scheme].get(path, params=params).raise_for_status()
                return time.perf_counter() - t0

            for scheme in clients:
                call(scheme)  # warm
            p, t = paired(args.rounds * args.requests, lambda: call("http"), lambda: call("https"))
            rows.append((label, p, t))
        for client in clients.values():
            client.close()
    finally:
        parent_end.send("stop")
        child.join(30)
        if child.is_alive():
            child.kill()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--creates", type=int, default=300, help="port creates per figure and side")
    parser.add_argument("--list-ports", type=int, default=2000)
    parser.add_argument("--vms", type=int, default=1000)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=20, help="engine calls per figure and side")
    parser.add_argument("--rounds", type=int, default=5)
    print(report(measure(parser.parse_args())))
    return 0


def measure(args: argparse.Namespace) -> Rows:
    """Every figure, plain and TLS (``args``: the command line's options)."""
    # one line per request would be timed too (a filter: uvicorn's logging set-up re-enables loggers); taken
    # off again after, for whoever logs in this process next (the CI-size test runs among the others)
    access = logging.getLogger("neutrino.access")
    access.addFilter(_silenced)
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            ca = pki.ensure(tmp / "pki", ["127.0.0.1"])
            return provider_side(tmp, ca, args) + engine_side(tmp, args)
    finally:
        access.removeFilter(_silenced)


def _silenced(record: logging.LogRecord) -> bool:
    return False


def report(rows: Rows) -> str:
    lines = [f"{'figure':<58} {'plain':>10} {'TLS':>10} {'cost':>7}"]
    for what, plain, tls in rows:
        lines.append(f"{what:<58} {plain * 1000:>8.2f}ms {tls * 1000:>8.2f}ms {tls / plain - 1:>+7.1%}")
    worst = max(tls / plain - 1 for _, plain, tls in rows)
    lines.append(f"worst TLS cost: {worst:+.1%} (target at most +20 %)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
