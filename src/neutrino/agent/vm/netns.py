"""The ``netns`` VM backend: each guest is a network namespace ``<prefix><vm id>``.

Each vNIC is a veth pair: the host end ``tap<port[:11]>`` stays in the agent's namespace for a
vNIC driver to connect, the guest end ``eth<slot>`` carries the vNIC's MAC and MTU inside the
guest. With ``guest_dhcp`` the guest configures each NIC by DHCP like a real guest would
(``busybox udhcpc -O mtu``, running in the background and retrying until a server answers), and,
when the host has ISC ``dhclient``, by DHCPv6 too (``dhclient -6``: addresses on
``dhcpv6-stateful`` subnets; busybox has no DHCPv6 client). IPv6 addresses on ``slaac`` and
``dhcpv6-stateless`` subnets need no client: the guest's kernel configures them from router
advertisements (SLAAC, EUI-64 of the vNIC's MAC, the address the provider allocated).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

from neutrino.agent.datapath import linux_net
from neutrino.agent.datapath.hostnet import HostNetError, LinkChange
from neutrino.agent.vm.base import AttachedNic, VmBackend, VmBackendError
from neutrino.agent_api.schema import VmSpec

UDHCPC_SCRIPT = """#!/bin/sh
# busybox udhcpc event script for neutrino's netns guests
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set dev "$interface" up
    ;;
  bound|renew)
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    if [ -n "$router" ]; then
      ip route replace default via "${router%% *}" dev "$interface"
    fi
    ;;
esac
exit 0
"""


# dhclient -6 event script: addresses only (never the host's /etc/resolv.conf, which a guest
# namespace shares); /128 as ISC's own script does, the prefix route comes from advertisements
DHCLIENT6_SCRIPT = """#!/bin/sh
case "$reason" in
  BOUND6|RENEW6|REBIND6|REBOOT6)
    if [ -n "$old_ip6_address" ] && [ "$old_ip6_address" != "$new_ip6_address" ]; then
      ip -6 addr del "$old_ip6_address/128" dev "$interface"
    fi
    [ -n "$new_ip6_address" ] && ip -6 addr replace "$new_ip6_address/128" dev "$interface" \\
      valid_lft "${new_max_life:-forever}" preferred_lft "${new_preferred_life:-forever}"
    ;;
  EXPIRE6|RELEASE6|STOP6)
    [ -n "$old_ip6_address" ] && ip -6 addr del "$old_ip6_address/128" dev "$interface"
    ;;
esac
exit 0
"""

# dhclient -6 binds the link-local address, and exits when it is still tentative (duplicate
# address detection: a second or so after the link came up). The wrapper (args: PIDFILE DEV COMMAND...)
# writes its pid first: exec keeps it, so a second start while it waits sees a live client, and a stop
# finds the process whether it is still waiting or already dhclient.
WAIT_FOR_LINK_LOCAL = (
    'echo $$ > "$1"; shift; '
    'for _ in $(seq 100); do ip -6 addr show dev "$1" scope link | grep -q inet6 && '
    '! ip -6 addr show dev "$1" scope link tentative | grep -q inet6 && break; sleep 0.1; done; '
    'shift; exec "$@"'
)


class NetnsBackend(VmBackend):
    """Guests as network namespaces."""

    name = "netns"

    def namespace(self, vm: VmSpec) -> str:
        return f"{self.context.netns_prefix}{vm.vm_id}"

    @staticmethod
    def guest_device(nic: AttachedNic) -> str:
        return f"eth{nic.slot}"

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "netns_prefix": self.context.netns_prefix,
            "guest_dhcp": self.context.guest_dhcp,
        }

    def create(self, vm: VmSpec) -> None:
        try:
            linux_net.ensure_netns(self.context.host_net, self.namespace(vm))
        except HostNetError as exc:
            raise VmBackendError(f"cannot create guest namespace for VM {vm.vm_id}: {exc}") from exc

    def attach(self, vm: VmSpec, nic: AttachedNic) -> None:
        host = self.context.host_net
        ns = self.namespace(vm)
        guest = host.in_netns(ns)
        dev = self.guest_device(nic)
        try:
            linux_net.ensure_veth(host, nic.device, dev, ns)
            link = guest.link(dev)
            if link is not None and link.address != nic.spec.mac:
                guest.set_link(dev, LinkChange(address=nic.spec.mac))
            linux_net.ensure_link_state(guest, dev, mtu=nic.spec.mtu)
            linux_net.ensure_link_state(host, nic.device, mtu=nic.spec.mtu)
        except HostNetError as exc:
            raise VmBackendError(f"cannot attach nic {nic.spec.name} of VM {vm.vm_id}: {exc}") from exc

    def detach(self, vm: VmSpec, nic: AttachedNic) -> None:
        self._stop_dhcp(vm, nic)
        try:
            linux_net.delete_link(self.context.host_net, nic.device)
        except HostNetError as exc:
            raise VmBackendError(f"cannot detach nic {nic.spec.name} of VM {vm.vm_id}: {exc}") from exc

    def start(self, vm: VmSpec, nics: list[AttachedNic]) -> None:
        if not self.context.guest_dhcp:
            return
        for nic in nics:
            self._start_dhcp(vm, nic)

    def destroy(self, vm: VmSpec) -> None:
        for pattern in ("udhcpc-*.pid", "dhclient6-*.pid"):
            for pidfile in self._run_dir(vm).glob(pattern):
                _kill(pidfile)
        try:
            linux_net.delete_netns(self.context.host_net, self.namespace(vm))
        except HostNetError as exc:
            raise VmBackendError(f"cannot delete guest namespace of VM {vm.vm_id}: {exc}") from exc

    # -- guest DHCP client ----------------------------------------------------------------
    def _run_dir(self, vm: VmSpec) -> Path:
        return self.context.data_dir / "run" / vm.vm_id

    def _script(self, name: str, text: str) -> Path:
        script = self.context.data_dir / name
        if not script.exists() or script.read_text() != text:
            script.write_text(text)
            script.chmod(0o755)
        return script

    def _start_dhcp(self, vm: VmSpec, nic: AttachedNic) -> None:
        run_dir = self._run_dir(vm)
        run_dir.mkdir(parents=True, exist_ok=True)
        dev = self.guest_device(nic)
        if shutil.which("dhclient") is not None:
            self._start_dhcp6(vm, dev, run_dir)
        pidfile = run_dir / f"udhcpc-{dev}.pid"
        if _alive(pidfile):
            return
        script = self._script("udhcpc.script", UDHCPC_SCRIPT)
        argv = [
            "ip",
            "netns",
            "exec",
            self.namespace(vm),
            "busybox",
            "udhcpc",
            "-f",
            "-i",
            dev,
            "-O",
            "mtu",
            "-s",
            str(script),
            "-p",
            str(pidfile),
            "-t",
            "3",
            "-T",
            "1",
            "-A",
            "2",
        ]
        try:
            subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            raise VmBackendError(f"cannot start the DHCP client of VM {vm.vm_id}: {exc}") from exc

    def _start_dhcp6(self, vm: VmSpec, dev: str, run_dir: Path) -> None:
        pidfile = run_dir / f"dhclient6-{dev}.pid"
        if _alive(pidfile):
            return
        script = self._script("dhclient6.script", DHCLIENT6_SCRIPT)
        argv = [
            "ip", "netns", "exec", self.namespace(vm), "sh", "-c", WAIT_FOR_LINK_LOCAL, "sh", str(pidfile), dev,
            "dhclient", "-6", "-d", "-pf", str(pidfile), "-lf", str(run_dir / f"dhclient6-{dev}.leases"),
            "-sf", str(script), dev,
        ]  # fmt: skip
        try:
            subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            raise VmBackendError(f"cannot start the DHCPv6 client of VM {vm.vm_id}: {exc}") from exc

    def _stop_dhcp(self, vm: VmSpec, nic: AttachedNic) -> None:
        _kill(self._run_dir(vm) / f"udhcpc-{self.guest_device(nic)}.pid")
        _kill(self._run_dir(vm) / f"dhclient6-{self.guest_device(nic)}.pid")


def _alive(pidfile: Path) -> bool:
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


def _kill(pidfile: Path) -> None:
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
    pidfile.unlink(missing_ok=True)
