"""Bench: list N VMs (with their NICs, `follow=nics`) through the oVirt API, in XML and in JSON.

Reports requests/s, the SQL statements each list call runs (which must not grow with the number of VMs),
and, as the baseline measured in the same run, the time to read the same rows straight from the database
with SQLAlchemy — so the API's cost is a ratio to the cost of the data itself.

    python bench/engine_list_vms.py [--vms 5000] [--db URL] [--requests 10]

The VMs are inserted with plain SQL (setup, not what is measured).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import sqlalchemy as sa
import uvicorn

from neutrino.engine.app import create_app
from neutrino.engine.bootstrap import build
from neutrino.engine.domain.macpool import int_to_mac
from neutrino.engine.settings import EngineSettings
from neutrino.engine.store import tables
from neutrino.engine.store.database import QueryCounter

PASSWORD = "bench"


def populate(db: sa.Engine, count: int, start: int = 0) -> None:
    with db.begin() as conn:
        cluster = conn.execute(
            sa.select(tables.clusters.c.id).where(tables.clusters.c.name == "Default")
        ).scalar_one()
        profile = (
            conn.execute(
                sa.select(tables.vnic_profiles.c.id).where(tables.vnic_profiles.c.name == "ovirtmgmt")
            )
            .scalars()
            .first()
        )
        vms, nics = [], []
        for i in range(start, start + count):
            vm_id = str(uuid.uuid4())
            vms.append(
                {
                    "id": vm_id,
                    "name": f"bench-vm-{i:05d}",
                    "cluster_id": cluster,
                    "template_id": "00000000-0000-0000-0000-000000000000",
                    "description": "",
                    "comment": "",
                    "memory": 1 << 30,
                    "status": "down",
                    "creation_time": time.time(),
                }
            )
            nics.append(
                {
                    "id": str(uuid.uuid4()),
                    "name": "nic1",
                    "vm_id": vm_id,
                    "mac": int_to_mac(0x02AA00000000 + i),
                    "interface": "virtio",
                    "linked": True,
                    "plugged": True,
                    "vnic_profile_id": profile,
                    "description": "",
                    "comment": "",
                }
            )
        from datetime import UTC, datetime

        stamp = datetime.now(UTC)
        for v in vms:
            v["creation_time"] = stamp
        conn.execute(sa.insert(tables.vms), vms)
        conn.execute(sa.insert(tables.vm_nics), nics)


class Server:
    def __init__(self, app: object, port: int) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def measure(
    client: httpx.Client, counters: list[QueryCounter], accept: str, requests: int
) -> tuple[float, float, int, int]:
    """(requests/s, median seconds, SQL statements per call, body bytes)."""
    client.get("/ovirt-engine/api", headers={"Accept": accept}).raise_for_status()  # warm: token check cached
    times = []
    queries = []
    size = 0
    for _ in range(requests):
        before = sum(c.count for c in counters)
        t0 = time.perf_counter()
        r = client.get("/ovirt-engine/api/vms", params={"follow": "nics"}, headers={"Accept": accept})
        times.append(time.perf_counter() - t0)
        r.raise_for_status()
        queries.append(sum(c.count for c in counters) - before)
        size = len(r.content)
    return requests / sum(times), statistics.median(times), max(queries), size


def baseline(db: sa.Engine, requests: int) -> float:
    """Median seconds to read the VM and NIC rows the list shows, straight from the database."""
    times = []
    for _ in range(requests):
        t0 = time.perf_counter()
        with db.connect() as conn:
            conn.execute(sa.select(tables.vms)).all()
            conn.execute(sa.select(tables.vm_nics)).all()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vms", type=int, default=5000)
    p.add_argument("--db", default=None, help="SQLAlchemy URL (default: a fresh SQLite file)")
    p.add_argument("--requests", type=int, default=10)
    p.add_argument("--port", type=int, default=18765)
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        settings = EngineSettings(data_dir=Path(tmp), db=args.db, admin_password=PASSWORD)
        engine = build(settings)
        counters = [QueryCounter(engine.db)] + (
            [QueryCounter(engine.read_db)] if engine.read_db is not engine.db else []
        )
        app = create_app(settings, engine)
        small = max(1, args.vms // 10)
        print(f"backend: {engine.db.dialect.name}; VMs with 1 NIC each; {args.requests} requests per figure")
        with Server(app, args.port):
            client = httpx.Client(
                base_url=f"http://127.0.0.1:{args.port}", auth=("admin@internal", PASSWORD), timeout=120
            )
            token = httpx.post(
                f"http://127.0.0.1:{args.port}/ovirt-engine/sso/oauth/token",
                data={
                    "grant_type": "password",
                    "scope": "ovirt-app-api",
                    "username": "admin@internal",
                    "password": PASSWORD,
                },
            ).json()["access_token"]
            client = httpx.Client(
                base_url=f"http://127.0.0.1:{args.port}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=120,
            )
            populate(engine.db, small)
            rows = {}
            for n, extra in ((small, 0), (args.vms, args.vms - small)):
                if extra:
                    populate(engine.db, extra, start=small)
                base = baseline(engine.read_db, args.requests)
                for fmt, accept in (("xml", "application/xml"), ("json", "application/json")):
                    rps, med, q, size = measure(client, counters, accept, args.requests)
                    rows[(n, fmt)] = (rps, med, q, size, base)
            print(
                f"{'VMs':>6} {'format':>6} {'req/s':>8} {'median ms':>10} {'SQL/call':>9} {'KiB':>7} {'DB-only ms':>11} {'API/DB':>7}"
            )
            for (n, fmt), (rps, med, q, size, base) in rows.items():
                print(
                    f"{n:>6} {fmt:>6} {rps:>8.2f} {med * 1000:>10.1f} {q:>9} {size / 1024:>7.0f} {base * 1000:>11.1f} {med / base:>7.1f}"
                )
            grows = {rows[(small, f)][2] != rows[(args.vms, f)][2] for f in ("xml", "json")}
            print(
                "SQL statements per list call",
                "GROW with rows (bug)" if True in grows else "do not grow with rows",
            )
        engine.dispose()


if __name__ == "__main__":
    main()
