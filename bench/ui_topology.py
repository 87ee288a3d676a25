"""Bench: the web UI's topology view of N VMs and M networks in Debian's chromium (headless, --disable-gpu).

A `neutrino up` (in-memory datapath) is seeded fast with N VMs (two vNICs each, 90 % of them up) on H hosts and M
networks with a subnet each, every vNIC's port ACTIVE on the provider (bench/topology_seed.py).

Measured in the page (the view's own marks, the browser's animation frames and resource timings):
- navigation -> layout done: from the start of a page load of #/topology to the picture's first drawn frame,
  with the /ui/topology request's share and the layout's (target < 1000 ms);
- pan and zoom: the longest frame (the gap between two animation frames) while the wheel zooms and a drag pans,
  and while the picture is drawn again sharp after each gesture (target < 100 ms);
- click -> page: from the click on a VM's node (or a network's) to its page's heading being drawn (target
  < 300 ms); and the VM's page alone, reached by changing the address, for the page's own share.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.topology_seed import PASSWORD, seeded_neutrino  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TARGETS_MS = {"navigation": 1000.0, "frame": 100.0, "click": 300.0}


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
    vm_page: list[float] = field(default_factory=list)
    #: the requests the VM page alone made before its heading was drawn: path (ids as {id}) -> (ms, kB) each
    vm_page_calls: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

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
            ("VM page alone (no click)", self.vm_page, None),
        ]
        for path, calls in sorted(self.vm_page_calls.items(), key=lambda kv: -max(ms for ms, _ in kv[1])):
            size = statistics.median(kb for _, kb in calls)
            rows.append((f"  {path[:22]} {size:5.0f}kB", [ms for ms, _ in calls], None))
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


# -- measuring ---------------------------------------------------------------------------------------------

FRAMES_START = """() => {
  window.__frames = []; window.__recording = true;
  const tick = (t) => { window.__frames.push(t); if (window.__recording) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}"""
FRAMES_STOP = """() => { window.__recording = false; const f = window.__frames, gaps = [];
  for (let i = 1; i < f.length; i++) gaps.push(f[i] - f[i - 1]); return gaps; }"""
CLICK_WATCH = """([wanted, go]) => { window.__click = new Promise((resolve) => {
  let t0 = null;
  // from the click event (the button's release: how long the press lasts is the driver's, not the page's)
  document.addEventListener('click', () => { t0 = performance.now(); }, { capture: true, once: true });
  if (go) { t0 = performance.now(); location.hash = go; }
  const seen = () => [...document.querySelectorAll('main h3')].some((h) => h.textContent === wanted);
  const obs = new MutationObserver(() => {
    if (t0 === null || !seen()) return;
    obs.disconnect();
    window.__t0 = t0;
    window.__clickMs = performance.now() - t0;
    requestAnimationFrame(() => resolve(performance.now() - t0));
  });
  obs.observe(document.querySelector('main'), { childList: true, subtree: true, characterData: true });
  setTimeout(() => { obs.disconnect(); resolve(-1); }, 10000);
}); }"""

# the API calls made from the start of the last watched navigation to its heading (path without the query)
PAGE_CALLS = """() => performance.getEntriesByType('resource')
  .filter((e) => e.startTime >= window.__t0 - 1 && e.responseEnd <= window.__t0 + window.__clickMs + 1)
  .map((e) => [new URL(e.name).pathname.replace('/ovirt-engine/api', ''), e.duration, e.decodedBodySize / 1024])"""


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
    page.evaluate(CLICK_WATCH, [heading, None])
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
            # the same page without the picture: from the topology, the address changed by script
            _navigate(page, base, 2000 + n, Figures(0, 0, 0))
            vm_id, vm_name = vms[(n * 37 + 1) % len(vms)]
            page.evaluate(CLICK_WATCH, [f"VM {vm_name}", f"#/vms/{vm_id}/nics"])
            fig.vm_page.append(float(page.evaluate("() => window.__click")))
            for path, ms, kb in page.evaluate(PAGE_CALLS):
                fig.vm_page_calls.setdefault(re.sub(r"[0-9a-f-]{36}", "{id}", path), []).append((ms, kb))
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
