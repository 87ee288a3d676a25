"""``routers``: Neutron's ``router``, ``ext-gw-mode`` and ``extraroute`` extensions.

A router owns ports (``router_ports``): a gateway on an external network
(``external_gateway_info``: a ``network:router_gateway`` port with no project, addresses from the
external subnets or the ``external_fixed_ips`` asked for, ``enable_snat``), and interfaces
(``network:router_interface``), added and removed by the member actions
``add_router_interface`` / ``remove_router_interface`` with a subnet (a new port taking the
subnet's gateway address; an IPv6 subnet joins the router's IPv6 port on that network) or an
existing port (unbound, with addresses). ``routes`` (extraroute) go through addresses on the
router's subnets. The datapath (the backends) follows what is stored here.

Neutron's rules kept: one port per subnet per router and no overlapping subnets on one router
(400), an interface's subnet needs a gateway address (400), a gateway only on an external
network (400), a router with interfaces cannot be deleted (409 ``RouterInUse``), an interface or
a gateway floating IPs or routes depend on cannot be removed (409), only admins choose
``enable_snat`` or ``external_fixed_ips``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from neutrino.provider import errors
from neutrino.provider.api import common, l3
from neutrino.provider.api.networks import visible as network_visible
from neutrino.provider.api.ports import insert_service_port, reallocate
from neutrino.provider.api.resource import ResourceService, new_id, utcnow
from neutrino.provider.api.subnets import visible as subnet_visible
from neutrino.provider.api.validators import InvalidValue, to_boolean, to_list, validate
from neutrino.provider.context import RequestContext
from neutrino.provider.ipam import allocator, ranges
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


class RouterService(ResourceService):
    collection = "routers"
    member = "router"
    declaration = DECLARATION
    table = t.routers
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
            record.update(external_gateway_info=info, routes=routes[row.id], tags=[])
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
        interfaces = self._ports(uow, resource_id, l3.ROUTER_INTERFACE)
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
        current = self._port(uow, row.gw_port_id) if row.gw_port_id else None
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
                self._touch_port(uow, current.id)
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
        stmt = sa.select(t.networks).where(t.networks.c.id == network_id)
        if (scope := network_visible(ctx)) is not None:
            stmt = stmt.where(scope)
        network = uow.one_or_none(stmt)
        if network is None:
            raise errors.NetworkNotFound(net_id=network_id)
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
        self._check_new_subnets(uow, router_id, subnets)
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
        gateway = self._port(uow, row.gw_port_id)
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
        """Each nexthop on one of the router's subnets, and not one of the router's addresses."""
        if not routes:
            return
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

    # --- interfaces ----------------------------------------------------------------------------

    def add_router_interface(
        self, uow: UnitOfWork, ctx: RequestContext, router_id: str, body: Any
    ) -> dict[str, Any]:
        port_id, subnet_id = _interface_info(body, removal=False)
        uow.lock_rows(t.routers, [router_id])
        router = self.get_row(uow, ctx, router_id)
        if port_id is not None:
            port, subnets = self._add_by_port(uow, ctx, router, port_id)
        else:
            assert subnet_id is not None
            port, subnets = self._add_by_subnet(uow, ctx, router, subnet_id)
        uow.note_changed("ports", [port.id])
        return _interface_answer(router.id, port, subnets[-1].id, [s.id for s in subnets])

    def remove_router_interface(
        self, uow: UnitOfWork, ctx: RequestContext, router_id: str, body: Any
    ) -> dict[str, Any]:
        port_id, subnet_id = _interface_info(body, removal=True)
        uow.lock_rows(t.routers, [router_id])
        self.get_row(uow, ctx, router_id)
        if port_id is not None:
            port, subnets = self._remove_by_port(uow, router_id, port_id, subnet_id)
        else:
            assert subnet_id is not None
            port, subnets = self._remove_by_subnet(uow, ctx, router_id, subnet_id)
        uow.note_changed("ports", [port.id])
        return _interface_answer(router_id, port, subnets[0].id, [s.id for s in subnets])

    def _add_by_subnet(
        self, uow: UnitOfWork, ctx: RequestContext, router: sa.Row[Any], subnet_id: str
    ) -> tuple[sa.Row[Any], list[sa.Row[Any]]]:
        subnet = self._subnet(uow, ctx, subnet_id)
        if not subnet.gateway_ip:
            raise _bad("Subnet for router interface must have a gateway IP")
        if subnet.project_id != ctx.project_id and not ctx.is_admin:
            raise _bad(
                f"Cannot add interface to router because subnet {subnet_id} is not owned by project "
                "making the request"
            )
        _check_address_mode(subnet)
        self._check_new_subnets(uow, router.id, [subnet])
        wanted = {"subnet_id": subnet.id, "ip_address": subnet.gateway_ip}
        if (
            subnet.ip_version == 6
            and (shared := self._ipv6_port(uow, router.id, subnet.network_id)) is not None
        ):
            # Neutron: a router has one port with IPv6 subnets per network; a new prefix joins it
            a = t.ip_allocations.c
            held = [
                {"subnet_id": h.subnet_id, "ip_address": h.ip_address}
                for h in uow.rows(sa.select(a.subnet_id, a.ip_address).where(a.port_id == shared.id))
            ]
            reallocate(uow, shared, [*held, wanted], shared.mac_address, allow_gateway=True)
            self._touch_port(uow, shared.id)
            return shared, [subnet]
        network = uow.one_or_none(sa.select(t.networks).where(t.networks.c.id == subnet.network_id))
        assert network is not None
        port_id, _ = insert_service_port(
            uow,
            network,
            project_id=router.project_id,
            device_id=router.id,
            device_owner=l3.ROUTER_INTERFACE,
            requested=[wanted],
            allow_gateway=True,
        )
        uow.execute(
            sa.insert(t.router_ports).values(
                port_id=port_id, router_id=router.id, port_type=l3.ROUTER_INTERFACE
            )
        )
        return self._port(uow, port_id), [subnet]

    def _add_by_port(
        self, uow: UnitOfWork, ctx: RequestContext, router: sa.Row[Any], port_id: str
    ) -> tuple[sa.Row[Any], list[sa.Row[Any]]]:
        stmt = sa.select(t.ports).where(t.ports.c.id == port_id)
        if not ctx.is_admin:
            stmt = stmt.where(t.ports.c.project_id == ctx.project_id)
        port = uow.one_or_none(stmt)
        if port is None:
            raise errors.PortNotFound(port_id=port_id)
        uow.lock_rows(t.ports, [port_id])
        if port.device_id:
            raise errors.PortInUse(net_id=port.network_id, port_id=port.id, device_id=port.device_id)
        subnets = self._port_subnets(uow, port.id)
        if not subnets:
            raise _bad("Router port must have at least one fixed IP")
        for subnet in subnets:
            _check_address_mode(subnet)
        if any(s.ip_version == 6 for s in subnets) and (
            other := self._ipv6_port(uow, router.id, port.network_id)
        ):
            raise _bad(
                f"Router already contains IPv6 port {other.id} belonging to network id {port.network_id}. "
                "Only one IPv6 port from the same network subnet can be connected to a router."
            )
        self._check_new_subnets(uow, router.id, subnets)
        if len([s for s in subnets if s.ip_version == 4]) > 1:
            raise _bad("Cannot have multiple IPv4 subnets on router port")
        if not ctx.is_admin:
            self._check_in_pools(uow, ctx, port.id, subnets)
        uow.execute(
            sa.update(t.ports)
            .where(t.ports.c.id == port.id)
            .values(
                device_id=router.id,
                device_owner=l3.ROUTER_INTERFACE,
                updated_at=utcnow(),
                revision_number=t.ports.c.revision_number + 1,
            )
        )
        uow.execute(
            sa.insert(t.router_ports).values(
                port_id=port.id, router_id=router.id, port_type=l3.ROUTER_INTERFACE
            )
        )
        return self._port(uow, port.id), subnets

    @staticmethod
    def _check_in_pools(
        uow: UnitOfWork, ctx: RequestContext, port_id: str, subnets: list[sa.Row[Any]]
    ) -> None:
        """Neutron: a project may not hand a router an address outside the pools of a subnet it
        does not own (such as another project's gateway address)."""
        by_id = {s.id: s for s in subnets}
        a = t.ip_allocations.c
        for held in uow.rows(sa.select(a.subnet_id, a.ip_address).where(a.port_id == port_id)):
            subnet = by_id[held.subnet_id]
            value = int(ipaddress.ip_address(held.ip_address))
            in_pool = any(start <= value <= end for start, end in ranges.pool_ranges(subnet.allocation_pools))
            if not in_pool and subnet.project_id != ctx.project_id:
                raise _bad(
                    f"Cannot add interface to router because specified port {port_id} has an IP address "
                    f"out of the allocation pool of subnet {subnet.id}, which is not owned by the project "
                    "making the request"
                )

    def _remove_by_port(
        self, uow: UnitOfWork, router_id: str, port_id: str, subnet_id: str | None
    ) -> tuple[sa.Row[Any], list[sa.Row[Any]]]:
        port = next((p for p in self._ports(uow, router_id, l3.ROUTER_INTERFACE) if p.id == port_id), None)
        if port is None:
            raise errors.RouterInterfaceNotFound(router_id=router_id, port_id=port_id)
        subnets = self._port_subnets(uow, port.id)
        if subnet_id is not None and subnet_id not in {s.id for s in subnets}:
            raise errors.SubnetMismatchForPort(port_id=port_id, subnet_id=subnet_id)
        for subnet in subnets:
            self._check_interface_unused(uow, router_id, subnet)
        l3.drop_port(uow, port.id)
        return port, subnets

    def _remove_by_subnet(
        self, uow: UnitOfWork, ctx: RequestContext, router_id: str, subnet_id: str
    ) -> tuple[sa.Row[Any], list[sa.Row[Any]]]:
        subnet = self._subnet(uow, ctx, subnet_id)
        ports = [
            p for p in self._ports(uow, router_id, l3.ROUTER_INTERFACE) if p.network_id == subnet.network_id
        ]
        if ports:
            self._check_interface_unused(uow, router_id, subnet)
        for port in ports:
            held = [s.id for s in self._port_subnets(uow, port.id)]
            if subnet_id not in held:
                continue
            if len(held) > 1:  # a port with several IPv6 prefixes loses one
                a = t.ip_allocations.c
                allocation = uow.rows(
                    sa.select(a.subnet_id, a.ip_address).where(a.port_id == port.id, a.subnet_id == subnet_id)
                )
                allocator.release(uow, port.id, [(x.subnet_id, x.ip_address) for x in allocation])
                self._touch_port(uow, port.id)
            else:
                l3.drop_port(uow, port.id)
            return port, [subnet]
        raise errors.RouterInterfaceNotFoundForSubnet(router_id=router_id, subnet_id=subnet_id)

    @staticmethod
    def _check_interface_unused(uow: UnitOfWork, router_id: str, subnet: sa.Row[Any]) -> None:
        """Floating IPs reaching ports on the subnet through this router, and routes whose nexthop
        is on it, need the interface."""
        net = ipaddress.ip_network(subnet.cidr)
        f, a = t.floating_ips.c, t.ip_allocations.c
        on_subnet = {r.port_id for r in uow.rows(sa.select(a.port_id).where(a.subnet_id == subnet.id))}
        for fip in uow.rows(
            sa.select(f.fixed_port_id, f.fixed_ip_address).where(
                f.router_id == router_id, f.fixed_ip_address.is_not(None)
            )
        ):
            if ipaddress.ip_address(fip.fixed_ip_address) in net and fip.fixed_port_id in on_subnet:
                raise errors.RouterInterfaceInUseByFloatingIP(router_id=router_id, subnet_id=subnet.id)
        r = t.router_routes.c
        for route in uow.rows(sa.select(r.nexthop).where(r.router_id == router_id)):
            if ipaddress.ip_address(route.nexthop) in net:
                raise errors.RouterInterfaceInUseByRoute(router_id=router_id, subnet_id=subnet.id)

    # --- shared checks and lookups -------------------------------------------------------------

    @staticmethod
    def _check_new_subnets(uow: UnitOfWork, router_id: str, new: Sequence[sa.Row[Any]]) -> None:
        """Neutron's ``_check_for_dup_router_subnets``: the router has no port on these subnets
        yet, and none of them overlaps a subnet it reaches (all of its gateway network's)."""
        a, rp, s = t.ip_allocations.c, t.router_ports.c, t.subnets.c
        new_ids = {n.id for n in new}
        reached: set[str] = set()
        for held in uow.rows(
            sa.select(a.subnet_id, a.network_id, rp.port_type)
            .join(t.router_ports, rp.port_id == a.port_id)
            .where(rp.router_id == router_id)
        ):
            if held.subnet_id in new_ids:
                raise _bad(f"Router already has a port on subnet {held.subnet_id}")
            if held.port_type == l3.ROUTER_GATEWAY:
                reached.update(r.id for r in uow.rows(sa.select(s.id).where(s.network_id == held.network_id)))
            else:
                reached.add(held.subnet_id)
        if not reached:
            return
        for other in uow.rows(sa.select(s.id, s.cidr).where(s.id.in_(sorted(reached)))):
            for subnet in new:
                if ranges.overlaps(other.cidr, subnet.cidr):
                    raise _bad(
                        f"Cidr {subnet.cidr} of subnet {subnet.id} overlaps with cidr {other.cidr} of subnet {other.id}"
                    )

    @staticmethod
    def _subnet(uow: UnitOfWork, ctx: RequestContext, subnet_id: str) -> sa.Row[Any]:
        stmt = sa.select(t.subnets).where(t.subnets.c.id == subnet_id)
        if (scope := subnet_visible(ctx)) is not None:
            stmt = stmt.where(scope)
        subnet = uow.one_or_none(stmt)
        if subnet is None:
            raise errors.SubnetNotFound(subnet_id=subnet_id)
        return subnet

    @staticmethod
    def _port(uow: UnitOfWork, port_id: str) -> sa.Row[Any]:
        port = uow.one_or_none(sa.select(t.ports).where(t.ports.c.id == port_id))
        if port is None:  # a router's own port: present by construction
            raise errors.PortNotFound(port_id=port_id)
        return port

    @staticmethod
    def _ports(uow: UnitOfWork, router_id: str, port_type: str) -> list[sa.Row[Any]]:
        rp = t.router_ports.c
        return list(
            uow.rows(
                sa.select(t.ports)
                .join(t.router_ports, rp.port_id == t.ports.c.id)
                .where(rp.router_id == router_id, rp.port_type == port_type)
                .order_by(t.ports.c.created_at, t.ports.c.id)
            )
        )

    @staticmethod
    def _port_subnets(uow: UnitOfWork, port_id: str) -> list[sa.Row[Any]]:
        a = t.ip_allocations.c
        return list(
            uow.rows(
                sa.select(t.subnets)
                .join(t.ip_allocations, a.subnet_id == t.subnets.c.id)
                .where(a.port_id == port_id)
                .order_by(t.subnets.c.ip_version, t.subnets.c.created_at, t.subnets.c.id)
            )
        )

    def _ipv6_port(self, uow: UnitOfWork, router_id: str, network_id: str) -> sa.Row[Any] | None:
        """The router's interface on this network that has IPv6 addresses, if any."""
        for port in self._ports(uow, router_id, l3.ROUTER_INTERFACE):
            if port.network_id == network_id and any(
                s.ip_version == 6 for s in self._port_subnets(uow, port.id)
            ):
                return port
        return None

    @staticmethod
    def _touch_port(uow: UnitOfWork, port_id: str) -> None:
        uow.execute(
            sa.update(t.ports)
            .where(t.ports.c.id == port_id)
            .values(updated_at=utcnow(), revision_number=t.ports.c.revision_number + 1)
        )


def _interface_info(body: Any, *, removal: bool) -> tuple[str | None, str | None]:
    """``{"subnet_id": S}`` or ``{"port_id": P}`` (both only to remove): Neutron's
    ``_validate_interface_info``."""
    info = body if isinstance(body, dict) else {}
    if "port_id" not in info and "subnet_id" not in info:
        raise _bad("Either subnet_id or port_id must be specified")
    for key in ("port_id", "subnet_id"):
        if key in info and (reason := validate(info[key], {"type:uuid": None})):
            raise _bad(reason)
    if not removal and "port_id" in info and "subnet_id" in info:
        raise _bad("Cannot specify both subnet-id and port-id")
    return info.get("port_id"), info.get("subnet_id")


def _check_address_mode(subnet: sa.Row[Any]) -> None:
    if subnet.ip_version == 6 and subnet.ipv6_ra_mode is None and subnet.ipv6_address_mode is not None:
        raise _bad(
            f"IPv6 subnet {subnet.id} configured to receive RAs from an external router cannot be added "
            "to Neutron Router."
        )


def _interface_answer(
    router_id: str, port: sa.Row[Any], subnet_id: str, subnet_ids: list[str]
) -> dict[str, Any]:
    """Neutron's ``_make_router_interface_info``."""
    return {
        "id": router_id,
        "tenant_id": port.project_id,
        "project_id": port.project_id,
        "port_id": port.id,
        "network_id": port.network_id,
        "subnet_id": subnet_id,
        "subnet_ids": subnet_ids,
    }
