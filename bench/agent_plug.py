"""Agent plug latency: create-VM + destroy-VM through the agent API.

    python bench/agent_plug.py                 # in-memory host (the API, state file, drivers)
    python bench/agent_plug.py --kernel        # root: netns guests on linux_bridge in a namespace

Prints the median and 95th percentile per create and per destroy, for VMs with --nics vNICs.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from neutrino.agent.app import create_app
from neutrino.agent.datapath.iproute import IpRouteNet
from neutrino.agent.datapath.memory import MemoryNet
from neutrino.agent.settings import AgentSettings

TOKEN = "bench"


def nic(n: int, network_id: str) -> dict[str, Any]:
    return {
        "nic_id": str(uuid.uuid4()),
        "name": f"nic{n}",
        "mac": "56:6f:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(4)),
        "external": {
            "vnic_id": str(uuid.uuid4()),
            "plugin_type": "LINUX_BRIDGE",
            "network_id": network_id,
            "network_type": "vxlan",
            "segmentation_id": 100,
        },
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=50)
    parser.add_argument("--nics", type=int, default=2)
    parser.add_argument("--kernel", action="store_true", help="real devices in a throw-away namespace (root)")
    args = parser.parse_args()

    host_ns = f"nb{secrets.token_hex(2)}" if args.kernel else None
    with tempfile.TemporaryDirectory() as tmp:
        if host_ns:
            subprocess.run(["ip", "netns", "add", host_ns], check=True)
        try:
            settings = AgentSettings(
                data_dir=Path(tmp),
                token=TOKEN,  # type: ignore[arg-type]
                host_net="kernel" if host_ns else "memory",
                vm_backend="netns",
                vnic_drivers={"LINUX_BRIDGE": "linux_bridge"},
                tunnel_ip="10.199.0.1",
                vxlan_peers=["10.199.0.2"],
                netns_prefix=f"{host_ns or 'nb'}-",
                guest_dhcp=False,
            )
            host = IpRouteNet(host_ns) if host_ns else MemoryNet()
            network = str(uuid.uuid4())
            created, destroyed = [], []
            with TestClient(
                create_app(settings, host_net=host), headers={"Authorization": f"Bearer {TOKEN}"}
            ) as c:
                for i in range(args.vms):
                    body = {
                        "vm_id": f"vm-{i}",
                        "name": f"vm-{i}",
                        "nics": [nic(n, network) for n in range(args.nics)],
                    }
                    start = time.perf_counter()
                    assert c.post("/api/v1/vms", json=body).status_code == 201
                    created.append(time.perf_counter() - start)
                for i in range(args.vms):
                    start = time.perf_counter()
                    assert c.delete(f"/api/v1/vms/vm-{i}").status_code == 200
                    destroyed.append(time.perf_counter() - start)
        finally:
            if host_ns:
                subprocess.run(["ip", "netns", "delete", host_ns], check=False)
    where = "kernel" if host_ns else "memory"
    for label, values in (("create", created), ("destroy", destroyed)):
        print(
            f"{where} {label} VM with {args.nics} vNICs: median {statistics.median(values) * 1000:.1f} ms, "
            f"p95 {percentile(values, 0.95) * 1000:.1f} ms over {len(values)}"
        )


if __name__ == "__main__":
    main()
