"""``networks``, with the provider (segment) extension: vxlan by default, flat and vlan too, and
``external-net`` (``router:external``: where routers' gateways and floating IPs live; only admins
set it, everyone sees external networks).

Segmentation ids not given are allocated from the configured ranges: the lowest free one, under
a lock, backed by the primary key of ``segment_allocations`` so no id is ever handed out twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from neutrino.provider import errors
from neutrino.provider.api import common, dns, l3, rbac
from neutrino.provider.api.attributes import ATTR_NOT_SPECIFIED
from neutrino.provider.api.resource import new_id, utcnow
from neutrino.provider.api.tags import Taggable
from neutrino.provider.api.validators import to_boolean, to_int, to_int_or_none
from neutrino.provider.context import RequestContext
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import UnitOfWork

NETWORK_TYPES = ("vxlan", "vlan", "flat")
VXLAN_OVERHEAD = 50
#: the smallest network MTU a subnet of each IP version needs (RFC 791's 68, RFC 8200's 1280)
MIN_MTU = {4: 68, 6: 1280}
MAX_VNI = 2**24 - 1
SEGMENT_LOCK = 0x4E54524E  # advisory lock key for segment allocation on PostgreSQL

DECLARATION: common.Declaration = {
    **common.ident(),
    **common.named(),
    **common.project(),
    "subnets": {"allow_post": False, "column": None},
    "admin_state_up": {
        "allow_post": True,
        "allow_put": True,
        "default": True,
        "convert_to": to_boolean,
        "is_filter": True,
        "is_sort_key": True,
    },
    "status": {"allow_post": False, "is_filter": True, "is_sort_key": True},
    "shared": {
        "allow_post": True,
        "allow_put": True,
        "default": False,
        "convert_to": to_boolean,
        "is_filter": True,
        "is_sort_key": True,
    },
    "mtu": {
        "allow_post": True,
        "allow_put": True,
        "default": ATTR_NOT_SPECIFIED,
        "convert_to": to_int,
        # any size, as Neutron (``type:non_negative``): a subnet is what needs IPv4's 68 or IPv6's 1280
        "validate": {"type:range": (0, 65535)},
        "is_filter": True,
        "is_sort_key": True,
    },
    "port_security_enabled": {
        "allow_post": True,
        "allow_put": True,
        "default": True,
        "convert_to": to_boolean,
        "is_filter": True,
    },
    "router:external": {
        "allow_post": True,
        "allow_put": True,
        "default": False,
        "convert_to": to_boolean,
        "is_filter": True,
        "is_sort_key": True,
        "column": "router_external",
    },
    "availability_zones": {"allow_post": False, "column": None},
    "provider:network_type": {
        "allow_post": True,
        "default": ATTR_NOT_SPECIFIED,
        "validate": {"type:values": NETWORK_TYPES},
        "is_filter": True,
        "admin_only": True,
        "column": "network_type",
    },
    "provider:physical_network": {
        "allow_post": True,
        "default": ATTR_NOT_SPECIFIED,
        "validate": {"type:string_or_none": 64},
        "is_filter": True,
        "admin_only": True,
        "column": "physical_network",
    },
    "provider:segmentation_id": {
        "allow_post": True,
        "default": ATTR_NOT_SPECIFIED,
        "convert_to": to_int_or_none,
        "is_filter": True,
        "admin_only": True,
        "column": "segmentation_id",
    },
    **dns.NETWORK_ATTRIBUTES,
    **common.standard(),
}


def visible(ctx: RequestContext) -> sa.ColumnElement[bool] | None:
    """Networks a caller sees: admins all; others their project's and those an RBAC policy opens
    to them (shared or external, to every project or to theirs)."""
    if ctx.is_admin:
        return None
    n = t.networks.c
    return sa.or_(n.project_id == ctx.project_id, n.id.in_(rbac.granted(ctx)))


def visible_row(uow: UnitOfWork, ctx: RequestContext, network_id: str) -> sa.Row[Any]:
    """The network ``network_id`` if the caller sees it, else Neutron's NetworkNotFound."""
    stmt = sa.select(t.networks).where(t.networks.c.id == network_id)
    if (scope := visible(ctx)) is not None:
        stmt = stmt.where(scope)
    network = uow.one_or_none(stmt)
    if network is None:
        raise errors.NetworkNotFound(net_id=network_id)
    return network


class NetworkService(Taggable):
    collection = "networks"
    member = "network"
    declaration = DECLARATION
    table = t.networks
    tag_table = t.network_tags

    def not_found(self, resource_id: str) -> errors.ProviderError:
        return errors.NetworkNotFound(net_id=resource_id)

    def scope(self, ctx: RequestContext) -> sa.ColumnElement[bool] | None:
        return visible(ctx)

    def expand(
        self, uow: UnitOfWork, ctx: RequestContext, rows: Sequence[sa.Row[Any]]
    ) -> list[dict[str, Any]]:
        subnets: dict[str, list[str]] = {r.id: [] for r in rows}
        if rows:
            for s in uow.rows(
                sa.select(t.subnets.c.id, t.subnets.c.network_id)
                .where(t.subnets.c.network_id.in_(list(subnets)))
                .order_by(t.subnets.c.created_at, t.subnets.c.id)
            ):
                subnets[s.network_id].append(s.id)
        tags = self.tags_of(uow, rows)
        shared = rbac.shared_with(uow, ctx, [r.id for r in rows if not r.shared]) if ctx.project_id else set()
        out = []
        for row in rows:
            record = self.record(row)
            record.update(subnets=subnets[row.id], tags=tags[row.id], availability_zones=[])
            record["shared"] = row.shared or row.id in shared
            out.append(record)
        return out

    def create(self, uow: UnitOfWork, ctx: RequestContext, data: dict[str, Any]) -> str:
        if data["shared"] and not ctx.is_admin:
            raise errors.PolicyNotAuthorized(action="create_network:shared")
        if data["router:external"] and not ctx.is_admin:
            raise errors.PolicyNotAuthorized(action="create_network:router:external")
        network_id = new_id()
        network_type, physnet, seg_id = self._segment(uow, data)
        max_mtu = self.settings.global_physnet_mtu - (VXLAN_OVERHEAD if network_type == "vxlan" else 0)
        mtu = max_mtu if data["mtu"] is ATTR_NOT_SPECIFIED else data["mtu"]
        if mtu > max_mtu:
            raise errors.InvalidInput(error_message=f"Requested MTU is too big, maximum is {max_mtu}")
        now = utcnow()
        uow.execute(
            sa.insert(t.networks).values(
                id=network_id,
                project_id=data["project_id"],
                name=data["name"],
                description=data["description"],
                admin_state_up=data["admin_state_up"],
                status="ACTIVE",
                shared=data["shared"],
                router_external=data["router:external"],
                mtu=mtu,
                port_security_enabled=data["port_security_enabled"],
                network_type=network_type,
                physical_network=physnet,
                segmentation_id=seg_id,
                dns_domain=data.get("dns_domain", ""),
                created_at=now,
                updated_at=now,
                revision_number=0,
            )
        )
        rbac.on_network_create(uow, network_id, data["project_id"], data["shared"], data["router:external"])
        uow.execute(
            sa.insert(t.segment_allocations).values(
                network_type=network_type,
                physical_network=physnet or "",
                segmentation_id=seg_id or 0,
                network_id=network_id,
            )
        )
        return network_id

    def _segment(self, uow: UnitOfWork, data: dict[str, Any]) -> tuple[str, str | None, int | None]:  # noqa: C901 (Neutron's provider-network rules, one branch per network type)
        s = self.settings
        network_type = data["provider:network_type"] or s.default_network_type
        physnet = data["provider:physical_network"] or None
        seg_id = data["provider:segmentation_id"]
        seg_id = None if seg_id is ATTR_NOT_SPECIFIED else seg_id
        uow.advisory_lock(SEGMENT_LOCK)
        if network_type == "vxlan":
            if physnet is not None:
                raise errors.InvalidInput(
                    error_message="provider:physical_network specified for vxlan network"
                )
            if seg_id is None:
                return network_type, None, self._lowest_free(uow, network_type, "", s.vni_min, s.vni_max)
            if not 1 <= seg_id <= MAX_VNI:
                raise errors.InvalidInput(
                    error_message=f"provider:segmentation_id out of range (1 through {MAX_VNI})"
                )
            if self._taken(uow, network_type, "", seg_id):
                raise errors.TunnelIdInUse(tunnel_id=seg_id)
            return network_type, None, seg_id
        if network_type == "vlan":
            physnet = physnet or s.vlan_physical_network
            if seg_id is None:
                if physnet != s.vlan_physical_network:
                    raise errors.InvalidInput(
                        error_message=f"segmentation_id required for VLAN provider network on {physnet}"
                    )
                return (
                    network_type,
                    physnet,
                    self._lowest_free(uow, network_type, physnet, s.vlan_min, s.vlan_max),
                )
            if not 1 <= seg_id <= 4094:
                raise errors.InvalidInput(
                    error_message="provider:segmentation_id out of range (1 through 4094)"
                )
            if self._taken(uow, network_type, physnet, seg_id):
                raise errors.VlanIdInUse(vlan_id=seg_id, physical_network=physnet)
            return network_type, physnet, seg_id
        # flat
        if physnet is None:
            raise errors.InvalidInput(error_message="physical_network required for flat provider network")
        if seg_id is not None:
            raise errors.InvalidInput(error_message="provider:segmentation_id specified for flat network")
        if self._taken(uow, network_type, physnet, 0):
            raise errors.FlatNetworkInUse(physical_network=physnet)
        return network_type, physnet, None

    @staticmethod
    def _taken(uow: UnitOfWork, network_type: str, physnet: str, seg_id: int) -> bool:
        sa_ = t.segment_allocations.c
        stmt = sa.select(sa_.network_id).where(
            sa_.network_type == network_type, sa_.physical_network == physnet, sa_.segmentation_id == seg_id
        )
        return uow.one_or_none(stmt) is not None

    @staticmethod
    def _lowest_free(uow: UnitOfWork, network_type: str, physnet: str, low: int, high: int) -> int:
        sa_ = t.segment_allocations.c
        taken = {
            r.segmentation_id
            for r in uow.rows(
                sa.select(sa_.segmentation_id).where(
                    sa_.network_type == network_type,
                    sa_.physical_network == physnet,
                    sa_.segmentation_id.between(low, high),
                )
            )
        }
        for candidate in range(low, high + 1):
            if candidate not in taken:
                return candidate
        raise errors.NoNetworkAvailable()

    def update(self, uow: UnitOfWork, ctx: RequestContext, resource_id: str, data: dict[str, Any]) -> None:
        row = self.get_row(uow, ctx, resource_id)
        if row.project_id != ctx.project_id and not ctx.is_admin:
            raise errors.PolicyNotAuthorized(action="update_network")
        if "shared" in data and not ctx.is_admin:
            raise errors.PolicyNotAuthorized(action="update_network:shared")
        if "router:external" in data:
            if not ctx.is_admin:
                raise errors.PolicyNotAuthorized(action="update_network:router:external")
            if row.router_external and not data["router:external"] and l3.has_gateway_ports(uow, row.id):
                raise errors.ExternalNetworkInUse(net_id=row.id)
            rbac.set_external(uow, row, data.pop("router:external"))
        if "shared" in data:
            rbac.set_shared(uow, row, data.pop("shared"))
        if "mtu" in data:
            max_mtu = self.settings.global_physnet_mtu - (
                VXLAN_OVERHEAD if row.network_type == "vxlan" else 0
            )
            if data["mtu"] > max_mtu:
                raise errors.InvalidInput(error_message=f"Requested MTU is too big, maximum is {max_mtu}")
            versions = uow.rows(
                sa.select(t.subnets.c.ip_version).where(t.subnets.c.network_id == resource_id).distinct()
            )
            for version in sorted(v.ip_version for v in versions):
                if data["mtu"] < MIN_MTU[version]:
                    raise errors.NetworkMTUSubnetConflict(net_id=resource_id, mtu=MIN_MTU[version])
        self.touch(uow, resource_id, data)

    def delete(self, uow: UnitOfWork, ctx: RequestContext, resource_id: str) -> None:
        row = self.get_row(uow, ctx, resource_id)
        if row.project_id != ctx.project_id and not ctx.is_admin:
            raise errors.PolicyNotAuthorized(action="delete_network")
        uow.lock_rows(t.networks, [resource_id])
        l3.delete_unassociated_floating_ips(uow, resource_id)
        in_use = uow.one_or_none(
            sa.select(t.ports.c.id)
            .where(t.ports.c.network_id == resource_id, t.ports.c.device_owner != "network:dhcp")
            .limit(1)
        )
        if in_use is not None:
            raise errors.NetworkInUse(net_id=resource_id)
        uow.execute(sa.delete(t.ports).where(t.ports.c.network_id == resource_id))
        uow.execute(sa.delete(t.subnets).where(t.subnets.c.network_id == resource_id))
        uow.execute(sa.delete(t.segment_allocations).where(t.segment_allocations.c.network_id == resource_id))
        uow.execute(sa.delete(t.networks).where(t.networks.c.id == resource_id))
