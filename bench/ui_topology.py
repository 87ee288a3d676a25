"""Bench: the web UI's topology view of N VMs and M networks in Debian's chromium (headless, --disable-gpu).

A `neutrino up` (in-memory datapath) is seeded fast: the provider through its Neutron API (M networks with a
subnet each, every vNIC's port in bulk, bound to its host, and one agent report per host marking its ports
ACTIVE and giving its tunnel address), the engine's store with plain SQL (H hosts, the M networks imported with
their profiles, N VMs, 90 % of them up on the hosts, each with two vNICs bound to those ports). The engine's
host monitor is off (its hosts are made up), so nothing changes under the measurements.

Measured in the page (the view's own marks, the browser's animation frames and resource timings):
- navigation -> layout done: from the start of a page load of #/topology to the picture's first drawn frame,
  with the /ui/topology request's share and the layout's (target < 1000 ms);
- pan and zoom: the longest frame (the gap between two animation frames) while the wheel zooms and a drag pans,
  and while the picture is drawn again sharp after each gesture (target < 100 ms);
- click -> page: from the pointer going down on a VM's node (or a network's) to its page's heading being drawn
  (target < 300 ms).

The layout is the view's own (views/topology-layout.js): deterministic and layered, one pass, no force simulation;
the picture is drawn on a 2D canvas (views/topology-draw.js) that d3-zoom pans and zooms.

    python bench/ui_topology.py [--vms 500] [--networks 50] [--hosts 5] [--repeat 5] [--check]

`--check` exits 1 when a median misses its target. tests/e2e/ui/test_topology_bench.py runs it small in CI.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.servers import free_port, neutrino_process  # noqa: E402

from neutrino.engine.domain.macpool import int_to_mac  # noqa: E402
from neutrino.engine.domain.provisioning import NicState, Provisioning, Step  # noqa: E402
from neutrino.engine.store import tables  # noqa: E402
from neutrino.engine.store.database import create_engine  # noqa: E402
from neutrino.neutron_client import AgentReport, PortStatus  # noqa: E402

PASSWORD = "bench"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TARGETS_MS = {"navigation": 1000.0, "frame": 100.0, "click": 300.0}
BLANK_TEMPLATE = "00000000-0000-0000-0000-000000000000"
AGENT_TYPE = "Linux bridge agent"


@dataclass
class Figures:
    """Milliseconds, one entry per repetition."""

    vms: int
    networks: int
    hosts: int
    elements: int = 0
    navigation: list[float] = field(default_factory=list)
    api: list[float] = field(default_factory=list)
    layout: list[float] = field(default_factory=list)
    draw_fit: list[float] = field(default_factory=list)
    draw_half: list[float] = field(default_factory=list)
    draw_full: list[float] = field(default_factory=list)
    idle_frame: list[float] = field(default_factory=list)
    zoom_frame: list[float] = field(default_factory=list)
    pan_frame: list[float] = field(default_factory=list)
    settle_frame: list[float] = field(default_factory=list)
    click_vm: list[float] = field(default_factory=list)
    click_network: list[float] = field(default_factory=list)

    def medians(self) -> dict[str, float]:
        return {
            "navigation": statistics.median(self.navigation),
            "frame": max(
                statistics.median(self.zoom_frame),
                statistics.median(self.pan_frame),
                statistics.median(self.settle_frame),
            ),
            "click": max(statistics.median(self.click_vm), statistics.median(self.click_network)),
        }

    def misses(self) -> list[str]:
        return [
            f"{k} {v:.0f} ms >= {TARGETS_MS[k]:.0f} ms"
            for k, v in self.medians().items()
            if v >= TARGETS_MS[k]
        ]

    def report(self) -> str:
        rows = [
            ("navigation -> layout done", self.navigation, TARGETS_MS["navigation"]),
            ("  of which /ui/topology", self.api, None),
            ("  of which layout (JS)", self.layout, None),
            ("one frame drawn: whole picture", self.draw_fit, None),
            ("  at half size", self.draw_half, None),
            ("  at full size", self.draw_full, None),
            ("idle: longest frame gap", self.idle_frame, None),
            ("zoom: longest frame", self.zoom_frame, TARGETS_MS["frame"]),
            ("pan: longest frame", self.pan_frame, TARGETS_MS["frame"]),
            ("frames just after", self.settle_frame, TARGETS_MS["frame"]),
            ("click VM node -> VM page", self.click_vm, TARGETS_MS["click"]),
            ("click network -> its page", self.click_network, TARGETS_MS["click"]),
        ]
        lines = [
            f"{self.vms} VMs ({2 * self.vms} vNICs), {self.networks} networks, {self.hosts} hosts: "
            f"{self.elements} drawn elements; layout: deterministic layered (views/topology-layout.js), "
            "drawn on a canvas, d3-zoom",
            f"{'':31} {'median':>8} {'max':>8} {'target':>8}   (ms)",
        ]
        for name, values, target in rows:
            t = f"< {target:.0f}" if target else ""
            lines.append(f"{name:31} {statistics.median(values):8.1f} {max(values):8.1f} {t:>8}")
        return "\n".join(lines)


# -- seeding ---------------------------------------------------------------------------------------------


class Provider:
    """The embedded provider's Neutron API as its admin."""

    def __init__(self, url: str) -> None:
        auth = httpx.post(
            f"{url}/v3/auth/tokens",
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
        self.http = httpx.Client(
            base_url=f"{url}/v2.0", timeout=120, headers={"X-Auth-Token": auth.headers["X-Subject-Token"]}
        )

    def bulk(self, collection: str, items: list[dict[str, Any]], chunk: int = 250) -> list[dict[str, Any]]:
        made = []
        for i in range(0, len(items), chunk):
            r = self.http.post(f"/{collection}", json={collection: items[i : i + chunk]})
            assert r.status_code == 201, r.text
            made += r.json()[collection]
        return made

    def report(self, host: str, tunnel_ip: str, statuses: list[tuple[str, str]]) -> None:
        report = AgentReport(
            host=host,
            agent_type=AGENT_TYPE,
            configurations={"tunneling_ip": tunnel_ip, "tunnel_types": ["vxlan"]},
            ports=tuple(PortStatus(p, s) for p, s in statuses),
        )
        r = self.http.post("/agent-reports", json={"agent_report": report.to_json()})
        assert r.status_code < 300, r.text


def seed(engine_db: Path, provider: Provider, vms: int, networks: int, hosts: int) -> None:
    db = create_engine(f"sqlite:///{engine_db}")
    with db.connect() as conn:
        ids = {
            "provider": conn.execute(sa.select(tables.providers.c.id)).scalar_one(),
            "cluster": conn.execute(
                sa.select(tables.clusters.c.id).where(tables.clusters.c.name == "Default")
            ).scalar_one(),
            "dc": conn.execute(
                sa.select(tables.data_centers.c.id).where(tables.data_centers.c.name == "Default")
            ).scalar_one(),
        }
    nets = provider.bulk("networks", [{"name": f"bench-net-{i:02d}"} for i in range(networks)])
    provider.bulk(
        "subnets",
        [
            {"network_id": n["id"], "cidr": f"10.{100 + i // 100}.{i % 100}.0/24", "ip_version": 4}
            for i, n in enumerate(nets)
        ],
    )
    host_names = [f"bench-host-{h}" for h in range(hosts)]
    plan = []  # (vm index, nic name, nic id, mac, provider network, host or None)
    for i in range(vms):
        host = None if i % 10 == 0 else host_names[i % hosts]
        # consecutive VMs run on different hosts and share their first network: each network spans hosts
        for k, net in ((1, (i // hosts) % networks), (2, (i * 7 + 3) % networks)):
            plan.append(
                (i, f"nic{k}", str(uuid.uuid4()), int_to_mac(0x02BB00000000 + 2 * i + k), nets[net], host)
            )
    ports = provider.bulk(
        "ports",
        [
            {
                "network_id": net["id"],
                "mac_address": mac,
                "name": name,
                "device_id": nic_id,
                "device_owner": "oVirt",
                **({"binding:host_id": host} if host else {}),
            }
            for _, name, nic_id, mac, net, host in plan
        ],
    )
    port_of = {p["device_id"]: p for p in ports}
    for h, name in enumerate(host_names):
        mine = [(port_of[nic_id]["id"], "ACTIVE") for _, _, nic_id, _, _, host in plan if host == name]
        provider.report(name, f"192.0.2.{h + 1}", mine)

    now = datetime.now(UTC)
    host_rows = [
        {
            "id": str(uuid.uuid4()),
            "name": name,
            "address": "127.0.0.1",
            "port": 9,
            "cluster_id": ids["cluster"],
            "status": "up",
            "capabilities": {
                "host_name": name,
                "tunnel_ip": f"192.0.2.{h + 1}",
                "plugin_types": {
                    "LINUX_BRIDGE": {
                        "driver": "noop",
                        "binding_host_id": name,
                        "network_types": ["*"],
                        "security_groups": True,
                    }
                },
            },
            "last_seen": now,
        }
        for h, name in enumerate(host_names)
    ]
    host_id = {r["name"]: r["id"] for r in host_rows}
    net_rows, profile_rows = [], []
    profile_of: dict[str, str] = {}
    for n in nets:
        net_id, profile_id = str(uuid.uuid4()), str(uuid.uuid4())
        net_rows.append(
            {
                "id": net_id,
                "name": n["name"],
                "data_center_id": ids["dc"],
                "mtu": 1450,
                "usages": ["vm"],
                "provider_id": ids["provider"],
                "provider_network_id": n["id"],
            }
        )
        profile_rows.append(
            {
                "id": profile_id,
                "name": n["name"],
                "network_id": net_id,
                "port_mirroring": False,
                "pass_through": False,
                "migratable": False,
                "public": True,
                "custom_properties": {},
            }
        )
        profile_of[n["id"]] = profile_id
    vm_rows = []
    vm_ids = [str(uuid.uuid4()) for _ in range(vms)]
    for i, vm_id in enumerate(vm_ids):
        host = None if i % 10 == 0 else host_names[i % hosts]
        vm_rows.append(
            {
                "id": vm_id,
                "name": f"bench-vm-{i:04d}",
                "cluster_id": ids["cluster"],
                "template_id": BLANK_TEMPLATE,
                "memory": 1 << 30,
                "status": "up" if host else "down",
                "host_id": host_id[host] if host else None,
                "creation_time": now,
                "start_time": now if host else None,
            }
        )
    stamp = now.isoformat(timespec="milliseconds")
    nic_rows = []
    for i, name, nic_id, mac, net, host in plan:
        port = port_of[nic_id]
        steps = (Step("port created", stamp), Step("bound", stamp, host or ""), Step("plugged", stamp))
        record = Provisioning(
            state=NicState.PLUGGED if host else NicState.UNPLUGGED,
            steps=steps if host else (*steps, Step("unplugged", stamp)),
            port_id=port["id"],
            provider_status="ACTIVE" if host else "DOWN",
            binding_host=host,
        )
        nic_rows.append(
            {
                "id": nic_id,
                "name": name,
                "vm_id": vm_ids[i],
                "mac": mac,
                "interface": "virtio",
                "linked": True,
                "plugged": True,
                "vnic_profile_id": profile_of[net["id"]],
                "port_provider_id": ids["provider"],
                "port_id": port["id"],
                "port_network_id": net["id"],
                "provisioning": record,
            }
        )
    with db.begin() as conn:
        conn.execute(sa.insert(tables.hosts), host_rows)
        conn.execute(sa.insert(tables.networks), net_rows)
        conn.execute(sa.insert(tables.vnic_profiles), profile_rows)
        conn.execute(
            sa.insert(tables.network_attachments),
            [
                {
                    "id": str(uuid.uuid4()),
                    "network_id": r["id"],
                    "cluster_id": ids["cluster"],
                    "required": False,
                    "display": False,
                    "migration": False,
                }
                for r in net_rows
            ],
        )
        conn.execute(sa.insert(tables.vms), vm_rows)
        conn.execute(sa.insert(tables.vm_nics), nic_rows)
    db.dispose()


@contextmanager
def seeded_neutrino(directory: Path, vms: int, networks: int, hosts: int) -> Iterator[str]:
    """A seeded `neutrino up` on 127.0.0.1; yields the engine's base URL."""
    engine_port, provider_port, agent_port = free_port(), free_port(), free_port()
    args = [
        "up",
        "--data-dir",
        str(directory / "data"),
        "--engine-listen",
        f"127.0.0.1:{engine_port}",
        "--provider-listen",
        f"127.0.0.1:{provider_port}",
        "--agent-listen",
        f"127.0.0.1:{agent_port}",
        "--datapath",
        "memory",
    ]
    base = f"http://127.0.0.1:{engine_port}"
    env = {"NEUTRINO_ADMIN_PASSWORD": PASSWORD, "NEUTRINO_HOST_MONITOR_INTERVAL": "3600"}
    with neutrino_process(args, f"{base}/ovirt-engine/api", directory / "up.log", env=env):
        seed(
            directory / "data" / "engine" / "engine.db",
            Provider(f"http://127.0.0.1:{provider_port}"),
            vms,
            networks,
            hosts,
        )
        yield base


# -- measuring ---------------------------------------------------------------------------------------------

FRAMES_START = """() => {
  window.__frames = []; window.__recording = true;
  const tick = (t) => { window.__frames.push(t); if (window.__recording) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}"""
FRAMES_STOP = """() => { window.__recording = false; const f = window.__frames, gaps = [];
  for (let i = 1; i < f.length; i++) gaps.push(f[i] - f[i - 1]); return gaps; }"""
CLICK_WATCH = """(wanted) => { window.__click = new Promise((resolve) => {
  let t0 = null;
  document.addEventListener('pointerdown', () => { t0 = performance.now(); }, { capture: true, once: true });
  const seen = () => [...document.querySelectorAll('main h3')].some((h) => h.textContent === wanted);
  const obs = new MutationObserver(() => {
    if (t0 === null || !seen()) return;
    obs.disconnect();
    requestAnimationFrame(() => resolve(performance.now() - t0));
  });
  obs.observe(document.querySelector('main'), { childList: true, subtree: true, characterData: true });
  setTimeout(() => { obs.disconnect(); resolve(-1); }, 10000);
}); }"""


def _picture(page: Any) -> Any:
    canvas = page.get_by_role("img", name=re.compile("^Topology picture"))
    page.wait_for_function(
        "el => el.topology && el.topology.drawnAt", arg=canvas.element_handle(), timeout=30000
    )
    return canvas


def _navigate(page: Any, base: str, n: int, fig: Figures) -> Any:
    page.goto(f"{base}/?load={n}#/topology")
    canvas = _picture(page)
    got = canvas.evaluate(
        """el => ({ drawn: el.topology.drawnAt, layout: el.topology.layoutMs, elements: ['boxes', 'nodes', 'edges'].reduce((a, k) => a + el.topology.picture.scene[k].length, 0),
                    api: performance.getEntriesByType('resource').filter((e) => e.name.includes('/ui/topology'))
                         .map((e) => e.duration)[0] })"""
    )
    fig.navigation.append(got["drawn"])
    fig.layout.append(got["layout"])
    fig.api.append(got["api"] or 0.0)
    fig.elements = got["elements"]
    return canvas


DRAW_COST = """el => { const p = el.topology.picture; const out = {};
  const at = (k) => { const b = p.scene.bounds; p.centre({ x: (b.x1 + b.x2) / 2, y: (b.y1 + b.y2) / 2 }, k); };
  for (const [name, set] of [['fit', () => p.fit()], ['half', () => at(0.5)], ['full', () => at(1)]]) {
    set(); const times = [];
    // getImageData makes the canvas rasterize what draw() recorded: the frame's whole cost
    for (let i = 0; i < 5; i++) { const t0 = performance.now(); p.draw(); p.context().getImageData(0, 0, 1, 1); times.push(performance.now() - t0); }
    out[name] = times.sort((a, b) => a - b)[2];
  }
  p.fit(); return out; }"""


def _gestures(page: Any, canvas: Any, fig: Figures) -> None:
    cost = canvas.evaluate(DRAW_COST)
    fig.draw_fit.append(cost["fit"])
    fig.draw_half.append(cost["half"])
    fig.draw_full.append(cost["full"])
    box = canvas.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)

    def frames(gesture: Any) -> tuple[float, float]:
        page.evaluate(FRAMES_START)
        gesture()
        during = page.evaluate(FRAMES_STOP)
        page.evaluate(FRAMES_START)
        page.wait_for_timeout(300)  # the frames just after the gesture (the last events' drawing)
        after = page.evaluate(FRAMES_STOP)
        return max(during or [0.0]), max(after or [0.0])

    def zoom() -> None:
        for _ in range(8):
            page.mouse.wheel(0, -100)
            page.wait_for_timeout(30)

    def pan() -> None:
        page.mouse.down()
        for step in range(20):
            page.mouse.move(cx - 12 * step, cy - 6 * step)
            page.wait_for_timeout(15)
        page.mouse.up()

    idle, _ = frames(lambda: page.wait_for_timeout(400))
    fig.idle_frame.append(idle)
    z, z_after = frames(zoom)
    p, p_after = frames(pan)
    fig.zoom_frame.append(z)
    fig.pan_frame.append(p)
    fig.settle_frame.append(max(z_after, p_after))


def _click(page: Any, canvas: Any, node_id: str, heading: str) -> float:
    point = canvas.evaluate("(el, id) => el.topology.pointOf(id)", node_id)
    page.wait_for_timeout(300)  # the viewport change is drawn before the click
    page.evaluate(CLICK_WATCH, heading)
    page.mouse.click(point["x"], point["y"])
    took = float(page.evaluate("() => window.__click"))
    if took < 0:
        raise RuntimeError(f"clicking {node_id} did not open the page headed '{heading}'")
    return took


def measure(base: str, repeat: int, fig: Figures, browser: Any = None) -> Figures:
    """The figures, in ``browser`` (a Playwright chromium) or in a Debian chromium launched for them."""
    if browser is not None:
        return _measure_in(browser, base, repeat, fig)
    from playwright.sync_api import sync_playwright

    chromium = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else shutil.which("chromium")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            return _measure_in(launched, base, repeat, fig)
        finally:
            launched.close()


def _measure_in(browser: Any, base: str, repeat: int, fig: Figures) -> Figures:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.on("pageerror", lambda e: print(f"page error: {e}", flush=True))
        page.goto(f"{base}/")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("link", name="Topology").wait_for()
        _navigate(page, base, 0, Figures(0, 0, 0))  # warm: the server's first read, the browser's cache
        vms = _names(base, page, "/vms", "vm")
        nets = [n for n in _names(base, page, "/networks", "network") if n[1].startswith("bench-net-")]
        for n in range(repeat):
            canvas = _navigate(page, base, n + 1, fig)
            _gestures(page, canvas, fig)
            vm_id, vm_name = vms[(n * 37) % len(vms)]
            fig.click_vm.append(_click(page, canvas, f"v:{vm_id}", f"VM {vm_name}"))
            canvas = _navigate(page, base, 1000 + n, Figures(0, 0, 0))
            net_id, net_name = nets[(n * 7) % len(nets)]
            fig.click_network.append(_click(page, canvas, f"w:{net_id}", f"Network {net_name}"))
    finally:
        context.close()
    return fig


def _names(base: str, page: Any, path: str, element: str) -> list[tuple[str, str]]:
    token = page.evaluate("() => JSON.parse(sessionStorage.getItem('neutrino.session')).token")
    r = httpx.get(
        f"{base}/ovirt-engine/api{path}",
        headers={"Accept": "application/json", "Authorization": f"Bearer {token}"},
        timeout=60,
    )
    r.raise_for_status()
    return sorted((i["id"], i["name"]) for i in r.json().get(element, []))


def run(
    vms: int, networks: int, hosts: int, repeat: int, directory: Path | None = None, browser: Any = None
) -> Figures:
    with tempfile.TemporaryDirectory() as tmp:
        where = directory or Path(tmp)
        t0 = time.monotonic()
        with seeded_neutrino(where, vms, networks, hosts) as base:
            seeded = time.monotonic() - t0
            fig = measure(base, repeat, Figures(vms, networks, hosts), browser)
        print(f"(seeded in {seeded:.1f} s)", flush=True)
        return fig


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--vms", type=int, default=500)
    p.add_argument("--networks", type=int, default=50)
    p.add_argument("--hosts", type=int, default=5)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--check", action="store_true", help="exit 1 when a median misses its target")
    args = p.parse_args()
    fig = run(args.vms, args.networks, args.hosts, args.repeat)
    print(fig.report())
    misses = fig.misses()
    if misses:
        print("MISSED: " + "; ".join(misses))
        if args.check:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
