"""Browser tests of the web UI: headless Debian chromium driven by Playwright, against a running `neutrino up`.

One `neutrino up` (engine + embedded provider, registered with auto-sync) serves the whole session; each
test names what it creates uniquely. Screenshots of the main views go to test-artifacts/ui/.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import _require
from tests.support.servers import free_port, neutrino_process

PASSWORD = "secret"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "ui"
JSON = {"Accept": "application/json"}


@dataclass
class Neutrino:
    """The running `neutrino up`: the engine's API (as admin) and the provider's Neutron API (as its admin)."""

    base: str  # http://127.0.0.1:PORT
    provider_url: str
    api: httpx.Client = field(init=False)
    neutron: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        token = httpx.post(f"{self.base}/ovirt-engine/sso/oauth/token", data={
            "grant_type": "password", "scope": "ovirt-app-api", "username": "admin@internal", "password": PASSWORD,
        }).json()["access_token"]
        self.api = httpx.Client(base_url=f"{self.base}/ovirt-engine/api", timeout=30,
                                headers={**JSON, "Authorization": f"Bearer {token}"})
        auth = httpx.post(f"{self.provider_url}/v3/auth/tokens", json={"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"id": "default"}, "password": PASSWORD}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }})
        auth.raise_for_status()
        self.neutron = httpx.Client(base_url=f"{self.provider_url}/v2.0", timeout=30,
                                    headers={"X-Auth-Token": auth.headers["X-Subject-Token"]})

    def get(self, path: str, element: str) -> list[dict[str, Any]]:
        r = self.api.get(path)
        r.raise_for_status()
        return list(r.json().get(element, []))

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.api.post(path, json=body)
        assert r.status_code < 300, r.text
        return dict(r.json())

    @property
    def provider(self) -> dict[str, Any]:
        return self.get("/openstacknetworkproviders", "openstack_network_provider")[0]

    def provider_network(self, name: str) -> dict[str, Any]:
        r = self.neutron.post("/networks", json={"network": {"name": name}})
        assert r.status_code == 201, r.text
        return dict(r.json()["network"])

    def data_center(self, name: str, clusters: int = 1) -> dict[str, Any]:
        dc = self.post("/datacenters", {"name": name})
        for i in range(clusters):
            self.post("/clusters", {"name": f"{name}-c{i}", "data_center": {"id": dc["id"]}})
        return dc


def expect(target: Any, *args: Any, **kwargs: Any) -> Any:
    """Playwright's ``expect``, imported when used: without playwright, the fixtures skip (or fail under CI)
    instead of the modules failing to import."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target, *args, **kwargs)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def neutrino(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Neutrino]:
    _browser_available()
    tmp = tmp_path_factory.mktemp("ui")
    engine_port, provider_port, agent_port = free_port(), free_port(), free_port()
    args = ["up", "--data-dir", str(tmp / "data"), "--engine-listen", f"127.0.0.1:{engine_port}",
            "--provider-listen", f"127.0.0.1:{provider_port}", "--agent-listen", f"127.0.0.1:{agent_port}",
            "--provider-sync-interval", "5"]
    base = f"http://127.0.0.1:{engine_port}"
    with neutrino_process(args, f"{base}/ovirt-engine/api", tmp / "up.log", env={"NEUTRINO_ADMIN_PASSWORD": PASSWORD}):
        yield Neutrino(base, f"http://127.0.0.1:{provider_port}")


def _browser_available() -> None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _require("the PyPI package 'playwright' is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        _require(f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture(scope="package")
def browser(neutrino: Neutrino) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
                              args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, neutrino: Neutrino) -> Iterator[Any]:
    """A logged-in page at 1280x800; an uncaught script error in it fails the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(f"{neutrino.base}/")
    login(pg)
    yield pg
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def login(pg: Any, password: str = PASSWORD) -> None:
    pg.fill("#login-form input[name=password]", password)
    pg.click("#login-form button[type=submit]")
    pg.wait_for_selector("#shell:not([hidden])")


def shot(pg: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    pg.screenshot(path=str(path))
    return path
