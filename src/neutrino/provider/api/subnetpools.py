"""``subnetpools`` (subnet_allocation, default-subnetpools): address space subnets are allocated from.

A pool's ``prefixes`` are stored compacted (``ipam/prefixes.py``), ``ip_version`` follows from them, and
the prefix length bounds are defaulted and checked as Neutron's ``SubnetPoolReader`` does (they render
as strings, as Neutron renders them). A PUT may change the bounds and grow the prefixes; the prefixes it
gives must cover the current ones (Neutron's "Existing prefixes must be a subset of the new prefixes"),
so no allocated subnet ever falls outside its pool. Subnets are allocated by ``api/subnets.py`` through
:func:`allocate`, under the pool's row lock. Visibility: a project's own pools and shared ones; only
admins create shared or default pools, or change ``is_default``; one default pool per IP version.
Address scopes are not offered: ``address_scope_id`` is always null (any id given: 404
``AddressScopeNotFound``, as no scope exists).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from neutrino.provider import errors
from neutrino.provider.api import common
from neutrino.provider.api.attributes import ATTR_NOT_SPECIFIED
from neutrino.provider.api.resource import new_id, utcnow
from neutrino.provider.api.tags import Taggable
from neutrino.provider.api.validators import to_boolean, to_int, validate
from neutrino.provider.context import RequestContext
from neutrino.provider.ipam import prefixes
from neutrino.provider.ipam.ranges import IPNetwork
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import UnitOfWork

#: advisory lock (PostgreSQL) serializing the choice of a default pool per IP version
_DEFAULT_LOCK = zlib.crc32(b"subnetpools/default")


def _prefixlen() -> dict[str, Any]:
    return {
        "allow_post": True,
        "allow_put": True,
        "default": ATTR_NOT_SPECIFIED,
        "convert_to": to_int,
        "validate": {"type:non_negative": None},
        "is_filter": True,
        "is_sort_key": True,
    }


DECLARATION: common.Declaration = {
    **common.ident(),
    **common.named(),
    "name": {  # required and not blank, unlike other resources' names
        "allow_post": True,
        "allow_put": True,
        "validate": {"type:not_empty_string": 255},
        "is_filter": True,
        "is_sort_key": True,
    },
    **common.project(),
    "prefixes": {
        "allow_post": True,
        "allow_put": True,
        "validate": {"type:subnet_list": None},
        "column": None,
    },
    "default_quota": _prefixlen(),
    "ip_version": {"allow_post": False, "convert_to": to_int, "is_filter": True, "is_sort_key": True},
    "default_prefixlen": _prefixlen(),
    "min_prefixlen": _prefixlen(),
    "max_prefixlen": _prefixlen(),
    "is_default": {
        "allow_post": True,
        "allow_put": True,
        "default": False,
        "convert_to": to_boolean,
        "is_filter": True,
        "is_sort_key": True,
    },
    "shared": {
        "allow_post": True,
        "default": False,
        "convert_to": to_boolean,
        "is_filter": True,
        "is_sort_key": True,
    },
    "address_scope_id": {
        "allow_post": True,
        "allow_put": True,
        "default": None,
        "validate": {"type:uuid_or_none": None},
        "column": None,
    },
    **common.standard(),
}

_PREFIXLENS = ("default_prefixlen", "min_prefixlen", "max_prefixlen")


def visible(ctx: RequestContext) -> sa.ColumnElement[bool] | None:
    """A caller sees its project's pools and shared ones (Neutron's ``get_subnetpool``)."""
    if ctx.is_admin:
        return None
    c = t.subnetpools.c
    return sa.or_(c.project_id == ctx.project_id, c.shared.is_(True))


def prefixes_of(uow: UnitOfWork, pool_ids: Sequence[str]) -> dict[str, list[IPNetwork]]:
    """Each pool's prefixes, in address order."""
    found: dict[str, list[IPNetwork]] = {i: [] for i in pool_ids}
    c = t.subnetpool_prefixes.c
    for clause in uow.where_in(c.subnetpool_id, list(pool_ids)) if pool_ids else []:
        for row in uow.execute(sa.select(c.subnetpool_id, c.cidr).where(clause)):
            found[row.subnetpool_id].append(prefixes.network(row.cidr))
    for nets in found.values():
        nets.sort()
    return found


def _no_address_scope(data: dict[str, Any]) -> None:
    scope = data.get("address_scope_id")
    if scope is not None and scope is not ATTR_NOT_SPECIFIED:
        raise errors.AddressScopeNotFound(address_scope_id=scope)


def _given(value: Any) -> Any:
    return None if value is ATTR_NOT_SPECIFIED else value


class SubnetPoolService(Taggable):
    collection = "subnetpools"
    member = "subnetpool"
    declaration = DECLARATION
    table = t.subnetpools
    tag_table = t.subnetpool_tags
    actions = ("add_prefixes", "remove_prefixes")  # subnetpool-prefix-ops

    def not_found(self, resource_id: str) -> errors.ProviderError:
        return errors.SubnetPoolNotFound(subnetpool_id=resource_id)

    def scope(self, ctx: RequestContext) -> sa.ColumnElement[bool] | None:
        return visible(ctx)

    def expand(
        self, uow: UnitOfWork, ctx: RequestContext, rows: Sequence[sa.Row[Any]]
    ) -> list[dict[str, Any]]:
        ids = [r.id for r in rows]
        nets = prefixes_of(uow, ids)
        tags = self.tags_of(uow, rows)
        out = []
        for row in rows:
            record = self.record(row)
            for name in _PREFIXLENS:  # strings, as Neutron's _make_subnetpool_dict
                record[name] = str(record[name])
            record.update(prefixes=[str(n) for n in nets[row.id]], address_scope_id=None, tags=tags[row.id])
            out.append(record)
        return out

    # --- writing -------------------------------------------------------------------------------

    def _check_default(self, uow: UnitOfWork, ip_version: int, pool_id: str | None) -> None:
        """Neutron's one default pool per IP family."""
        uow.advisory_lock(_DEFAULT_LOCK)
        c = t.subnetpools.c
        stmt = sa.select(c.id).where(c.is_default.is_(True), c.ip_version == ip_version)
        if pool_id is not None:
            stmt = stmt.where(c.id != pool_id)
        if uow.one_or_none(stmt.limit(1)) is not None:
            raise errors.InvalidInput(
                error_message="A default subnetpool for this IP family has already been set. "
                "Only one default may exist per IP family"
            )

    def create(self, uow: UnitOfWork, ctx: RequestContext, data: dict[str, Any]) -> str:
        if data["shared"] and not ctx.is_admin:
            raise errors.PolicyNotAuthorized(action="create_subnetpool:shared")
        if data["is_default"] and not ctx.is_admin:
            raise errors.PolicyNotAuthorized(action="create_subnetpool:is_default")
        nets = prefixes.compact(data["prefixes"])
        ip_version = nets[0].version
        limits = prefixes.bounds(
            ip_version,
            _given(data["min_prefixlen"]),
            _given(data["max_prefixlen"]),
            _given(data["default_prefixlen"]),
        )
        _no_address_scope(data)
        if data["is_default"]:
            self._check_default(uow, ip_version, None)
        pool_id = new_id()
        now = utcnow()
        uow.execute(
            sa.insert(t.subnetpools).values(
                id=pool_id,
                project_id=data["project_id"],
                name=data["name"],
                description=data["description"],
                ip_version=ip_version,
                default_prefixlen=limits.default_prefixlen,
                min_prefixlen=limits.min_prefixlen,
                max_prefixlen=limits.max_prefixlen,
                default_quota=_given(data["default_quota"]),
                shared=data["shared"],
                is_default=data["is_default"],
                created_at=now,
                updated_at=now,
                revision_number=0,
            )
        )
        self._write_prefixes(uow, pool_id, nets)
        return pool_id

    @staticmethod
    def _write_prefixes(uow: UnitOfWork, pool_id: str, nets: Sequence[IPNetwork]) -> None:
        uow.execute(sa.delete(t.subnetpool_prefixes).where(t.subnetpool_prefixes.c.subnetpool_id == pool_id))
        if nets:
            uow.execute(
                sa.insert(t.subnetpool_prefixes), [{"subnetpool_id": pool_id, "cidr": str(n)} for n in nets]
            )

    # --- subnetpool-prefix-ops: PUT /subnetpools/<id>/add_prefixes, .../remove_prefixes -----------

    def _prefix_op(
        self, uow: UnitOfWork, ctx: RequestContext, resource_id: str, body: Any
    ) -> tuple[sa.Row[Any], list[IPNetwork], list[IPNetwork]]:
        """The pool (owner or admin; locked), its prefixes, and the body's ``prefixes`` (Neutron's
        "Request body contains invalid data" unless a non-empty list)."""
        given = body.get("prefixes") if isinstance(body, dict) else None
        if not given or not isinstance(given, list):
            raise errors.HTTPBadRequest(msg="Request body contains invalid data")
        if (problem := validate(given, {"type:subnet_list": None})) is not None:
            raise errors.InvalidAttribute(attr="prefixes", reason=problem)
        row = self.get_row(uow, ctx, resource_id)
        if row.project_id != ctx.project_id and not ctx.is_admin:
            raise errors.PolicyNotAuthorized(action="update_subnetpool")
        uow.lock_rows(t.subnetpools, [resource_id])
        return row, prefixes_of(uow, [resource_id])[resource_id], [prefixes.network(p) for p in given]

    def add_prefixes(
        self, uow: UnitOfWork, ctx: RequestContext, resource_id: str, body: Any
    ) -> dict[str, Any]:
        row, current, added = self._prefix_op(uow, ctx, resource_id, body)
        nets = prefixes.compact([str(n) for n in (*current, *added)])
        if nets[0].version != row.ip_version:
            raise errors.PrefixVersionMismatch()
        if nets != current:
            self._write_prefixes(uow, resource_id, nets)
            self.touch(uow, resource_id, {})
        return {"prefixes": [str(n) for n in nets]}

    def remove_prefixes(
        self, uow: UnitOfWork, ctx: RequestContext, resource_id: str, body: Any
    ) -> dict[str, Any]:
        """Take address space out of the pool, unless a subnet holds any of it (Neutron's
        ``IllegalSubnetPoolPrefixUpdate``); prefixes outside the pool change nothing."""
        _row, current, removed = self._prefix_op(uow, ctx, resource_id, body)
        if not any(n.version == c.version and n.overlaps(c) for n in removed for c in current):
            return {"prefixes": [str(n) for n in current]}
        s = t.subnets.c
        held = [
            prefixes.network(r.cidr)
            for r in uow.rows(sa.select(s.cidr).where(s.subnetpool_id == resource_id))
        ]
        if any(n.version == h.version and n.overlaps(h) for n in removed for h in held):
            raise errors.IllegalSubnetPoolPrefixUpdate(
                msg="One or more the prefixes to be removed is in use by a subnet."
            )
        nets = sorted(prefixes.free_blocks(current, removed))
        self._write_prefixes(uow, resource_id, nets)
        self.touch(uow, resource_id, {})
        return {"prefixes": [str(n) for n in nets]}

    def update(self, uow: UnitOfWork, ctx: RequestContext, resource_id: str, data: dict[str, Any]) -> None:
        row = self.get_row(uow, ctx, resource_id)
        if row.project_id != ctx.project_id and not ctx.is_admin:
            raise errors.PolicyNotAuthorized(action="update_subnetpool")
        if "is_default" in data and not ctx.is_admin:
            raise errors.PolicyNotAuthorized(action="update_subnetpool:is_default")
        _no_address_scope(data)
        data.pop("address_scope_id", None)
        uow.lock_rows(t.subnetpools, [resource_id])  # allocations from it wait for the new prefixes
        current = prefixes_of(uow, [resource_id])[resource_id]
        if "prefixes" in data:
            nets = prefixes.compact(data.pop("prefixes"))
            if nets[0].version != row.ip_version:
                raise errors.PrefixVersionMismatch()
            if not prefixes.covers(nets, current):
                raise errors.IllegalSubnetPoolPrefixUpdate(
                    msg="Existing prefixes must be a subset of the new prefixes"
                )
            if nets != current:
                self._write_prefixes(uow, resource_id, nets)
        limits = prefixes.bounds(
            row.ip_version,
            data.get("min_prefixlen", row.min_prefixlen),
            data.get("max_prefixlen", row.max_prefixlen),
            data.get("default_prefixlen", row.default_prefixlen),
        )
        data.update(
            min_prefixlen=limits.min_prefixlen,
            max_prefixlen=limits.max_prefixlen,
            default_prefixlen=limits.default_prefixlen,
        )
        if data.get("is_default") and not row.is_default:
            self._check_default(uow, row.ip_version, resource_id)
        self.touch(uow, resource_id, data)

    def delete(self, uow: UnitOfWork, ctx: RequestContext, resource_id: str) -> None:
        row = self.get_row(uow, ctx, resource_id)
        if row.project_id != ctx.project_id and not ctx.is_admin:
            raise errors.PolicyNotAuthorized(action="delete_subnetpool")
        uow.lock_rows(t.subnetpools, [resource_id])  # no allocation from it meanwhile
        used = sa.select(t.subnets.c.id).where(t.subnets.c.subnetpool_id == resource_id).limit(1)
        if uow.one_or_none(used) is not None:
            raise errors.SubnetPoolDeleteError(reason="Subnet pool has existing allocations")
        uow.execute(sa.delete(t.subnetpools).where(t.subnetpools.c.id == resource_id))


# --- allocation, for subnets ------------------------------------------------------------------------


def pool_row(uow: UnitOfWork, ctx: RequestContext, pool_id: str) -> sa.Row[Any]:
    """The pool ``pool_id`` if the caller may allocate from it (its own or shared), locked until the end
    of the unit, so allocations from one pool are serialized; else ``SubnetPoolNotFound``."""
    uow.lock_rows(t.subnetpools, [pool_id])
    stmt = sa.select(t.subnetpools).where(t.subnetpools.c.id == pool_id)
    if (scope := visible(ctx)) is not None:
        stmt = stmt.where(scope)
    row = uow.one_or_none(stmt)
    if row is None:
        raise errors.SubnetPoolNotFound(subnetpool_id=pool_id)
    return row


def default_pool_id(uow: UnitOfWork, ctx: RequestContext, ip_version: int) -> str:
    """The default pool of ``ip_version`` (``use_default_subnetpool``), else Neutron's 400."""
    c = t.subnetpools.c
    stmt = sa.select(c.id).where(c.is_default.is_(True), c.ip_version == ip_version)
    if (scope := visible(ctx)) is not None:
        stmt = stmt.where(scope)
    row = uow.one_or_none(stmt.order_by(c.created_at).limit(1))
    if row is None:
        raise errors.BadRequest(resource="subnets", msg=f"No default subnetpool found for IPv{ip_version}")
    return str(row.id)


def allocate(
    uow: UnitOfWork, pool: sa.Row[Any], project_id: str, *, cidr: IPNetwork | None, prefixlen: int | None
) -> IPNetwork:
    """A CIDR from ``pool`` (locked by :func:`pool_row`) for a subnet of ``project_id``: ``cidr`` if it is
    free in the pool, else the first free block of ``prefixlen`` (the pool's default when None). Neutron's
    errors: a length outside the pool's bounds 400, no room or not free 409 ``SubnetAllocationError``, the
    project's share of the pool used up 409 ``SubnetPoolQuotaExceeded``."""
    limits = prefixes.Bounds(pool.min_prefixlen, pool.max_prefixlen, pool.default_prefixlen)
    wanted = (
        cidr.prefixlen
        if cidr is not None
        else (prefixlen if prefixlen is not None else pool.default_prefixlen)
    )
    prefixes.check_prefixlen(wanted, limits)
    s = t.subnets.c
    taken = [
        (prefixes.network(r.cidr), r.project_id)
        for r in uow.rows(sa.select(s.cidr, s.project_id).where(s.subnetpool_id == pool.id))
    ]
    if pool.default_quota:  # 0 or none: no quota (Neutron's)
        used = sum(
            prefixes.quota_units(pool.ip_version, n.prefixlen) for n, owner in taken if owner == project_id
        )
        if used + prefixes.quota_units(pool.ip_version, wanted) > pool.default_quota:
            raise errors.SubnetPoolQuotaExceeded(overs=["subnetpool"])
    free = prefixes.free_blocks(prefixes_of(uow, [pool.id])[pool.id], [n for n, _ in taken])
    if cidr is not None:
        if not prefixes.is_free(free, cidr):
            raise errors.SubnetAllocationError(
                reason="Cannot allocate requested subnet from the available set of prefixes"
            )
        return cidr
    found = prefixes.first_fit(free, wanted)
    if found is None:
        raise errors.SubnetAllocationError(
            reason=f"Insufficient prefix space to allocate subnet size /{wanted}"
        )
    return found
