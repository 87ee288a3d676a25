"""The kernel implementation of :class:`HostNet`: netlink in the agent's own namespace
(:mod:`neutrino.agent.datapath.netlink`, pyroute2), the ``ip`` and ``bridge`` commands (iproute2)
in a named one.

The only module of the agent that runs root-only networking commands. In a named namespace each
call is one ``ip``/``bridge`` invocation with ``-n NETNS``; in the agent's own (where a vNIC's
bridge, VXLAN device and host end are) links, addresses, flood entries and sysctls are netlink
messages and ``/proc/sys`` files, no process per call. TX checksum offload is the exception: an ``SIOCETHTOOL`` ioctl
(:mod:`neutrino.agent.datapath.ethtool`), there being no ``ethtool`` binary to count on; and so is
a gratuitous ARP (:mod:`neutrino.agent.datapath.arp`). A router's namespace also gets routes,
a ``nat`` table (``iptables-restore``) and connection tracking deletions (``conntrack``); the host
namespace a ``raw`` table (connection tracking zones) and deletions by zone.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from neutrino.agent.datapath import arp, ethtool, netlink
from neutrino.agent.datapath.hostnet import HostNet, HostNetError, LinkChange, LinkInfo, VxlanSpec

FLOOD_MAC = "00:00:00:00:00:00"
_T = TypeVar("_T")
_SAVE = {4: "iptables-save", 6: "ip6tables-save"}
_RESTORE = {4: "iptables-restore", 6: "ip6tables-restore"}


def run(argv: Sequence[str], *, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run one command; a failure raises :class:`HostNetError` carrying its stderr."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HostNetError(f"{' '.join(argv)}: {exc}") from exc
    if check and proc.returncode != 0:
        raise HostNetError(f"{' '.join(argv)}: {proc.stderr.strip() or f'exit {proc.returncode}'}")
    return proc


class IpRouteNet(HostNet):
    """``HostNet`` over iproute2, in the agent's namespace or in the named ``netns``."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns

    def _nl(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(*args)`` of :mod:`~neutrino.agent.datapath.netlink` in this namespace."""
        if self.netns is None:
            return fn(*args)
        return netlink.in_netns(self.netns, lambda: fn(*args))

    def _ns(self) -> list[str]:
        return ["-n", self.netns] if self.netns else []

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(["ip", *self._ns(), *args], check=check)

    def bridge(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(["bridge", *self._ns(), *args], check=check)

    # -- links ---------------------------------------------------------------------------
    def link(self, name: str) -> LinkInfo | None:
        return self._nl(netlink.link, name)

    def links(self) -> list[LinkInfo]:
        return self._nl(netlink.links)

    def veth_peer(self, name: str) -> tuple[str | None, str] | None:
        proc = self.ip("-j", "-d", "link", "show", "dev", name, check=False)
        if proc.returncode != 0:
            if "does not exist" in proc.stderr:
                return None
            raise HostNetError(f"ip link show dev {name}: {proc.stderr.strip()}")
        items = json.loads(proc.stdout or "[]")
        if not items or (items[0].get("linkinfo") or {}).get("info_kind") != "veth":
            return None
        raw = items[0]
        if "link_netnsid" not in raw:  # the peer is in this namespace
            return (self.netns, raw["link"]) if raw.get("link") else None
        ids = json.loads(self.ip("-j", "netns", "list-id").stdout or "[]")
        names = [e["name"] for e in ids if e.get("nsid") == raw["link_netnsid"] and e.get("name")]
        if not names:
            return None
        peers = json.loads(self.in_netns(names[0]).ip("-j", "link", "show").stdout or "[]")
        found = [p["ifname"] for p in peers if p.get("ifindex") == raw.get("link_index")]
        return (names[0], found[0]) if found else None

    def tx_checksum(self, name: str) -> bool:
        try:
            return ethtool.tx_checksum(name, self.netns)
        except OSError as exc:
            raise HostNetError(f"ethtool -k {name}: {exc}") from exc

    def set_tx_checksum(self, name: str, enabled: bool) -> None:
        try:
            ethtool.set_tx_checksum(name, enabled, self.netns)
        except OSError as exc:
            raise HostNetError(f"ethtool -K {name} tx {'on' if enabled else 'off'}: {exc}") from exc

    def add_bridge(self, name: str, mtu: int | None = None) -> None:
        return self._nl(netlink.add_bridge, name, mtu)

    def add_vxlan(self, name: str, spec: VxlanSpec) -> None:
        return self._nl(netlink.add_vxlan, name, spec)

    def add_veth(self, name: str, peer: str, peer_netns: str | None = None) -> None:
        return self._nl(netlink.add_veth, name, peer, peer_netns)

    def set_link(self, name: str, change: LinkChange) -> None:
        if not change.extra:
            return self._nl(netlink.set_link, name, change)
        args: list[str] = []
        if change.nomaster:
            args.append("nomaster")
        elif change.master:
            args += ["master", change.master]
        if change.mtu:
            args += ["mtu", str(change.mtu)]
        if change.address:
            args += ["address", change.address]
        if change.alias:
            args += ["alias", change.alias]
        for key, value in change.extra.items():
            args += [key, value]
        if change.up is not None:
            args.append("up" if change.up else "down")
        if args:
            self.ip("link", "set", "dev", name, *args)

    def delete_link(self, name: str) -> None:
        return self._nl(netlink.delete_link, name)

    # -- addresses -----------------------------------------------------------------------
    def addresses(self, name: str) -> set[str]:
        return self._nl(netlink.addresses, name)

    def add_address(self, name: str, cidr: str) -> None:
        return self._nl(netlink.add_address, name, cidr)

    def delete_address(self, name: str, cidr: str) -> None:
        return self._nl(netlink.delete_address, name, cidr)

    # -- forwarding database -------------------------------------------------------------
    def flood_entries(self, dev: str) -> set[str]:
        return self._nl(netlink.flood_entries, dev)

    def add_flood_entry(self, dev: str, dst: str) -> None:
        return self._nl(netlink.add_flood_entry, dev, dst)

    def delete_flood_entry(self, dev: str, dst: str) -> None:
        return self._nl(netlink.delete_flood_entry, dev, dst)

    # -- iptables (the IPv4 and IPv6 filter tables; bridged traffic reaches them through
    # br_netfilter) ---------------------------------------------------------------------------
    def _netns_exec(self) -> list[str]:
        return ["ip", "netns", "exec", self.netns] if self.netns else []

    def sysctl(self, key: str, value: str | None = None) -> str:
        return self._nl(netlink.sysctl, key, value)

    def iptables_save(self) -> str:
        return run([*self._netns_exec(), "iptables-save", "-t", "filter"]).stdout

    def iptables_restore(self, text: str) -> None:
        self._restore("iptables-restore", text)

    def ip6tables_save(self) -> str:
        return run([*self._netns_exec(), "ip6tables-save", "-t", "filter"]).stdout

    def ip6tables_restore(self, text: str) -> None:
        self._restore("ip6tables-restore", text)

    def raw_save(self, version: int) -> str:
        return run([*self._netns_exec(), _SAVE[version], "-t", "raw"]).stdout

    def raw_restore(self, version: int, text: str) -> None:
        self._restore(_RESTORE[version], text)

    def save_tables(self, tables: Sequence[str]) -> dict[int, dict[str, str]]:
        dumps = self._side_by_side({version: (_SAVE[version], [], None) for version in (4, 6)})
        found = {version: _split_tables(dump) for version, dump in dumps.items()}
        # a table nothing ever wrote to is absent from the dump: empty, as far as the firewall cares
        return {version: {t: found[version].get(t, f"*{t}\nCOMMIT\n") for t in tables} for version in (4, 6)}

    def restore_tables(self, texts: Mapping[int, Sequence[str]]) -> None:
        self._side_by_side(
            {
                version: (_RESTORE[version], ["--noflush"], "".join(text))
                for version, text in texts.items()
                if text
            }
        )

    def _side_by_side(self, commands: Mapping[int, tuple[str, list[str], str | None]]) -> dict[int, str]:
        """IP version → (tool, its arguments, its input): run at once (iptables-nft retries a commit that
        met the other's); their outputs, or a :class:`HostNetError` naming each that failed."""
        procs: dict[int, subprocess.Popen[str]] = {}
        outputs: dict[int, str] = {}
        errors: list[str] = []
        try:
            for version, (tool, args, _) in sorted(commands.items()):
                procs[version] = subprocess.Popen(
                    [*self._netns_exec(), tool, *args],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            for version, proc in sorted(procs.items()):
                tool, _, text = commands[version]
                outputs[version], err = proc.communicate(text, timeout=30)
                if proc.returncode != 0:
                    errors.append(f"{tool}: {err.strip() or f'exit {proc.returncode}'}")
        except (OSError, subprocess.TimeoutExpired) as exc:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            raise HostNetError(f"{' '.join(c[0] for c in commands.values())}: {exc}") from exc
        if errors:
            raise HostNetError("; ".join(errors))
        return outputs

    def forget_zone(self, zone: int) -> None:
        for family in ("ipv4", "ipv6"):
            # exit 1 with "0 flow entries have been deleted" is no error
            proc = run([*self._netns_exec(), "conntrack", "-D", "-f", family, "-w", str(zone)], check=False)
            if proc.returncode != 0 and "0 flow entries" not in proc.stderr:
                raise HostNetError(f"conntrack -D -f {family} -w {zone}: {proc.stderr.strip()}")

    def _restore(self, tool: str, text: str) -> None:
        argv = [*self._netns_exec(), tool, "--noflush"]
        try:
            proc = subprocess.run(argv, input=text, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise HostNetError(f"{tool}: {exc}") from exc
        if proc.returncode != 0:
            raise HostNetError(f"{tool}: {proc.stderr.strip()}")

    # -- routes, NAT and connection tracking (a router's namespace) ------------------------
    def routes(self) -> set[tuple[str, str]]:
        found = set()
        for family, default in (("-4", "0.0.0.0/0"), ("-6", "::/0")):
            proc = self.ip("-j", family, "route", "show", "table", "main", check=False)
            if proc.returncode != 0:
                if family == "-6":
                    continue  # a kernel without IPv6
                raise HostNetError(f"ip {family} route show: {proc.stderr.strip()}")
            for item in json.loads(proc.stdout or "[]"):
                if not item.get("gateway"):
                    continue
                dst = item.get("dst", "")
                if dst == "default":
                    dst = default
                elif "/" not in dst:
                    dst += "/32" if family == "-4" else "/128"
                found.add((dst, item["gateway"]))
        return found

    def replace_route(self, destination: str, gateway: str) -> None:
        self.ip("route", "replace", destination, "via", gateway)

    def delete_route(self, destination: str, gateway: str) -> None:
        self.ip("route", "del", destination, "via", gateway)

    def nat_save(self) -> str:
        return run([*self._netns_exec(), "iptables-save", "-t", "nat"]).stdout

    def nat_restore(self, text: str) -> None:
        argv = [*self._netns_exec(), "iptables-restore"]
        try:
            proc = subprocess.run(argv, input=text, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise HostNetError(f"iptables-restore (nat): {exc}") from exc
        if proc.returncode != 0:
            raise HostNetError(f"iptables-restore (nat): {proc.stderr.strip()}")

    def forget_connections(self, address: str) -> None:
        for match in ("--dst", "--reply-dst"):
            # exit 1 with "0 flow entries have been deleted" is no error
            proc = run([*self._netns_exec(), "conntrack", "-D", match, address], check=False)
            if proc.returncode != 0 and "0 flow entries" not in proc.stderr:
                raise HostNetError(f"conntrack -D {match} {address}: {proc.stderr.strip()}")

    def announce(self, device: str, address: str) -> None:
        if ":" in address:
            return  # IPv6 neighbours learn from the unsolicited advertisements of DAD
        link = self.link(device)
        if link is None:
            raise HostNetError(f'Device "{device}" does not exist.')
        try:
            arp.send_gratuitous_arp(self.netns, device, link.address, address)
        except OSError as exc:
            raise HostNetError(f"gratuitous ARP for {address} on {device}: {exc}") from exc

    # -- namespaces ----------------------------------------------------------------------
    def netns_names(self) -> set[str]:
        return netlink.netns_names()

    def add_netns(self, name: str) -> None:
        netlink.add_netns(name)

    def delete_netns(self, name: str) -> None:
        # NOTE: a process left in a namespace outlives its deletion, unnamed and out of reach of
        # `ip netns pids` (e.g. a guest's dhclient started twice in a race): end them all first
        for pid in run(["ip", "netns", "pids", name], check=False).stdout.split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        run(["ip", "netns", "delete", name])

    def in_netns(self, name: str) -> IpRouteNet:
        return IpRouteNet(name)

    def together(self, fn: Callable[[HostNet], _T]) -> _T:
        if self.netns is None:
            return fn(self)
        netns = self.netns
        return netlink.in_netns(netns, lambda: fn(_Joined(netns)))


class _Joined(IpRouteNet):
    """``IpRouteNet(netns)`` for calls made from a thread already in ``netns`` (:meth:`IpRouteNet.together`):
    netlink there with no thread of its own per call; commands still name the namespace."""

    def _nl(self, fn: Callable[..., _T], *args: Any) -> _T:
        return fn(*args)

    def together(self, fn: Callable[[HostNet], _T]) -> _T:
        return fn(self)


def _split_tables(saved: str) -> dict[str, str]:
    """An ``iptables-save`` dump of all tables → table → its part (``*table`` through ``COMMIT``)."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in saved.splitlines():
        if line.startswith("*"):
            current = found.setdefault(line[1:].strip(), [])
        if current is not None and not line.startswith("#"):
            current.append(line)
        if line == "COMMIT":
            current = None
    return {table: "\n".join([*lines, ""]) for table, lines in found.items()}
