"""Compare desired rows with the northbound's and write the difference, counting what was done.

The same code serves a request (scope: the resources it changed) and the maintenance pass (scope:
everything): create what is missing, update what differs, delete owned rows whose resource is gone.
Order matters for references: switches, then DHCP options (subnets', then ports' own rows), then
ports; deletions the other way.
Routers come after the ports (a router's LSPs name their Logical_Router_Ports, by name only) and
are compared whole: their ports, NAT rows and static routes (:mod:`.router_rows`).

Port groups: a missing group is created first (with its ACLs, no members). Then each port written
joins the groups its row names and leaves those its previous row named, in the port's own
transaction. Then the groups are compared: on their ACLs (not by a port's write, see
:attr:`~.desired.Scope.compare_groups`) and, by the maintenance only, on their members (see
:attr:`~.desired.Scope.group_members`), counting the joins and leaves just written as done.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TypeVar

from neutrino.provider.backends.ovn import model as m
from neutrino.provider.backends.ovn.desired import Scope
from neutrino.provider.backends.ovn.northbound import Northbound, PortWrite, Snapshot

log = logging.getLogger(__name__)

T = TypeVar("T")
K = TypeVar("K", str, tuple[str, str])


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
    # ports' own DHCP_Options: those of the ports in scope (the snapshot read only theirs)
    own_dhcp = sorted(set(desired.port_dhcp) | set(actual.port_dhcp))
    _write_switches(nb, desired, actual, switch_ids, done)
    _write_dhcp(nb, desired.dhcp, actual.dhcp, dhcp_ids, dhcp_uuids, done)
    _write_dhcp(nb, desired.port_dhcp, actual.port_dhcp, own_dhcp, dhcp_uuids, done, "port dhcp_options")
    group_ids = _ids(scope.port_groups, desired.port_groups, actual.port_groups)
    created = _create_port_groups(nb, desired, actual, group_ids, done)
    there = {g.name for g in (*desired.port_groups.values(), *actual.port_groups.values())}
    moved = _write_ports(nb, desired, actual, port_ids, dhcp_uuids, done, there)
    if scope.compare_groups:
        _update_port_groups(nb, desired, snap, group_ids, created, moved, done, scope.group_members)
    _write_routers(nb, desired, snap, _ids(scope.routers, desired.routers, actual.routers), done)

    for group_id in group_ids if scope.compare_groups else ():
        if group_id in actual.port_groups and group_id not in desired.port_groups:
            nb.delete_port_group(group_id)
            done["port_group deleted"] += 1

    gone_ports = [actual.ports[p] for p in port_ids if p in actual.ports and p not in desired.ports]
    if gone_ports:
        nb.delete_ports(gone_ports)
        done["port deleted"] += len(gone_ports)
    gone_own = [dhcp_uuids[k] for k in own_dhcp if k in actual.port_dhcp and k not in desired.port_dhcp]
    for row in gone_own:  # after the ports: none refers to them any more
        nb.delete_dhcp(row)
        done["port dhcp_options deleted"] += 1
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


def _write_routers(
    nb: Northbound, desired: m.State, snap: Snapshot, ids: list[str], done: Counter[str]
) -> None:
    """Create, update (ports, NAT, routes: each kind counted) or delete these routers."""
    actual = snap.state.routers
    for router_id in ids:
        want, have = desired.routers.get(router_id), actual.get(router_id)
        if want is None:
            if have is not None:
                nb.delete_router(router_id)
                done["router deleted"] += 1
            continue
        if have is None:
            nb.create_router(want)
            done["router created"] += 1
        elif want != have or snap.router_rows[router_id].repeated:
            nb.update_router(want, have, snap.router_rows[router_id])
            ports = set(want.ports) | set(have.ports)
            changed = {
                "router_port": sum(want.ports.get(p) != have.ports.get(p) for p in ports),
                "nat": len(want.nat ^ have.nat),
                "static_route": len(want.routes ^ have.routes),
            }
            for what, count in changed.items():
                if count:
                    done[f"router {what}s written"] += count
            if (want.enabled, want.external_ids) != (have.enabled, have.external_ids):
                done["router updated"] += 1


def _write_dhcp(
    nb: Northbound,
    desired: Mapping[K, m.Dhcp],
    actual: Mapping[K, m.Dhcp],
    keys: Sequence[K],
    dhcp_uuids: dict[m.DhcpKey, uuid.UUID],
    done: Counter[str],
    what: str = "dhcp_options",
) -> None:
    """Create or update the DHCP_Options rows of these keys: subnets' or ports' own."""
    for key in keys:
        want, have = desired.get(key), actual.get(key)
        if want is None:
            continue
        if have is None:
            dhcp_uuids[key] = nb.create_dhcp(want)
            done[f"{what} created"] += 1
        elif want != have:
            nb.update_dhcp(dhcp_uuids[key], want)
            done[f"{what} updated"] += 1


def _write_ports(
    nb: Northbound,
    desired: m.State,
    actual: m.State,
    ids: list[str],
    dhcp_uuids: dict[m.DhcpKey, uuid.UUID],
    done: Counter[str],
    groups: Collection[str],
) -> dict[str, tuple[set[str], set[str]]]:
    """Create or update the ports in ``ids``. Each port written also joins the groups (among
    ``groups``, those there are) its row names (again: a no-op for a member) and leaves those its
    previous row named. Returns, by group name, the ports that joined and those that left."""
    writes = []
    moved: dict[str, tuple[set[str], set[str]]] = {g: (set(), set()) for g in groups}
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
        wanted, had = m.groups_of(want), m.groups_of(have) if have is not None else frozenset()
        join, leave = wanted & moved.keys(), (had - wanted) & moved.keys()
        for name in join:
            moved[name][0].add(port_id)
        for name in leave:
            moved[name][1].add(port_id)
        writes.append(PortWrite(want, have, join=join, leave=leave))
    nb.write_ports(writes, dhcp_uuids)
    return moved


def _create_port_groups(
    nb: Northbound, desired: m.State, actual: m.State, ids: list[str], done: Counter[str]
) -> set[str]:
    """The missing groups, with their ACLs and no members (ports join as they are written);
    returns their ids."""
    created = set()
    for group_id in ids:
        want = desired.port_groups.get(group_id)
        if want is None or group_id in actual.port_groups:
            continue
        nb.create_port_group(want)
        nb.update_port_group(
            replace(want, ports=frozenset()), m.PortGroup(group_id, frozenset(), frozenset()), {}, ()
        )
        done["port_group created"] += 1
        created.add(group_id)
    return created


def _update_port_groups(
    nb: Northbound,
    desired: m.State,
    snap: Snapshot,
    ids: list[str],
    created: set[str],
    moved: dict[str, tuple[set[str], set[str]]],
    done: Counter[str],
    members: bool,
) -> None:
    """The groups' ACLs and, with ``members``, their members (those the ports just written brought
    in or took out count as done)."""
    existing = set(snap.state.ports) | set(desired.ports)  # LSPs there now (written above or before)
    for group_id in ids:
        want = desired.port_groups.get(group_id)
        if want is None:
            continue
        have = snap.state.port_groups.get(group_id) or m.PortGroup(group_id, frozenset(), want.acls)
        joined, left = moved.get(want.name, (set(), set()))
        if members:
            have = replace(have, ports=(have.ports | joined) - left)
        if want == have:
            continue
        if group_id not in created:
            done["port_group updated"] += 1
        nb.update_port_group(want, have, snap.acl_uuids.get(group_id, {}), existing)


def describe(done: Counter[str]) -> str:
    return ", ".join(f"{what}: {count}" for what, count in sorted(done.items())) or "nothing"
