"""Compare desired rows with the northbound's and write the difference, counting what was done.

The same code serves a request (scope: the resources it changed) and the maintenance pass (scope:
everything): create what is missing, update what differs, delete owned rows whose resource is gone.
Order matters for references: switches, then DHCP options, then ports; deletions the other way.

Port groups: the maintenance compares their members in full, once the ports are written. A
request does not read members (see :attr:`~.desired.Scope.group_members`): its groups are written
first (a group's own write compares ACLs; a port's write only creates a group that is missing, see
:attr:`~.desired.Scope.compare_groups`), then each port it writes joins the groups its row names
and leaves those its previous row named, in the port's own transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Collection, Iterable
from typing import TypeVar

from neutrino.provider.backends.ovn import model as m
from neutrino.provider.backends.ovn.desired import Scope
from neutrino.provider.backends.ovn.northbound import Northbound, PortWrite, Snapshot

log = logging.getLogger(__name__)

T = TypeVar("T")


def _ids(scoped: Collection[str] | None, desired: dict[str, T], actual: dict[str, T]) -> list[str]:
    ids: Iterable[str] = set(desired) | set(actual) if scoped is None else scoped
    return sorted(ids)


def repair(nb: Northbound, desired: m.State, snap: Snapshot, scope: Scope) -> Counter[str]:
    """Make the northbound's rows in ``scope`` equal ``desired``; returns counts such as
    ``{"port created": 2}``. A write that fails raises; those before it stay written."""
    done: Counter[str] = Counter()
    actual = snap.state
    dhcp_uuids = dict(snap.dhcp_uuids)
    switch_ids = _ids(scope.networks, desired.switches, actual.switches)
    dhcp_ids = _ids(scope.subnets, desired.dhcp, actual.dhcp)
    port_ids = _ids(scope.ports, desired.ports, actual.ports)
    _write_switches(nb, desired, actual, switch_ids, done)
    _write_dhcp(nb, desired, actual, dhcp_ids, dhcp_uuids, done)
    group_ids = _ids(scope.port_groups, desired.port_groups, actual.port_groups)
    if scope.group_members:
        _write_ports(nb, desired, actual, port_ids, dhcp_uuids, done, groups=None)
        _write_port_groups(nb, desired, snap, group_ids, done, scope.compare_groups)
    else:
        _write_port_groups(nb, desired, snap, group_ids, done, scope.compare_groups)
        there = {g.name for g in (*desired.port_groups.values(), *actual.port_groups.values())}
        _write_ports(nb, desired, actual, port_ids, dhcp_uuids, done, groups=there)

    for group_id in group_ids if scope.compare_groups else ():
        if group_id in actual.port_groups and group_id not in desired.port_groups:
            nb.delete_port_group(group_id)
            done["port_group deleted"] += 1

    gone_ports = [actual.ports[p] for p in port_ids if p in actual.ports and p not in desired.ports]
    if gone_ports:
        nb.delete_ports(gone_ports)
        done["port deleted"] += len(gone_ports)
    gone = [dhcp_uuids[s] for s in dhcp_ids if s in actual.dhcp and s not in desired.dhcp]
    for row in gone + (snap.extra_dhcp if scope.subnets is None else []):
        nb.delete_dhcp(row)
        done["dhcp_options deleted"] += 1
    for network_id in switch_ids:
        if network_id in actual.switches and network_id not in desired.switches:
            nb.delete_switch(network_id)
            done["switch deleted"] += 1
    return done


def _write_switches(
    nb: Northbound, desired: m.State, actual: m.State, ids: list[str], done: Counter[str]
) -> None:
    for network_id in ids:
        want, have = desired.switches.get(network_id), actual.switches.get(network_id)
        if want is None:
            continue
        if have is None:
            nb.create_switch(want)
            done["switch created"] += 1
        elif want != have:
            nb.update_switch(want, have)
            done["switch updated"] += 1


def _write_dhcp(
    nb: Northbound,
    desired: m.State,
    actual: m.State,
    ids: list[str],
    dhcp_uuids: dict[str, uuid.UUID],
    done: Counter[str],
) -> None:
    for subnet_id in ids:
        want, have = desired.dhcp.get(subnet_id), actual.dhcp.get(subnet_id)
        if want is None:
            continue
        if have is None:
            dhcp_uuids[subnet_id] = nb.create_dhcp(want)
            done["dhcp_options created"] += 1
        elif want != have:
            nb.update_dhcp(dhcp_uuids[subnet_id], want)
            done["dhcp_options updated"] += 1


def _write_ports(
    nb: Northbound,
    desired: m.State,
    actual: m.State,
    ids: list[str],
    dhcp_uuids: dict[str, uuid.UUID],
    done: Counter[str],
    groups: Collection[str] | None,
) -> None:
    """Create or update the ports in ``ids``. With ``groups`` (the port groups there are, by name),
    each port also joins the groups its row names (again: a no-op for a member) and leaves those its
    previous row named; without, memberships are left to the port groups' comparison."""
    writes = []
    for port_id in ids:
        want, have = desired.ports.get(port_id), actual.ports.get(port_id)
        if want is None:
            continue
        if have is not None and have.network_id != want.network_id:
            nb.delete_ports([have])  # on the wrong switch: only re-creating moves it
            have = None
        if have == want:
            continue
        done["port created" if have is None else "port updated"] += 1
        if groups is None:
            writes.append(PortWrite(want, have))
            continue
        wanted, had = m.groups_of(want), m.groups_of(have) if have is not None else frozenset()
        writes.append(PortWrite(want, have, join=wanted & set(groups), leave=(had - wanted) & set(groups)))
    nb.write_ports(writes, dhcp_uuids)


def _write_port_groups(
    nb: Northbound, desired: m.State, snap: Snapshot, ids: list[str], done: Counter[str], compare: bool
) -> None:
    existing = set(snap.state.ports) | set(desired.ports)  # LSPs there now (written above or before)
    for group_id in ids:
        want, have = desired.port_groups.get(group_id), snap.state.port_groups.get(group_id)
        if want is None or (have is not None and not compare):
            continue
        if have is None:
            nb.create_port_group(want)
            done["port_group created"] += 1
            have = m.PortGroup(group_id, frozenset(), frozenset())
        elif want == have:
            continue
        else:
            done["port_group updated"] += 1
        nb.update_port_group(want, have, snap.acl_uuids.get(group_id, {}), existing)


def describe(done: Counter[str]) -> str:
    return ", ".join(f"{what}: {count}" for what, count in sorted(done.items())) or "nothing"
