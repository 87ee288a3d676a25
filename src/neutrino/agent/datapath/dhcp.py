"""DHCP for provider networks: ``dnsmasq`` in a namespace on the network's bridge.

Like Neutron's DHCP agent: per network a namespace ``<prefix>dhcp-<net[:11]>`` whose ``eth0``
holds the server addresses; the host end of that veth, ``dh<net[:11]>``, is plugged into the
network by the network's vNIC driver, like a vNIC. ``dnsmasq`` serves static leases only (MAC →
address from the request) with the MTU option, so guests running ``udhcpc -O mtu`` get both, each
guest its host name and domain (a port's ``dns_assignment``, ``dns_domain``) and the port's
``extra_dhcp_opts`` (:func:`_host_args`).

On IPv6 subnets (:class:`~neutrino.agent_api.schema.DhcpSubnet6`) the same ``dnsmasq`` plays the
part Neutron gives the router's ``radvd`` where ``ipv6_ra_mode`` is set — there is no L3 agent
here — sending router advertisements with the prefix and the MTU (``ra-only`` for ``slaac``,
``ra-stateless`` for ``dhcpv6-stateless``, the M flag for ``dhcpv6-stateful``) but a router
lifetime of 0: it routes nothing, so guests get an on-link prefix and no default route. DHCPv6
serves the options (stateless) or the static leases by MAC (stateful), like Neutron's dnsmasq.

Processes are started through a :class:`Launcher`: the kernel one runs ``dnsmasq``; the
in-memory one records what would run (unit tests, ``--host-net memory``).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import logging
import os
import signal
import subprocess
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from neutrino.agent.datapath import linux_net, netlink
from neutrino.agent.datapath.hostnet import HostNet, HostNetError, LinkChange
from neutrino.agent_api import dhcp_options
from neutrino.agent_api.schema import DhcpSpec

log = logging.getLogger(__name__)

RA_INTERVAL = 30  # seconds between unsolicited router advertisements (guests also solicit them)


def dhcp_device(network_id: str) -> str:
    """``dh<net[:11]>``: the host end of a network's DHCP server veth."""
    return ("dh" + network_id)[:13]


class Launcher(ABC):
    """Starts and stops the DHCP server processes of networks."""

    @abstractmethod
    def ensure(self, key: str, netns: str, argv: list[str], digest: str) -> None:
        """``argv`` runs in ``netns`` under ``key``; restarted when ``digest`` changed."""

    @abstractmethod
    def stop(self, key: str) -> None:
        """Nothing runs under ``key``."""


@dataclass
class MemoryLauncher(Launcher):
    """Records what would run."""

    running: dict[str, tuple[str, list[str], str]] = field(default_factory=dict)
    starts: int = 0

    def ensure(self, key: str, netns: str, argv: list[str], digest: str) -> None:
        if key in self.running and self.running[key][2] == digest:
            return
        self.starts += 1
        self.running[key] = (netns, argv, digest)

    def stop(self, key: str) -> None:
        self.running.pop(key, None)


class ProcessLauncher(Launcher):
    """Runs daemons in a namespace (forked there: :func:`~neutrino.agent.datapath.netlink.run_in`);
    each writes its pid to ``run_dir/<key>.pid`` (the argv says so), the digest of what runs is kept
    next to it.

    Only processes it started are ever signalled: the pid in its own pid file, and only while that
    process's command line names that pid file (``--pid-file=<run_dir>/<key>.pid``). A pid the
    kernel has since given to another process (after a reboot, or a server that died), or a
    ``dnsmasq`` someone else runs, is left alone."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def _pid(self, key: str) -> int | None:
        pid_file = self.run_dir / f"{key}.pid"
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if not _running(pid):  # gone, or a zombie its parent has not reaped yet
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        if f"--pid-file={pid_file}".encode() not in cmdline:
            log.warning("%s: pid %s is not the server this agent started; leaving it alone", pid_file, pid)
            return None
        return pid

    def ensure(self, key: str, netns: str, argv: list[str], digest: str) -> None:
        digest_file = self.run_dir / f"{key}.digest"
        if self._pid(key) is not None and digest_file.exists() and digest_file.read_text() == digest:
            return
        self.stop(key)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:  # dnsmasq's parent exits once the daemon listens: the guest's first DHCPDISCOVER is answered
            proc = netlink.run_in(netns, argv)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise HostNetError(f"{argv[0]} in {netns}: {exc}") from exc
        if proc.returncode != 0:
            raise HostNetError(f"{argv[0]} in {netns}: {proc.stderr.strip() or f'exit {proc.returncode}'}")
        digest_file.write_text(digest)

    def stop(self, key: str) -> None:
        pid = self._pid(key)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            for _ in range(200):
                if not _running(pid):
                    break
                time.sleep(0.005)
        for suffix in (".pid", ".digest"):
            (self.run_dir / f"{key}{suffix}").unlink(missing_ok=True)


def _running(pid: int) -> bool:
    """Whether ``pid`` still runs: a zombie does not (a daemon's parent is whoever reaps orphans, which may
    take its time: waiting for the pid to vanish held the agent's verbs up to a second)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :][:1] not in ("Z", "X", "")


def host_tag(mac: str) -> str:
    """The dnsmasq tag of one guest's leases (``h`` + its MAC's hex digits): its options go to it."""
    return "h" + mac.replace(":", "")


def _host_args(spec: DhcpSpec) -> list[str]:
    """The static leases, and each guest's own options, as Neutron's dnsmasq driver gives them: a
    lease with a domain or extra options sets its guest's tag (:func:`host_tag`, shared by the
    guest's IPv4 and IPv6 leases), and those options go to that tag. The domain is option 15
    (IPv4) and the domain search list (DHCPv6 option 24); an extra option of one IP version goes
    with that version's leases only."""
    argv: list[str] = []
    options: dict[str, list[str]] = {}
    for host in spec.hosts:
        name = host.hostname or "host-" + str(host.ip).replace(".", "-").replace(":", "-")
        address = str(host.ip) if host.ip.version == 4 else f"[{host.ip}]"
        version = host.ip.version
        own = [
            dhcp_options.dnsmasq_option(o.name, o.value, version)
            for o in host.options
            if o.ip_version == version
        ]
        if host.domain:
            own.insert(
                0,
                "option:domain-name," + host.domain
                if version == 4
                else "option6:domain-search," + host.domain,
            )
        if not own:
            argv.append(f"--dhcp-host={host.mac},{name},{address}")
            continue
        tag = host_tag(host.mac)
        argv.append(f"--dhcp-host={host.mac},set:{tag},{name},{address}")
        options.setdefault(tag, [])
        options[tag] += [o for o in own if o not in options[tag]]
    for tag, own in options.items():
        argv += [f"--dhcp-option=tag:{tag},{option}" for option in own]
    return argv


class DhcpServers:
    """The DHCP servers of the provider networks this host serves."""

    def __init__(self, host_net: HostNet, launcher: Launcher, conf_dir: Path, netns_prefix: str) -> None:
        self.host_net = host_net
        self.launcher = launcher
        self.conf_dir = conf_dir
        self.netns_prefix = netns_prefix

    def namespace(self, network_id: str) -> str:
        return f"{self.netns_prefix}dhcp-{network_id[:11]}"

    def ensure_port(self, spec: DhcpSpec) -> str:
        """The server's namespace and veth with its addresses (and MAC, when the spec names the
        port's); returns the host end to plug."""
        ns = self.namespace(spec.network_id)
        device = dhcp_device(spec.network_id)
        linux_net.ensure_netns(self.host_net, ns)
        linux_net.ensure_veth(self.host_net, device, "eth0", ns)
        cidrs = [f"{s.server_ip}/{s.cidr.prefixlen}" for s in spec.subnets()]
        cidrs += [f"{s.server_ip}/{s.cidr.prefixlen}" for s in spec.ipv6_subnets]

        def inside(inner: HostNet) -> None:
            link = inner.link("eth0")
            if spec.server_mac and link is not None and link.address != spec.server_mac:
                # down, then up below: the kernel derives eth0's link-local address (the source of its
                # router advertisements, which filtered guests check) from the MAC only as it comes up
                inner.set_link("eth0", LinkChange(address=spec.server_mac, up=False if link.up else None))
            # the server's IPv6 addresses are its own: none from other servers' advertisements, and
            # no duplicate address detection (dnsmasq cannot bind a tentative address)
            for key, value in (("accept_ra", "0"), ("autoconf", "0"), ("accept_dad", "0")):
                linux_net.ensure_sysctl(
                    inner, f"net/ipv6/conf/eth0/{key}", value, missing_ok=not spec.ipv6_subnets
                )
            linux_net.ensure_link_state(inner, "eth0", mtu=spec.mtu)
            linux_net.ensure_addresses(inner, "eth0", cidrs)

        linux_net.ensure_link_state(self.host_net, device, mtu=spec.mtu)
        self.host_net.in_netns(ns).together(inside)
        return device

    def ensure_server(self, spec: DhcpSpec) -> None:
        """dnsmasq serves ``spec``'s static leases (restarted only when they changed).

        Leases and options go on the command line, not in files: dnsmasq drops to ``nobody``
        and re-reads files as that user, who may not be able to read the data directory. Each
        subnet's range is tagged ``s<i>``; its options (router, DNS servers) go to that tag.
        """
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            "dnsmasq", "--conf-file=/dev/null", "--no-hosts", "--no-resolv", "--port=0",
            "--bind-interfaces", "--interface=eth0", "--except-interface=lo", "--leasefile-ro",
            "--dhcp-authoritative", f"--pid-file={self.conf_dir / (spec.network_id + '.pid')}",
        ]  # fmt: skip
        subnets = spec.subnets()
        for i, subnet in enumerate(subnets):
            net = ipaddress.ip_network(subnet.cidr)
            argv.append(
                f"--dhcp-range=set:s{i},{net.network_address},static,{net.netmask},{spec.lease_seconds}s"
            )
        argv += _host_args(spec)
        for i, subnet in enumerate(subnets):
            if spec.mtu:
                argv.append(f"--dhcp-option-force=tag:s{i},option:mtu,{spec.mtu}")
            gateway = f",{subnet.gateway_ip}" if subnet.gateway_ip else ""
            argv.append(f"--dhcp-option=tag:s{i},option:router{gateway}")
            if subnet.dns_servers:
                argv.append(
                    f"--dhcp-option=tag:s{i},option:dns-server,{','.join(map(str, subnet.dns_servers))}"
                )
        argv += self._ipv6_args(spec)
        digest = hashlib.sha256("\0".join(argv).encode()).hexdigest()
        self.launcher.ensure(spec.network_id, self.namespace(spec.network_id), argv, digest)

    @staticmethod
    def _ipv6_args(spec: DhcpSpec) -> list[str]:
        """dnsmasq arguments for the IPv6 subnets (tagged ``v<i>``); see the module docstring."""
        argv: list[str] = []
        advertise = stateful_ra = False
        for i, subnet in enumerate(spec.ipv6_subnets):
            ra = subnet.ipv6_ra_mode is not None
            if subnet.address_mode == "slaac":
                if not ra:
                    continue  # addresses from another router's advertisements; nothing to serve
                mode = "ra-only"
            elif subnet.address_mode == "dhcpv6-stateless":
                mode = "ra-stateless" if ra else "static"
            else:
                mode, stateful_ra = "static", stateful_ra or ra
            advertise = advertise or ra
            net = subnet.cidr
            argv.append(
                f"--dhcp-range=set:v{i},{net.network_address},{mode},{net.prefixlen},{spec.lease_seconds}s"
            )
            if subnet.dns_servers:
                servers = ",".join(f"[{a}]" for a in subnet.dns_servers)
                argv.append(f"--dhcp-option=tag:v{i},option6:dns-server,{servers}")
        if stateful_ra:
            argv.append("--enable-ra")  # also advertises the static ranges: the M flag
        if advertise:
            mtu = f"mtu:{spec.mtu}," if spec.mtu else ""
            argv.append(f"--ra-param=eth0,{mtu}{RA_INTERVAL},0")  # router lifetime 0: no default route
        return argv

    def delete(self, network_id: str) -> None:
        """No server, namespace or veth for the network."""
        self.launcher.stop(network_id)
        linux_net.delete_link(self.host_net, dhcp_device(network_id))
        linux_net.delete_netns(self.host_net, self.namespace(network_id))
