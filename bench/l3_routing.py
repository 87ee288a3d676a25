"""Bench (root): routing through Neutrino, on a backend (``--backend builtin``: the agents' qrouter
namespaces; ``--backend ovn``: OVN logical routers, the gateway on one chassis).

1. **Floating IP associate → reachable from outside**: a floating IP is associated with a guest's
   port (``PUT /v2.0/floatingips/{id}``) while the outside world pings it every 10 ms; the time
   from the request to the first reply. Then it is disassociated (and the outside's neighbour
   entry for it flushed, so every round starts alike). Median over ``--runs`` (target ≤ 500 ms).
2. **Routed TCP throughput**: iperf3 from guest A (net1, host h1) to guest B (net2, host h2)
   through the router, and to guest C (net1, host h2) on the same network, in turn (one test of
   each, then again: a busy moment weighs on both alike); the routed median as a ratio to the
   same-network median (target ≥ 0.8 on the builtin backend). Both cross the underlay once (VXLAN;
   Geneve on OVN); all guests are in an allow-all security group (iptables through br_netfilter on
   both paths; OVN's ACLs).

The builtin lab is ``tests/support/l3_lab.py``'s: two host namespaces with agents, the embedded
provider, an external flat network with an "outside" namespace on it. The OVN one is
``bench/ovn_routed.py``'s: an OVN lab (central, two chassis) made OVN chassis by agents, the provider
with ``--backend ovn``, the same external network (``physnet1`` on the chassis' provider bridges) and
outside. Everything under a random prefix, deleted afterwards. On OVN the userspace datapath is
CPU-bound (docs/PLATFORM: Geneve about 0.05 of a veth): the throughput is reported, not judged.

    sudo python bench/l3_routing.py [--backend builtin|ovn] [--runs 20] [--seconds 4] [--tcp-runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.l3_lab import eventually, routed_lab  # noqa: E402
from tests.support.netlab import Lab, sh  # noqa: E402
from tests.support.ovn_lab import OvnLab  # noqa: E402

from bench.ovn_routed import ovn_routed  # noqa: E402

BACKENDS = ("builtin", "ovn")
#: A site either lab gives (``l3_lab.RoutedLab`` or ``ovn_routed.OvnRouted``): the same steps by name.
Site = Any


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


def setup(r: Site) -> dict[str, Any]:
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


def associate_to_reachable(r: Site, fip: dict[str, Any], port_id: str, timeout: float = 10) -> float:
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


def disassociate(r: Site, fip: dict[str, Any]) -> None:
    address = fip["floating_ip_address"]
    r.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": None}})
    eventually("the floating IP is gone", lambda: not r.ping(r.outside, address, wait=0.2))
    sh("ip", "-n", r.outside, "neigh", "flush", "to", address, check=False)


def eager_arp(ns: str, every_ms: int, timeout: float = 10) -> None:
    """The namespace's ``eth0`` asks for an unresolved address every ``every_ms`` ms (Linux: every
    second) and keeps asking for ``timeout`` seconds, so the time to reachable is the datapath's."""
    probes = max(3, int(timeout * 1000 / every_ms))
    for key, value in (("retrans_time_ms", every_ms), ("mcast_solicit", probes)):
        sh("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv4.neigh.eth0.{key}={value}")


def measure(
    r: Site, runs: int, seconds: float, tcp_runs: int, outside_arp_ms: int | None = None
) -> dict[str, Any]:
    site = setup(r)
    if outside_arp_ms is not None:
        eager_arp(r.outside, outside_arp_ms)
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
        "outside_arp_ms": outside_arp_ms or 1000,
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


def run(
    backend: str, runs: int, seconds: float, tcp_runs: int, workdir: Path, outside_arp_ms: int | None = None
) -> dict[str, Any]:
    if backend not in BACKENDS:
        raise SystemExit(f"--backend {backend}: not measured yet (only {', '.join(BACKENDS)})")
    # apart: a lab's cleanup kills the processes left running under its directory
    for part in ("lab", "ovn", "rig"):
        (workdir / part).mkdir()
    lab = Lab(prefix=f"nb{secrets.token_hex(2)}", workdir=workdir / "lab")
    ovn: OvnLab | None = None
    try:
        if backend == "ovn":
            ovn = OvnLab(Lab(prefix=f"no{secrets.token_hex(2)}", workdir=workdir / "ovn")).build(chassis=2)
            with ovn_routed(ovn, lab, workdir / "rig") as site:
                return {"backend": backend, **measure(site, runs, seconds, tcp_runs, outside_arp_ms)}
        with routed_lab(lab, agent_down_time=30) as r:
            return {"backend": backend, **measure(r, runs, seconds, tcp_runs, outside_arp_ms)}
    finally:
        lab.cleanup()
        if ovn is not None:
            ovn.cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("builtin", "ovn"), default="builtin")
    parser.add_argument("--runs", type=int, default=20, help="floating IP associations (default 20)")
    parser.add_argument("--seconds", type=float, default=4, help="seconds per iperf3 test (default 4)")
    parser.add_argument("--tcp-runs", type=int, default=3, help="iperf3 tests per path (default 3)")
    parser.add_argument(
        "--outside-arp-ms",
        type=int,
        default=None,
        help="the outside resends ARP every N ms instead of Linux's 1 s, so the time to reachable is the "
        "datapath's alone, not how soon the floating IP is announced (on OVN the agent's gratuitous ARP; "
        "ovn-controller's own comes 1 s late)",
    )
    args = parser.parse_args()
    os.environ.setdefault("NEUTRINO_INSECURE_HTTP", "1")  # the labs' provider and agents speak plain HTTP
    with tempfile.TemporaryDirectory(prefix="neutrino-l3-bench-") as tmp:
        result = run(args.backend, args.runs, args.seconds, args.tcp_runs, Path(tmp), args.outside_arp_ms)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
