"""Bench: listing ports by tag (standard-attr-tag) against the plain listing of the same rows, with
`neutrino provider` run as a real process, on SQLite and on PostgreSQL.

    python bench/provider_tags.py [--backends sqlite,postgresql] [--ports 10000]
                                  [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

The ports are spread over five networks, and each carries its network's one of five tags (given in
the bulk POST itself, as ``tag-ports-during-bulk-creation`` allows), so ``?tags=t0`` selects the
same rows as ``?network_id=<net0>`` and ``?tags-any=t0,t1,t2`` the same as three networks. Each
filtered listing must take at most :data:`LIMIT` times its plain one (median of 5); the script
exits 1 when one does not. Creating the ports is setup, not what is timed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.provider_ports import _pg_schema  # noqa: E402
from bench.provider_process import admin_client, provider_process  # noqa: E402

TAGS = ("t0", "t1", "t2", "t3", "t4")
LIMIT = 2.0


def _median_ms(c: httpx.Client, params: list[tuple[str, str]]) -> tuple[float, list[str]]:
    times = []
    ids: list[str] = []
    for _ in range(5):
        started = time.perf_counter()
        response = c.get("/v2.0/ports", params=params)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
        ids = sorted(p["id"] for p in response.json()["ports"])
    return statistics.median(times) * 1000, ids


def seed(c: httpx.Client, ports: int) -> list[dict[str, Any]]:
    """Five networks, ``ports`` ports over them, each with its network's tag."""
    networks = []
    for i, tag in enumerate(TAGS):
        net = c.post("/v2.0/networks", json={"network": {"name": f"bench-{tag}"}}).json()["network"]
        subnet = {"network_id": net["id"], "cidr": f"10.{130 + i}.0.0/16", "ip_version": 4}
        assert c.post("/v2.0/subnets", json={"subnet": subnet}).status_code == 201
        networks.append(net)
    per_network = ports // len(TAGS)
    for net, tag in zip(networks, TAGS, strict=True):
        made = 0
        while made < per_network:
            batch = min(500, per_network - made)
            body = {"ports": [{"network_id": net["id"], "tags": [tag]} for _ in range(batch)]}
            response = c.post("/v2.0/ports", json=body)
            assert response.status_code == 201, response.text
            made += batch
    return networks


def bench_backend(name: str, db_url: str, data_dir: Path, ports: int) -> bool:
    """Prints the medians; whether each filtered listing stayed within LIMIT times its plain one."""
    ok = True
    with provider_process(data_dir, db_url) as base, admin_client(base) as c:
        nets = seed(c, ports)
        cases = (
            ("tags=t0", [("tags", "t0")], [("network_id", nets[0]["id"])]),
            ("tags-any=t0,t1,t2", [("tags-any", "t0,t1,t2")], [("network_id", n["id"]) for n in nets[:3]]),
        )
        for label, tagged, plain in cases:
            plain_ms, plain_ids = _median_ms(c, plain)
            tagged_ms, tagged_ids = _median_ms(c, tagged)
            assert tagged_ids == plain_ids, f"{label}: not the same rows"
            ratio = tagged_ms / plain_ms
            ok &= ratio <= LIMIT
            print(f"{name:10} list_ports {label:<18} {len(tagged_ids):>6} ports   tagged {tagged_ms:8.1f} ms"
                  f"   plain {plain_ms:8.1f} ms   ratio {ratio:4.2f} (limit {LIMIT})", flush=True)  # fmt: skip
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--ports", type=int, default=10_000)
    parser.add_argument("--pg-url", default=os.environ.get("NEUTRINO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))  # fmt: skip
    args = parser.parse_args()
    ok = True
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp)
            if backend == "sqlite":
                ok &= bench_backend("sqlite", f"sqlite:///{data_dir / 'provider.db'}", data_dir, args.ports)
            else:
                with _pg_schema(args.pg_url) as url:
                    ok &= bench_backend("postgresql", url, data_dir, args.ports)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
