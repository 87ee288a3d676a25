"""Security groups as iptables and ip6tables rules on bridged traffic (Neutron's iptables
firewall, for the linux_bridge datapath; needs ``br_netfilter`` with
``net.bridge.bridge-nf-call-iptables`` and ``net.bridge.bridge-nf-call-ip6tables`` set to 1).

Layout of each ``filter`` table, IPv4 and IPv6 alike (everything regenerated from the full set of
filtered ports; per IP version one ``iptables-restore``/``ip6tables-restore`` writes the ``raw``
and ``filter`` tables together)::

    FORWARD ─► neutrino-sg   (jump inserted first in FORWARD)
                 comment "neutrino:<digest of what follows>"   (lets a restart see it is current)
                 physdev-in  tapX ─► nsg-oX   (egress of the guest: anti-spoofing, egress rules)
                 physdev-out tapY ─► nsg-iY   (ingress of the guest: ingress rules)
                 physdev-in/out tapX ─► ACCEPT
    IPv4:
    nsg-oX: DHCP requests RETURN, other MAC DROP, ─► nsg-sX, established/related RETURN,
            invalid DROP, one RETURN per egress rule, DROP
    nsg-sX: (only when the port's addresses are known) RETURN from each address, DROP
    nsg-iX: established/related RETURN, invalid DROP, DHCP replies RETURN, one RETURN per
            ingress rule, DROP
    IPv6:
    nsg-oX: other MAC DROP, duplicate address detection (MLD reports and neighbour
            solicitations from ``::`` to ``ff02::/16``) RETURN, ─► nsg-sX, router
            advertisements and DHCPv6 replies DROP, MLD, router and neighbour solicitations and
            neighbour advertisements RETURN, DHCPv6 requests RETURN, established/related RETURN,
            invalid DROP, one RETURN per egress rule, DROP
    nsg-sX: (only when the port's addresses are known) RETURN from the link-local address of the
            port's MAC (EUI-64) and from each IPv6 address, DROP
    nsg-iX: MLD queries, neighbour solicitations and advertisements RETURN, router
            advertisements from the network's routers RETURN, DHCPv6 replies from link-local
            addresses RETURN, established/related RETURN, invalid DROP, one RETURN per ingress
            rule, DROP

A chain RETURNs what it allows, so traffic between two filtered guests on one bridge passes the
sender's egress chain and then the receiver's ingress chain. Anti-spoofing: a guest may send only
from its MAC and, when :attr:`Firewall.addresses` knows the port's fixed IPs (an agent learns them
from the network provider), only from those (IPv6: and its MAC's link-local address). Each rule
goes to the table of its ``ethertype``; ``icmp`` in an IPv6 rule means ICMPv6, as in Neutron.
``remote_group_id`` rules match the referenced group's ``member_ips`` of the rule's IP version.
Router advertisements are accepted from the link-local addresses :attr:`Firewall.ra_sources`
lists for the port's network (an agent learns them from the network provider: its DHCP ports and
router interfaces, like Neutron, which accepts them only from the subnet's router), or from any
link-local address when the network is not listed; others meet the groups' rules like any packet.

Each network with filtered ports gets its own connection tracking zone on the bridges its ports are
on (the ``raw`` table, :mod:`neutrino.agent.datapath.conntrack_zones`), so the established/related
rules above never see another network's flows.

Ownership: the chains are Neutrino's by name (``neutrino-sg``, ``neutrino-ct`` and the reserved prefix
``nsg-``) and by reach: a port chain no longer wanted is flushed and deleted only when it carries the prefix
*and* Neutrino's own top chain led to it (its rules, as last applied, jump there directly or through another
such chain). A chain of someone else's, even one named ``nsg-...``, is never flushed or deleted; the only
foreign chain written is ``FORWARD`` (one jump inserted, and only when missing).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from neutrino.agent.datapath import conntrack_zones
from neutrino.agent.datapath.hostnet import HostNet, HostNetError
from neutrino.agent_api.schema import SecurityGroupRule, SecurityGroupSpec

log = logging.getLogger(__name__)

TOP_CHAIN = "neutrino-sg"
PORT_CHAIN_PREFIX = "nsg-"
_PROTOCOLS = {
    4: {"icmp": "icmp", "1": "icmp", "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp"},
    6: {"icmp": "ipv6-icmp", "icmpv6": "ipv6-icmp", "ipv6-icmp": "ipv6-icmp", "58": "ipv6-icmp",
        "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp"},
}  # fmt: skip
_ICMP_MATCH = {"icmp": ["-m", "icmp", "--icmp-type"], "ipv6-icmp": ["-m", "icmp6", "--icmpv6-type"]}
_ANY = {4: "0.0.0.0/0", 6: "::/0"}
_DIGEST = re.compile(r'--comment "?neutrino:([0-9a-f]+)"?')

# ICMPv6 types (RFC 4443, 4861, 3810)
MLD_QUERY, MLD_REPORT, MLD_DONE, MLD2_REPORT = 130, 131, 132, 143
ROUTER_SOLICIT, ROUTER_ADVERT, NEIGHBOR_SOLICIT, NEIGHBOR_ADVERT = 133, 134, 135, 136
_ICMP6 = "-p ipv6-icmp -m icmp6 --icmpv6-type"


class UnknownSecurityGroup(HostNetError):
    """A port names a group this host has not been given."""


def link_local(mac: str) -> str:
    """The IPv6 link-local address a MAC gives its interface (modified EUI-64)."""
    octets = [int(x, 16) for x in mac.split(":")]
    octets[0] ^= 0x02
    iid = bytes([*octets[:3], 0xFF, 0xFE, *octets[3:]])
    return str(ipaddress.IPv6Address((0xFE80 << 112) | int.from_bytes(iid, "big")))


@dataclass(frozen=True)
class PortFilter:
    """One filtered port: its host device, its MAC, its groups, its network and the bridge its
    device is on (when known; a port without a bridge stays in the default conntrack zone)."""

    device: str
    mac: str
    groups: tuple[str, ...]
    network: str | None = None
    bridge: str | None = None

    @property
    def zone_key(self) -> str:
        """What its conntrack zone is per: its network, or the port alone when that is unknown."""
        return self.network or f"port-{self.device}"

    @property
    def suffix(self) -> str:
        return self.device[3:] if self.device.startswith("tap") else self.device

    @property
    def ingress_chain(self) -> str:
        return f"{PORT_CHAIN_PREFIX}i{self.suffix}"

    @property
    def egress_chain(self) -> str:
        return f"{PORT_CHAIN_PREFIX}o{self.suffix}"

    @property
    def spoof_chain(self) -> str:
        return f"{PORT_CHAIN_PREFIX}s{self.suffix}"


def _version(address: str) -> int:
    return 6 if ":" in address else 4


def rule_matches(
    rule: SecurityGroupRule, groups: dict[str, SecurityGroupSpec], version: int = 4
) -> list[list[str]]:
    """iptables (``version`` 4) or ip6tables (6) match arguments for one rule (one list per
    remote address; empty: no match, e.g. a rule of the other IP version)."""
    if rule.ethertype != f"IPv{version}":
        return []
    match: list[str] = []
    proto = None if rule.protocol in (None, "any", "") else str(rule.protocol).lower()
    if proto is not None:
        proto = _PROTOCOLS[version].get(proto, proto)
        match += ["-p", proto]
        low, high = rule.port_range_min, rule.port_range_max
        if proto in ("tcp", "udp") and low is not None:
            match += ["-m", proto, "--dport", str(low) if high in (None, low) else f"{low}:{high}"]
        elif proto in _ICMP_MATCH and low is not None:
            match += [*_ICMP_MATCH[proto], str(low) if high is None else f"{low}/{high}"]
    flag = "-s" if rule.direction == "ingress" else "-d"
    if rule.remote_group_id is not None:
        members = groups[rule.remote_group_id].member_ips if rule.remote_group_id in groups else []
        return [[*match, flag, ip] for ip in sorted(members) if _version(ip) == version]
    if rule.remote_ip_prefix and rule.remote_ip_prefix != _ANY[version]:
        match += [flag, rule.remote_ip_prefix]
    return [match]


def source(ip: str, mac: str | None = None) -> str:
    """An entry of :attr:`Firewall.addresses`: an address or CIDR the port's own MAC may send
    from, or ``"<address> <mac>"`` for an allowed address pair with a MAC of its own."""
    return ip if mac is None else f"{ip} {mac.lower()}"


def _sources(port: PortFilter, addresses: tuple[str, ...]) -> list[tuple[str, str]]:
    """(address, MAC) of each entry of ``addresses``."""
    found = []
    for entry in addresses:
        ip, _, mac = entry.partition(" ")
        found.append((ip, mac or port.mac))
    return found


def _macs(port: PortFilter, addresses: tuple[str, ...] | None) -> list[str]:
    """The MACs the port's guest may send from: its own, and its address pairs' own."""
    return sorted({port.mac, *(mac for _, mac in _sources(port, addresses or ()))})


def _egress_head(port: PortFilter, version: int, addresses: tuple[str, ...] | None = None) -> list[str]:
    """Egress rules ahead of the source address check (frames from another MAC than the port's
    and its address pairs' are dropped)."""
    o = port.egress_chain
    mac = " ".join(f"-m mac ! --mac-source {m}" for m in _macs(port, addresses)) + " -j DROP"
    if version == 4:
        return [f"-A {o} -p udp -m udp --sport 68 --dport 67 -j RETURN", f"-A {o} {mac}"]
    dad = [
        f"-A {o} -s ::/128 -d ff02::/16 {_ICMP6} {t} -j RETURN"
        for t in (MLD_REPORT, NEIGHBOR_SOLICIT, MLD2_REPORT)
    ]
    return [f"-A {o} {mac}", *dad]


def _egress_fixed(port: PortFilter, version: int) -> list[str]:
    """Egress rules after the source address check, ahead of the group's rules."""
    o = port.egress_chain
    if version == 4:
        return []
    allowed = (
        MLD_QUERY,
        MLD_REPORT,
        MLD_DONE,
        MLD2_REPORT,
        ROUTER_SOLICIT,
        NEIGHBOR_SOLICIT,
        NEIGHBOR_ADVERT,
    )
    return [
        f"-A {o} {_ICMP6} {ROUTER_ADVERT} -j DROP",  # a guest is no router
        f"-A {o} -p udp -m udp --sport 547 --dport 546 -j DROP",  # nor a DHCPv6 server
        *[f"-A {o} {_ICMP6} {t} -j RETURN" for t in sorted(allowed)],
        f"-A {o} -p udp -m udp --sport 546 --dport 547 -j RETURN",
    ]


def _ingress_fixed(port: PortFilter, version: int, routers: tuple[str, ...] | None) -> list[str]:
    """Ingress rules ahead of the group's rules; ``routers``: the link-local addresses router
    advertisements may come from (None: any)."""
    i = port.ingress_chain
    state = [
        f"-A {i} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
        f"-A {i} -m conntrack --ctstate INVALID -j DROP",
    ]
    if version == 4:
        return [*state, f"-A {i} -p udp -m udp --sport 67 --dport 68 -j RETURN"]
    return [
        *[f"-A {i} {_ICMP6} {t} -j RETURN" for t in (MLD_QUERY, NEIGHBOR_SOLICIT, NEIGHBOR_ADVERT)],
        *[f"-A {i} -s {source} {_ICMP6} {ROUTER_ADVERT} -j RETURN" for source in _ra_sources(routers)],
        f"-A {i} -s fe80::/10 -p udp -m udp --sport 547 --dport 546 -j RETURN",
        *state,
    ]


def _ra_sources(routers: tuple[str, ...] | None) -> list[str]:
    if routers is None:
        return ["fe80::/10"]
    return [f"{a}/128" for a in sorted(set(routers), key=ipaddress.IPv6Address)]


def _allowed_sources(port: PortFilter, addresses: tuple[str, ...], version: int) -> list[str]:
    """The source matches of the port's anti-spoofing chain: its addresses and address pairs
    (IPv6: and its MAC's link-local address); with address pairs of other MACs, each address
    only from its own MAC (as Neutron's iptables firewall pairs them)."""
    host = "/32" if version == 4 else "/128"
    pairs = {
        (ip if "/" in ip else ip + host, mac)
        for ip, mac in _sources(port, addresses)
        if _version(ip) == version
    }
    if version == 6:
        pairs.add((link_local(port.mac) + host, port.mac))
    bind = len(_macs(port, addresses)) > 1
    ordered = sorted(pairs, key=lambda pair: (ipaddress.ip_network(pair[0], strict=False), pair[1]))
    return [f"-s {net} -m mac --mac-source {mac}" if bind else f"-s {net}" for net, mac in ordered]


def render(
    ports: list[PortFilter],
    groups: dict[str, SecurityGroupSpec],
    addresses: dict[str, tuple[str, ...]] | None = None,
    version: int = 4,
    ra_sources: dict[str, tuple[str, ...]] | None = None,
) -> tuple[list[str], str]:
    """The chains and rules for ``ports`` in the IPv4 (``version`` 4) or IPv6 (6) table:
    (``iptables-restore`` lines without the digest comment, digest). ``addresses`` (device →
    addresses, of either version) limits what a port may send from; ``ra_sources`` (network →
    link-local addresses) where router advertisements into a port on that network may come from
    (a network not listed: any link-local address)."""
    addresses = addresses or {}
    ra_sources = ra_sources or {}
    body: list[str] = []
    chains: list[str] = []
    top: list[str] = []
    for port in sorted(ports, key=lambda p: p.device):
        for group in port.groups:
            if group not in groups:
                raise UnknownSecurityGroup(f"security group {group} is not known on this host")
        i, o = port.ingress_chain, port.egress_chain
        chains += [i, o]
        phys_in = f"-m physdev --physdev-in {port.device} --physdev-is-bridged"
        phys_out = f"-m physdev --physdev-out {port.device} --physdev-is-bridged"
        top += [f"-A {TOP_CHAIN} {phys_in} -j {o}"]
        top += [f"-A {TOP_CHAIN} {phys_out} -j {i}"]
        body += _egress_head(port, version, addresses.get(port.device))
        if port.device in addresses:
            spoof = port.spoof_chain
            chains.append(spoof)
            body.append(f"-A {o} -j {spoof}")
            body += [
                f"-A {spoof} {match} -j RETURN"
                for match in _allowed_sources(port, addresses[port.device], version)
            ]
            body.append(f"-A {spoof} -j DROP")
        body += _egress_fixed(port, version)
        body += [
            f"-A {o} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
            f"-A {o} -m conntrack --ctstate INVALID -j DROP",
        ]
        body += _ingress_fixed(port, version, ra_sources.get(port.network or ""))
        seen: set[str] = set()
        for group in port.groups:
            for rule in groups[group].rules:
                chain = i if rule.direction == "ingress" else o
                for match in rule_matches(rule, groups, version):
                    line = " ".join([f"-A {chain}", *match, "-j RETURN"])
                    if line not in seen:
                        seen.add(line)
                        body.append(line)
        body += [f"-A {o} -j DROP", f"-A {i} -j DROP"]
    for port in sorted(ports, key=lambda p: p.device):
        top += [f"-A {TOP_CHAIN} -m physdev --physdev-in {port.device} --physdev-is-bridged -j ACCEPT"]
        top += [f"-A {TOP_CHAIN} -m physdev --physdev-out {port.device} --physdev-is-bridged -j ACCEPT"]
    lines = [f":{TOP_CHAIN} - [0:0]", *[f":{c} - [0:0]" for c in chains], *top, *body]
    return lines, hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


class Firewall:
    """The filtered ports of one host and the groups they use; :meth:`apply` makes the kernel
    match them (and changes nothing when it already does)."""

    def __init__(self, host_net: HostNet) -> None:
        self.host_net = host_net
        self.ports: dict[str, PortFilter] = {}
        self.groups: dict[str, SecurityGroupSpec] = {}
        #: device → the addresses (IPv4 and IPv6) its guest may send from (:func:`source`: an
        #: address pair with a MAC of its own names it); a device not listed: any address
        self.addresses: dict[str, tuple[str, ...]] = {}
        #: network → the link-local addresses router advertisements into its ports may come from;
        #: a network not listed: any link-local address
        self.ra_sources: dict[str, tuple[str, ...]] = {}
        #: network → its conntrack zone; None until read back from the kernel
        self.zones: dict[str, int] | None = None
        self._deferred = 0
        self._changes = 0  # port filters set or dropped (what :meth:`ahead` compares)
        self._writing = threading.Lock()  # one apply at a time (the API's verbs, the follower, alongside)
        self._alongside: threading.Thread | None = None
        self._alongside_error: list[BaseException] = []

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Defer :meth:`apply` to the end of the block (e.g. while an agent re-plugs all its
        ports: applying after each would briefly drop the rules of ports not re-plugged yet)."""
        self._deferred += 1
        try:
            yield
        finally:
            self._deferred -= 1
        if self._deferred == 0:
            self.apply()

    @contextmanager
    def alongside(self) -> Iterator[None]:
        """Defer :meth:`apply` as :meth:`batch` does, then write the tables in a thread of their own
        while the caller goes on (e.g. starts the network's DHCP server); :meth:`settle` waits for
        that write. Only for ports nothing sends from yet (a guest not started): their rules land
        after their taps joined the bridge."""
        self.settle()
        self._deferred += 1
        try:
            yield
        finally:
            self._deferred -= 1
        if self._deferred == 0:
            self._alongside_error = []
            self._alongside = threading.Thread(target=self._apply_alongside, name="firewall", daemon=True)
            self._alongside.start()

    @contextmanager
    def ahead(self) -> Iterator[None]:
        """Around the plugs of ports whose filters were set before them and are being written
        (:meth:`alongside`): applies are deferred, and none is made at the end unless a filter changed
        meanwhile (then once the write under way is done)."""
        changes = self._changes
        self._deferred += 1
        try:
            yield
        finally:
            self._deferred -= 1
        if self._deferred == 0 and self._changes != changes:
            self.settle()
            self.apply()

    def _apply_alongside(self) -> None:
        try:
            self.apply()
        except BaseException as exc:  # raised by settle(), in the caller's thread
            self._alongside_error.append(exc)

    def settle(self) -> None:
        """Wait for the write :meth:`alongside` started, if any; raise what it raised."""
        thread, self._alongside = self._alongside, None
        if thread is not None:
            thread.join()
            if self._alongside_error:
                raise self._alongside_error.pop()

    def ensure_bridge_netfilter(self) -> None:
        """Bridged IPv4 and IPv6 traffic traverses iptables and ip6tables (``br_netfilter``), or
        a clear error."""
        for key in BRIDGE_NF:
            try:
                if self.host_net.sysctl(key) != "1":
                    self.host_net.sysctl(key, "1")
            except HostNetError as exc:
                raise HostNetError(f"security groups need br_netfilter ({key}): {exc}") from exc

    def check(self, groups: list[str]) -> None:
        """Raise :class:`UnknownSecurityGroup` unless every group is known."""
        for group in groups:
            if group not in self.groups:
                raise UnknownSecurityGroup(f"security group {group} is not known on this host")

    def set_port(
        self,
        device: str,
        mac: str,
        groups: list[str],
        network: str | None = None,
        *,
        bridge: str | None = None,
    ) -> None:
        """Filter ``device`` (on ``network``, a port of ``bridge``) with ``groups`` (none:
        unfiltered) and apply; idempotent."""
        wanted = PortFilter(device, mac, tuple(groups), network, bridge) if groups else None
        if self.ports.get(device) == wanted:
            if wanted is not None:
                self.apply()  # cheap when current; repairs lost rules
            return
        self.check(groups)
        if wanted is None:
            self.ports.pop(device, None)
        else:
            self.ports[device] = wanted
        self._changes += 1
        self.apply()

    def apply(self) -> None:
        """Make the conntrack zones and both filter tables match :attr:`ports`; a table already
        current is not rewritten. Per IP version one read of the ``raw`` and ``filter`` tables and
        one ``iptables-restore`` writing what changed of both, the two versions side by side: a plug
        that filters the first port of a network costs two reads and two writes at once, not eight
        processes one after the other."""
        if self._deferred:
            return
        with self._writing:
            self._apply()

    def _apply(self) -> None:
        if self.ports:
            self.ensure_bridge_netfilter()
        try:
            saved = self.host_net.save_tables(_TABLES)
        except HostNetError:
            if not self.ports:
                return  # nothing to filter or zone on a host without iptables
            raise
        zoned, released, zones = self._zones(saved)
        rendered = {
            version: render(list(self.ports.values()), self.groups, self.addresses, version, self.ra_sources)
            for version in (4, 6)
        }
        texts = {
            version: [
                text
                for text in (zoned[version], self._filter_text(*rendered[version], saved[version]["filter"]))
                if text
            ]
            for version in (4, 6)
        }
        if any(texts.values()):
            self.host_net.restore_tables(texts)
        if zones is not None:  # only once written: a failed write keeps the zones to release next time
            self.zones = zones
        for version in (4, 6):
            self._delete_stale(version, rendered[version][0], saved[version]["filter"])
        for zone in released:
            try:
                self.host_net.forget_zone(zone)
            except HostNetError as exc:  # the zone is unused now; its entries time out
                log.warning("cannot delete the tracked connections of zone %s: %s", zone, exc)

    def _zones(
        self, saved: dict[int, dict[str, str]]
    ) -> tuple[dict[int, str | None], list[int], dict[str, int] | None]:
        """Each network's bridges in the network's zone: the ``raw`` tables' restore input per IP
        version (None: current), the zones given up (their tracked connections to delete) and the
        zones once that input is written (None: unchanged)."""
        bridges = {p.bridge: p.zone_key for p in self.ports.values() if p.bridge}
        if not bridges and conntrack_zones.ZONE_CHAIN not in _chains(saved[4]["raw"]):
            return {4: None, 6: None}, [], None  # never zoned anything here: leave the table alone
        if self.zones is None:
            self.zones = conntrack_zones.zones_in(saved[4]["raw"])
        zones = conntrack_zones.assign_zones(bridges.values(), self.zones)
        lines, digest = conntrack_zones.render_zones(bridges, zones)
        texts = {v: conntrack_zones.restore_text(lines, digest, saved[v]["raw"]) for v in (4, 6)}
        released = sorted(set(self.zones.values()) - set(zones.values()))
        return texts, released, zones

    def _filter_text(self, lines: list[str], digest: str, saved: str) -> str | None:
        """The ``filter`` table's restore input making ``saved`` hold the rendered ``lines`` (None:
        current, or never filtered here and nothing to filter)."""
        if not self.ports and TOP_CHAIN not in _chains(saved):
            return None  # never filtered anything here: leave the table alone
        current = _DIGEST.search(saved)
        jump = f"-A FORWARD -j {TOP_CHAIN}" in saved
        if current is not None and current.group(1) == digest and jump:
            return None
        text = ["*filter", *lines[:1], f'-A {TOP_CHAIN} -m comment --comment "neutrino:{digest}"', *lines[1:]]
        if not jump:
            text.append(f"-I FORWARD 1 -j {TOP_CHAIN}")
        return "\n".join([*text, "COMMIT", ""])

    def _delete_stale(self, version: int, lines: list[str], saved: str) -> None:
        """Port chains Neutrino's top chain led to (as ``saved``) and not among the rendered ``lines``:
        deleted in a second transaction (nft refuses it in the one that drops their last reference)."""
        wanted = {line[1:].split()[0] for line in lines if line.startswith(":")}
        ours = _reached(saved, TOP_CHAIN)
        stale = sorted(
            c for c in _chains(saved) if c.startswith(PORT_CHAIN_PREFIX) and c in ours and c not in wanted
        )
        if stale:
            restore = self.host_net.iptables_restore if version == 4 else self.host_net.ip6tables_restore
            restore(
                "\n".join(["*filter", *[f"-F {c}" for c in stale], *[f"-X {c}" for c in stale], "COMMIT", ""])
            )


_TABLES = ("raw", "filter")
BRIDGE_NF = ("net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables")


def _chains(saved: str) -> set[str]:
    return {line[1:].split()[0] for line in saved.splitlines() if line.startswith(":")}


def _reached(saved: str, top: str) -> set[str]:
    """The chains the rules of ``top`` lead to in an ``iptables-save`` text, directly or through one
    another (``-j``/``-g``): the ones Neutrino's top chain owns."""
    jumps: dict[str, set[str]] = {}
    for line in saved.splitlines():
        if not line.startswith("-A "):
            continue
        words = line.split()
        for i, word in enumerate(words[:-1]):
            if word in ("-j", "-g", "--jump", "--goto"):
                jumps.setdefault(words[1], set()).add(words[i + 1])
    reached, todo = set(), [top]
    while todo:
        for target in jumps.get(todo.pop(), ()):
            if target not in reached:
                reached.add(target)
                todo.append(target)
    return reached
