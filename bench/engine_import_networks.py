"""Bench: discover and import N provider networks into one data center through the oVirt API.

Engine and embedded provider run in this process on 127.0.0.1 (each on its own uvicorn server, SQLite by
default). Reports the total time, the provider calls and SQL statements per imported network, and, as the
baseline measured in the same run, the time of the same provider calls made directly with the engine's
Neutron client — so the engine's overhead is a ratio to the provider work it cannot avoid.

    python bench/engine_import_networks.py [--networks 2000] [--db URL]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from neutrino.engine.app import create_app as create_engine_app
from neutrino.engine.bootstrap import build as build_engine
from neutrino.engine.providers.neutron import NeutronProvider
from neutrino.engine.settings import EngineSettings
from neutrino.engine.store.database import QueryCounter
from neutrino.neutron_client import Credentials, Endpoint
from neutrino.provider.app import bootstrap as bootstrap_provider
from neutrino.provider.app import create_app as create_provider_app
from neutrino.provider.settings import ProviderSettings

PASSWORD = "bench-secret"
ENGINE_PORT, PROVIDER_PORT = 18801, 18802


class Counting:
    """ASGI middleware counting the requests the provider serves (Keystone and Neutron alike)."""

    def __init__(self, app: Any) -> None:
        self.app, self.count = app, 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.count += 1
        await self.app(scope, receive, send)


class Server:
    def __init__(self, app: Any, port: int) -> None:
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--networks", type=int, default=2000)
    p.add_argument("--db", default=None, help="engine SQLAlchemy URL (default: a fresh SQLite file)")
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        psettings = ProviderSettings(
            data_dir=Path(tmp) / "provider", admin_password=PASSWORD, listen_port=PROVIDER_PORT
        )
        bootstrap_provider(psettings)
        provider_app = Counting(create_provider_app(psettings))
        esettings = EngineSettings(
            data_dir=Path(tmp) / "engine", db=args.db, admin_password=PASSWORD, provider_sync_interval=3600
        )
        engine = build_engine(esettings)
        queries = QueryCounter(engine.db)
        read_queries = QueryCounter(engine.read_db) if engine.read_db is not engine.db else None
        url = f"http://127.0.0.1:{PROVIDER_PORT}"
        endpoint = Endpoint(url=url, credentials=Credentials(f"{url}/v3", "admin", PASSWORD, "admin"))
        with Server(provider_app, PROVIDER_PORT), Server(create_engine_app(esettings, engine), ENGINE_PORT):
            client = NeutronProvider(endpoint)
            t0 = time.perf_counter()
            ids = [client.create_network(f"bench-net-{i:05d}").id for i in range(args.networks)]
            setup = time.perf_counter() - t0

            api = httpx.Client(
                base_url=f"http://127.0.0.1:{ENGINE_PORT}/ovirt-engine/api",
                timeout=120,
                auth=("admin@internal", PASSWORD),
            )
            token = httpx.post(
                f"http://127.0.0.1:{ENGINE_PORT}/ovirt-engine/sso/oauth/token",
                data={
                    "grant_type": "password",
                    "scope": "ovirt-app-api",
                    "username": "admin@internal",
                    "password": PASSWORD,
                },
            ).json()["access_token"]
            api = httpx.Client(
                base_url=f"http://127.0.0.1:{ENGINE_PORT}/ovirt-engine/api",
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

            calls0, q0 = provider_app.count, queries.count + (read_queries.count if read_queries else 0)
            t0 = time.perf_counter()
            listed = api.get(f"/openstacknetworkproviders/{pid}/networks").json()["openstack_network"]
            discover = time.perf_counter() - t0
            t1 = time.perf_counter()
            for net in listed:
                r = api.post(
                    f"/openstacknetworkproviders/{pid}/networks/{net['id']}/import",
                    json={"data_center": {"id": dc}},
                    headers={"Content-Type": "application/json"},
                )
                r.raise_for_status()
            imported = time.perf_counter() - t1
            calls = provider_app.count - calls0
            sql = queries.count + (read_queries.count if read_queries else 0) - q0
            n = len(listed)

            # baseline: the provider work alone, through the same client (list once, then one GET per network)
            t2 = time.perf_counter()
            client.list_networks()
            for net_id in ids:
                client.get_network(net_id)
            baseline = time.perf_counter() - t2

            print(
                f"backend: {engine.db.dialect.name}; {n} provider networks (created in {setup:.1f} s, setup)"
            )
            print(f"discover (list through the engine): {discover:.2f} s")
            print(
                f"import {n} networks one by one:      {imported:.2f} s  ({imported / n * 1000:.1f} ms each)"
            )
            print(f"provider calls per imported network: {calls / n:.2f}")
            print(f"SQL statements per imported network: {sql / n:.1f}")
            print(
                f"baseline, same provider calls direct: {baseline:.2f} s; engine/baseline = {(discover + imported) / baseline:.1f}"
            )
        engine.dispose()


if __name__ == "__main__":
    main()
