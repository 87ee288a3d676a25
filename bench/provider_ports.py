"""Bench: port create throughput and latency (1, 8, 32 concurrent clients), and listing 10,000 ports,
against `neutrino provider` run as a real process, on SQLite and on PostgreSQL.

    python bench/provider_ports.py [--backends sqlite,postgresql] [--creates 400] [--list-ports 10000]
                                   [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Every request carries a Keystone token (validated on each call, as clients do). The ports for the
list measurement are made with Neutron bulk creates (500 per request): setup, not what is timed.
For scale: a real Neutron server's create_port median is published around 0.37 s at low load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.provider_process import pct, provider_process  # noqa: E402
from bench.provider_process import token as get_token  # noqa: E402


@contextmanager
def _pg_schema(pg_url: str) -> Iterator[str]:
    import psycopg

    libpq = pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    schema = "bench_" + uuid.uuid4().hex[:12]
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        sep = "&" if "?" in pg_url else "?"
        yield f"{pg_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


async def _creates(
    base: str, token: str, network_id: str, clients: int, total: int, verify: ssl.SSLContext | bool = True
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    per_client = max(1, total // clients)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=base, headers={"X-Auth-Token": token}, limits=limits, timeout=120, verify=verify
    ) as client:

        async def worker() -> None:
            for _ in range(per_client):
                started = time.perf_counter()
                response = await client.post("/v2.0/ports", json={"port": {"network_id": network_id}})
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 201, response.text

        await client.get("/v2.0/networks")  # warm the connection pool
        started = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(clients)])
        return time.perf_counter() - started, latencies


def bench_backend(name: str, db_url: str, data_dir: Path, creates: int, list_ports: int) -> None:
    with provider_process(data_dir, db_url) as base:
        token = get_token(base)
        c = httpx.Client(base_url=base, headers={"X-Auth-Token": token}, timeout=300)
        net = c.post("/v2.0/networks", json={"network": {"name": "bench"}}).json()["network"]
        c.post(
            "/v2.0/subnets",
            json={"subnet": {"network_id": net["id"], "cidr": "10.128.0.0/16", "ip_version": 4}},
        )
        asyncio.run(_creates(base, token, net["id"], 4, 40))  # warm-up
        for clients in (1, 8, 32):
            total = creates if clients > 1 else max(100, creates // 2)
            elapsed, lat = asyncio.run(_creates(base, token, net["id"], clients, total))
            print(f"{name:10} create_port  clients={clients:<3} n={len(lat):<5} {len(lat) / elapsed:8.1f} ports/s"
                  f"   p50 {pct(lat, 0.5) * 1000:7.1f} ms   p95 {pct(lat, 0.95) * 1000:7.1f} ms", flush=True)  # fmt: skip

        have = len(c.get("/v2.0/ports", params={"network_id": net["id"], "fields": "id"}).json()["ports"])
        while have < list_ports:
            batch = min(500, list_ports - have)
            response = c.post(
                "/v2.0/ports", json={"ports": [{"network_id": net["id"]} for _ in range(batch)]}
            )
            assert response.status_code == 201, response.text
            have += batch
        for label, params in (
            (f"all {have}", {"network_id": net["id"]}),
            ("page of 100", {"network_id": net["id"], "limit": "100"}),
            ("one by fixed_ips", {"fixed_ips": "ip_address=10.128.10.10"}),
        ):
            times = []
            for _ in range(5):
                started = time.perf_counter()
                response = c.get("/v2.0/ports", params=params)
                times.append(time.perf_counter() - started)
                assert response.status_code == 200
            print(f"{name:10} list_ports   {label:<18} median {statistics.median(times) * 1000:8.1f} ms"
                  f"   ({len(response.json()['ports'])} ports, {len(response.content) / 1e6:.1f} MB)", flush=True)  # fmt: skip
        c.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--creates", type=int, default=400, help="port creates per concurrency level")
    parser.add_argument("--list-ports", type=int, default=10_000)
    parser.add_argument("--pg-url", default=os.environ.get("NEUTRINO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))  # fmt: skip
    args = parser.parse_args()
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp)
            if backend == "sqlite":
                bench_backend(
                    "sqlite", f"sqlite:///{data_dir / 'provider.db'}", data_dir, args.creates, args.list_ports
                )
            else:
                with _pg_schema(args.pg_url) as url:
                    bench_backend("postgresql", url, data_dir, args.creates, args.list_ports)
    return 0


if __name__ == "__main__":
    sys.exit(main())
