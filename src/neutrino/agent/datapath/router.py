"""A router as Neutron's legacy L3 agent builds it: a network namespace ``<prefix>qrouter-<id>``.

In it, per router port a leg: a veth whose namespace end (``qr-<port[:11]>`` for an interface,
``qg-<port[:11]>`` for the gateway) has the port's MAC and addresses, and whose host end
(``tap<port[:11]>``, like the linuxbridge agent's) the network's vNIC driver plugs into the
network's bridge like a vNIC. Then:

* forwarding on; ARP answered only for an address of the leg asked on (``arp_ignore=1``);
* routes: the default one via the external subnet's gateway, and the router's static routes
  (extraroute), exactly those;
* the ``raw`` table: traffic between the router's own subnets is not tracked (nothing to
  translate; the guests' groups track it on their bridges);
* the ``nat`` table (regenerated whole with ``raw``, one ``iptables-restore``; a digest comment
  lets a later pass see it is current)::

      PREROUTING  ─► neutrino-PREROUTING:  -d FIP -j DNAT --to FIXED        (per floating IP)
      OUTPUT      ─► neutrino-OUTPUT:      the same, for the router's own traffic
      POSTROUTING ─► neutrino-POSTROUTING: ! -o qg- and not DNATed ─► ACCEPT (routed between
                                            the router's networks, untranslated)
                                           ─► neutrino-float-snat: -s FIXED -j SNAT --to FIP
                                           ─► neutrino-snat:       -s SUBNET -o qg- -j SNAT --to GW
                                                                   (with enable_snat), and
                                                                   -s SUBNET, DNATed ─► SNAT --to GW
                                                                   (a guest reaching another's
                                                                   floating IP: replies come back)

* each floating IP is a ``/32`` on the gateway leg (the kernel answers ARP for it), added after
  its NAT rules and removed before them (the router never answers for it itself), announced with
  a gratuitous ARP; when one goes, its tracked connections are deleted, so flows through it stop
  at once.

Security groups stay the guests' (their ports' chains on the host's bridges): routed traffic keeps
its source address, traffic to a floating IP arrives with the outside's.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from neutrino.agent.datapath import linux_net
from neutrino.agent.datapath.hostnet import HostNet, HostNetError, LinkChange
from neutrino.agent_api.schema import ExternalNet

log = logging.getLogger(__name__)

NAT_CHAINS = (
    "neutrino-PREROUTING",
    "neutrino-OUTPUT",
    "neutrino-POSTROUTING",
    "neutrino-float-snat",
    "neutrino-snat",
)
_DIGEST = re.compile(r'--comment "?neutrino:([0-9a-f]+)"?')
LEG_PREFIXES = {"internal": "qr-", "gateway": "qg-"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RouterLeg(_Model):
    """One router port: its leg in the namespace and where the vNIC driver plugs the host end."""

    port_id: str
    kind: Literal["internal", "gateway"]
    mac: str
    mtu: int | None = None
    addresses: list[str] = Field(default_factory=list, description="ADDRESS/PREFIXLEN, the port's fixed IPs")
    net: ExternalNet

    @property
    def device(self) -> str:
        """The namespace end: ``qr-`` or ``qg-`` and the port id's first 11 characters."""
        return (LEG_PREFIXES[self.kind] + self.port_id)[:14]

    @property
    def host_device(self) -> str:
        """The host end, plugged into the network's bridge."""
        return linux_net.tap_name(self.port_id)


class FloatingIpSpec(_Model):
    id: str
    floating_ip: str
    fixed_ip: str


class StaticRoute(_Model):
    destination: str
    nexthop: str


class RouterSpec(_Model):
    """What one router is on this host."""

    router_id: str
    legs: list[RouterLeg] = Field(default_factory=list)
    gateway_ip: str | None = Field(
        default=None, description="the external subnet's gateway: the default route"
    )
    snat: bool = True
    floating_ips: list[FloatingIpSpec] = Field(default_factory=list)
    routes: list[StaticRoute] = Field(default_factory=list)

    @property
    def gateway(self) -> RouterLeg | None:
        return next((leg for leg in self.legs if leg.kind == "gateway"), None)

    @property
    def gateway_address(self) -> str | None:
        """The gateway leg's first IPv4 address: what SNAT translates to."""
        leg = self.gateway
        found = [a.split("/")[0] for a in (leg.addresses if leg else []) if ":" not in a]
        return found[0] if found else None

    def internal_subnets(self) -> list[str]:
        """The IPv4 subnets behind the router (its interfaces' networks)."""
        nets = {
            str(ipaddress.ip_interface(a).network)
            for leg in self.legs
            if leg.kind == "internal"
            for a in leg.addresses
            if ":" not in a
        }
        return sorted(nets, key=ipaddress.ip_network)


def nat_rules(spec: RouterSpec) -> tuple[list[str], str]:
    """The router's ``nat`` rules (``iptables-restore`` lines, chains declared, without the
    digest comment) and their digest; see the module docstring."""
    body: list[str] = [
        "-A PREROUTING -j neutrino-PREROUTING",
        "-A OUTPUT -j neutrino-OUTPUT",
        "-A POSTROUTING -j neutrino-POSTROUTING",
    ]
    gateway, address = spec.gateway, spec.gateway_address
    if gateway is not None and address is not None:
        qg = gateway.device
        for fip in sorted(spec.floating_ips, key=lambda f: ipaddress.ip_address(f.floating_ip)):
            dnat = f"-d {fip.floating_ip}/32 -j DNAT --to-destination {fip.fixed_ip}"
            body += [f"-A neutrino-PREROUTING {dnat}", f"-A neutrino-OUTPUT {dnat}"]
            body.append(f"-A neutrino-float-snat -s {fip.fixed_ip}/32 -j SNAT --to-source {fip.floating_ip}")
        body += [
            f"-A neutrino-POSTROUTING ! -o {qg} -m conntrack ! --ctstate DNAT -j ACCEPT",
            "-A neutrino-POSTROUTING -j neutrino-float-snat",
            "-A neutrino-POSTROUTING -j neutrino-snat",
        ]
        for subnet in spec.internal_subnets():
            if spec.snat:
                body.append(f"-A neutrino-snat -s {subnet} -o {qg} -j SNAT --to-source {address}")
            body.append(
                f"-A neutrino-snat -s {subnet} -m conntrack --ctstate DNAT -j SNAT --to-source {address}"
            )
    lines = [f":{chain} - [0:0]" for chain in NAT_CHAINS] + body
    return lines, hashlib.sha256("\n".join([*lines, *raw_rules(spec)]).encode()).hexdigest()[:16]


def raw_rules(spec: RouterSpec) -> list[str]:
    """The router's ``raw`` rules: traffic routed between its own subnets is not tracked (no NAT
    applies to it; the guests' groups track it on their hosts' bridges), which spares the
    forwarding path a connection lookup per packet."""
    subnets = spec.internal_subnets()
    return [":neutrino-PREROUTING - [0:0]", "-A PREROUTING -j neutrino-PREROUTING"] + [
        f"-A neutrino-PREROUTING -s {src} -d {dst} -j CT --notrack"
        for src in subnets
        for dst in subnets
        if src != dst
    ]


def nat_table(spec: RouterSpec) -> str:
    """``iptables-restore`` input replacing the whole ``nat`` table with :func:`nat_rules` and the
    whole ``raw`` table with :func:`raw_rules` (the digest covers both)."""
    lines, digest = nat_rules(spec)
    builtin = [f":{c} ACCEPT [0:0]" for c in ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING")]
    mark = f'-A neutrino-POSTROUTING -m comment --comment "neutrino:{digest}"'
    nat = ["*nat", *builtin, *lines[: len(NAT_CHAINS)], mark, *lines[len(NAT_CHAINS) :], "COMMIT"]
    raw = ["*raw", ":PREROUTING ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", *raw_rules(spec), "COMMIT"]
    return "\n".join([*nat, *raw, ""])


def _floating_cidrs(spec: RouterSpec) -> set[str]:
    return {f"{fip.floating_ip}/32" for fip in spec.floating_ips} if spec.gateway is not None else set()


def wanted_routes(spec: RouterSpec) -> set[tuple[str, str]]:
    """(destination, gateway) of every route through a gateway the router has."""
    found = {(str(ipaddress.ip_network(r.destination)), r.nexthop) for r in spec.routes}
    if spec.gateway_ip and spec.gateway is not None:
        default = "::/0" if ":" in spec.gateway_ip else "0.0.0.0/0"
        found.add((default, spec.gateway_ip))
    return found


class RouterNamespaces:
    """The router namespaces of one agent (those named with its prefix)."""

    def __init__(self, host_net: HostNet, netns_prefix: str) -> None:
        self.host_net = host_net
        self.prefix = f"{netns_prefix}qrouter-"

    def namespace(self, router_id: str) -> str:
        return self.prefix + router_id

    def present(self) -> set[str]:
        """Router ids whose namespace exists on this host."""
        return {ns[len(self.prefix) :] for ns in self.host_net.netns_names() if ns.startswith(self.prefix)}

    def ensure_namespace(self, spec: RouterSpec) -> HostNet:
        """The namespace, forwarding; returns the namespace's :class:`HostNet`."""
        ns = self.namespace(spec.router_id)
        linux_net.ensure_netns(self.host_net, ns)
        inner = self.host_net.in_netns(ns)
        for key, value in (
            ("net.ipv4.ip_forward", "1"),
            ("net.ipv4.conf.all.arp_ignore", "1"),
            ("net.ipv4.conf.all.arp_announce", "2"),
        ):
            linux_net.ensure_sysctl(inner, key, value)
        linux_net.ensure_sysctl(inner, "net.ipv6.conf.all.forwarding", "1", missing_ok=True)
        return inner

    def ensure_leg(self, spec: RouterSpec, leg: RouterLeg) -> None:
        """The leg's veth, its namespace end with the port's MAC, MTU and addresses, up (new
        floating IPs are :meth:`ensure_routing`'s). The host end is the vNIC driver's to plug."""
        ns = self.namespace(spec.router_id)
        inner = self.host_net.in_netns(ns)
        linux_net.ensure_veth(self.host_net, leg.host_device, leg.device, ns)
        link = inner.link(leg.device)
        assert link is not None
        if link.address != leg.mac:
            inner.set_link(leg.device, LinkChange(address=leg.mac))
        # no address of its own on the host's side: the kernel there must not answer for it
        linux_net.ensure_sysctl(
            self.host_net, f"net/ipv6/conf/{leg.host_device}/disable_ipv6", "1", missing_ok=True
        )
        for key, value in (("accept_ra", "0"), ("accept_dad", "0")):
            linux_net.ensure_sysctl(inner, f"net/ipv6/conf/{leg.device}/{key}", value, missing_ok=True)
        linux_net.ensure_link_state(inner, leg.device, mtu=leg.mtu)
        wanted = set(leg.addresses)
        if leg.kind == "gateway":  # floating IPs already there stay; new ones come after their NAT
            wanted |= inner.addresses(leg.device) & _floating_cidrs(spec)
        linux_net.ensure_addresses(inner, leg.device, wanted)

    def remove_stale_legs(self, spec: RouterSpec) -> None:
        """Legs of ports the router no longer has go (the host end with its peer)."""
        inner = self.host_net.in_netns(self.namespace(spec.router_id))
        wanted = {leg.device for leg in spec.legs}
        for link in inner.links():
            if link.name[:3] in LEG_PREFIXES.values() and link.name not in wanted:
                inner.delete_link(link.name)

    def ensure_routing(self, spec: RouterSpec, previous: RouterSpec | None, *, check: bool = True) -> None:
        """Routes, NAT and floating IPs as ``spec`` says, in an order that never lets the router
        answer for a floating IP itself: floating IPs that went leave the gateway leg first, then
        the NAT rules change, then new ones join it (announced by gratuitous ARP); the tracked
        connections of floating IPs ``previous`` had and ``spec`` has not (or maps elsewhere) are
        deleted. Without ``check`` the routes and rules ``previous`` applied are trusted to be in
        place (only a change is written: fewer commands on the way of a floating IP)."""
        inner = self.host_net.in_netns(self.namespace(spec.router_id))
        gateway = spec.gateway
        fips = _floating_cidrs(spec)
        present = inner.addresses(gateway.device) if gateway is not None else set()
        for cidr in sorted(present - fips - set(gateway.addresses if gateway else ())):
            inner.delete_address(gateway.device, cidr)  # type: ignore[union-attr]
        if check or previous is None or wanted_routes(previous) != wanted_routes(spec):
            wanted, have = wanted_routes(spec), inner.routes()
            for destination, via in sorted(have - wanted):
                inner.delete_route(destination, via)
            for destination, via in sorted(wanted - have):
                inner.replace_route(destination, via)
        _, digest = nat_rules(spec)
        if check or previous is None:
            current = _DIGEST.search(inner.nat_save())
            applied = current.group(1) if current is not None else None
        else:
            applied = nat_rules(previous)[1]
        if applied != digest:
            inner.nat_restore(nat_table(spec))
        if gateway is not None:
            for cidr in sorted(fips - present):
                inner.add_address(gateway.device, cidr)
                try:
                    inner.announce(gateway.device, cidr.split("/")[0])
                except HostNetError as exc:
                    log.warning("router %s: %s", spec.router_id, exc)
        kept = {(f.floating_ip, f.fixed_ip) for f in spec.floating_ips}
        for fip in previous.floating_ips if previous is not None else []:
            if (fip.floating_ip, fip.fixed_ip) not in kept:
                inner.forget_connections(fip.floating_ip)

    def delete(self, router_id: str) -> None:
        """No namespace for the router (its legs, routes, rules and tracked connections go with it)."""
        linux_net.delete_netns(self.host_net, self.namespace(router_id))
