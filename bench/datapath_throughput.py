"""Datapath throughput: iperf3 TCP between two netns guests through the agent's linux_bridge
datapath, on one host and across two hosts (VXLAN), as a ratio to a plain veth pair between two
namespaces measured in the same run. Root, ``iperf3`` (Debian iperf3).

    python bench/datapath_throughput.py                 # 4 s per test, 3 tests per path (median)
    python bench/datapath_throughput.py --seconds 10 --runs 5

The paths are measured in turn (one test of each, then again), so a busy moment of the machine
weighs on all of them alike; the spread of each path's tests is printed too.

Every path is built by the agent itself (``build_agent`` on ``IpRouteNet`` aimed at a "host"
namespace; the hosts are joined by an underlay bridge in another namespace, like the system
tests): guest ``eth0`` ─ veth ─ ``tap`` ─ ``brq`` bridge (─ ``vxlan-<vni>`` ─ underlay ─ ...).
Each path is measured without security groups and with one (iptables through br_netfilter,
stateful: every packet meets conntrack and the port's chains). Guests on a VXLAN network run
with the network's MTU (1450); the plain veth pair keeps the default 1500, as PLATFORM.md's
reference figures do. Everything is created under a random prefix and deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from neutrino.agent.app import build_agent
from neutrino.agent.datapath.iproute import IpRouteNet
from neutrino.agent.host_agent import HostAgent
from neutrino.agent.settings import AgentSettings
from neutrino.agent_api.schema import SecurityGroupSpec, VmSpec

VNI = 4242
ALLOW_ALL = {"rules": [{"direction": "ingress"}, {"direction": "egress"}]}


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {proc.stderr.strip()}")
    return proc


def netns(name: str) -> str:
    sh("ip", "netns", "add", name)
    sh("ip", "-n", name, "link", "set", "lo", "up")
    return name


def iperf(client_ns: str, server_ns: str, address: str, seconds: int) -> float:
    """Gbit/s received by the server in one TCP test."""
    server = subprocess.Popen(
        ["ip", "netns", "exec", server_ns, "iperf3", "-s", "-1", "-B", address],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(50):  # until it listens
            probe = sh("ip", "netns", "exec", server_ns, "ss", "-ltnH", "sport", "= :5201", check=False)
            if probe.stdout.strip():
                break
            time.sleep(0.05)
        out = sh("ip", "netns", "exec", client_ns, "iperf3", "-c", address, "-t", str(seconds), "-J").stdout
        return float(json.loads(out)["end"]["sum_received"]["bits_per_second"]) / 1e9
    finally:
        server.wait(10)


class Lab:
    """Namespaces and agents under one prefix."""

    def __init__(self, workdir: Path) -> None:
        self.prefix = f"nt{secrets.token_hex(2)}"
        self.workdir = workdir
        self.agents: list[HostAgent] = []

    def agent(self, host: str, tunnel_ip: str, peer: str) -> HostAgent:
        settings = AgentSettings(
            data_dir=self.workdir / host,
            token="bench",  # type: ignore[arg-type]
            host_name=host,
            host_net="kernel",
            vm_backend="netns",
            vnic_drivers={"LINUX_BRIDGE": "linux_bridge"},
            tunnel_ip=tunnel_ip,
            vxlan_peers=[peer],
            netns_prefix=f"{self.prefix}{host}-",
            guest_dhcp=False,
        )
        agent = build_agent(settings, host_net=IpRouteNet(f"{self.prefix}{host}"))
        agent.security.set_security_group("all", SecurityGroupSpec.model_validate(ALLOW_ALL))
        self.agents.append(agent)
        return agent

    def cleanup(self) -> None:
        for line in sh("ip", "netns", "list", check=False).stdout.splitlines():
            name = line.split()[0] if line.strip() else ""
            if name.startswith(self.prefix):
                for pid in sh("ip", "netns", "pids", name, check=False).stdout.split():
                    sh("kill", "-9", pid, check=False)
                sh("ip", "netns", "delete", name, check=False)


@contextmanager
def lab() -> Iterator[Lab]:
    with tempfile.TemporaryDirectory() as tmp:
        made = Lab(Path(tmp))
        try:
            yield made
        finally:
            made.cleanup()


def plain_veth(lab: Lab) -> tuple[str, str, str]:
    a, b = netns(f"{lab.prefix}va"), netns(f"{lab.prefix}vb")
    sh("ip", "-n", a, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", b)
    for ns, ip in ((a, "10.201.0.1"), (b, "10.201.0.2")):
        sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
    return a, b, "10.201.0.2"


def underlay(lab: Lab) -> None:
    ul = netns(f"{lab.prefix}ul")
    sh("ip", "-n", ul, "link", "add", "br0", "type", "bridge")
    sh("ip", "-n", ul, "link", "set", "br0", "up")
    for host, octet in (("h1", 1), ("h2", 2)):
        ns = netns(f"{lab.prefix}{host}")
        sh("ip", "-n", ns, "link", "add", "ul0", "type", "veth", "peer", "name", f"p-{host}", "netns", ul)
        sh("ip", "-n", ul, "link", "set", f"p-{host}", "master", "br0", "up")
        sh("ip", "-n", ns, "addr", "add", f"10.199.0.{octet}/24", "dev", "ul0")
        sh("ip", "-n", ns, "link", "set", "ul0", "up")


def guest(
    agent: HostAgent, lab: Lab, network: str, vni: int, n: int, groups: list[str] | None
) -> tuple[str, str]:
    """A guest on the network; returns its namespace and address."""
    name = f"vm{n}"
    nic: dict[str, Any] = {
        "nic_id": f"nic-{name}", "name": "nic1", "mac": f"56:6f:1a:00:07:{n:02x}", "mtu": 1450,
        "external": {"vnic_id": str(uuid.uuid4()), "plugin_type": "LINUX_BRIDGE", "network_id": network,
                     "network_type": "vxlan", "segmentation_id": vni, "security_groups": groups},
    }  # fmt: skip
    agent.vms.create_vm(VmSpec.model_validate({"vm_id": name, "name": name, "nics": [nic]}))
    ns = f"{lab.prefix}{agent.identity.host_name}-{name}"
    sh("ip", "-n", ns, "addr", "add", f"10.202.{vni % 256}.{n}/24", "dev", "eth0")
    return ns, f"10.202.{vni % 256}.{n}"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--seconds", type=int, default=4, help="length of one iperf3 test, whole seconds (default 4)"
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="tests per path; the median is reported (default 3)"
    )
    args = parser.parse_args()
    if args.seconds < 1:  # iperf3 reads whole seconds: a 0 (what it made of 0.5) is a test without end
        parser.error("--seconds: at least 1")
    if shutil.which("iperf3") is None:
        print("datapath_throughput: iperf3 is missing (Debian iperf3)", file=sys.stderr)
        return 2

    paths: dict[str, tuple[str, str, str]] = {}  # label -> (client netns, server netns, server address)
    samples: dict[str, list[float]] = {}
    with lab() as made:
        paths["plain veth pair"] = plain_veth(made)
        underlay(made)
        h1 = made.agent("h1", "10.199.0.1", "10.199.0.2")
        h2 = made.agent("h2", "10.199.0.2", "10.199.0.1")
        for i, (groups, label) in enumerate(((None, ""), (["all"], ", security group"))):
            network, vni = str(uuid.uuid4()), VNI + i
            a, _ = guest(h1, made, network, vni, 10 * i + 1, groups)
            b, b_ip = guest(h1, made, network, vni, 10 * i + 2, groups)
            c, c_ip = guest(h2, made, network, vni, 10 * i + 3, groups)
            paths[f"same host (bridge{label})"] = (a, b, b_ip)
            paths[f"two hosts (VXLAN{label})"] = (a, c, c_ip)
        # round robin, so that a busy moment of the machine weighs on every path alike
        for _ in range(args.runs):
            for label, (client, server, address) in paths.items():
                samples.setdefault(label, []).append(iperf(client, server, address, args.seconds))
    results = {label: statistics.median(values) for label, values in samples.items()}

    base = results["plain veth pair"]
    print(f"iperf3 TCP, {args.seconds:g} s per test, median of {args.runs} (paths measured in turn):")
    for label, gbits in results.items():
        spread = f"{min(samples[label]):.1f}-{max(samples[label]):.1f}"
        print(f"  {label:<36} {gbits:6.2f} Gbit/s ({spread})   {gbits / base:5.2f} x plain veth")
    return 0


if __name__ == "__main__":
    sys.exit(main())
