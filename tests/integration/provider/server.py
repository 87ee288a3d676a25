"""A real provider on 127.0.0.1 for tests: uvicorn in a thread, on a socket bound to a free port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette

from neutrino.provider.app import bootstrap, create_app
from neutrino.provider.settings import ProviderSettings
from tests.support.servers import listening_socket

ADMIN_PASSWORD = "admin-secret"


@dataclass
class RunningProvider:
    url: str
    settings: ProviderSettings
    #: the app this server runs (in this process: its services are ``app.state.provider.services``)
    app: Starlette | None = None
    _admin_token: str = ""

    def token(self, user: str = "admin", password: str = ADMIN_PASSWORD, project: str = "admin") -> str:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {"user": {"name": user, "domain": {"name": "Default"}, "password": password}},
                },
                "scope": {"project": {"name": project, "domain": {"name": "Default"}}},
            }
        }
        response = httpx.post(f"{self.url}/v3/auth/tokens", json=body)
        response.raise_for_status()
        return response.headers["X-Subject-Token"]

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"X-Auth-Token": token} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)

    def admin(self) -> httpx.Client:
        if not self._admin_token:
            self._admin_token = self.token()
        return self.client(self._admin_token)

    def add_user(self, name: str, password: str, project: str) -> None:
        """A project and a member user of it, through the Keystone API."""
        with self.admin() as c:
            project_id = c.post("/v3/projects", json={"project": {"name": project}}).json()["project"]["id"]
            r = c.post(
                "/v3/users",
                json={"user": {"name": name, "password": password, "default_project_id": project_id}},
            )
            r.raise_for_status()
            user_id = r.json()["user"]["id"]
            c.put(f"/v3/projects/{project_id}/users/{user_id}/roles/member").raise_for_status()


@contextmanager
def running_provider(database_url: str, data_dir: Path, **overrides: Any) -> Iterator[RunningProvider]:
    settings = ProviderSettings(
        db_url=database_url, data_dir=data_dir, admin_password=ADMIN_PASSWORD, db_pool_size=10, **overrides
    )
    bootstrap(settings)
    sock = listening_socket()
    port = sock.getsockname()[1]
    app = create_app(settings)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("provider did not start")
        time.sleep(0.02)
    try:
        yield RunningProvider(url=f"http://127.0.0.1:{port}", settings=settings, app=app)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
