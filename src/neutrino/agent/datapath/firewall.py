"""Security groups as iptables rules on bridged traffic (Neutron's iptables firewall, for the
linux_bridge datapath; needs ``br_netfilter`` with ``net.bridge.bridge-nf-call-iptables = 1``).

Layout of the IPv4 ``filter`` table (everything regenerated from the full set of filtered
ports, applied in one ``iptables-restore``)::

    FORWARD ─► neutrino-sg   (jump inserted first in FORWARD)
                 comment "neutrino:<digest of what follows>"   (lets a restart see it is current)
                 physdev-in  tapX ─► nsg-oX   (egress of the guest: anti-spoofing, egress rules)
                 physdev-out tapY ─► nsg-iY   (ingress of the guest: ingress rules)
                 physdev-in/out tapX ─► ACCEPT
    nsg-oX: DHCP requests RETURN, other MAC DROP, ─► nsg-sX, established/related RETURN,
            invalid DROP, one RETURN per egress rule, DROP
    nsg-sX: (only when the port's addresses are known) RETURN from each address, DROP
    nsg-iX: established/related RETURN, invalid DROP, DHCP replies RETURN, one RETURN per
            ingress rule, DROP

A chain RETURNs what it allows, so traffic between two filtered guests on one bridge passes the
sender's egress chain and then the receiver's ingress chain. Anti-spoofing: a guest may send only
from its MAC and, when :attr:`Firewall.addresses` knows the port's fixed IPs (an agent learns them
from the network provider), only from those. Only IPv4 is filtered; IPv6 rules
are ignored (and IPv6 traffic is not filtered). ``remote_group_id`` rules match the referenced
group's ``member_ips``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from neutrino.agent.api.models import SecurityGroupRule, SecurityGroupSpec
from neutrino.agent.datapath.hostnet import HostNet, HostNetError

TOP_CHAIN = "neutrino-sg"
PORT_CHAIN_PREFIX = "nsg-"
_PROTOCOLS = {"icmp": "icmp", "1": "icmp", "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp"}
_DIGEST = re.compile(r'--comment "?neutrino:([0-9a-f]+)"?')


class UnknownSecurityGroup(HostNetError):
    """A port names a group this host has not been given."""


@dataclass(frozen=True)
class PortFilter:
    """One filtered port: its host device, its MAC, its groups."""

    device: str
    mac: str
    groups: tuple[str, ...]

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


def rule_matches(rule: SecurityGroupRule, groups: dict[str, SecurityGroupSpec]) -> list[list[str]]:
    """iptables match arguments for one rule (one list per remote address; empty: no match)."""
    if rule.ethertype != "IPv4":
        return []
    match: list[str] = []
    proto = None if rule.protocol in (None, "any", "") else str(rule.protocol).lower()
    if proto is not None:
        proto = _PROTOCOLS.get(proto, proto)
        match += ["-p", proto]
        low, high = rule.port_range_min, rule.port_range_max
        if proto in ("tcp", "udp") and low is not None:
            match += ["-m", proto, "--dport", str(low) if high in (None, low) else f"{low}:{high}"]
        elif proto == "icmp" and low is not None:
            match += ["-m", "icmp", "--icmp-type", str(low) if high is None else f"{low}/{high}"]
    flag = "-s" if rule.direction == "ingress" else "-d"
    if rule.remote_group_id is not None:
        members = groups[rule.remote_group_id].member_ips if rule.remote_group_id in groups else []
        return [[*match, flag, ip] for ip in sorted(members) if ":" not in ip]  # IPv4 only
    if rule.remote_ip_prefix and rule.remote_ip_prefix not in ("0.0.0.0/0",):
        match += [flag, rule.remote_ip_prefix]
    return [match]


def render(
    ports: list[PortFilter],
    groups: dict[str, SecurityGroupSpec],
    addresses: dict[str, tuple[str, ...]] | None = None,
) -> tuple[list[str], str]:
    """The chains and rules for ``ports``: (``iptables-restore`` lines without the digest
    comment, digest). ``addresses`` (device → IPv4 addresses) limits what a port may send from."""
    addresses = addresses or {}
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
        body += [
            f"-A {o} -p udp -m udp --sport 68 --dport 67 -j RETURN",
            f"-A {o} -m mac ! --mac-source {port.mac} -j DROP",
        ]
        if port.device in addresses:
            spoof = port.spoof_chain
            chains.append(spoof)
            body.append(f"-A {o} -j {spoof}")
            allowed = sorted({ip if "/" in ip else f"{ip}/32" for ip in addresses[port.device] if ":" not in ip})
            body += [f"-A {spoof} -s {ip} -j RETURN" for ip in allowed]
            body.append(f"-A {spoof} -j DROP")
        body += [
            f"-A {o} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
            f"-A {o} -m conntrack --ctstate INVALID -j DROP",
            f"-A {i} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
            f"-A {i} -m conntrack --ctstate INVALID -j DROP",
            f"-A {i} -p udp -m udp --sport 67 --dport 68 -j RETURN",
        ]
        seen: set[str] = set()
        for group in port.groups:
            for rule in groups[group].rules:
                chain = i if rule.direction == "ingress" else o
                for match in rule_matches(rule, groups):
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
        #: device → the IPv4 addresses its guest may send from; a device not listed: any address
        self.addresses: dict[str, tuple[str, ...]] = {}
        self._deferred = 0

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

    def ensure_bridge_netfilter(self) -> None:
        """Bridged IPv4 traffic traverses iptables (``br_netfilter``), or a clear error."""
        try:
            if self.host_net.sysctl(BRIDGE_NF) != "1":
                self.host_net.sysctl(BRIDGE_NF, "1")
        except HostNetError as exc:
            raise HostNetError(f"security groups need br_netfilter ({BRIDGE_NF}): {exc}") from exc

    def check(self, groups: list[str]) -> None:
        """Raise :class:`UnknownSecurityGroup` unless every group is known."""
        for group in groups:
            if group not in self.groups:
                raise UnknownSecurityGroup(f"security group {group} is not known on this host")

    def set_port(self, device: str, mac: str, groups: list[str]) -> None:
        """Filter ``device`` with ``groups`` (none: unfiltered) and apply; idempotent."""
        wanted = PortFilter(device, mac, tuple(groups)) if groups else None
        if self.ports.get(device) == wanted:
            if wanted is not None:
                self.apply()  # cheap when current; repairs lost rules
            return
        self.check(groups)
        if wanted is None:
            self.ports.pop(device, None)
        else:
            self.ports[device] = wanted
        self.apply()

    def apply(self) -> None:
        if self._deferred:
            return
        lines, digest = render(list(self.ports.values()), self.groups, self.addresses)
        if self.ports:
            self.ensure_bridge_netfilter()
        try:
            saved = self.host_net.iptables_save()
        except HostNetError:
            if not self.ports:
                return  # nothing to filter on a host without iptables
            raise
        present = _chains(saved)
        if not self.ports and TOP_CHAIN not in present:
            return  # never filtered anything here: leave the table alone
        current = _DIGEST.search(saved)
        jump = f"-A FORWARD -j {TOP_CHAIN}" in saved
        if current is not None and current.group(1) == digest and jump:
            return
        text = ["*filter", *lines[:1], f'-A {TOP_CHAIN} -m comment --comment "neutrino:{digest}"', *lines[1:]]
        if not jump:
            text.append(f"-I FORWARD 1 -j {TOP_CHAIN}")
        self.host_net.iptables_restore("\n".join([*text, "COMMIT", ""]))
        wanted = {line[1:].split()[0] for line in lines if line.startswith(":")}
        stale = sorted(c for c in present if c.startswith(PORT_CHAIN_PREFIX) and c not in wanted)
        if stale:  # unreferenced now; deleted in a second transaction (nft refuses it in the first)
            self.host_net.iptables_restore(
                "\n".join(["*filter", *[f"-F {c}" for c in stale], *[f"-X {c}" for c in stale], "COMMIT", ""])
            )


BRIDGE_NF = "net.bridge.bridge-nf-call-iptables"


def _chains(saved: str) -> set[str]:
    return {line[1:].split()[0] for line in saved.splitlines() if line.startswith(":")}
