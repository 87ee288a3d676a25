"""The one interface through which the agent touches host networking.

Everything that needs root or netlink goes through a :class:`HostNet`. Two implementations:
:class:`neutrino.agent.datapath.iproute.IpRouteNet` (the kernel, through the ``ip`` and ``bridge``
commands) and :class:`neutrino.agent.datapath.memory.MemoryNet` (an in-memory model used by unit
tests and by agents that must not touch the host).

Methods are deliberately primitive and *not* idempotent; idempotence lives one level up in
:mod:`neutrino.agent.datapath.linux_net`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

_T = TypeVar("_T")


class HostNetError(Exception):
    """A host networking operation failed; the message says which and why."""


@dataclass(frozen=True)
class LinkInfo:
    """What the agent needs to know about one network device."""

    name: str
    kind: str  # "bridge", "vxlan", "veth", "tun", "dummy", "" for physical
    mtu: int
    address: str
    up: bool
    master: str | None = None
    vxlan_id: int | None = None
    vxlan_local: str | None = None
    #: the device's ``ifalias``; the agent marks what it creates (``linux_net.OWNER_MARK``)
    alias: str | None = None


@dataclass(frozen=True)
class VxlanSpec:
    """A unicast VXLAN device: ``nolearning``, flood entries added separately."""

    vni: int
    local: str | None
    port: int = 4789
    dev: str | None = None
    mtu: int | None = None


@dataclass
class LinkChange:
    """Attributes to change on a link; ``None`` leaves an attribute as it is."""

    master: str | None = None
    nomaster: bool = False
    mtu: int | None = None
    address: str | None = None
    up: bool | None = None
    alias: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


class HostNet(ABC):
    """Primitive operations on one network namespace (``netns`` None = the agent's own)."""

    netns: str | None

    @abstractmethod
    def link(self, name: str) -> LinkInfo | None:
        """The device, or None when there is none by that name."""

    @abstractmethod
    def links(self) -> list[LinkInfo]:
        """Every device in the namespace."""

    @abstractmethod
    def veth_peer(self, name: str) -> tuple[str | None, str] | None:
        """The other end of a veth: (its namespace as :meth:`in_netns` names it, ``None`` for the
        agent's own; its name). None when the device is not a veth, does not exist, or its peer
        lives in a namespace without a name."""

    @abstractmethod
    def tx_checksum(self, name: str) -> bool:
        """Whether the device offloads TX checksums (``ethtool -k``: ``tx-checksumming``)."""

    @abstractmethod
    def set_tx_checksum(self, name: str, enabled: bool) -> None:
        """``ethtool -K NAME tx on|off`` (off: the kernel completes TCP/UDP checksums before the
        device sends)."""

    @abstractmethod
    def add_bridge(self, name: str, mtu: int | None = None) -> None:
        """Create a Linux bridge (down)."""

    @abstractmethod
    def add_vxlan(self, name: str, spec: VxlanSpec) -> None:
        """Create a VXLAN device (down)."""

    @abstractmethod
    def add_veth(self, name: str, peer: str, peer_netns: str | None = None) -> None:
        """Create a veth pair; the peer is created directly in ``peer_netns`` when given."""

    @abstractmethod
    def set_link(self, name: str, change: LinkChange) -> None:
        """Apply ``change`` to the device (master, mtu, MAC address, up/down)."""

    @abstractmethod
    def delete_link(self, name: str) -> None:
        """Delete the device (and a veth's peer with it)."""

    @abstractmethod
    def addresses(self, name: str) -> set[str]:
        """The device's IP addresses as ``ADDRESS/PREFIXLEN``."""

    @abstractmethod
    def add_address(self, name: str, cidr: str) -> None:
        """Add ``ADDRESS/PREFIXLEN`` to the device."""

    @abstractmethod
    def delete_address(self, name: str, cidr: str) -> None:
        """Remove ``ADDRESS/PREFIXLEN`` from the device."""

    @abstractmethod
    def flood_entries(self, dev: str) -> set[str]:
        """Destinations of the all-zeros (flood) FDB entries of a VXLAN device."""

    @abstractmethod
    def add_flood_entry(self, dev: str, dst: str) -> None:
        """``bridge fdb append 00:00:00:00:00:00 dev DEV dst DST``."""

    @abstractmethod
    def delete_flood_entry(self, dev: str, dst: str) -> None:
        """Remove one flood entry."""

    @abstractmethod
    def sysctl(self, key: str, value: str | None = None) -> str:
        """Read a sysctl of the namespace (e.g. ``net.bridge.bridge-nf-call-iptables``); with
        ``value``, set it first. A key the kernel does not have raises :class:`HostNetError`."""

    @abstractmethod
    def iptables_save(self) -> str:
        """The IPv4 ``filter`` table in ``iptables-save`` format."""

    @abstractmethod
    def iptables_restore(self, text: str) -> None:
        """Apply ``iptables-restore --noflush`` input atomically (declared chains are flushed)."""

    @abstractmethod
    def ip6tables_save(self) -> str:
        """The IPv6 ``filter`` table in ``ip6tables-save`` format."""

    @abstractmethod
    def ip6tables_restore(self, text: str) -> None:
        """Apply ``ip6tables-restore --noflush`` input atomically (declared chains are flushed)."""

    @abstractmethod
    def raw_save(self, version: int) -> str:
        """The IPv4 (``version`` 4) or IPv6 (6) ``raw`` table in ``iptables-save`` format."""

    @abstractmethod
    def raw_restore(self, version: int, text: str) -> None:
        """Apply ``iptables-restore --noflush`` (``ip6tables-restore`` for ``version`` 6) input to
        the ``raw`` table atomically (declared chains are flushed)."""

    def save_tables(self, tables: Sequence[str]) -> dict[int, dict[str, str]]:
        """The ``raw`` and/or ``filter`` tables of both IP versions (4 and 6 → table → its
        ``iptables-save`` text), in one read per version where the implementation can (the kernel's:
        an ``iptables-save`` and an ``ip6tables-save``, side by side)."""
        return {
            version: {
                table: self.raw_save(version)
                if table == "raw"
                else (self.iptables_save() if version == 4 else self.ip6tables_save())
                for table in tables
            }
            for version in (4, 6)
        }

    def restore_tables(self, texts: Mapping[int, Sequence[str]]) -> None:
        """Apply ``iptables-restore --noflush`` inputs of the ``raw`` and ``filter`` tables (IP
        version → each table's ``*table`` ... ``COMMIT``), in one write per version where the
        implementation can (the kernel's: an ``iptables-restore`` and an ``ip6tables-restore`` with
        both tables, side by side)."""
        for version, version_texts in sorted(texts.items()):
            for text in version_texts:
                if text.startswith("*raw"):
                    self.raw_restore(version, text)
                elif version == 4:
                    self.iptables_restore(text)
                else:
                    self.ip6tables_restore(text)

    @abstractmethod
    def forget_zone(self, zone: int) -> None:
        """Delete the connection tracking entries of one zone, IPv4 and IPv6 (``conntrack -D -w``)."""

    # -- a router's namespace (the L3 part) --------------------------------------------------
    @abstractmethod
    def routes(self) -> set[tuple[str, str]]:
        """The routes through a gateway in the main table, IPv4 and IPv6, as (destination CIDR,
        gateway); a default route's destination is ``0.0.0.0/0`` or ``::/0``."""

    @abstractmethod
    def replace_route(self, destination: str, gateway: str) -> None:
        """``ip route replace DESTINATION via GATEWAY``."""

    @abstractmethod
    def delete_route(self, destination: str, gateway: str) -> None:
        """``ip route del DESTINATION via GATEWAY``."""

    @abstractmethod
    def nat_save(self) -> str:
        """The IPv4 ``nat`` table in ``iptables-save`` format."""

    @abstractmethod
    def nat_restore(self, text: str) -> None:
        """Replace the whole IPv4 tables of ``iptables-restore`` input (``nat``, and ``raw`` when
        given) in one call."""

    @abstractmethod
    def forget_connections(self, address: str) -> None:
        """Delete the connection tracking entries to or translated to ``address`` (``conntrack -D``):
        flows through a floating IP that is gone stop being translated."""

    @abstractmethod
    def announce(self, device: str, address: str) -> None:
        """A gratuitous ARP for ``address`` out of ``device`` (neighbours and switches learn where it
        is now); best effort."""

    @abstractmethod
    def netns_names(self) -> set[str]:
        """Named network namespaces on the host (``ip netns list``)."""

    @abstractmethod
    def add_netns(self, name: str) -> None:
        """Create a named network namespace, its loopback up."""

    @abstractmethod
    def delete_netns(self, name: str) -> None:
        """Delete a named network namespace (its devices go with it)."""

    @abstractmethod
    def in_netns(self, name: str) -> HostNet:
        """The same operations aimed at another named namespace."""

    def together(self, fn: Callable[[HostNet], _T]) -> _T:
        """``fn(net)``, ``net`` making the same calls as this one: where calls made together cost less
        than each alone (a named namespace's, from one thread joined to it rather than one each)."""
        return fn(self)
