"""Bench: discover and import N provider networks into one data center through the oVirt API.

Engine and embedded provider run in this process on 127.0.0.1 (each on its own uvicorn server, SQLite by
default). Reports the total time, the provider calls and SQL statements per imported network, and, as the
baseline measured in the same run, the time of the provider calls the engine made when this bench was written
(the list once, then one GET per network; frozen, so it does not shrink as the engine asks less) made directly
with the engine's Neutron client — so the engine's cost is a ratio to that provider work. Imports and the
baseline's GETs alternate, 100 networks at a time, so both see the same load on a shared machine.

    python bench/engine_import_networks.py [--networks 2000] [--db URL]
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.sso import sso_token  # noqa: E402

from neutrino.engine.app import create_app as create_engine_app  # noqa: E402
from neutrino.engine.bootstrap import build as build_engine  # noqa: E402
from neutrino.engine.provider_clients.neutron import NeutronProvider  # noqa: E402
from neutrino.engine.settings import EngineSettings  # noqa: E402
from neutrino.engine.store.database import QueryCounter  # noqa: E402
from neutrino.neutron_client import Credentials, Endpoint  # noqa: E402
from neutrino.provider.app import bootstrap as bootstrap_provider  # noqa: E402
from neutrino.provider.app import create_app as create_provider_app  # noqa: E402
from neutrino.provider.settings import ProviderSettings  # noqa: E402

PASSWORD = "bench-secret"
CHUNK = 100  # networks imported, then read directly, in turn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Counting:
    """ASGI middleware counting the requests the provider serves (Keystone and Neutron alike)."""

    def __init__(self, app: Any) -> None:
        self.app, self.count = app, 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.count += 1
        await self.app(scope, receive, send)


class Server:
    """An ASGI app served by uvicorn on a thread of this process until the block ends."""

    def __init__(self, app: Any, port: int, host: str = "127.0.0.1") -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
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
class Result:
    backend: str
    networks: int
    setup: float  # creating the provider's networks (not measured)
    discover: float  # the engine's list of the provider's networks
    imported: float  # importing them one call each
    provider_calls: int  # what the provider served during discover + imports
    statements: int  # SQL statements the engine ran during discover + imports
    baseline: float  # the same provider calls direct: the list, then one GET per network

    @property
    def ratio(self) -> float:
        return (self.discover + self.imported) / self.baseline

    def report(self) -> str:
        n = self.networks
        return "\n".join(
            [
                f"backend: {self.backend}; {n} provider networks (created in {self.setup:.1f} s, setup)",
                f"discover (list through the engine): {self.discover:.2f} s",
                f"import {n} networks one by one:      {self.imported:.2f} s  ({self.imported / n * 1000:.1f} ms each)",
                f"provider calls per imported network: {self.provider_calls / n:.2f}",
                f"SQL statements per imported network: {self.statements / n:.1f}",
                f"baseline, same provider calls direct: {self.baseline:.2f} s; engine/baseline = {self.ratio:.2f}",
            ]
        )


def measure(networks: int = 2000, db: str | None = None) -> Result:  # noqa: PLR0915 (one scenario, in order)
    engine_port, provider_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        psettings = ProviderSettings(
            data_dir=Path(tmp) / "provider", admin_password=PASSWORD, listen_port=provider_port
        )
        bootstrap_provider(psettings)
        provider_app = Counting(create_provider_app(psettings))
        esettings = EngineSettings(
            data_dir=Path(tmp) / "engine", db=db, admin_password=PASSWORD, provider_sync_interval=3600
        )
        engine = build_engine(esettings)
        queries = QueryCounter(engine.db)
        read_queries = QueryCounter(engine.read_db) if engine.read_db is not engine.db else None
        url = f"http://127.0.0.1:{provider_port}"
        endpoint = Endpoint(url=url, credentials=Credentials(f"{url}/v3", "admin", PASSWORD, "admin"))
        with Server(provider_app, provider_port), Server(create_engine_app(esettings, engine), engine_port):
            client = NeutronProvider(endpoint)
            t0 = time.perf_counter()
            for i in range(networks):
                client.create_network(f"bench-net-{i:05d}")
            setup = time.perf_counter() - t0

            token = sso_token(f"http://127.0.0.1:{engine_port}", PASSWORD)
            api = httpx.Client(
                base_url=f"http://127.0.0.1:{engine_port}/ovirt-engine/api",
                timeout=120,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            )
            body = {
                "name": "bench",
                "url": url,
                "requires_authentication": "true",
                "username": "admin",
                "password": PASSWORD,
                "authentication_url": f"{url}/v3",
                "tenant_name": "admin",
                "user_domain_name": "Default",
                "project_domain_name": "Default",
                "external_plugin_type": "LINUX_BRIDGE",
                "type": "neutron",
            }
            prov = api.post(
                "/openstacknetworkproviders", json=body, headers={"Content-Type": "application/json"}
            )
            prov.raise_for_status()
            pid = prov.json()["id"]
            dc = api.get("/datacenters", params={"search": "name=Default"}).json()["data_center"][0]["id"]

            # the engine's work and the baseline alternate, CHUNK networks at a time, so that both see the same
            # load on a shared machine. Baseline, frozen: the provider calls the engine made when the bench was
            # written (the list once, then one GET per network), straight to the provider with the same client.
            t0 = time.perf_counter()
            client.list_networks()
            baseline = time.perf_counter() - t0
            calls0, q0 = provider_app.count, queries.count + (read_queries.count if read_queries else 0)
            t0 = time.perf_counter()
            listed = api.get(f"/openstacknetworkproviders/{pid}/networks").json()["openstack_network"]
            discover = time.perf_counter() - t0
            imported = 0.0
            for first in range(0, len(listed), CHUNK):
                chunk = listed[first : first + CHUNK]
                t1 = time.perf_counter()
                for net in chunk:
                    r = api.post(
                        f"/openstacknetworkproviders/{pid}/networks/{net['id']}/import",
                        json={"data_center": {"id": dc}},
                        headers={"Content-Type": "application/json"},
                    )
                    r.raise_for_status()
                imported += time.perf_counter() - t1
                calls, sql = provider_app.count, queries.count + (read_queries.count if read_queries else 0)
                t2 = time.perf_counter()
                for net in chunk:
                    client.get_network(net["id"])
                baseline += time.perf_counter() - t2
                # the baseline's own calls are not the engine's
                calls0 += provider_app.count - calls
                q0 += queries.count + (read_queries.count if read_queries else 0) - sql
            calls = provider_app.count - calls0
            sql = queries.count + (read_queries.count if read_queries else 0) - q0
            if len(listed) != networks:
                raise SystemExit(f"the engine listed {len(listed)} of the provider's {networks} networks")
            imported_now = (
                api.get("/networks", params={"search": "name=bench-net-*"}).json().get("network", [])
            )
            if len(imported_now) != networks:
                raise SystemExit(f"{len(imported_now)} of {networks} networks were imported")
            api.close()
        result = Result(engine.db.dialect.name, networks, setup, discover, imported, calls, sql, baseline)
        engine.dispose()
        return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--networks", type=int, default=2000)
    p.add_argument("--db", default=None, help="engine SQLAlchemy URL (default: a fresh SQLite file)")
    args = p.parse_args()
    print(measure(args.networks, args.db).report())


if __name__ == "__main__":
    main()
