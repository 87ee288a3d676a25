"""The kernel implementation of :class:`HostNet`: the ``ip`` and ``bridge`` commands (iproute2).

The only module of the agent that runs root-only networking commands. Each call is one
``ip``/``bridge`` invocation; ``-n NETNS`` aims it at a named namespace, so the same code serves
the host namespace and a guest's. TX checksum offload is the exception: an ``SIOCETHTOOL`` ioctl
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
from collections.abc import Sequence

from neutrino.agent.datapath import arp, ethtool
from neutrino.agent.datapath.hostnet import HostNet, HostNetError, LinkChange, LinkInfo, VxlanSpec

FLOOD_MAC = "00:00:00:00:00:00"
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

    def _ns(self) -> list[str]:
        return ["-n", self.netns] if self.netns else []

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(["ip", *self._ns(), *args], check=check)

    def bridge(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(["bridge", *self._ns(), *args], check=check)

    # -- links ---------------------------------------------------------------------------
    @staticmethod
    def _parse(raw: dict) -> LinkInfo:
        info = raw.get("linkinfo") or {}
        data = info.get("info_data") or {}
        kind = info.get("info_kind") or ""
        return LinkInfo(
            name=raw["ifname"],
            kind=kind,
            mtu=int(raw.get("mtu", 0)),
            address=raw.get("address", ""),
            up="UP" in raw.get("flags", []),
            master=raw.get("master"),
            vxlan_id=data.get("id") if kind == "vxlan" else None,
            vxlan_local=data.get("local") if kind == "vxlan" else None,
            alias=raw.get("ifalias") or None,
        )

    def link(self, name: str) -> LinkInfo | None:
        proc = self.ip("-j", "-d", "link", "show", "dev", name, check=False)
        if proc.returncode != 0:
            if "does not exist" in proc.stderr:
                return None
            raise HostNetError(f"ip link show dev {name}: {proc.stderr.strip()}")
        items = json.loads(proc.stdout or "[]")
        return self._parse(items[0]) if items else None

    def links(self) -> list[LinkInfo]:
        proc = self.ip("-j", "-d", "link", "show")
        return [self._parse(item) for item in json.loads(proc.stdout or "[]")]

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
        args = ["link", "add", name]
        if mtu:
            args += ["mtu", str(mtu)]
        self.ip(*args, "type", "bridge")

    def add_vxlan(self, name: str, spec: VxlanSpec) -> None:
        args = ["link", "add", name]
        if spec.mtu:
            args += ["mtu", str(spec.mtu)]
        args += ["type", "vxlan", "id", str(spec.vni), "dstport", str(spec.port), "nolearning"]
        if spec.local:
            args += ["local", spec.local]
        if spec.dev:
            args += ["dev", spec.dev]
        self.ip(*args)

    def add_veth(self, name: str, peer: str, peer_netns: str | None = None) -> None:
        args = ["link", "add", name, "type", "veth", "peer", "name", peer]
        if peer_netns:
            args += ["netns", peer_netns]
        self.ip(*args)

    def set_link(self, name: str, change: LinkChange) -> None:
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
        self.ip("link", "del", "dev", name)

    # -- addresses -----------------------------------------------------------------------
    def addresses(self, name: str) -> set[str]:
        proc = self.ip("-j", "addr", "show", "dev", name)
        found = set()
        for item in json.loads(proc.stdout or "[]"):
            for addr in item.get("addr_info", []):
                if addr.get("scope") != "link":
                    found.add(f"{addr['local']}/{addr['prefixlen']}")
        return found

    def add_address(self, name: str, cidr: str) -> None:
        self.ip("addr", "add", cidr, "dev", name)

    def delete_address(self, name: str, cidr: str) -> None:
        self.ip("addr", "del", cidr, "dev", name)

    # -- forwarding database -------------------------------------------------------------
    def flood_entries(self, dev: str) -> set[str]:
        proc = self.bridge("-j", "fdb", "show", "dev", dev)
        return {
            e["dst"] for e in json.loads(proc.stdout or "[]") if e.get("mac") == FLOOD_MAC and e.get("dst")
        }

    def add_flood_entry(self, dev: str, dst: str) -> None:
        self.bridge("fdb", "append", FLOOD_MAC, "dev", dev, "dst", dst)

    def delete_flood_entry(self, dev: str, dst: str) -> None:
        self.bridge("fdb", "del", FLOOD_MAC, "dev", dev, "dst", dst)

    # -- iptables (the IPv4 and IPv6 filter tables; bridged traffic reaches them through
    # br_netfilter) ---------------------------------------------------------------------------
    def _netns_exec(self) -> list[str]:
        return ["ip", "netns", "exec", self.netns] if self.netns else []

    def sysctl(self, key: str, value: str | None = None) -> str:
        if value is not None:
            run([*self._netns_exec(), "sysctl", "-q", "-w", f"{key}={value}"])
        return run([*self._netns_exec(), "sysctl", "-n", key]).stdout.strip()

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
        proc = run(["ip", "-j", "netns", "list"])
        return {e["name"] for e in json.loads(proc.stdout or "[]")} if proc.stdout.strip() else set()

    def add_netns(self, name: str) -> None:
        run(["ip", "netns", "add", name])
        run(["ip", "-n", name, "link", "set", "dev", "lo", "up"])

    def delete_netns(self, name: str) -> None:
        # NOTE: a process left in a namespace outlives its deletion, unnamed and out of reach of
        # `ip netns pids` (e.g. a guest's dhclient started twice in a race): end them all first
        for pid in run(["ip", "netns", "pids", name], check=False).stdout.split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        run(["ip", "netns", "delete", name])

    def in_netns(self, name: str) -> IpRouteNet:
        return IpRouteNet(name)
