"""``routers``: Neutron's ``router``, ``ext-gw-mode`` and ``extraroute`` extensions.

A router owns ports (``router_ports``): a gateway on an external network
(``external_gateway_info``: a ``network:router_gateway`` port with no project, addresses from the
external subnets or the ``external_fixed_ips`` asked for, ``enable_snat``), and interfaces
(``network:router_interface``), added and removed by the member actions
``add_router_interface`` / ``remove_router_interface`` (``router_interfaces.py``). ``routes``
(extraroute) go through addresses on the router's subnets. The datapath (the backends) follows
what is stored here.

Neutron's rules kept: a gateway only on an external network (400), not on a subnet the router
already reaches (400), a router with interfaces cannot be deleted (409 ``RouterInUse``), a
gateway floating IPs depend on stays (409), a route's nexthop is on one of the router's subnets
and is none of its addresses (400 ``InvalidRoutes``), only admins choose ``enable_snat`` or
``external_fixed_ips``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from neutrino.provider import errors
from neutrino.provider.api import common, l3, revisions, router_interfaces
from neutrino.provider.api.networks import visible_row as visible_network
from neutrino.provider.api.ports import insert_service_port, reallocate
from neutrino.provider.api.resource import new_id, utcnow
from neutrino.provider.api.tags import Taggable
from neutrino.provider.api.validators import InvalidValue, to_boolean, to_list, validate
from neutrino.provider.context import RequestContext
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import UnitOfWork

GATEWAY_KEYS = ("network_id", "enable_snat", "external_fixed_ips")


def to_gateway_info(value: Any) -> dict[str, Any] | None:
    """``external_gateway_info``: None or ``{}`` for no gateway, else a dict with ``network_id``
    and optionally ``enable_snat`` and ``external_fixed_ips`` (neutron-lib's dict_or_nodata)."""
    if value is None or value == {}:
        return None
    if not isinstance(value, dict):
        raise InvalidValue(f"'{value}' is not a dictionary")
    if unknown := sorted(set(value) - set(GATEWAY_KEYS)):
        raise InvalidValue(f"Unexpected keys supplied: {', '.join(unknown)}")
    if "network_id" not in value:
        raise InvalidValue(
            f"Validation of dictionary's keys failed. Expected keys: {{'network_id'}} Provided keys: {set(value)}"
        )
    if reason := validate(value["network_id"], {"type:uuid": None}):
        raise InvalidValue(reason)
    info: dict[str, Any] = {"network_id": value["network_id"]}
    if "enable_snat" in value:
        info["enable_snat"] = to_boolean(value["enable_snat"])
    if "external_fixed_ips" in value:
        fixed = to_list(value["external_fixed_ips"])
        if reason := validate(fixed, {"type:fixed_ips": None}):
            raise InvalidValue(reason)
        info["external_fixed_ips"] = fixed
    return info


DECLARATION: common.Declaration = {
    **common.ident(),
    **common.named(),
    **common.project(),
    "admin_state_up": {
        "allow_post": True,
        "allow_put": True,
        "default": True,
        "convert_to": to_boolean,
        "is_filter": True,
        "is_sort_key": True,
    },
    "status": {"allow_post": False, "is_sort_key": True},
    "external_gateway_info": {
        "allow_post": True,
        "allow_put": True,
        "default": None,
        "convert_to": to_gateway_info,
        "column": None,
    },
    "routes": {
        "allow_post": False,
        "allow_put": True,
        "convert_to": to_list,
        "validate": {"type:hostroutes": None},
        "column": None,
    },
    **common.standard(),
}


def _bad(msg: str) -> errors.BadRequest:
    return errors.BadRequest(resource="router", msg=msg)


class RouterService(Taggable):
    collection = "routers"
    member = "router"
    declaration = DECLARATION
    table = t.routers
    tag_table = t.router_tags
    actions = ("add_router_interface", "remove_router_interface")

    def not_found(self, resource_id: str) -> errors.ProviderError:
        return errors.RouterNotFound(router_id=resource_id)

    # --- reading -------------------------------------------------------------------------------

    def expand(
        self, uow: UnitOfWork, ctx: RequestContext, rows: Sequence[sa.Row[Any]]
    ) -> list[dict[str, Any]]:
        gateways = {r.gw_port_id: r.id for r in rows if r.gw_port_id}
        gw_network: dict[str, str] = {}
        gw_ips: dict[str, list[dict[str, str]]] = {r.id: [] for r in rows}
        routes: dict[str, list[dict[str, str]]] = {r.id: [] for r in rows}
        if gateways:
            for p in uow.rows(
                sa.select(t.ports.c.id, t.ports.c.network_id).where(t.ports.c.id.in_(list(gateways)))
            ):
                gw_network[gateways[p.id]] = p.network_id
            a = t.ip_allocations.c
            for ip in uow.rows(
                sa.select(a.port_id, a.subnet_id, a.ip_address).where(a.port_id.in_(list(gateways)))
            ):
                gw_ips[gateways[ip.port_id]].append({"subnet_id": ip.subnet_id, "ip_address": ip.ip_address})
        if rows:
            r = t.router_routes.c
            for route in uow.rows(
                sa.select(t.router_routes)
                .where(r.router_id.in_(list(routes)))
                .order_by(r.destination, r.nexthop)
            ):
                routes[route.router_id].append({"destination": route.destination, "nexthop": route.nexthop})
        tags = self.tags_of(uow, rows)
        out = []
        for row in rows:
            record = self.record(row)
            info = None
            if row.gw_port_id:
                fixed = sorted(gw_ips[row.id], key=lambda i: (":" in i["ip_address"], i["subnet_id"]))
                info = {
                    "network_id": gw_network[row.id],
                    "enable_snat": row.enable_snat,
                    "external_fixed_ips": fixed,
                }
            record.update(external_gateway_info=info, routes=routes[row.id], tags=tags[row.id])
            out.append(record)
        return out

    # --- create / update / delete --------------------------------------------------------------

    def create(self, uow: UnitOfWork, ctx: RequestContext, data: dict[str, Any]) -> str:
        router_id = new_id()
        now = utcnow()
        uow.execute(
            sa.insert(t.routers).values(
                id=router_id,
                project_id=data["project_id"],
                name=data["name"],
                description=data["description"],
                admin_state_up=data["admin_state_up"],
                status=l3.ACTIVE,
                enable_snat=True,
                created_at=now,
                updated_at=now,
                revision_number=0,
            )
        )
        if (info := data["external_gateway_info"]) is not None:
            self._check_gateway_policy(ctx, info, "create")
            self._set_gateway(uow, ctx, self.get_row(uow, RequestContext.admin(), router_id), info)
        return router_id

    def update(self, uow: UnitOfWork, ctx: RequestContext, resource_id: str, data: dict[str, Any]) -> None:
        uow.lock_rows(t.routers, [resource_id])
        row = self.get_row(uow, ctx, resource_id)
        if "external_gateway_info" in data:
            info = data["external_gateway_info"]
            if info is not None:
                self._check_gateway_policy(ctx, info, "update")
            self._set_gateway(uow, ctx, row, info)
        if "routes" in data:
            self._set_routes(uow, resource_id, data["routes"])
        self.touch(uow, resource_id, data)
        if "admin_state_up" in data and data["admin_state_up"] != row.admin_state_up:
            l3.refresh_floating_ip_status(uow, resource_id, data["admin_state_up"])

    def delete(self, uow: UnitOfWork, ctx: RequestContext, resource_id: str) -> None:
        uow.lock_rows(t.routers, [resource_id])
        row = self.get_row(uow, ctx, resource_id)
        interfaces = router_interfaces.router_ports(uow, resource_id, l3.ROUTER_INTERFACE)
        if interfaces:
            reason = "has ports still attached: " + ", ".join(p.id for p in interfaces)
            raise errors.RouterInUse(router_id=resource_id, reason=reason)
        if row.gw_port_id:
            self._remove_gateway(uow, row)
        uow.execute(sa.delete(t.router_routes).where(t.router_routes.c.router_id == resource_id))
        uow.execute(sa.delete(t.routers).where(t.routers.c.id == resource_id))

    # --- the gateway ---------------------------------------------------------------------------

    @staticmethod
    def _check_gateway_policy(ctx: RequestContext, info: dict[str, Any], verb: str) -> None:
        for key in ("enable_snat", "external_fixed_ips"):
            if key in info and not ctx.is_admin:
                raise errors.PolicyNotAuthorized(action=f"{verb}_router:external_gateway_info:{key}")

    def _set_gateway(
        self, uow: UnitOfWork, ctx: RequestContext, row: sa.Row[Any], info: dict[str, Any] | None
    ) -> None:
        """Neutron's ``_update_router_gw_info``: a gateway on another network replaces the current
        one; on the same network new ``external_fixed_ips`` re-address it; ``enable_snat`` is
        the one given, else true."""
        current = router_interfaces.port_row(uow, row.gw_port_id) if row.gw_port_id else None
        if info is None:
            if current is not None:
                self._remove_gateway(uow, row)
                self._validate_routes(uow, row.id, self._routes(uow, row.id))
            return
        network = self._external_network(uow, ctx, info["network_id"])
        wanted = info.get("external_fixed_ips") or []
        self._check_not_gateway_addresses(uow, network.id, wanted)
        if current is not None and current.network_id == network.id:
            if wanted and self._addresses_differ(uow, current.id, wanted):
                reallocate(uow, current, wanted, current.mac_address)
                router_interfaces.touch_port(uow, current.id)
        else:
            if current is not None:
                self._remove_gateway(uow, row)
            self._add_gateway(uow, row.id, network, wanted or None)
        uow.execute(
            sa.update(t.routers)
            .where(t.routers.c.id == row.id)
            .values(enable_snat=info.get("enable_snat", True))
        )
        self._validate_routes(uow, row.id, self._routes(uow, row.id))

    @staticmethod
    def _external_network(uow: UnitOfWork, ctx: RequestContext, network_id: str) -> sa.Row[Any]:
        network = visible_network(uow, ctx, network_id)
        if not network.router_external:
            raise _bad(f"Network {network_id} is not an external network")
        return network

    @staticmethod
    def _check_not_gateway_addresses(uow: UnitOfWork, network_id: str, wanted: list[dict[str, Any]]) -> None:
        s = t.subnets.c
        gateways = {
            r.gateway_ip
            for r in uow.rows(sa.select(s.gateway_ip).where(s.network_id == network_id))
            if r.gateway_ip
        }
        for item in wanted:
            address = item.get("ip_address")
            if address is not None and str(ipaddress.ip_address(address)) in gateways:
                raise _bad(f"External IP {address} is the same as the gateway IP")

    @staticmethod
    def _addresses_differ(uow: UnitOfWork, port_id: str, wanted: list[dict[str, Any]]) -> bool:
        a = t.ip_allocations.c
        held = uow.rows(sa.select(a.subnet_id, a.ip_address).where(a.port_id == port_id))
        subnets = {w["subnet_id"] for w in wanted if w.get("subnet_id")}
        addresses = {str(ipaddress.ip_address(w["ip_address"])) for w in wanted if w.get("ip_address")}
        return subnets != {h.subnet_id for h in held} or addresses != {h.ip_address for h in held}

    def _add_gateway(
        self, uow: UnitOfWork, router_id: str, network: sa.Row[Any], wanted: list[dict[str, Any]] | None
    ) -> None:
        s = t.subnets.c
        subnets = uow.rows(sa.select(t.subnets).where(s.network_id == network.id))
        router_interfaces.check_new_subnets(uow, router_id, subnets)
        port_id, _ = insert_service_port(
            uow,
            network,
            project_id="",  # Neutron: hidden from projects
            device_id=router_id,
            device_owner=l3.ROUTER_GATEWAY,
            requested=wanted,
        )
        uow.execute(
            sa.insert(t.router_ports).values(
                port_id=port_id, router_id=router_id, port_type=l3.ROUTER_GATEWAY
            )
        )
        uow.execute(sa.update(t.routers).where(t.routers.c.id == router_id).values(gw_port_id=port_id))
        uow.note_changed("ports", [port_id])

    def _remove_gateway(self, uow: UnitOfWork, row: sa.Row[Any]) -> None:
        gateway = router_interfaces.port_row(uow, row.gw_port_id)
        c = t.floating_ips.c
        if uow.one_or_none(sa.select(c.id).where(c.router_id == row.id).limit(1)) is not None:
            raise errors.RouterExternalGatewayInUseByFloatingIp(router_id=row.id, net_id=gateway.network_id)
        uow.execute(sa.update(t.routers).where(t.routers.c.id == row.id).values(gw_port_id=None))
        l3.drop_port(uow, gateway.id)
        uow.note_changed("ports", [gateway.id])

    # --- routes (extraroute) -------------------------------------------------------------------

    @staticmethod
    def _routes(uow: UnitOfWork, router_id: str) -> list[dict[str, str]]:
        r = t.router_routes.c
        return [
            {"destination": x.destination, "nexthop": x.nexthop}
            for x in uow.rows(sa.select(t.router_routes).where(r.router_id == router_id))
        ]

    def _set_routes(self, uow: UnitOfWork, router_id: str, routes: list[dict[str, str]]) -> None:
        self._validate_routes(uow, router_id, routes)
        uow.execute(sa.delete(t.router_routes).where(t.router_routes.c.router_id == router_id))
        if routes:
            uow.execute(
                sa.insert(t.router_routes),
                [
                    {"router_id": router_id, "destination": r["destination"], "nexthop": r["nexthop"]}
                    for r in routes
                ],
            )

    def _validate_routes(self, uow: UnitOfWork, router_id: str, routes: list[dict[str, str]]) -> None:
        """At most max_routes; each nexthop on one of the router's subnets, and not one of the router's
        addresses."""
        if not routes:
            return
        if len(routes) > self.settings.max_routes:
            raise errors.RoutesExhausted(router_id=router_id, quota=self.settings.max_routes)
        a, s, rp = t.ip_allocations.c, t.subnets.c, t.router_ports.c
        held = uow.rows(
            sa.select(a.ip_address, s.cidr)
            .join(t.subnets, s.id == a.subnet_id)
            .join(t.router_ports, rp.port_id == a.port_id)
            .where(rp.router_id == router_id)
        )
        networks = [ipaddress.ip_network(h.cidr) for h in held]
        own = {ipaddress.ip_address(h.ip_address) for h in held}
        for route in routes:
            nexthop = ipaddress.ip_address(route["nexthop"])
            if not any(nexthop in net for net in networks):
                raise errors.InvalidRoutes(routes=routes, reason="the nexthop is not connected with router")
            if nexthop in own:
                raise errors.InvalidRoutes(routes=routes, reason="the nexthop is used by router")

    # --- interfaces (member actions) ----------------------------------------------------------

    def add_router_interface(
        self, uow: UnitOfWork, ctx: RequestContext, router_id: str, body: Any
    ) -> dict[str, Any]:
        uow.lock_rows(t.routers, [router_id])
        answer = router_interfaces.add(uow, ctx, self.get_row(uow, ctx, router_id), body)
        _interfaces_changed(uow, router_id)
        return answer

    def remove_router_interface(
        self, uow: UnitOfWork, ctx: RequestContext, router_id: str, body: Any
    ) -> dict[str, Any]:
        uow.lock_rows(t.routers, [router_id])
        self.get_row(uow, ctx, router_id)
        answer = router_interfaces.remove(uow, ctx, router_id, body)
        _interfaces_changed(uow, router_id)
        return answer


def _interfaces_changed(uow: UnitOfWork, router_id: str) -> None:
    """A router's interfaces are part of it (Neutron's router ports revise their router)."""
    revisions.bump(uow, t.routers, [router_id])
    uow.note_changed("routers", [router_id])
