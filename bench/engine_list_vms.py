"""Bench: list N VMs with their NICs (`GET /vms?follow=nics`) and the newest 100 of M events
(`GET /events?max=100`) through the oVirt API, in XML and in JSON.

Reports requests/s, the SQL statements each call runs (BEGIN included; they must not grow with the number
of rows), and, as the baseline measured in the same run, the time to read the same rows straight from the
database with SQLAlchemy — so the API's cost is a ratio to the cost of the data itself.

    python bench/engine_list_vms.py [--vms 5000] [--events 100000] [--db URL] [--requests 10]

The rows are inserted with plain SQL (setup, not what is measured). The engine's periodic jobs (host monitor,
janitor, synchronizer, event pruning) are kept from running during the run: their statements would land in
the measured calls' counts (they once made 3 statements look like 7 at 5,000 VMs).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.sso import sso_token  # noqa: E402

from neutrino.engine.app import create_app  # noqa: E402
from neutrino.engine.bootstrap import Engine, build  # noqa: E402
from neutrino.engine.domain.macpool import int_to_mac  # noqa: E402
from neutrino.engine.settings import EngineSettings  # noqa: E402
from neutrino.engine.store import tables  # noqa: E402
from neutrino.engine.store.database import QueryCounter  # noqa: E402

PASSWORD = "bench"
NEVER = 1e9  # seconds: a periodic job's interval that no run reaches


def populate(db: sa.Engine, count: int, start: int = 0) -> None:
    """``count`` VMs with one NIC each, in the Default cluster."""
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
        stamp = datetime.now(UTC)
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
                    "creation_time": stamp,
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
        conn.execute(sa.insert(tables.vms), vms)
        conn.execute(sa.insert(tables.vm_nics), nics)


def populate_events(db: sa.Engine, count: int, batch: int = 20_000) -> None:
    """``count`` events, one a second up to now, naming a VM, a host and a cluster, as a busy engine's."""
    start = datetime.now(UTC) - timedelta(seconds=count)
    for first in range(0, count, batch):
        rows = [
            {
                "time": start + timedelta(seconds=i),
                "code": 32,
                "severity": "normal" if i % 50 else "warning",
                "description": f"VM bench-vm-{i % 5000:05d} started on Host bench-host-{i % 7}",
                "user_id": "bench-user",
                "user_name": "admin@internal",
                "vm_id": str(uuid.UUID(int=i % 5000)),
                "vm_name": f"bench-vm-{i % 5000:05d}",
                "host_id": str(uuid.UUID(int=10_000 + i % 7)),
                "host_name": f"bench-host-{i % 7}",
                "cluster_id": str(uuid.UUID(int=20_000)),
                "cluster_name": "Default",
            }
            for i in range(first, min(first + batch, count))
        ]
        with db.begin() as conn:
            conn.execute(sa.insert(tables.events), rows)


class Server:
    def __init__(self, app: object, port: int, **options: str) -> None:
        """``options``: more of uvicorn's (certificates; ``lifespan="off"`` for a second server of one app)."""
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options)  # type: ignore[arg-type]
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@dataclass
class Figure:
    median_s: float
    per_second: float
    statements: int  # the most any call ran
    size: int  # body bytes


def measure(
    get: Callable[..., Any],
    counters: list[QueryCounter],
    path: str,
    params: dict[str, str],
    accept: str,
    requests: int,
) -> Figure:
    """Time ``requests`` GETs (after one warm-up) and count the SQL statements each runs.

    Before each, a cheap call refreshes the bearer token's cache (it trusts a token for 60 s): a call that
    started after that would read the session again, three statements that are not the list's.
    """
    get(path, params=params, headers={"Accept": accept}).raise_for_status()  # warm: the token check cached
    times, statements, size = [], [], 0
    for _ in range(requests):
        get("/clusters", params={"max": "1"}).raise_for_status()
        before = sum(c.count for c in counters)
        t0 = time.perf_counter()
        r = get(path, params=params, headers={"Accept": accept})
        times.append(time.perf_counter() - t0)
        r.raise_for_status()
        statements.append(sum(c.count for c in counters) - before)
        size = len(r.content)
    return Figure(statistics.median(times), requests / sum(times), max(statements), size)


def baseline(db: sa.Engine, requests: int, *statements: sa.Select[Any]) -> float:
    """Median seconds to read rows straight from the database (the data an API call shows)."""
    times = []
    for _ in range(requests):
        t0 = time.perf_counter()
        with db.connect() as conn:
            for stmt in statements:
                conn.execute(stmt).all()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


VMS_ROWS = (sa.select(tables.vms), sa.select(tables.vm_nics))
EVENT_ROWS = (sa.select(tables.events).order_by(tables.events.c.id.desc()).limit(100),)


def quiet_settings(data_dir: Path, db: str | None) -> EngineSettings:
    return EngineSettings(
        data_dir=data_dir,
        db=db,
        admin_password=PASSWORD,
        provider_sync_interval=NEVER,
        host_monitor_interval=NEVER,
        janitor_interval=NEVER,
        event_prune_interval=NEVER,
    )


def counters_of(engine: Engine) -> list[QueryCounter]:
    return [QueryCounter(engine.db)] + (
        [QueryCounter(engine.read_db)] if engine.read_db is not engine.db else []
    )


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--vms", type=int, default=5000)
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--db", default=None, help="SQLAlchemy URL (default: a fresh SQLite file)")
    p.add_argument("--requests", type=int, default=10)
    p.add_argument("--port", type=int, default=18765)
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        settings = quiet_settings(Path(tmp), args.db)
        engine = build(settings)
        counters = counters_of(engine)
        app = create_app(settings, engine)
        print(f"backend: {engine.db.dialect.name}; VMs with 1 NIC each; {args.requests} requests per figure")
        rows: dict[tuple[str, int, str], tuple[Figure, float]] = {}
        with Server(app, args.port):
            token = sso_token(f"http://127.0.0.1:{args.port}", PASSWORD)
            client = httpx.Client(
                base_url=f"http://127.0.0.1:{args.port}/ovirt-engine/api",
                headers={"Authorization": f"Bearer {token}"},
                timeout=300,
            )
            small_vms, small_events = max(1, args.vms // 10), max(1, args.events // 10)
            loaded_vms = loaded_events = 0
            for vms, events in ((small_vms, small_events), (args.vms, args.events)):
                populate(engine.db, vms - loaded_vms, start=loaded_vms)
                populate_events(engine.db, events - loaded_events)
                loaded_vms, loaded_events = vms, events
                for what, n, path, params, base_rows in (
                    ("vms", vms, "/vms", {"follow": "nics"}, VMS_ROWS),
                    ("events", events, "/events", {"max": "100"}, EVENT_ROWS),
                ):
                    base = baseline(engine.read_db, args.requests, *base_rows)
                    for fmt, accept in (("xml", "application/xml"), ("json", "application/json")):
                        figure = measure(client.get, counters, path, params, accept, args.requests)
                        rows[(what, n, fmt)] = (figure, base)
        print(
            f"{'call':>22} {'rows':>7} {'format':>6} {'req/s':>8} {'median ms':>10} {'SQL/call':>9} "
            f"{'KiB':>7} {'DB-only ms':>11} {'API/DB':>7}"
        )
        for (what, n, fmt), (f, base) in rows.items():
            call = "GET /vms?follow=nics" if what == "vms" else "GET /events?max=100"
            print(
                f"{call:>22} {n:>7} {fmt:>6} {f.per_second:>8.2f} {f.median_s * 1000:>10.1f} {f.statements:>9} "
                f"{f.size / 1024:>7.0f} {base * 1000:>11.2f} {f.median_s / base:>7.1f}"
            )
        for what in ("vms", "events"):
            counts = {f.statements for (w, _, _), (f, _) in rows.items() if w == what}
            verdict = "GROW with rows (bug)" if len(counts) > 1 else "do not grow with rows"
            print(f"SQL statements per {what} list call: {sorted(counts)}: {verdict}")
        engine.dispose()


if __name__ == "__main__":
    main()
