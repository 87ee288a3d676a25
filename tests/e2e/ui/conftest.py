"""Browser tests of the web UI: headless Debian chromium driven by Playwright, against a running `neutrino up`.

One `neutrino up` (engine + embedded provider registered with auto-sync + a local host agent enrolled as host
`local` of the Default cluster) serves the whole session; each test names what it creates uniquely. Screenshots
of the main views go to test-artifacts/ui/.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import _require
from tests.support.proxy import proxy_to
from tests.support.servers import RunningAgent, agent_process, free_port, neutrino_process
from tests.support.sso import sso_token

PASSWORD = "secret"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "ui"
JSON = {"Accept": "application/json"}
# idle connections are dropped before the servers' own keep-alive (uvicorn: 5 s) closes them: a request sent on a
# connection the server is closing fails with "Server disconnected without sending a response"
KEEPALIVE = httpx.Limits(keepalive_expiry=2.0)


@dataclass
class Neutrino:
    """The running `neutrino up`: the engine's API (as admin) and the provider's Neutron API (as its admin)."""

    base: str  # http://127.0.0.1:PORT
    provider_url: str
    api: httpx.Client = field(init=False)
    neutron: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        token = sso_token(self.base, PASSWORD)
        self.api = httpx.Client(
            base_url=f"{self.base}/ovirt-engine/api",
            timeout=30,
            limits=KEEPALIVE,
            headers={**JSON, "Authorization": f"Bearer {token}"},
        )
        auth = httpx.post(
            f"{self.provider_url}/v3/auth/tokens",
            json={
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {
                            "user": {"name": "admin", "domain": {"id": "default"}, "password": PASSWORD}
                        },
                    },
                    "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
                }
            },
        )
        auth.raise_for_status()
        self.neutron = httpx.Client(
            base_url=f"{self.provider_url}/v2.0",
            timeout=30,
            limits=KEEPALIVE,
            headers={"X-Auth-Token": auth.headers["X-Subject-Token"]},
        )

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

    def named(self, path: str, element: str, name: str) -> dict[str, Any]:
        return next(e for e in self.get(path, element) if e["name"] == name)

    @property
    def default_cluster(self) -> dict[str, Any]:
        """The Default cluster, where `neutrino up` enrolled its local agent as host `local`."""
        return self.named("/clusters", "cluster", "Default")

    def vm_with_external_nic(self, cluster: dict[str, Any] | None = None) -> dict[str, Any]:
        """A VM (down) in ``cluster`` (default: Default) with vNIC `nic1` on a new network of the provider, created
        through the engine in the cluster's data center and attached (not required) to the cluster."""
        cluster = cluster or self.default_cluster
        net = self.post(
            "/networks",
            {
                "name": unique("vmnet"),
                "data_center": {"id": cluster["data_center"]["id"]},
                "external_provider": {"id": self.provider["id"]},
            },
        )
        self.post(f"/clusters/{cluster['id']}/networks", {"id": net["id"], "required": "false"})
        profile = self.get(f"/networks/{net['id']}/vnicprofiles", "vnic_profile")[0]
        vm = self.post(
            "/vms", {"name": unique("vm"), "cluster": {"id": cluster["id"]}, "template": {"name": "Blank"}}
        )
        nic = self.post(f"/vms/{vm['id']}/nics", {"name": "nic1", "vnic_profile": {"id": profile["id"]}})
        return {"vm": vm, "nic": nic, "network": net, "profile": profile, "cluster": cluster}

    def add_host(self, name: str, port: int, token: str, cluster: dict[str, Any]) -> dict[str, Any]:
        return self.post(
            "/hosts",
            {
                "name": name,
                "address": "127.0.0.1",
                "port": str(port),
                "root_password": token,
                "cluster": {"id": cluster["id"]},
            },
        )


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
    args = [
        "up",
        "--data-dir",
        str(tmp / "data"),
        "--engine-listen",
        f"127.0.0.1:{engine_port}",
        "--provider-listen",
        f"127.0.0.1:{provider_port}",
        "--agent-listen",
        f"127.0.0.1:{agent_port}",
        "--datapath",
        "memory",
        "--provider-sync-interval",
        "5",
    ]
    base = f"http://127.0.0.1:{engine_port}"
    with neutrino_process(
        args,
        f"{base}/ovirt-engine/api",
        tmp / "up.log",
        # the local agent reports its ports' status every 2 s (not 30): a running VM's port turns ACTIVE promptly
        env={"NEUTRINO_ADMIN_PASSWORD": PASSWORD, "NEUTRINO_AGENT_REPORT_INTERVAL": "2"},
    ):
        yield Neutrino(base, f"http://127.0.0.1:{provider_port}")


@pytest.fixture(scope="session")
def second_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAgent]:
    """The second host's own agent. Not the e2e tier's shared one: an agent carries exactly the networks of the
    engine that synced it last, and the UI's engine lives as long as the session, so on the shared agent it
    would take away the networks other tests' engines set up there while they run (on the same worker)."""
    with agent_process(tmp_path_factory.mktemp("ui-agent"), "ui-second") as agent:
        yield agent


@pytest.fixture(scope="session")
def second_host(neutrino: Neutrino, second_agent: RunningAgent) -> dict[str, Any]:
    """A second Up host in the Default cluster, so VMs there can migrate."""
    return neutrino.add_host("second", second_agent.port, second_agent.token, neutrino.default_cluster)


@contextmanager
def delaying_proxy(
    target_port: int, delay: float, method: str = "POST", path: str = "/api/v1/vms"
) -> Iterator[int]:
    """An HTTP proxy on 127.0.0.1 in front of a host agent that holds ``method path`` for ``delay`` seconds before
    passing it on: a host that is slow to start VMs, so the engine's steps can be watched as they come."""

    def hold(seen_method: str, seen_path: str) -> None:
        if seen_method == method and seen_path.split("?")[0] == path:
            time.sleep(delay)

    with proxy_to(f"http://127.0.0.1:{target_port}", before=hold) as proxy:
        yield proxy.port


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
        b = p.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=CHROMIUM_ARGS,
        )
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
    pg.get_by_label("Password").fill(password)
    pg.get_by_role("button", name="Log in").click()
    expect(pg.get_by_role("tree", name="System tree")).to_be_visible()


def description_of(control: Any) -> str:
    """The text a control's aria-describedby points to (what is read with it)."""
    return str(
        control.evaluate(
            "(el) => (el.getAttribute('aria-describedby') || '').split(' ').filter(Boolean)"
            ".map((id) => document.getElementById(id)?.textContent || '').join(' ')"
        )
    )


AXE = Path(__file__).resolve().parents[3] / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(pg: Any, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """What axe-core (pinned in package.json, installed by `npm ci`, injected from node_modules: no CDN) finds on
    the page as it is now, keeping the violations of the given impacts, each with a few of its nodes."""
    if not AXE.exists():
        _require(f"axe-core is not installed at {AXE} (run `npm ci` at the repository root)")
    if not pg.evaluate("typeof window.axe !== 'undefined'"):
        pg.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = pg.evaluate(
        """async () => (await axe.run(document, { resultTypes: ['violations'] })).violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 4).map((n) => `${n.target.join(' ')}: ${n.failureSummary}`),
        }))"""
    )
    return [v for v in found if v["impact"] in impacts]


def shot(pg: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    pg.screenshot(path=str(path))
    return path
