"""Namespaces made and processes started in them without `ip netns exec` (datapath/netlink.py), and the netns
guests' DHCP client scripts (dhclient's and udhcpc's), on a real kernel."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from neutrino.agent.datapath import netlink
from neutrino.agent.datapath.hostnet import HostNetError, LinkChange
from neutrino.agent.datapath.iproute import IpRouteNet
from neutrino.agent.vm.base import AttachedNic, BackendContext
from neutrino.agent.vm.netns import DHCLIENT4_SCRIPT, UDHCPC_SCRIPT, NetnsBackend
from neutrino.agent_api.schema import NicSpec, VmSpec
from tests.support.netlab import Lab, netns_names, sh

pytestmark = pytest.mark.root


def test_a_namespace_made_in_process_is_one_ip_netns_knows_and_deletes(lab: Lab) -> None:
    name = f"{lab.prefix}made"
    netlink.add_netns(name)
    try:
        assert name in sh("ip", "netns", "list").stdout.split()
        assert "state UNKNOWN" in sh("ip", "-n", name, "link", "show", "lo").stdout  # up (loopback)
        assert "LOWER_UP" in sh("ip", "-n", name, "link", "show", "lo").stdout
        with pytest.raises(HostNetError, match=f"/run/netns/{name}"):
            netlink.add_netns(name)
        # started in it: sees its devices, not ours
        found = netlink.run_in(name, ["ip", "-o", "link", "show"])
        assert found.returncode == 0 and [
            line.split(":")[1].strip() for line in found.stdout.splitlines()
        ] == ["lo"]
        proc = netlink.popen_in(name, ["sleep", "30"], stdout=subprocess.DEVNULL)
        try:
            assert str(proc.pid) in sh("ip", "netns", "pids", name).stdout.split()
        finally:
            proc.kill()
            proc.wait()
    finally:
        IpRouteNet().delete_netns(name)
    assert name not in netns_names() and not Path(f"/run/netns/{name}").exists()
    with pytest.raises(HostNetError, match="Cannot open network namespace"):
        netlink.run_in(name, ["true"])


def _guest(lab: Lab, name: str, script: Path, text: str) -> tuple[str, Path]:
    """A guest namespace with an ``eth0`` up (a veth whose peer is up too), and a DHCP client's event
    script written to ``script``."""
    ns = lab.netns(name)
    sh("ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "peer0")
    sh("ip", "-n", ns, "link", "set", "peer0", "up")
    sh("ip", "-n", ns, "link", "set", "eth0", "up")
    script.write_text(text)
    os.chmod(script, 0o755)
    return ns, script


def _addresses(ns: str) -> str:
    return sh("ip", "-n", ns, "-4", "-o", "addr", "show", "dev", "eth0").stdout


def _event(ns: str, script: Path, event: str, **env: str) -> None:
    sh("ip", "netns", "exec", ns, "env", *[f"{k}={v}" for k, v in env.items()], str(script), event)


def test_the_udhcpc_script_skips_the_first_deconfig_and_applies_a_lease_in_one_batch(
    lab: Lab, tmp_path: Path
) -> None:
    ns, script = _guest(lab, "guest", tmp_path / "udhcpc.script", UDHCPC_SCRIPT)
    bound = tmp_path / "udhcpc-eth0.bound"
    common = {"interface": "eth0", "NEUTRINO_BOUND": str(bound)}

    def addresses() -> str:
        return _addresses(ns)

    sh("ip", "-n", ns, "addr", "add", "192.0.2.99/24", "dev", "eth0")
    _event(ns, script, "deconfig", **common)  # before any lease: nothing to undo, nothing done
    assert "192.0.2.99/24" in addresses() and not bound.exists()
    _event(
        ns, script, "bound", **common, ip="192.0.2.10", mask="24", router="192.0.2.1 192.0.2.2", mtu="1400"
    )
    assert "192.0.2.10/24" in addresses() and "192.0.2.99" not in addresses()
    assert "mtu 1400" in sh("ip", "-n", ns, "link", "show", "eth0").stdout
    assert "default via 192.0.2.1 dev eth0" in sh("ip", "-n", ns, "route").stdout
    assert bound.exists()
    _event(ns, script, "renew", **common, ip="192.0.2.11", mask="24")  # no router, no MTU: left as they were
    assert "192.0.2.11/24" in addresses() and "192.0.2.10" not in addresses()
    assert "mtu 1400" in sh("ip", "-n", ns, "link", "show", "eth0").stdout
    _event(ns, script, "deconfig", **common)  # the lease lost: the address goes
    assert addresses() == ""


def test_the_dhclient_script_applies_a_lease_in_one_batch_and_refuses_an_unconfirmed_one(
    lab: Lab, tmp_path: Path
) -> None:
    ns, script = _guest(lab, "guest4", tmp_path / "dhclient4.script", DHCLIENT4_SCRIPT)

    def addresses() -> str:
        return _addresses(ns)

    def event(reason: str, **env: str) -> int:
        argv = ["ip", "netns", "exec", ns, "env", f"reason={reason}", "interface=eth0"]
        argv += [f"{k}={v}" for k, v in env.items()]
        return subprocess.run([*argv, str(script)], check=False).returncode

    assert event("PREINIT") == 0 and addresses() == ""  # the agent brought the link up: nothing to do
    lease = {"new_ip_address": "192.0.2.10", "new_subnet_mask": "255.255.255.0"}
    assert event("BOUND", **lease, new_routers="192.0.2.1 192.0.2.2", new_interface_mtu="1400") == 0
    assert "192.0.2.10/24" in addresses()
    assert "mtu 1400" in sh("ip", "-n", ns, "link", "show", "eth0").stdout
    assert "default via 192.0.2.1 dev eth0" in sh("ip", "-n", ns, "route").stdout
    # renewed with the same address: it stays (no flush in between); a new one replaces the old
    assert event("RENEW", **lease, old_ip_address="192.0.2.10", old_subnet_mask="255.255.255.0") == 0
    assert "192.0.2.10/24" in addresses()
    moved = {"new_ip_address": "192.0.2.11", "new_subnet_mask": "255.255.255.0"}
    assert event("REBIND", **moved, old_ip_address="192.0.2.10", old_subnet_mask="255.255.255.0") == 0
    assert "192.0.2.11/24" in addresses() and "192.0.2.10" not in addresses()
    assert "mtu 1400" in sh("ip", "-n", ns, "link", "show", "eth0").stdout  # no MTU given: left as it was
    # a lease from the lease file no server confirmed: refused, nothing configured
    assert event("TIMEOUT", new_ip_address="198.51.100.7", new_subnet_mask="255.255.255.0") == 1
    assert "198.51.100.7" not in addresses()
    assert event("EXPIRE", old_ip_address="192.0.2.11") == 0  # the lease lost: the address goes
    assert addresses() == ""


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2 :][:1] in ("Z", "X")  # exited, not reaped yet


def test_a_guest_destroyed_as_its_dhcp_client_starts_leaves_no_client_behind(
    lab: Lab, tmp_path: Path
) -> None:
    """The client's pid file is written as it is spawned, before the client itself writes it: a destroy
    right after the start finds and stops it (a client left behind resends in a loop once its device
    went with the guest)."""
    backend = NetnsBackend(
        BackendContext(
            host_net=IpRouteNet(lab.netns("host")), data_dir=tmp_path, netns_prefix=f"{lab.prefix}g-"
        )
    )
    vm = VmSpec.model_validate({"vm_id": "vm-1", "name": "vm-1", "nics": []})
    nic = AttachedNic(
        NicSpec.model_validate(
            {
                "nic_id": "nic-1",
                "name": "nic1",
                "mac": "56:6f:1a:2b:3c:01",
                "internal": {"network": "ovirtmgmt"},
            }
        ),
        0,
    )
    backend.create(vm)
    backend.attach(vm, nic)
    backend.start(vm, [nic])
    client = "dhclient4" if shutil.which("dhclient") else "udhcpc"
    pid = int((tmp_path / "run" / "vm-1" / f"{client}-eth0.pid").read_text())
    backend.destroy(vm)
    deadline = time.monotonic() + 5
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _gone(pid)
    assert f"{lab.prefix}g-vm-1" not in netns_names()


def test_calls_made_together_in_a_namespace_share_one_thread_joined_to_it(lab: Lab) -> None:
    ns = lab.netns("together")
    sh("ip", "-n", ns, "link", "add", "d0", "type", "veth", "peer", "name", "d1")
    sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.d0.accept_ra=0")
    threads: list[int] = []

    def inside(net: object) -> tuple[str | None, str]:
        assert isinstance(net, IpRouteNet)
        threads.append(threading.get_ident())
        link = net.link("d0")  # the namespace's device, seen through netlink...
        threads.append(threading.get_ident())
        net.set_link("d0", LinkChange(mtu=1400, up=True))
        return (link.kind if link else None), net.sysctl("net/ipv6/conf/d0/accept_ra")  # ...and its /proc/sys

    assert IpRouteNet(ns).together(inside) == ("veth", "0")
    assert len(set(threads)) == 1 and threads[0] != threading.get_ident()
    assert "mtu 1400" in sh("ip", "-n", ns, "link", "show", "d0").stdout
    # a namespace that is not there: the same error as a call of its own
    with pytest.raises(HostNetError, match="Cannot open network namespace"):
        IpRouteNet(f"{lab.prefix}absent").together(inside)
    # the agent's own namespace: the calls are made right here
    assert IpRouteNet().together(lambda net: threading.get_ident()) == threading.get_ident()
