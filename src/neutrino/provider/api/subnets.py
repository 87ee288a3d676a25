"""``subnets``: IPv4 and IPv6, several per network, never overlapping on one network; a CIDR given, or
allocated from a subnet pool (``subnetpool_id``/``prefixlen``/``use_default_subnetpool``, ``api/subnetpools.py``)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from neutrino.provider import errors
from neutrino.provider.api import common, l3, rbac, revisions, subnetpools
from neutrino.provider.api.attributes import ATTR_NOT_SPECIFIED
from neutrino.provider.api.networks import MIN_MTU
from neutrino.provider.api.networks import visible as network_visible
from neutrino.provider.api.resource import new_id, utcnow
from neutrino.provider.api.tags import Taggable
from neutrino.provider.api.validators import InvalidValue, to_boolean, to_int, to_list
from neutrino.provider.context import RequestContext
from neutrino.provider.ipam import ranges
from neutrino.provider.ipam.allocator import AUTO_ADDRESS_MODES
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import UnitOfWork

IPV6_MODES = (None, "dhcpv6-stateful", "dhcpv6-stateless", "slaac")

DECLARATION: common.Declaration = {
    **common.ident(),
    **common.named(),
    **common.project(),
    "network_id": {
        "allow_post": True,
        "validate": {"type:uuid": None},
        "is_filter": True,
        "is_sort_key": True,
    },
    "ip_version": {
        "allow_post": True,
        "convert_to": to_int,
        "validate": {"type:values": (4, 6)},
        "is_filter": True,
        "is_sort_key": True,
    },
    "cidr": {
        "allow_post": True,
        "default": ATTR_NOT_SPECIFIED,  # subnet_allocation: none when a pool gives it
        "validate": {"type:subnet": None},
        "is_filter": True,
        "is_sort_key": True,
    },
    "gateway_ip": {
        "allow_post": True,
        "allow_put": True,
        "default": ATTR_NOT_SPECIFIED,
        "validate": {"type:ip_address_or_none": None},
        "is_filter": True,
        "is_sort_key": True,
    },
    "allocation_pools": {
        "allow_post": True,
        "allow_put": True,
        "default": ATTR_NOT_SPECIFIED,
        "validate": {"type:ip_pools": None},
    },
    "dns_nameservers": {
        "allow_post": True,
        "allow_put": True,
        "default": [],
        "convert_to": to_list,
        "validate": {"type:nameservers": None},
    },
    "host_routes": {
        "allow_post": True,
        "allow_put": True,
        "default": [],
        "convert_to": to_list,
        "validate": {"type:hostroutes": None},
    },
    "enable_dhcp": {
        "allow_post": True,
        "allow_put": True,
        "default": True,
        "convert_to": to_boolean,
        "is_filter": True,
        "is_sort_key": True,
    },
    "ipv6_ra_mode": {
        "allow_post": True,
        "default": None,
        "validate": {"type:values": IPV6_MODES},
        "is_filter": True,
        "is_sort_key": True,
    },
    "ipv6_address_mode": {
        "allow_post": True,
        "default": None,
        "validate": {"type:values": IPV6_MODES},
        "is_filter": True,
        "is_sort_key": True,
    },
    "subnetpool_id": {
        "allow_post": True,
        "default": ATTR_NOT_SPECIFIED,
        "validate": {"type:uuid_or_none": None},
        "is_filter": True,
        "is_sort_key": True,
    },
    "prefixlen": {  # the length of the CIDR a pool gives (its default_prefixlen when not given)
        "allow_post": True,
        "default": ATTR_NOT_SPECIFIED,
        "convert_to": to_int,
        "validate": {"type:non_negative": None},
        "is_visible": False,
        "column": None,
    },
    "use_default_subnetpool": {  # default-subnetpools
        "allow_post": True,
        "default": False,
        "convert_to": to_boolean,
        "is_visible": False,
        "column": None,
    },
    "service_types": {"allow_post": False, "column": None},
    "router:external": {"allow_post": False, "column": None},  # its network's (external-net)
    **common.standard(),
}


def visible(ctx: RequestContext) -> sa.ColumnElement[bool] | None:
    """A caller sees its project's subnets and those of the networks an RBAC policy opens to it
    (shared or external)."""
    if ctx.is_admin:
        return None
    return sa.or_(t.subnets.c.project_id == ctx.project_id, t.subnets.c.network_id.in_(rbac.granted(ctx)))


def _network_flag_filter(name: str, column: sa.Column[bool]) -> Callable[[list[str]], sa.ColumnElement[bool]]:
    """``?router:external=true`` / ``?shared=true``: subnets of networks with that flag (``false``: of the
    others). Neutron's subnet ``shared`` is such a filter, which it does not show."""

    def matching(values: list[str]) -> sa.ColumnElement[bool]:
        try:
            wanted = {to_boolean(v) for v in values}
        except InvalidValue as exc:
            raise errors.HTTPBadRequest(msg=f"Invalid input for {name}. Reason: {exc}.") from exc
        return t.subnets.c.network_id.in_(sa.select(t.networks.c.id).where(column.in_(sorted(wanted))))

    return matching


class SubnetService(Taggable):
    collection = "subnets"
    member = "subnet"
    declaration = DECLARATION
    table = t.subnets
    tag_table = t.subnet_tags

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.special_filters = {
            **self.special_filters,
            "router:external": _network_flag_filter("router:external", t.networks.c.router_external),
            "shared": _network_flag_filter("shared", t.networks.c.shared),
        }

    def not_found(self, resource_id: str) -> errors.ProviderError:
        return errors.SubnetNotFound(subnet_id=resource_id)

    def scope(self, ctx: RequestContext) -> sa.ColumnElement[bool] | None:
        return visible(ctx)

    def expand(
        self, uow: UnitOfWork, ctx: RequestContext, rows: Sequence[sa.Row[Any]]
    ) -> list[dict[str, Any]]:
        network_ids = sorted({r.network_id for r in rows})
        n = t.networks.c
        external = (
            {
                r.id
                for r in uow.rows(sa.select(n.id).where(n.id.in_(network_ids), n.router_external.is_(True)))
            }
            if network_ids
            else set()
        )
        tags = self.tags_of(uow, rows)
        out = []
        for row in rows:
            record = self.record(row)
            record.update(service_types=[], tags=tags[row.id])
            record["router:external"] = row.network_id in external
            out.append(record)
        return out

    def create(self, uow: UnitOfWork, ctx: RequestContext, data: dict[str, Any]) -> str:
        network_id = data["network_id"]
        stmt = sa.select(t.networks).where(t.networks.c.id == network_id)
        if (scope := network_visible(ctx)) is not None:
            stmt = stmt.where(scope)
        network = uow.one_or_none(stmt)
        if network is None:
            raise errors.NetworkNotFound(net_id=network_id)
        if network.project_id != ctx.project_id and not ctx.is_admin:
            raise errors.PolicyNotAuthorized(action="create_subnet:network")
        self._check_counts(data, "new subnet")
        uow.lock_rows(t.networks, [network_id])  # two subnets created at once cannot both overlap
        pool, net = self._cidr(uow, ctx, data)
        self._check_ipv6_modes(data, net)
        if network.mtu < MIN_MTU[net.version]:
            raise errors.NetworkMTUSubnetConflict(net_id=network_id, mtu=MIN_MTU[net.version])
        siblings = uow.rows(
            sa.select(t.subnets.c.cidr, t.subnets.c.ip_version, t.subnets.c.subnetpool_id).where(
                t.subnets.c.network_id == network_id
            )
        )
        for other in siblings:
            if other.ip_version == net.version and other.subnetpool_id != (pool.id if pool else None):
                raise errors.NetworkSubnetPoolAffinityError()
            if ranges.overlaps(other.cidr, str(net)):
                raise errors.InvalidInput(
                    error_message=f"Requested subnet with cidr: {net} for network: {network_id} "
                    "overlaps with another subnet"
                )
        gateway = data["gateway_ip"]
        gateway = (
            ranges.default_gateway(net) if gateway is ATTR_NOT_SPECIFIED else self._gateway(net, gateway)
        )
        if data["allocation_pools"] is ATTR_NOT_SPECIFIED:
            pools = ranges.default_pools(net, gateway)
        else:
            pools = [{"start": p["start"], "end": p["end"]} for p in data["allocation_pools"]]
            ranges.check_pools(net, pools, gateway)
        subnet_id = new_id()
        now = utcnow()
        uow.execute(
            sa.insert(t.subnets).values(
                id=subnet_id,
                project_id=data["project_id"],
                network_id=network_id,
                name=data["name"],
                description=data["description"],
                ip_version=data["ip_version"],
                cidr=str(net),
                gateway_ip=gateway,
                allocation_pools=pools,
                dns_nameservers=data["dns_nameservers"],
                host_routes=data["host_routes"],
                enable_dhcp=data["enable_dhcp"],
                ipv6_ra_mode=data["ipv6_ra_mode"],
                ipv6_address_mode=data["ipv6_address_mode"],
                subnetpool_id=pool.id if pool else None,
                created_at=now,
                updated_at=now,
                revision_number=0,
            )
        )
        _network_changed(uow, network_id)
        return subnet_id

    @staticmethod
    def _cidr(
        uow: UnitOfWork, ctx: RequestContext, data: dict[str, Any]
    ) -> tuple[sa.Row[Any] | None, ranges.IPNetwork]:
        """The subnet's pool (locked; None without one) and CIDR: the one given, checked against the pool
        if there is one, or one the pool allocates (Neutron's ``_create_subnet_precommit`` and
        ``SubnetRequestFactory``). Allocate last but for the insert: the pool stays locked to the commit."""
        cidr, prefixlen, gateway = data["cidr"], data["prefixlen"], data["gateway_ip"]
        if cidr is not ATTR_NOT_SPECIFIED and prefixlen is not ATTR_NOT_SPECIFIED:
            raise errors.BadRequest(
                resource="subnets", msg="cidr and prefixlen must not be supplied together"
            )
        pool_id = SubnetService._pool_id(uow, ctx, data)
        if pool_id is None:
            if cidr is ATTR_NOT_SPECIFIED:
                raise errors.BadRequest(
                    resource="subnets", msg="a subnetpool must be specified in the absence of a cidr"
                )
        elif cidr is ATTR_NOT_SPECIFIED and data["allocation_pools"] is not ATTR_NOT_SPECIFIED:
            raise errors.BadRequest(
                resource="subnets", msg="allocation_pools allowed only for specific subnet requests."
            )
        if cidr is not ATTR_NOT_SPECIFIED:
            net = ipaddress.ip_network(cidr)
            if net.version != data["ip_version"]:
                raise errors.InvalidInput(
                    error_message="Cannot mix IPv4 and IPv6 on a subnet: check ip_version and cidr"
                )
        if pool_id is None:
            return None, net
        pool = subnetpools.pool_row(uow, ctx, pool_id)
        if data["ip_version"] != pool.ip_version:
            raise errors.BadRequest(
                resource="subnets",
                msg=f"Cannot allocate IPv{data['ip_version']} subnet from IPv{pool.ip_version} subnet pool",
            )
        length = None if prefixlen is ATTR_NOT_SPECIFIED else prefixlen
        if cidr is ATTR_NOT_SPECIFIED and isinstance(gateway, str):  # the gateway's subnet of that length
            cidr = str(ipaddress.ip_network(f"{gateway}/{length or pool.default_prefixlen}", strict=False))
        wanted = None if cidr is ATTR_NOT_SPECIFIED else ipaddress.ip_network(cidr)
        return pool, subnetpools.allocate(uow, pool, data["project_id"], cidr=wanted, prefixlen=length)

    @staticmethod
    def _pool_id(uow: UnitOfWork, ctx: RequestContext, data: dict[str, Any]) -> str | None:
        """The pool named, or with ``use_default_subnetpool`` the default one of the subnet's IP version."""
        pool_id = data["subnetpool_id"] or None  # ATTR_NOT_SPECIFIED is falsy
        if not data["use_default_subnetpool"]:
            return str(pool_id) if pool_id else None
        if pool_id is not None:
            raise errors.BadRequest(
                resource="subnets", msg="subnetpool_id and use_default_subnetpool cannot both be specified"
            )
        cidr = data["cidr"]
        version = data["ip_version"] if cidr is ATTR_NOT_SPECIFIED else ipaddress.ip_network(cidr).version
        return subnetpools.default_pool_id(uow, ctx, version)

    def _check_counts(self, data: dict[str, Any], subnet_id: str) -> None:
        """Neutron's max_dns_nameservers and max_subnet_host_routes."""
        given = data.get("dns_nameservers")
        if isinstance(given, list) and len(given) > self.settings.max_dns_nameservers:
            raise errors.DNSNameServersExhausted(subnet_id=subnet_id, quota=self.settings.max_dns_nameservers)
        given = data.get("host_routes")
        if isinstance(given, list) and len(given) > self.settings.max_subnet_host_routes:
            raise errors.HostRoutesExhausted(subnet_id=subnet_id, quota=self.settings.max_subnet_host_routes)

    @staticmethod
    def _gateway(net: ranges.IPNetwork, gateway: str | None) -> str | None:
        if gateway is None:
            return None
        address = ipaddress.ip_address(gateway)
        span = ranges.usable_range(net)
        if address not in net or span is None or not span[0] <= int(address) <= span[1]:
            raise errors.InvalidInput(error_message=f"Gateway is not valid on subnet: {gateway}")
        return str(address)

    @staticmethod
    def _check_ipv6_modes(data: dict[str, Any], net: ranges.IPNetwork) -> None:
        ra, address = data["ipv6_ra_mode"], data["ipv6_address_mode"]
        if net.version == 4 and (ra or address):
            raise errors.InvalidInput(
                error_message="ipv6_ra_mode or ipv6_address_mode cannot be set for an IPv4 subnet"
            )
        if ra and address and ra != address:
            raise errors.InvalidInput(
                error_message=f"ipv6_ra_mode set to '{ra}' with ipv6_address_mode set to '{address}' is not valid. "
                "If both attributes are set, they must be the same value"
            )
        if address in ("slaac", "dhcpv6-stateless") and net.prefixlen != 64:
            raise errors.InvalidInput(
                error_message=f"Invalid CIDR {net} for IPv6 address mode. OpenStack uses the EUI-64 address "
                "format, which requires the prefix to be /64"
            )

    def update(self, uow: UnitOfWork, ctx: RequestContext, resource_id: str, data: dict[str, Any]) -> None:
        row = self.get_row(uow, ctx, resource_id)
        if row.project_id != ctx.project_id and not ctx.is_admin:
            raise errors.PolicyNotAuthorized(action="update_subnet")
        self._check_counts(data, resource_id)
        net = ipaddress.ip_network(row.cidr)
        gateway = self._gateway(net, data["gateway_ip"]) if "gateway_ip" in data else row.gateway_ip
        if "gateway_ip" in data:
            data["gateway_ip"] = gateway
            if gateway != row.gateway_ip:
                l3.check_gateway_move(uow, resource_id, row.gateway_ip)
        pools = data.get("allocation_pools", row.allocation_pools)
        pools = [{"start": p["start"], "end": p["end"]} for p in pools]
        ranges.check_pools(net, pools, gateway)
        if "allocation_pools" in data:
            data["allocation_pools"] = pools
        self.touch(uow, resource_id, data)

    def delete(self, uow: UnitOfWork, ctx: RequestContext, resource_id: str) -> None:
        row = self.get_row(uow, ctx, resource_id)
        if row.project_id != ctx.project_id and not ctx.is_admin:
            raise errors.PolicyNotAuthorized(action="delete_subnet")
        uow.lock_rows(t.subnets, [resource_id])
        alloc = t.ip_allocations.c
        users = sa.select(alloc.port_id).where(alloc.subnet_id == resource_id)
        if row.ipv6_address_mode in AUTO_ADDRESS_MODES:
            # Neutron: an address every port derives by itself (SLAAC, DHCPv6-stateless) goes with its subnet;
            # only a router's interface on it keeps the subnet
            users = users.where(
                alloc.port_id.in_(
                    sa.select(t.ports.c.id).where(t.ports.c.device_owner == l3.ROUTER_INTERFACE)
                )
            )
        if uow.one_or_none(users.limit(1)) is not None:
            raise errors.SubnetInUse(
                subnet_id=resource_id, reason="One or more ports have an IP allocation from this subnet"
            )
        released = [
            r.port_id for r in uow.rows(sa.select(alloc.port_id).where(alloc.subnet_id == resource_id))
        ]
        if released:
            uow.execute(sa.delete(t.ip_allocations).where(alloc.subnet_id == resource_id))
            revisions.bump(uow, t.ports, released)
            uow.note_changed("ports", released)
        uow.execute(sa.delete(t.subnets).where(t.subnets.c.id == resource_id))
        _network_changed(uow, row.network_id)


def _network_changed(uow: UnitOfWork, network_id: str) -> None:
    """A network's subnets are part of it (Neutron's subnets revise their network)."""
    revisions.bump(uow, t.networks, [network_id])
    uow.note_changed("networks", [network_id])
