"""The ``netns`` VM backend: each guest is a network namespace ``<prefix><vm id>``.

Each vNIC is a veth pair: the host end ``tap<port[:11]>`` stays in the agent's namespace for a
vNIC driver to connect, the guest end ``eth<slot>`` carries the vNIC's MAC and MTU inside the
guest. With ``guest_dhcp`` the guest configures each NIC by DHCP like a real guest would, with a
client running in the background and retrying until a server answers: ISC ``dhclient -4`` when the
host has it, else ``busybox udhcpc -O mtu``, and with ``dhclient`` by DHCPv6 too (``dhclient -6``:
addresses on ``dhcpv6-stateful`` subnets; busybox has no DHCPv6 client). IPv6 addresses on
``slaac`` and ``dhcpv6-stateless`` subnets need no client: the guest's kernel configures them from
router advertisements (SLAAC, EUI-64 of the vNIC's MAC, the address the provider allocated).

``dhclient`` comes first because of the time to a lease: busybox's ``udhcpc`` opens, binds and
closes a packet socket around each message it sends or waits for, and the kernel makes each such
bind and close wait for an RCU grace period (``synchronize_net``, 10-25 ms here): about 60 ms of
its ~90 ms exchange on an idle machine. ``dhclient`` binds one socket once (spawn to address:
~25 ms).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

from neutrino.agent.datapath import linux_net, netlink
from neutrino.agent.datapath.hostnet import HostNet, HostNetError, LinkChange
from neutrino.agent.vm.base import AttachedNic, VmBackend, VmBackendError
from neutrino.agent_api.schema import VmSpec

UDHCPC_SCRIPT = """#!/bin/sh
# busybox udhcpc event script for neutrino's netns guests; $NEUTRINO_BOUND: a file that exists once
# this client bound a lease (set by the agent). One `ip -batch` per event: each process counts.
case "$1" in
  deconfig)
    # the first one comes before any lease, on a device the agent made up and without address:
    # nothing to undo, and the DHCPDISCOVER goes out at once
    [ -e "$NEUTRINO_BOUND" ] || exit 0
    ip -4 -force -batch - <<EOF
addr flush dev $interface
link set dev $interface up
EOF
    ;;
  bound|renew)
    mtu_cmd= route_cmd=
    [ -n "$mtu" ] && mtu_cmd="link set dev $interface mtu $mtu"
    [ -n "$router" ] && route_cmd="route replace default via ${router%% *} dev $interface"
    ip -4 -force -batch - <<EOF
$mtu_cmd
addr flush dev $interface
addr add $ip/${mask:-24} dev $interface
$route_cmd
EOF
    : > "$NEUTRINO_BOUND"
    ;;
esac
exit 0
"""


# ISC dhclient -4 event script for neutrino's netns guests (what UDHCPC_SCRIPT does, with dhclient's
# variables). TIMEOUT offers a lease from the lease file that no server confirmed: refused (exit 1),
# so the client asks again rather than use an address the server may not give it.
DHCLIENT4_SCRIPT = """#!/bin/sh
case "$reason" in
  BOUND|RENEW|REBIND|REBOOT)
    mtu_cmd= route_cmd= old_cmd=
    [ -n "$new_interface_mtu" ] && mtu_cmd="link set dev $interface mtu $new_interface_mtu"
    [ -n "$new_routers" ] && route_cmd="route replace default via ${new_routers%% *} dev $interface"
    [ -n "$old_ip_address" ] && [ "$old_ip_address" != "$new_ip_address" ] && \\
      old_cmd="addr del $old_ip_address/${old_subnet_mask:-32} dev $interface"
    ip -4 -force -batch - <<EOF
$mtu_cmd
$old_cmd
addr replace $new_ip_address/${new_subnet_mask:-255.255.255.0} dev $interface
$route_cmd
EOF
    ;;
  EXPIRE|FAIL|RELEASE|STOP)
    ip -4 addr flush dev "$interface"
    ;;
  TIMEOUT)
    exit 1
    ;;
esac
exit 0
"""

# dhclient -4's configuration: retries as udhcpc's -T 1 -A 2 (a second apart, two at most), and
# after 5 minutes without a lease it starts over a second later instead of resting 5 minutes
DHCLIENT4_CONF = """timeout 300;
retry 1;
initial-interval 1;
backoff-cutoff 2;
request subnet-mask, broadcast-address, routers, interface-mtu, domain-name, host-name;
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
# finds the process whether it is still waiting or already dhclient. It sleeps the first second (DAD
# cannot end sooner) rather than poll through the guest's first DHCPv4 exchange.
WAIT_FOR_LINK_LOCAL = (
    'echo $$ > "$1"; shift; sleep 1; '
    'for _ in $(seq 100); do ip -6 addr show dev "$1" scope link | grep -q inet6 && '
    '! ip -6 addr show dev "$1" scope link tentative | grep -q inet6 && break; sleep 0.1; done; '
    'shift; exec "$@"'
)


#: the guests' DHCP clients, each a ``<client>-<device>.pid`` in the guest's run directory
_CLIENTS = ("udhcpc", "dhclient4", "dhclient6")


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

        def inside(guest: HostNet) -> None:
            link = guest.link(dev)
            if link is not None and link.address != nic.spec.mac:
                guest.set_link(dev, LinkChange(address=nic.spec.mac))
            linux_net.ensure_link_state(guest, dev, mtu=nic.spec.mtu)

        try:
            linux_net.ensure_veth(host, nic.device, dev, ns)
            guest.together(inside)
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
        for client in _CLIENTS:
            for pidfile in self._run_dir(vm).glob(f"{client}-*.pid"):
                _kill(pidfile)
        for marker in self._run_dir(vm).glob("udhcpc-*.bound"):
            marker.unlink(missing_ok=True)
        try:
            linux_net.delete_netns(self.context.host_net, self.namespace(vm))
        except HostNetError as exc:
            raise VmBackendError(f"cannot delete guest namespace of VM {vm.vm_id}: {exc}") from exc

    # -- guest DHCP client ----------------------------------------------------------------
    def _run_dir(self, vm: VmSpec) -> Path:
        return self.context.data_dir / "run" / vm.vm_id

    def _script(self, name: str, text: str, mode: int = 0o755) -> Path:
        script = self.context.data_dir / name
        if not script.exists() or script.read_text() != text:
            script.write_text(text)
            script.chmod(mode)
        return script

    def _start_dhcp(self, vm: VmSpec, nic: AttachedNic) -> None:
        run_dir = self._run_dir(vm)
        run_dir.mkdir(parents=True, exist_ok=True)
        dev = self.guest_device(nic)
        if shutil.which("dhclient") is not None:
            self._start_dhclient4(vm, dev, run_dir)
            self._start_dhcp6(vm, dev, run_dir)
            return
        pidfile = run_dir / f"udhcpc-{dev}.pid"
        if not _alive(pidfile):
            script = self._script("udhcpc.script", UDHCPC_SCRIPT)
            # udhcpc sends its first DISCOVER as it starts; -t 3 -T 1 -A 2: three a second apart, then
            # two seconds' rest (the server may come later, e.g. when the provider did not answer at plug time)
            argv = ["busybox", "udhcpc", "-f", "-i", dev, "-O", "mtu", "-s", str(script), "-p", str(pidfile),
                    "-t", "3", "-T", "1", "-A", "2"]  # fmt: skip
            env = {**os.environ, "NEUTRINO_BOUND": str(run_dir / f"udhcpc-{dev}.bound")}
            self._spawn(vm, argv, "DHCP client", env, pidfile)

    def _start_dhclient4(self, vm: VmSpec, dev: str, run_dir: Path) -> None:
        pidfile = run_dir / f"dhclient4-{dev}.pid"
        if _alive(pidfile):
            return
        script = self._script("dhclient4.script", DHCLIENT4_SCRIPT)
        conf = self._script("dhclient4.conf", DHCLIENT4_CONF, mode=0o644)
        argv = [
            "dhclient", "-4", "-d", "-cf", str(conf), "-sf", str(script), "-pf", str(pidfile),
            "-lf", str(run_dir / f"dhclient4-{dev}.leases"), dev,
        ]  # fmt: skip
        self._spawn(vm, argv, "DHCP client", pidfile=pidfile)

    def _spawn(
        self,
        vm: VmSpec,
        argv: list[str],
        what: str,
        env: dict[str, str] | None = None,
        pidfile: Path | None = None,
    ) -> None:
        """``argv`` started in the guest (forked in its namespace, no ``ip netns exec`` in between);
        ``pidfile`` gets its pid at once (the client writes it too, but only once it runs: a stop in
        between would not find it, and a client whose device is gone with its guest resends in a loop)."""
        try:
            proc = netlink.popen_in(
                self.namespace(vm),
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except (OSError, HostNetError) as exc:
            raise VmBackendError(f"cannot start the {what} of VM {vm.vm_id}: {exc}") from exc
        if pidfile is not None:
            pidfile.write_text(f"{proc.pid}\n")

    def _start_dhcp6(self, vm: VmSpec, dev: str, run_dir: Path) -> None:
        pidfile = run_dir / f"dhclient6-{dev}.pid"
        if _alive(pidfile):
            return
        script = self._script("dhclient6.script", DHCLIENT6_SCRIPT)
        argv = [
            "sh", "-c", WAIT_FOR_LINK_LOCAL, "sh", str(pidfile), dev,
            "dhclient", "-6", "-d", "-pf", str(pidfile), "-lf", str(run_dir / f"dhclient6-{dev}.leases"),
            "-sf", str(script), dev,
        ]  # fmt: skip
        self._spawn(vm, argv, "DHCPv6 client")

    def _stop_dhcp(self, vm: VmSpec, nic: AttachedNic) -> None:
        dev = self.guest_device(nic)
        for client in _CLIENTS:
            _kill(self._run_dir(vm) / f"{client}-{dev}.pid")
        (self._run_dir(vm) / f"udhcpc-{dev}.bound").unlink(missing_ok=True)


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
