"""Bench (root): routing through Neutrino, on a backend (``--backend builtin``: the agents' qrouter
namespaces; the OVN backend's logical routers are to join under ``--backend ovn``).

1. **Floating IP associate → reachable from outside**: a floating IP is associated with a guest's
   port (``PUT /v2.0/floatingips/{id}``) while the outside world pings it every 10 ms; the time
   from the request to the first reply. Then it is disassociated (and the outside's neighbour
   entry for it flushed, so every round starts alike). Median over ``--runs`` (target ≤ 500 ms).
2. **Routed TCP throughput**: iperf3 from guest A (net1, host h1) to guest B (net2, host h2)
   through the router, and to guest C (net1, host h2) on the same network, in turn (one test of
   each, then again: a busy moment weighs on both alike); the routed median as a ratio to the
   same-network median (target ≥ 0.8). Both cross the VXLAN underlay once; all guests are in an
   allow-all security group (iptables through br_netfilter on both paths).

The lab is ``tests/support/l3_lab.py``'s: two host namespaces with agents, the embedded provider,
an external flat network with an "outside" namespace on it; everything under a random prefix,
deleted afterwards.

    sudo python bench/l3_routing.py [--backend builtin] [--runs 20] [--seconds 4] [--tcp-runs 3]
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.l3_lab import RoutedLab, eventually, routed_lab  # noqa: E402
from tests.support.netlab import Lab, sh  # noqa: E402

BACKENDS = ("builtin",)  # "ovn": its lab (tests/support/ovn_lab.py) with logical routers, to come


def iperf(client_ns: str, server_ns: str, address: str, seconds: float) -> float:
    """Gbit/s received by the server in one TCP test."""
    server = subprocess.Popen(
        ["ip", "netns", "exec", server_ns, "iperf3", "-s", "-1", "-B", address],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):  # until it listens
            if sh(
                "ip", "netns", "exec", server_ns, "ss", "-ltnH", "sport", "= :5201", check=False
            ).stdout.strip():
                break
            time.sleep(0.05)
        out = sh(
            "ip",
            "netns",
            "exec",
            client_ns,
            "iperf3",
            "-c",
            address,
            "-t",
            str(seconds),
            "-J",
            timeout=seconds + 60,
        )
        return float(json.loads(out.stdout)["end"]["sum_received"]["bits_per_second"]) / 1e9
    finally:
        server.wait(10)


def setup(r: RoutedLab) -> dict[str, Any]:
    """Networks, a router joining them with a gateway, guests A, B, C; returns the router and the
    floating IP to associate."""
    p = r.provider
    ext, net1, net2 = r.external_network(), r.network("net1", "10.0.1.0/24"), r.network("net2", "10.0.2.0/24")
    router = p.create("routers", "router", name="bench", external_gateway_info={"network_id": ext["id"]})
    for net in (net1, net2):
        r.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": net["subnet"]["id"]})
    eventually("the router is scheduled and ACTIVE", lambda: r.router_ports_active(router["id"]), within=30)
    group = r.group("all", {"protocol": None})
    r.vm("a", "h1", net1, [group])
    r.vm("b", "h2", net2, [group])
    r.vm("c", "h2", net1, [group])
    eventually("a reaches b through the router", lambda: r.ping(r.guests["a"], r.ips["b"]), within=30)
    eventually("a reaches c", lambda: r.ping(r.guests["a"], r.ips["c"]), within=30)
    fip = p.create("floatingips", "floatingip", floating_network_id=ext["id"])
    return {"router": router, "fip": fip, "host": r.l3_hosts(router["id"])}


def associate_to_reachable(r: RoutedLab, fip: dict[str, Any], port_id: str, timeout: float = 10) -> float:
    """Seconds from the association request to the outside's first reply from the floating IP."""
    address = fip["floating_ip_address"]
    ping = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            r.outside,
            "ping",
            "-n",
            "-q",
            "-c",
            "1",
            "-i",
            "0.01",
            "-w",
            str(timeout),
            address,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.05)  # the prober runs (and the outside is asking who has the address) before the request
    t0 = time.monotonic()
    r.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": port_id}})
    code = ping.wait(timeout + 5)
    took = time.monotonic() - t0
    if code != 0:
        raise AssertionError(f"floating IP {address} not reachable from outside within {timeout} s")
    return took


def disassociate(r: RoutedLab, fip: dict[str, Any]) -> None:
    address = fip["floating_ip_address"]
    r.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": None}})
    eventually("the floating IP is gone", lambda: not r.ping(r.outside, address, wait=0.2))
    sh("ip", "-n", r.outside, "neigh", "flush", "to", address, check=False)


def measure(r: RoutedLab, runs: int, seconds: float, tcp_runs: int) -> dict[str, Any]:
    site = setup(r)
    fip = site["fip"]
    latencies = []
    for _ in range(runs):
        latencies.append(associate_to_reachable(r, fip, r.ports["a"]["id"]))
        disassociate(r, fip)
    same: list[float] = []
    routed: list[float] = []
    for _ in range(tcp_runs):
        same.append(iperf(r.guests["a"], r.guests["c"], r.ips["c"], seconds))
        routed.append(iperf(r.guests["a"], r.guests["b"], r.ips["b"], seconds))
    ms = sorted(x * 1000 for x in latencies)
    return {
        "router_host": site["host"],
        "fip_associate_to_reachable_ms": {
            "median": round(statistics.median(ms), 1),
            "min": round(ms[0], 1),
            "max": round(ms[-1], 1),
            "runs": [round(x, 1) for x in ms],
        },
        "tcp_gbps": {
            "same_network": [round(x, 2) for x in same],
            "routed": [round(x, 2) for x in routed],
            "same_network_median": round(statistics.median(same), 2),
            "routed_median": round(statistics.median(routed), 2),
        },
        "routed_to_same_network": round(statistics.median(routed) / statistics.median(same), 3),
    }


def run(backend: str, runs: int, seconds: float, tcp_runs: int, workdir: Path) -> dict[str, Any]:
    if backend not in BACKENDS:
        raise SystemExit(f"--backend {backend}: not measured yet (only {', '.join(BACKENDS)})")
    lab = Lab(prefix=f"nb{secrets.token_hex(2)}", workdir=workdir)
    try:
        with routed_lab(lab, agent_down_time=30) as r:
            return {"backend": backend, **measure(r, runs, seconds, tcp_runs)}
    finally:
        lab.cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("builtin", "ovn"), default="builtin")
    parser.add_argument("--runs", type=int, default=20, help="floating IP associations (default 20)")
    parser.add_argument("--seconds", type=float, default=4, help="seconds per iperf3 test (default 4)")
    parser.add_argument("--tcp-runs", type=int, default=3, help="iperf3 tests per path (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="neutrino-l3-bench-") as tmp:
        result = run(args.backend, args.runs, args.seconds, args.tcp_runs, Path(tmp))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
