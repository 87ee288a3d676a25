"""Connection tracking zones per network for the bridges the firewall filters (the ``raw`` table).

The kernel tracks connections in one table per zone, and the firewall's "established/related"
rules trust it. Without zones every bridge of a host shares zone 0, so two networks that use the
same addresses share flows: a datagram that network A's guest sent to ``10.0.0.13`` makes a packet
from ``10.0.0.13`` on network B "established" toward the guest with A's guest's address, through a
group that allows nothing of the kind. Neutron's iptables firewall gives each network its own zone;
so does this, in the IPv4 and IPv6 ``raw`` tables (which run before connection tracking)::

    PREROUTING ─► neutrino-ct   (jump inserted first in PREROUTING)
                    comment "neutrino:<digest of what follows>"
                    -i <bridge> -m comment --comment "nz:<network>" -j CT --zone <zone>   (one per bridge)

``-i <bridge>`` matches every frame the bridge forwards, whichever port it came in by (guest tap,
VXLAN device, DHCP server, router leg, a hybrid plug's ``qvb``): br_netfilter hands bridged
frames to the IP hooks with the bridge as their input device. So the request and its reply are in
the network's zone whatever side they come from. A linux_bridge network has one bridge per host;
the hybrid OVS plug one ``qbr`` per vNIC, each given its network's zone.

Zones are numbered from 4097 like Neutron's (clear of the 1-4094 range zones keyed by VLAN use).
A network keeps its zone while it has filtered ports here; the comment names the network, so an
agent restarting reads the zones back from the kernel and established connections survive it. A
zone given up has its tracked connections deleted, so the next network that gets the number starts
with none.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping

from neutrino.agent.datapath.hostnet import HostNetError

ZONE_CHAIN = "neutrino-ct"
FIRST_ZONE = 4097
LAST_ZONE = 65535
_ZONE_RULE = re.compile(r'-i (\S+) -m comment --comment "?nz:([^"\s]+)"? -j CT --zone (\d+)')
_DIGEST = re.compile(r'--comment "?neutrino:([0-9a-f]+)"?')


class ZonesExhausted(HostNetError):
    """More networks with filtered ports on this host than connection tracking zones."""


def zones_in(saved: str) -> dict[str, int]:
    """The zone of each network in an ``iptables-save -t raw`` text this module wrote (network →
    zone; an agent reads them back after a restart)."""
    return {m.group(2): int(m.group(3)) for m in _ZONE_RULE.finditer(saved)}


def assign_zones(networks: Iterable[str], current: Mapping[str, int]) -> dict[str, int]:
    """A zone for each network: the one it has in ``current``, else the lowest free one. Raises
    :class:`ZonesExhausted` when none is free."""
    wanted = sorted(set(networks))
    zones = {net: current[net] for net in wanted if net in current}
    used = set(zones.values())
    free = (z for z in range(FIRST_ZONE, LAST_ZONE + 1) if z not in used)
    for net in wanted:
        if net not in zones:
            zone = next(free, None)
            if zone is None:
                raise ZonesExhausted(
                    f"no connection tracking zone is free for network {net} "
                    f"({LAST_ZONE - FIRST_ZONE + 1} networks with filtered ports on this host)"
                )
            zones[net] = zone
    return zones


def render_zones(bridges: Mapping[str, str], zones: Mapping[str, int]) -> tuple[list[str], str]:
    """The ``raw`` chain putting each bridge's frames in its network's zone (``bridges``: bridge →
    network): (``iptables-restore`` lines without the digest comment, digest)."""
    lines = [f":{ZONE_CHAIN} - [0:0]"]
    lines += [
        f'-A {ZONE_CHAIN} -i {bridge} -m comment --comment "nz:{net}" -j CT --zone {zones[net]}'
        for bridge, net in sorted(bridges.items())
    ]
    return lines, hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def restore_text(lines: list[str], digest: str, saved: str) -> str | None:
    """The ``iptables-restore --noflush`` input that makes a ``raw`` table (``saved``) hold
    ``lines``; None when it already does."""
    current = _DIGEST.search(saved)
    jump = f"-A PREROUTING -j {ZONE_CHAIN}" in saved
    if current is not None and current.group(1) == digest and jump:
        return None
    text = ["*raw", lines[0], f'-A {ZONE_CHAIN} -m comment --comment "neutrino:{digest}"', *lines[1:]]
    if not jump:
        text.append(f"-I PREROUTING 1 -j {ZONE_CHAIN}")
    return "\n".join([*text, "COMMIT", ""])
