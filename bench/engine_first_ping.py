"""Bench (root): from the run-VM API call to the guest's first successful ping, through the whole of Neutrino.

Two host namespaces with agent processes (linux_bridge, netns guests that configure themselves by DHCP), the
embedded provider and the engine on their underlay (tests/support/engine_stack.py). A peer VM runs on host2;
each round creates a VM on host1 with one vNIC on the same network, calls `start` through ovirtsdk4 and pings
the peer from the guest until it answers. Baseline, measured in the same run the same way: the same port made
directly on the provider and the same VM created directly with the agent's create-VM verb (no engine).

Each round is a fresh VM whose port is made in that round, and host1 then has no other vNIC on the network: its
bridge, VXLAN device and DHCP server come with the VM (and go with it: the next round starts once they are gone). Also reported: when the guest had its
address (its DHCP lease). The peer is in the provider's default group (ingress only from the group's members), so
its host lets the new guest's packets in only once its agent learnt the new member, which an agent polling the
provider does at its next round (every 2 s); ``--peer-open`` gives the peer a group that lets ICMP in from
anywhere instead, so the figures show the run path alone.

The guest's echo requests go every 5 ms from a raw ICMP socket the bench opens in the guest's namespace, not from
a `ping` (and an `ip addr` for the lease) started per probe: those processes cost tens of ms each on a loaded
machine, lagged behind the guest and loaded it while it got its lease. "lease" is when the first request could
be sent (the guest had its address, so its route).

    sudo python bench/engine_first_ping.py [--runs 20] [--peer-open]
"""

from __future__ import annotations

import argparse
import errno
import os
import secrets
import select
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from neutrino.agent.datapath import netlink

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


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF


def _echo_request(ident: int, seq: int) -> bytes:
    header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    payload = b"neutrino-first-ping"
    return struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, seq) + payload


def _is_reply(packet: bytes, ident: int) -> bool:
    """Whether ``packet`` (an IPv4 packet from a raw ICMP socket) is an echo reply to ``ident``."""
    icmp = packet[(packet[0] & 0x0F) * 4 :]
    return len(icmp) >= 8 and icmp[0] == 0 and struct.unpack("!H", icmp[4:6])[0] == ident


def _first_ping(
    w: World, prefix: str, vm_id: str, peer_ip: str, t0: float, timeout: float = 60
) -> tuple[float, float]:
    """(seconds until the guest could send to ``peer_ip`` — it had its DHCP lease: its address and so its
    route —, until it had an echo reply from it). The echo requests go every 5 ms from a raw ICMP socket
    opened in the guest's namespace: no process per probe, so the probes neither lag behind the guest nor
    load the machine while it gets its lease (a `ping` and an `ip` per probe cost tens of ms each here)."""
    guest = None
    while guest is None:
        if time.monotonic() - t0 > timeout:
            raise SystemExit(f"no guest namespace for {vm_id} within {timeout} s")
        found = [ns for ns in os.listdir("/run/netns") if ns.startswith(prefix) and ns.endswith(vm_id)]
        guest = found[0] if found else None
        if guest is None:
            time.sleep(0.002)
    sock = netlink.in_netns(
        guest, lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    )
    ident, seq, leased = secrets.randbelow(0xFFFF) + 1, 0, None
    try:
        while time.monotonic() - t0 < timeout:
            seq = seq % 0xFFFF + 1
            try:
                sock.sendto(_echo_request(ident, seq), (peer_ip, 0))
            except OSError as exc:  # no address (so no route) yet
                if exc.errno not in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL):
                    raise
            else:
                if leased is None:
                    leased = time.monotonic() - t0
            deadline = time.monotonic() + 0.005
            while (left := deadline - time.monotonic()) > 0 and select.select([sock], [], [], left)[0]:
                if _is_reply(sock.recv(2048), ident):
                    now = time.monotonic() - t0
                    return (leased if leased is not None else now), now
    finally:
        sock.close()
    raise SystemExit(f"no ping from {vm_id} within {timeout} s")


def _wait_for_teardown(w: World, network_id: str, timeout: float = 20) -> None:
    """Until host1 has let go of the network the round's VM brought (its DHCP server, bridge and VXLAN
    device go with the last vNIC, in the agent's follower round after the destroy), so each round starts
    from a host without it, as a first run does, and not beside the last round's teardown."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dhcp = [ns for ns in netns_names() if ns.startswith(f"{w.lab.prefix}host1-dhcp-")]
        links = subprocess.run(
            ["ip", "-n", w.hosts["host1"], "-o", "link", "show"], capture_output=True, text=True, check=False
        ).stdout
        if not dhcp and f" {('brq' + network_id)[:14]}:" not in links:
            return
        time.sleep(0.05)
    raise SystemExit(f"host1 still carries the network {timeout} s after the round's VM went")


def through_engine(w: World, env: dict[str, Any], peer_ip: str, i: int) -> tuple[float, float, float]:
    """(seconds until start returned, until the guest had its lease, until the first ping)"""
    service = add_vm(w, f"probe{i}", env["clusters"]["host1"], env["profiles"]["a"])
    vm_id = w.vm_ids[f"probe{i}"]
    t0 = time.monotonic()
    w.run(service.start)
    started = time.monotonic() - t0
    leased, pinged = _first_ping(w, f"{w.lab.prefix}host1-", vm_id, peer_ip, t0)
    w.run(service.stop)
    w.run(service.remove)
    _wait_for_teardown(w, env["a"]["id"])
    return started, leased, pinged


def direct(w: World, env: dict[str, Any], peer_ip: str) -> tuple[float, float, float]:
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
                    "port": {
                        "fixed_ips": port["fixed_ips"],
                        "port_security_enabled": port.get("port_security_enabled"),
                        "allowed_address_pairs": port.get("allowed_address_pairs", []),
                    },
                },
            }
        ],
    }
    agent = f"http://10.199.0.{HOSTS['host1']}:54321/api/v1"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    created = w.run(httpx.post, f"{agent}/vms", json=spec, headers=headers, timeout=60)
    assert created.status_code == 201, created.text
    started = time.monotonic() - t0
    leased, pinged = _first_ping(w, f"{w.lab.prefix}host1-", vm_id, peer_ip, t0)
    w.run(httpx.delete, f"{agent}/vms/{vm_id}", headers=headers, timeout=60)
    w.provider.delete("ports", port["id"])
    _wait_for_teardown(w, env["a"]["id"])
    return started, leased, pinged


Row = tuple[float, float, float]


def measure(runs: int, *, peer_open: bool = False, prefix: str | None = None) -> dict[str, list[Row]]:
    """``runs`` rounds of each path, interleaved (both see the same machine load): path → rows of (seconds
    until the call returned, until the guest had its lease, until its first echo reply). The lab's
    namespaces are named from ``prefix`` (random by default)."""
    os.environ.setdefault("NEUTRINO_INSECURE_HTTP", "1")  # the lab's provider and engine speak plain HTTP
    import ovirtsdk4.types as types

    with tempfile.TemporaryDirectory() as tmp:
        lab = Lab(prefix=prefix or f"nb{secrets.token_hex(2)}", workdir=Path(tmp))
        try:
            with engine_stack(lab) as w:
                env = setup_site(w)
                profile = env["profiles"]["a"]
                if peer_open:
                    group = w.provider.create("security-groups", "security_group", name="ping")["id"]
                    w.provider.create(
                        "security-group-rules",
                        "security_group_rule",
                        security_group_id=group,
                        direction="ingress",
                        protocol="icmp",
                    )
                    profile = w.run(
                        w.system.vnic_profiles_service().add,
                        types.VnicProfile(
                            name="a-ping",
                            network=types.Network(id=profile.network.id),
                            custom_properties=[types.CustomProperty(name="SecurityGroups", value=group)],
                        ),
                    )
                peer = add_vm(w, "peer", env["clusters"]["host2"], profile)
                start_vm(w, "peer", peer)
                peer_ip = w.ips["peer"]
                engine: list[Row] = []
                baseline: list[Row] = []
                for i in range(runs):
                    engine.append(through_engine(w, env, peer_ip, i))
                    baseline.append(direct(w, env, peer_ip))
        finally:
            lab.cleanup()
    return {"engine": engine, "baseline": baseline}


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.95 + 0.5) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--peer-open", action="store_true", help="the peer lets ICMP in from anywhere")
    args = parser.parse_args()
    rows = measure(args.runs, peer_open=args.peer_open)
    engine, baseline = rows["engine"], rows["baseline"]

    def med(rows: list[Row], k: int) -> float:
        return statistics.median(r[k] for r in rows)

    peer = "lets ICMP in from anywhere" if args.peer_open else "in the default group"
    client = "ISC dhclient" if shutil.which("dhclient") else "busybox udhcpc"  # the netns guests' choice
    print(f"runs: {args.runs} (VM on host1, peer on host2 across VXLAN, {peer}; guest DHCP by {client})")
    print(f"{'path':<34}{'call returned':>15}{'lease':>10}{'first ping':>12}{'p95 ping':>10}")
    for name, rows_ in (
        ("engine: start through ovirtsdk4", engine),
        ("baseline: provider + agent direct", baseline),
    ):
        print(
            f"{name:<34}{med(rows_, 0) * 1000:>12.0f} ms{med(rows_, 1) * 1000:>7.0f} ms"
            f"{med(rows_, 2) * 1000:>9.0f} ms{p95([r[2] for r in rows_]) * 1000:>7.0f} ms"
        )
    print(
        f"engine/baseline, first ping: {med(engine, 2) / med(baseline, 2):.2f}; "
        f"call: {med(engine, 0) / med(baseline, 0):.2f}"
    )


if __name__ == "__main__":
    main()
