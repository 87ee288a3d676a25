"""Bench (root): from the run-VM API call to the guest's first successful ping, through the whole of Neutrino.

Two host namespaces with agent processes (linux_bridge, netns guests that configure themselves by DHCP), the
embedded provider and the engine on their underlay (tests/support/engine_stack.py). A peer VM runs on host2;
each round creates a VM on host1 with one vNIC on the same network, calls `start` through ovirtsdk4 and pings
the peer from the guest until it answers. Baseline, measured in the same run the same way: the same port made
directly on the provider and the same VM created directly with the agent's create-VM verb (no engine).

    sudo python bench/engine_first_ping.py [--runs 20]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.engine_stack import (  # noqa: E402
    HOSTS,
    TOKEN,
    World,
    add_vm,
    engine_stack,
    setup_site,
    start_vm,
)
from tests.support.netlab import Lab, netns_names  # noqa: E402


def _first_ping(w: World, prefix: str, vm_id: str, peer_ip: str, t0: float, timeout: float = 60) -> float:
    guest = None
    while time.monotonic() - t0 < timeout:
        if guest is None:
            found = [ns for ns in netns_names() if ns.startswith(prefix) and ns.endswith(vm_id)]
            guest = found[0] if found else None
        if (
            guest is not None
            and subprocess.run(
                ["ip", "netns", "exec", guest, "ping", "-c1", "-W", "0.2", peer_ip],
                capture_output=True,
                check=False,
            ).returncode
            == 0
        ):
            return time.monotonic() - t0
        time.sleep(0.02)
    raise SystemExit(f"no ping from {vm_id} within {timeout} s")


def through_engine(w: World, env: dict[str, Any], peer_ip: str, i: int) -> tuple[float, float]:
    """(seconds until start returned, seconds until the first ping)"""
    service = add_vm(w, f"probe{i}", env["clusters"]["host1"], env["profiles"]["a"])
    vm_id = w.vm_ids[f"probe{i}"]
    t0 = time.monotonic()
    w.run(service.start)
    started = time.monotonic() - t0
    pinged = _first_ping(w, f"{w.lab.prefix}host1-", vm_id, peer_ip, t0)
    w.run(service.stop)
    w.run(service.remove)
    return started, pinged


def direct(w: World, env: dict[str, Any], peer_ip: str) -> tuple[float, float]:
    """The same port and VM without the engine: the provider's port API, then the agent's create-VM verb."""
    import httpx

    net = env["a"]
    nic_id, vm_id = str(uuid.uuid4()), str(uuid.uuid4())
    t0 = time.monotonic()
    port = w.provider.create(
        "ports",
        "port",
        network_id=net["id"],
        device_owner="bench",
        device_id=nic_id,
        **{"binding:host_id": "host1"},
    )
    spec = {
        "vm_id": vm_id,
        "name": "direct",
        "nics": [
            {
                "nic_id": nic_id,
                "name": "nic1",
                "mac": port["mac_address"],
                "mtu": net["mtu"],
                "external": {
                    "vnic_id": port["id"],
                    "plugin_type": "LINUX_BRIDGE",
                    "network_id": net["id"],
                    "network_type": net["provider:network_type"],
                    "segmentation_id": net["provider:segmentation_id"],
                    "security_groups": port["security_groups"],
                },
            }
        ],
    }
    agent = f"http://10.199.0.{HOSTS['host1']}:54321/api/v1"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    created = w.run(httpx.post, f"{agent}/vms", json=spec, headers=headers, timeout=60)
    assert created.status_code == 201, created.text
    started = time.monotonic() - t0
    pinged = _first_ping(w, f"{w.lab.prefix}host1-", vm_id, peer_ip, t0)
    w.run(httpx.delete, f"{agent}/vms/{vm_id}", headers=headers, timeout=60)
    w.provider.delete("ports", port["id"])
    return started, pinged


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lab = Lab(prefix=f"nb{secrets.token_hex(2)}", workdir=Path(tmp))
        try:
            with engine_stack(lab) as w:
                env = setup_site(w)
                peer = add_vm(w, "peer", env["clusters"]["host2"], env["profiles"]["a"])
                start_vm(w, "peer", peer)
                peer_ip = w.ips["peer"]
                engine, baseline = [], []
                for i in range(args.runs):  # interleaved, so both see the same machine load
                    engine.append(through_engine(w, env, peer_ip, i))
                    baseline.append(direct(w, env, peer_ip))
        finally:
            lab.cleanup()

    def med(rows: list[tuple[float, float]], k: int) -> float:
        return statistics.median(r[k] for r in rows)

    print(f"runs: {args.runs} (VM on host1, peer on host2 across VXLAN; guest DHCP by busybox udhcpc)")
    print(f"{'path':<34}{'call returned':>16}{'first ping':>14}{'p95 ping':>12}")
    for name, rows in (
        ("engine: start through ovirtsdk4", engine),
        ("baseline: provider + agent direct", baseline),
    ):
        p95 = sorted(r[1] for r in rows)[max(0, int(len(rows) * 0.95) - 1)]
        print(
            f"{name:<34}{med(rows, 0) * 1000:>13.0f} ms{med(rows, 1) * 1000:>11.0f} ms{p95 * 1000:>9.0f} ms"
        )
    print(
        f"engine/baseline, first ping: {med(engine, 1) / med(baseline, 1):.2f}; "
        f"call: {med(engine, 0) / med(baseline, 0):.2f}"
    )


if __name__ == "__main__":
    main()
