"""Idempotent host operations: ``ensure_*`` creates or corrects, ``delete_*`` removes.

Creating what exists (with the right attributes) or deleting what is gone changes nothing, so
the agent can replay its whole state after a restart. Every function takes the :class:`HostNet`
to act on; none keeps state of its own.

Ownership: every bridge, VXLAN device and veth host end created here carries the ifalias
:data:`OWNER_MARK`. An existing device without it is someone else's (a host admin's ``ovirtmgmt``, another
program's bridge): the ``ensure_*`` functions refuse to adopt it (:class:`ForeignDevice`, naming it), and
:func:`delete_link` leaves it alone. A device is marked right after it is created (``ip link add`` ignores
an alias), so one left by a crash in between is treated as foreign until someone removes it.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from neutrino.agent.datapath.hostnet import HostNet, HostNetError, LinkChange, LinkInfo, VxlanSpec

IFNAMSIZ = 15
_VXLAN_NAME = re.compile(r"vxlan-\d+")
#: The ifalias of every device the agent creates (its ownership mark).
OWNER_MARK = "neutrino"
#: What a device name may be made of: a name reaching the kernel from an API call is checked against it.
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")

log = logging.getLogger(__name__)


class ForeignDevice(HostNetError):
    """A device the agent would create or change exists without the agent's mark: it is not ours."""

    def __init__(self, link: LinkInfo) -> None:
        super().__init__(
            f"device {link.name} ({link.kind or 'physical'}) exists and was not created by Neutrino "
            f"(no ifalias {OWNER_MARK!r}); it is left alone: remove or rename it, or use another name"
        )
        self.device = link.name


def owned(link: LinkInfo) -> bool:
    """Whether the agent created this device (it carries :data:`OWNER_MARK`)."""
    return link.alias == OWNER_MARK


def device_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be an interface name (1-15 characters of ``[A-Za-z0-9_.-]``), or None."""
    if not name or len(name) > IFNAMSIZ:
        return f"must be 1 to {IFNAMSIZ} characters long"
    if not set(name) <= _NAME_CHARS or name in (".", ".."):
        return "may contain only letters, digits, '_', '.' and '-'"
    return None


def _mark(net: HostNet, name: str) -> None:
    net.set_link(name, LinkChange(alias=OWNER_MARK))


def _expect_owned(link: LinkInfo) -> None:
    if not owned(link):
        raise ForeignDevice(link)


def tap_name(port_id: str) -> str:
    """``tap<port[:11]>``: the host end of a vNIC, as Neutron's agents expect it."""
    return ("tap" + port_id)[:14]


def brq_name(network_id: str) -> str:
    """``brq<net[:11]>``: the Linux bridge of one provider network (Neutron's linuxbridge agent)."""
    return ("brq" + network_id)[:14]


def qbr_name(port_id: str) -> str:
    """``qbr<port[:11]>``: the per-vNIC bridge of the OVS hybrid plug (security groups)."""
    return ("qbr" + port_id)[:14]


def vxlan_name(vni: int) -> str:
    """``vxlan-<vni>``: the VXLAN device of one segmentation id (Neutron's linuxbridge agent)."""
    return f"vxlan-{vni}"


def _check_name(name: str) -> None:
    problem = device_name_problem(name)
    if problem is not None:
        raise HostNetError(f"invalid device name {name!r}: {problem}")


def _expect_kind(link: LinkInfo, kind: str) -> None:
    if link.kind != kind:
        raise HostNetError(f"{link.name} exists but is a {link.kind or 'physical'} device, not a {kind}")


def ensure_link_state(
    net: HostNet,
    name: str,
    *,
    master: str | None = None,
    mtu: int | None = None,
    up: bool = True,
    current: LinkInfo | None = None,
) -> LinkInfo:
    """Make an existing device have this master (when given), MTU (when given) and state; ``current``: the
    device as the caller just read it (not read again)."""
    link = current if current is not None else net.link(name)
    if link is None:
        raise HostNetError(f'Device "{name}" does not exist.')
    change = LinkChange()
    if master is not None and link.master != master:
        change.master = master
    if mtu and link.mtu != mtu:
        change.mtu = mtu
    if link.up != up:
        change.up = up
    if change.master or change.mtu or change.up is not None:
        net.set_link(name, change)
        # as set (not read again: a plug makes some ten of these changes, each read a netlink round trip)
        link = dataclasses.replace(
            link,
            master=change.master or link.master,
            mtu=change.mtu or link.mtu,
            up=link.up if change.up is None else change.up,
        )
    return link


_pass: ContextVar[set[Hashable] | None] = ContextVar("linux_net_pass", default=None)


@contextmanager
def one_pass() -> Iterator[None]:
    """Around one verb of the agent (under its lock, so nothing of the agent's own undoes what it made meanwhile):
    what :func:`once_per_pass` ensured is taken as ensured for the rest of the block (e.g. a network's bridge and
    VXLAN device, for a guest's vNIC and then the network's DHCP server port)."""
    token = _pass.set(set())
    try:
        yield
    finally:
        _pass.reset(token)


def once_per_pass(key: Hashable, ensure: Callable[[], object]) -> None:
    """``ensure()``, unless it succeeded with the same ``key`` earlier in this :func:`one_pass` (outside one:
    always)."""
    done = _pass.get()
    if done is not None and key in done:
        return
    ensure()
    if done is not None:
        done.add(key)


def ensure_state_if_exists(
    net: HostNet, name: str, *, master: str | None = None, mtu: int | None = None
) -> LinkInfo | None:
    """:func:`ensure_link_state` (up) of a device that may not exist yet (e.g. a tap libvirt creates at
    start): None, and nothing done, without it."""
    link = net.link(name)
    return None if link is None else ensure_link_state(net, name, master=master, mtu=mtu, current=link)


def ensure_bridge(net: HostNet, name: str, mtu: int | None = None, *, host_ipv6: bool = True) -> LinkInfo:
    """A Linux bridge named ``name``, up, with ``mtu`` when given. ``host_ipv6=False`` (a provider
    network's bridge): the host has no IPv6 on it, so it takes no link-local address and no SLAAC
    address from router advertisements on the guests' network (the bridge forwards IPv6 all the
    same), as Neutron's linuxbridge agent does."""
    _check_name(name)
    link = net.link(name)
    if link is None:
        net.add_bridge(name, mtu)
        _mark(net, name)
    else:
        _expect_owned(link)
        _expect_kind(link, "bridge")
    if not host_ipv6:
        ensure_sysctl(net, f"net/ipv6/conf/{name}/disable_ipv6", "1", missing_ok=True)
    return ensure_link_state(net, name, mtu=mtu, current=link)


def ensure_sysctl(net: HostNet, key: str, value: str, *, missing_ok: bool = False) -> None:
    """The namespace's sysctl ``key`` is ``value``; with ``missing_ok`` a key the kernel does not
    have (e.g. IPv6 ones on a kernel without IPv6) is left alone."""
    try:
        current = net.sysctl(key)
    except HostNetError:
        if missing_ok:
            return
        raise
    if current != value:
        net.sysctl(key, value)


def ensure_vxlan(net: HostNet, name: str, spec: VxlanSpec, bridge: str | None = None) -> LinkInfo:
    """A unicast, non-learning VXLAN device with ``spec``'s VNI, up, enslaved to ``bridge``.

    An existing device with another VNI or local address is recreated.
    """
    _check_name(name)
    link = net.link(name)
    if link is not None:
        _expect_owned(link)
        _expect_kind(link, "vxlan")
        if link.vxlan_id != spec.vni or (spec.local and link.vxlan_local != spec.local):
            net.delete_link(name)
            link = None
    if link is None:
        net.add_vxlan(name, spec)
        _mark(net, name)
    return ensure_link_state(net, name, master=bridge, mtu=spec.mtu, current=link)


def ensure_flood_entries(net: HostNet, dev: str, peers: Iterable[str], *, exclusive: bool = False) -> None:
    """Flood (all-zeros MAC) FDB entries on ``dev`` toward each peer tunnel address.

    With ``exclusive`` entries toward other destinations are removed.
    """
    wanted = set(peers)
    have = net.flood_entries(dev)
    for dst in sorted(wanted - have):
        net.add_flood_entry(dev, dst)
    if exclusive:
        for dst in sorted(have - wanted):
            net.delete_flood_entry(dev, dst)


def prune_flood_entries(net: HostNet, keep: Iterable[str]) -> list[tuple[str, str]]:
    """Remove the flood entries toward any address not in ``keep`` from every VXLAN device the
    agent names (``vxlan-<vni>``); returns the (device, address) pairs removed."""
    wanted = set(keep)
    removed = []
    for link in net.links():
        if link.kind != "vxlan" or not _VXLAN_NAME.fullmatch(link.name):
            continue
        for dst in sorted(net.flood_entries(link.name) - wanted):
            net.delete_flood_entry(link.name, dst)
            removed.append((link.name, dst))
    return removed


def ensure_addresses(net: HostNet, name: str, cidrs: Iterable[str]) -> None:
    """The device has exactly these ``ADDRESS/PREFIXLEN`` addresses (link-local ones aside)."""
    wanted = set(cidrs)
    have = net.addresses(name)
    for cidr in sorted(have - wanted):
        net.delete_address(name, cidr)
    for cidr in sorted(wanted - have):
        net.add_address(name, cidr)


def bridge_ports(net: HostNet, bridge: str) -> list[str]:
    """Names of the devices whose master is ``bridge``."""
    return sorted(link.name for link in net.links() if link.master == bridge)


def ensure_detached(net: HostNet, name: str) -> None:
    """``name`` is on no bridge (or does not exist)."""
    link = net.link(name)
    if link is not None and link.master is not None:
        net.set_link(name, LinkChange(nomaster=True))


def delete_link(net: HostNet, name: str) -> None:
    """No device of the agent's named ``name``: one without the mark is not ours and stays (logged)."""
    link = net.link(name)
    if link is None:
        return
    if not owned(link):
        log.warning("not deleting %s: it was not created by Neutrino (no ifalias %r)", name, OWNER_MARK)
        return
    net.delete_link(name)


def ensure_netns(net: HostNet, name: str) -> None:
    """A named network namespace with its loopback up."""
    if name not in net.netns_names():
        net.add_netns(name)


def delete_netns(net: HostNet, name: str) -> None:
    """No named network namespace ``name``."""
    if name in net.netns_names():
        net.delete_netns(name)


def ensure_veth(net: HostNet, name: str, peer: str, peer_netns: str | None) -> LinkInfo:
    """A veth pair whose host end is ``name`` and whose other end is ``peer`` in ``peer_netns``.

    A host end without its peer where expected (e.g. left from a crash) is recreated.
    """
    _check_name(name)
    _check_name(peer)
    link = net.link(name)
    target = net.in_netns(peer_netns) if peer_netns else net
    if link is not None:
        _expect_owned(link)
        _expect_kind(link, "veth")
        if target.link(peer) is not None:
            return link
        net.delete_link(name)
    net.add_veth(name, peer, peer_netns)
    _mark(net, name)
    _mark(target, peer)  # both ends are ours (the OVS hybrid plug deletes a pair by its peer's name)
    found = net.link(name)
    assert found is not None
    return found


def ensure_tx_checksum(net: HostNet, name: str, enabled: bool) -> None:
    """The device offloads TX checksums (``enabled``) or has the kernel complete them."""
    if net.tx_checksum(name) != enabled:
        net.set_tx_checksum(name, enabled)


def ensure_peer_tx_checksum(net: HostNet, name: str, enabled: bool) -> str | None:
    """The other end of the veth ``name`` offloads TX checksums or not; returns that end's name,
    None when ``name`` is no veth (nothing to do) or its peer's namespace has no name."""
    peer = net.veth_peer(name)
    if peer is None:
        return None
    netns, device = peer
    if netns == net.netns:
        target = net
    elif netns is not None:
        target = net.in_netns(netns)
    else:
        return None
    ensure_tx_checksum(target, device, enabled)
    return device
