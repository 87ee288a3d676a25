"""Logical routers in the northbound through ovsdbapp: read ours as :class:`~.model.Router`
values, and write one router's difference in a transaction.

A Logical_Router owns its ports, NAT rows and static routes (they are not root rows: taking one
out of the router's set deletes it), so a router is read whole and written as the difference
between two values. Routers are few (a request's scope names its own; the maintenance reads all).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from neutrino.provider.backends.ovn import model as m


@dataclass
class RouterRows:
    """The row uuids of a router's NAT and routes (what a removal names), and rows that repeat
    a value already seen (removed by any write of the router)."""

    nat: dict[m.Nat, uuid.UUID] = field(default_factory=dict)
    routes: dict[m.Route, uuid.UUID] = field(default_factory=dict)
    repeated: list[tuple[str, uuid.UUID]] = field(default_factory=list)


def read(
    api: Any, ids: Collection[str] | None, cell: Callable[[Any, str], Any]
) -> tuple[dict[str, m.Router], dict[str, RouterRows]]:
    """Our Logical_Routers (``neutron-<id>``): all, or those of ``ids``. Call with the replica locked."""
    if ids is not None and not ids:
        return {}, {}
    if ids is None:
        rows = [lr for lr in api.tables["Logical_Router"].rows.values() if m.router_of(lr.name)]
    else:
        found = (api.lookup("Logical_Router", m.router_name(i), default=None) for i in sorted(ids))
        rows = [lr for lr in found if lr is not None]
    routers: dict[str, m.Router] = {}
    uuids: dict[str, RouterRows] = {}
    for lr in rows:
        router_id = m.router_of(lr.name)
        assert router_id is not None
        held = uuids[router_id] = RouterRows()
        ports = {}
        for lrp in cell(lr, "ports"):
            port_id = lrp.name.removeprefix("lrp-")
            chassis = sorted(cell(lrp, "gateway_chassis"), key=lambda g: (-g.priority, g.chassis_name))
            ports[port_id] = m.RouterPort(
                port_id=port_id,
                mac=lrp.mac,
                networks=tuple(sorted(cell(lrp, "networks"))),
                external_ids=dict(cell(lrp, "external_ids")),
                gateway_chassis=tuple(g.chassis_name for g in chassis),
            )
        for row in cell(lr, "nat"):
            nat = m.Nat(row.type, row.external_ip, row.logical_ip, _pairs(cell(row, "external_ids")))
            _keep(held.nat, nat, row.uuid, held.repeated, "nat")
        for row in cell(lr, "static_routes"):
            route = m.Route(row.ip_prefix, row.nexthop, _pairs(cell(row, "external_ids")))
            _keep(held.routes, route, row.uuid, held.repeated, "static_routes")
        enabled = cell(lr, "enabled")
        routers[router_id] = m.Router(
            router_id=router_id,
            enabled=bool(enabled[0]) if enabled else True,
            external_ids=dict(cell(lr, "external_ids")),
            ports=ports,
            nat=frozenset(held.nat),
            routes=frozenset(held.routes),
        )
    return routers, uuids


def _pairs(mapping: Mapping[str, str]) -> m.Pairs:
    return tuple(sorted(mapping.items()))


def _keep(
    into: dict[Any, uuid.UUID], value: Any, row: uuid.UUID, repeated: list[tuple[str, uuid.UUID]], column: str
) -> None:
    if value in into:
        repeated.append((column, row))
    else:
        into[value] = row


def create_commands(api: Any, router: m.Router) -> list[Any]:
    """The Logical_Router alone (its contents are written by :func:`update_commands` next, in a
    transaction of their own: ovsdbapp's commands look the router up by name)."""
    return [
        api.lr_add(
            m.router_name(router.router_id),
            may_exist=True,
            enabled=router.enabled,
            external_ids=dict(router.external_ids),
        )
    ]


def update_commands(
    api: Any,
    want: m.Router,
    have: m.Router,
    rows: RouterRows,
    set_exactly: Callable[[str, Any, Mapping[str, Any]], list[Any]],
) -> list[Any]:
    """Commands making the router ``have`` (as read, with ``rows``) into ``want``."""
    name = m.router_name(want.router_id)
    todo: list[Any] = []
    if want.enabled != have.enabled:
        todo.append(api.db_set("Logical_Router", name, ("enabled", want.enabled)))
    if want.external_ids != have.external_ids:
        todo += set_exactly("Logical_Router", name, {"external_ids": want.external_ids})
    for port_id in sorted(set(have.ports) - set(want.ports)):
        todo.append(api.lrp_del(m.router_port_name(port_id), router=name, if_exists=True))
    for port_id, port in sorted(want.ports.items()):
        todo += _port_commands(api, name, port, have.ports.get(port_id), set_exactly)
    return todo + _nat_and_route_commands(api, name, want, have, rows)


def _port_commands(
    api: Any,
    router: str,
    port: m.RouterPort,
    old: m.RouterPort | None,
    set_exactly: Callable[[str, Any, Mapping[str, Any]], list[Any]],
) -> list[Any]:
    lrp = m.router_port_name(port.port_id)
    if old == port:
        return []
    if old is None:
        columns = {"external_ids": dict(port.external_ids), "gateway_chassis": list(port.gateway_chassis)}
        return [api.lrp_add(router, lrp, port.mac, list(port.networks), **columns)]
    todo = [api.db_set("Logical_Router_Port", lrp, ("mac", port.mac), ("networks", list(port.networks)))]
    if port.external_ids != old.external_ids:
        todo += set_exactly("Logical_Router_Port", lrp, {"external_ids": port.external_ids})
    if port.gateway_chassis != old.gateway_chassis:
        todo += [api.lrp_del_gateway_chassis(lrp, c, if_exists=True) for c in old.gateway_chassis]
        count = len(port.gateway_chassis)
        todo += [api.lrp_set_gateway_chassis(lrp, c, count - n) for n, c in enumerate(port.gateway_chassis)]
    return todo


def _nat_and_route_commands(
    api: Any, router: str, want: m.Router, have: m.Router, rows: RouterRows
) -> list[Any]:
    todo = [api.db_remove("Logical_Router", router, column, row) for column, row in rows.repeated]
    todo += [api.db_remove("Logical_Router", router, "nat", rows.nat[n]) for n in have.nat - want.nat]
    todo += [
        api.db_remove("Logical_Router", router, "static_routes", rows.routes[r])
        for r in have.routes - want.routes
    ]
    for nat in sorted(want.nat - have.nat, key=lambda n: (n.type, n.external_ip, n.logical_ip)):
        row = api.db_create_row(
            "NAT",
            type=nat.type,
            external_ip=nat.external_ip,
            logical_ip=nat.logical_ip,
            external_ids=dict(nat.external_ids),
        )
        todo += [row, api.db_add("Logical_Router", router, "nat", row)]
    for route in sorted(want.routes - have.routes, key=lambda r: (r.ip_prefix, r.nexthop)):
        row = api.db_create_row(
            "Logical_Router_Static_Route",
            ip_prefix=route.ip_prefix,
            nexthop=route.nexthop,
            external_ids=dict(route.external_ids),
        )
        todo += [row, api.db_add("Logical_Router", router, "static_routes", row)]
    return todo
