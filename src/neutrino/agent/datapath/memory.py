"""An in-memory :class:`HostNet`: a model of namespaces, links and flood entries.

Used by unit tests (the fake at our own seam) and by agents started with ``--host-net memory``
that must not touch the host (e.g. a local development agent). It enforces the kernel rules the
agent relies on: unique names per namespace, the 15-character name limit, masters that exist and
are bridges, a veth's peer going away with it, a namespace's devices going with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from neutrino.agent.datapath.hostnet import HostNet, HostNetError, LinkChange, LinkInfo, VxlanSpec

IFNAMSIZ = 15
_BUILTIN_CHAINS = {"filter": ("INPUT", "FORWARD", "OUTPUT"), "raw": ("PREROUTING", "OUTPUT")}
_TARGETS = {"ACCEPT", "DROP", "RETURN", "REJECT", "CT"}


def _builtin_chains(table: str) -> dict[str, list[str]]:
    return {name: [] for name in _BUILTIN_CHAINS[table]}


@dataclass
class World:
    """Everything a set of :class:`MemoryNet` views share: one simulated host."""

    links: dict[str | None, dict[str, LinkInfo]] = field(default_factory=lambda: {None: {}})
    fdb: dict[tuple[str | None, str], set[str]] = field(default_factory=dict)
    peers: dict[tuple[str | None, str], tuple[str | None, str]] = field(default_factory=dict)
    addresses: dict[tuple[str | None, str], set[str]] = field(default_factory=dict)
    iptables: dict[str | None, dict[str, list[str]]] = field(default_factory=dict)
    ip6tables: dict[str | None, dict[str, list[str]]] = field(default_factory=dict)
    raw: dict[int, dict[str | None, dict[str, list[str]]]] = field(default_factory=lambda: {4: {}, 6: {}})
    forgotten_zones: list[tuple[str | None, int]] = field(default_factory=list)  # forget_zone calls
    sysctls: dict[tuple[str | None, str], str] = field(default_factory=dict)
    routes: dict[str | None, set[tuple[str, str]]] = field(default_factory=dict)
    nat: dict[str | None, str] = field(default_factory=dict)  # the nat table's text as restored
    forgotten: list[tuple[str | None, str]] = field(default_factory=list)  # forget_connections calls
    announced: list[tuple[str | None, str, str]] = field(default_factory=list)  # announce calls
    tx_checksum: dict[tuple[str | None, str], bool] = field(default_factory=dict)  # absent: on
    calls: int = 0  # mutating operations so far; lets tests say "this changed nothing"
    _mac: int = 0

    def next_mac(self) -> str:
        self._mac += 1
        n = self._mac
        return f"02:00:00:{(n >> 16) & 255:02x}:{(n >> 8) & 255:02x}:{n & 255:02x}"


class MemoryNet(HostNet):
    """One namespace's view of a :class:`World`."""

    def __init__(self, world: World | None = None, netns: str | None = None) -> None:
        self.world = world or World()
        self.netns = netns

    def _table(self) -> dict[str, LinkInfo]:
        try:
            return self.world.links[self.netns]
        except KeyError:
            raise HostNetError(f"network namespace {self.netns!r} does not exist") from None

    def _new(self, name: str, kind: str, mtu: int | None, ns: str | None = None, **kw: Any) -> None:
        table = self.world.links.get(ns if ns is not None else self.netns)
        if table is None:
            raise HostNetError(f"network namespace {ns or self.netns!r} does not exist")
        if len(name) > IFNAMSIZ:
            raise HostNetError(f"name {name!r} is longer than {IFNAMSIZ} characters")
        if name in table:
            raise HostNetError(f"RTNETLINK answers: File exists ({name})")
        self.world.calls += 1
        table[name] = LinkInfo(
            name=name, kind=kind, mtu=mtu or 1500, address=self.world.next_mac(), up=False, **kw
        )

    def _get(self, name: str) -> LinkInfo:
        link = self._table().get(name)
        if link is None:
            raise HostNetError(f'Device "{name}" does not exist.')
        return link

    def link(self, name: str) -> LinkInfo | None:
        return self._table().get(name)

    def links(self) -> list[LinkInfo]:
        return list(self._table().values())

    def veth_peer(self, name: str) -> tuple[str | None, str] | None:
        return self.world.peers.get((self.netns, name))

    def tx_checksum(self, name: str) -> bool:
        self._get(name)
        return self.world.tx_checksum.get((self.netns, name), True)

    def set_tx_checksum(self, name: str, enabled: bool) -> None:
        self._get(name)
        self.world.calls += 1
        self.world.tx_checksum[(self.netns, name)] = enabled

    def add_bridge(self, name: str, mtu: int | None = None) -> None:
        self._new(name, "bridge", mtu)

    def add_vxlan(self, name: str, spec: VxlanSpec) -> None:
        if spec.dev is not None:
            self._get(spec.dev)
        self._new(name, "vxlan", spec.mtu, vxlan_id=spec.vni, vxlan_local=spec.local)

    def add_veth(self, name: str, peer: str, peer_netns: str | None = None) -> None:
        target = peer_netns if peer_netns is not None else self.netns
        if peer in self.world.links.get(target, {}):
            raise HostNetError(f"RTNETLINK answers: File exists ({peer})")
        self._new(name, "veth", None)
        self._new(peer, "veth", None, ns=target)
        self.world.peers[(self.netns, name)] = (target, peer)
        self.world.peers[(target, peer)] = (self.netns, name)

    def set_link(self, name: str, change: LinkChange) -> None:
        link = self._get(name)
        master = link.master
        if change.nomaster:
            master = None
        elif change.master:
            parent = self._get(change.master)
            if parent.kind != "bridge":
                raise HostNetError(f"{change.master} is not a bridge")
            master = change.master
        self.world.calls += 1
        self._table()[name] = replace(
            link,
            master=master,
            mtu=change.mtu or link.mtu,
            address=change.address or link.address,
            up=link.up if change.up is None else change.up,
            alias=change.alias or link.alias,
        )

    def delete_link(self, name: str) -> None:
        self._get(name)
        self.world.calls += 1
        self._drop(self.netns, name)

    def _drop(self, ns: str | None, name: str) -> None:
        table = self.world.links.get(ns, {})
        link = table.pop(name, None)
        if link is None:
            return
        self.world.fdb.pop((ns, name), None)
        self.world.addresses.pop((ns, name), None)
        self.world.tx_checksum.pop((ns, name), None)
        if link.kind == "bridge":
            for other, info in list(table.items()):
                if info.master == name:
                    table[other] = replace(info, master=None)
        peer = self.world.peers.pop((ns, name), None)
        if peer is not None:
            self.world.peers.pop(peer, None)
            self._drop(*peer)

    def addresses(self, name: str) -> set[str]:
        self._get(name)
        return set(self.world.addresses.get((self.netns, name), set()))

    def add_address(self, name: str, cidr: str) -> None:
        self._get(name)
        have = self.world.addresses.setdefault((self.netns, name), set())
        if cidr in have:
            raise HostNetError("RTNETLINK answers: File exists")
        self.world.calls += 1
        have.add(cidr)

    def delete_address(self, name: str, cidr: str) -> None:
        have = self.world.addresses.get((self.netns, name), set())
        if cidr not in have:
            raise HostNetError("RTNETLINK answers: Cannot assign requested address")
        self.world.calls += 1
        have.discard(cidr)

    def flood_entries(self, dev: str) -> set[str]:
        self._get(dev)
        return set(self.world.fdb.get((self.netns, dev), set()))

    def add_flood_entry(self, dev: str, dst: str) -> None:
        if self._get(dev).kind != "vxlan":
            raise HostNetError(f"{dev} is not a vxlan device")
        self.world.calls += 1
        self.world.fdb.setdefault((self.netns, dev), set()).add(dst)

    def delete_flood_entry(self, dev: str, dst: str) -> None:
        entries = self.world.fdb.get((self.netns, dev), set())
        if dst not in entries:
            raise HostNetError("RTNETLINK answers: No such file or directory")
        self.world.calls += 1
        entries.discard(dst)

    def sysctl(self, key: str, value: str | None = None) -> str:
        if value is not None:
            self.world.calls += 1
            self.world.sysctls[(self.netns, key)] = value
        return self.world.sysctls.get((self.netns, key), "0")

    def iptables_save(self) -> str:
        return self._save(self.world.iptables)

    def iptables_restore(self, text: str) -> None:
        self._restore(self.world.iptables, text)

    def ip6tables_save(self) -> str:
        return self._save(self.world.ip6tables)

    def ip6tables_restore(self, text: str) -> None:
        self._restore(self.world.ip6tables, text)

    def raw_save(self, version: int) -> str:
        return self._save(self.world.raw[version], "raw")

    def raw_restore(self, version: int, text: str) -> None:
        self._restore(self.world.raw[version], text, "raw")

    def forget_zone(self, zone: int) -> None:
        self._table()
        self.world.forgotten_zones.append((self.netns, zone))

    def _save(self, tables: dict[str | None, dict[str, list[str]]], table: str = "filter") -> str:
        chains = tables.get(self.netns, _builtin_chains(table))
        lines = [f"*{table}"] + [f":{name} - [0:0]" for name in chains]
        lines += [f"-A {name} {rule}" for name, rules in chains.items() for rule in rules]
        return "\n".join([*lines, "COMMIT", ""])

    def _restore(  # noqa: C901 (an iptables-restore text parser: one branch per directive of the format)
        self, tables: dict[str | None, dict[str, list[str]]], text: str, table: str = "filter"
    ) -> None:
        """Understands the subset the agent writes: ``:CHAIN``, ``-A``, ``-I CHAIN 1``, ``-F``, ``-X``."""
        if not text.startswith(f"*{table}"):
            raise HostNetError(f"iptables-restore: not a {table} table")
        current = tables.get(self.netns, _builtin_chains(table))
        chains: dict[str, list[str]] = {k: list(v) for k, v in current.items()}
        for line in text.splitlines():
            if not line or line.startswith(("*", "#", "COMMIT")):
                continue
            if line.startswith(":"):
                chains[line[1:].split()[0]] = []
                continue
            op, chain, *rest = line.split(" ", 2)
            if chain not in chains:
                raise HostNetError(f"iptables-restore: chain {chain} does not exist")
            if op == "-A":
                chains[chain].append(rest[0])
            elif op == "-I":
                chains[chain].insert(0, rest[0].split(" ", 1)[1])
            elif op == "-F":
                chains[chain] = []
            elif op == "-X":
                if any(rule.endswith(f"-j {chain}") for rules in chains.values() for rule in rules):
                    raise HostNetError(f"iptables-restore: chain {chain} is in use")
                del chains[chain]
        for rules in chains.values():
            for rule in rules:
                target = rule.rsplit("-j ", 1)[-1].split()[0] if "-j " in rule else None
                if target and target not in chains and target not in _TARGETS:
                    raise HostNetError(f"iptables-restore: no chain/target {target}")
        self.world.calls += 1
        tables[self.netns] = chains

    def routes(self) -> set[tuple[str, str]]:
        self._table()
        return set(self.world.routes.get(self.netns, set()))

    def replace_route(self, destination: str, gateway: str) -> None:
        self._table()
        self.world.calls += 1
        have = self.world.routes.setdefault(self.netns, set())
        for old in [r for r in have if r[0] == destination]:
            have.discard(old)
        have.add((destination, gateway))

    def delete_route(self, destination: str, gateway: str) -> None:
        have = self.world.routes.get(self.netns, set())
        if (destination, gateway) not in have:
            raise HostNetError("RTNETLINK answers: No such process")
        self.world.calls += 1
        have.discard((destination, gateway))

    def nat_save(self) -> str:
        self._table()
        return self.world.nat.get(self.netns, "*nat\nCOMMIT\n")

    def nat_restore(self, text: str) -> None:
        self._table()
        if not text.startswith("*nat") or "COMMIT" not in text:
            raise HostNetError("iptables-restore (nat): not a nat table")
        self.world.calls += 1
        self.world.nat[self.netns] = text

    def forget_connections(self, address: str) -> None:
        self._table()
        self.world.forgotten.append((self.netns, address))

    def announce(self, device: str, address: str) -> None:
        self._get(device)
        self.world.announced.append((self.netns, device, address))

    def netns_names(self) -> set[str]:
        return {ns for ns in self.world.links if ns is not None}

    def add_netns(self, name: str) -> None:
        if name in self.world.links:
            raise HostNetError(f'Cannot create namespace "{name}": File exists')
        self.world.calls += 1
        self.world.links[name] = {}
        self._new("lo", "", 65536, ns=name)

    def delete_netns(self, name: str) -> None:
        if name not in self.world.links or name is None:
            raise HostNetError(f'Cannot remove namespace "{name}": No such file or directory')
        self.world.calls += 1
        for link in list(self.world.links[name]):
            self._drop(name, link)
        del self.world.links[name]
        self.world.routes.pop(name, None)
        self.world.nat.pop(name, None)

    def in_netns(self, name: str) -> MemoryNet:
        return MemoryNet(self.world, name)
