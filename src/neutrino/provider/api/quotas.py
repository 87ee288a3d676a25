"""``quotas`` and ``quota_details``: per-project limits on what a project may create.

A project's limit for a resource is its own row in ``quotas`` if an admin set one, else the
configured default (``quota_<resource>`` settings; -1, unlimited, unless configured: the embedded
provider serves one installation, so it limits nothing by itself). Creating through the API
counts the project's rows of that resource and refuses with Neutron's 409 ``OverQuota`` naming
the resource when the request would go past the limit (:func:`enforce`, called by the generic
controller's create inside the create's unit of work). The count and the insert are serialized per
(project, resource) (an advisory lock on PostgreSQL; SQLite's single writer), so concurrent
creates never exceed a limit. Resources made on the side (a router's interface port, a project's
default security group and its rules) count but are not refused, as in Neutron.

Routes, as Neutron's ``QuotaSetsController``: ``GET /v2.0/quotas`` (projects with non-default
limits; admin), ``GET/PUT/DELETE /v2.0/quotas/{project_id}`` (reading one's own project needs no
role; other projects and every write need admin), ``GET .../default``, ``GET .../details``
(limit, used, reserved), ``GET /v2.0/quotas/project`` (the caller's project). A limit below the
current usage is refused (400) unless the body says ``"force": true``, as Neutron since 2025.1.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from neutrino.provider import errors
from neutrino.provider.api import attributes
from neutrino.provider.api.validators import to_int
from neutrino.provider.context import RequestContext
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import Database, UnitOfWork

if TYPE_CHECKING:
    from neutrino.provider.settings import ProviderSettings

#: Neutron's quota resource names (a resource's ``member``) and the table counted for each.
TABLES: Mapping[str, sa.Table] = {
    "network": t.networks,
    "subnet": t.subnets,
    "subnetpool": t.subnetpools,
    "port": t.ports,
    "router": t.routers,
    "floatingip": t.floating_ips,
    "security_group": t.security_groups,
    "security_group_rule": t.security_group_rules,
    "rbac_policy": t.rbac_policies,
}
#: Neutron's ``DB_INTEGER_MAX_VALUE``.
MAX_LIMIT = 2**31 - 1
UNLIMITED = -1

DEFINITION = attributes.define(
    "quotas",
    "quota",
    {
        name: {
            "allow_put": True,
            "convert_to": to_int,
            "validate": {"type:range": (UNLIMITED, MAX_LIMIT)},
            "column": None,
        }
        for name in TABLES
    },
)


def defaults(settings: ProviderSettings) -> dict[str, int]:
    return {name: int(getattr(settings, f"quota_{name}")) for name in TABLES}


# Built once (with a parameter for the project): every create of a counted resource reads its
# project's limits, and SQLAlchemy finds the statement compiled without making its cache key again.
_LIMITS = sa.select(t.quotas.c.resource, t.quotas.c.limit).where(
    t.quotas.c.project_id == sa.bindparam("project_id")
)


def limits(uow: UnitOfWork, settings: ProviderSettings, project_id: str) -> dict[str, int]:
    """The project's limits: the configured defaults, overridden by its own rows."""
    found = defaults(settings)
    for resource, limit in uow.execute(_LIMITS, {"project_id": project_id}):
        if resource in found:
            found[resource] = limit
    return found


def used(uow: UnitOfWork, resource: str, project_id: str) -> int:
    table = TABLES[resource]
    stmt = sa.select(sa.func.count()).select_from(table).where(table.c.project_id == project_id)
    return int(uow.rows(stmt)[0][0])


def _lock_key(project_id: str, resource: str) -> int:
    return zlib.crc32(f"quota/{project_id}/{resource}".encode())


#: The key a service's ``prepare`` sets in a create body when it made a row of the same resource on the side
#: just before (a project's default security group, made by its first request): Neutron makes that row
#: after the request's quota reservation, so the check does not count it; counted from then on.
MADE_ALONGSIDE = "__made_alongside__"


def enforce(
    uow: UnitOfWork, settings: ProviderSettings, resource: str, items: Sequence[Mapping[str, Any]]
) -> None:
    """Refuse creating ``items`` (parsed create bodies, each with its ``project_id``) of
    ``resource`` if that takes a project past its limit. Holds the (project, resource) lock until
    the unit ends, so the caller's insert is counted by the next creator."""
    if resource not in TABLES:
        return
    wanted = Counter(str(item["project_id"]) for item in items)
    alongside = Counter(str(item["project_id"]) for item in items if item.get(MADE_ALONGSIDE) == resource)
    for project_id in sorted(wanted):
        limit = limits(uow, settings, project_id)[resource]
        if limit == UNLIMITED:
            continue
        uow.advisory_lock(_lock_key(project_id, resource))
        if used(uow, resource, project_id) - alongside[project_id] + wanted[project_id] > limit:
            raise errors.OverQuota(overs=[resource])


def details(uow: UnitOfWork, settings: ProviderSettings, project_id: str) -> dict[str, dict[str, int]]:
    return {
        name: {"limit": limit, "used": used(uow, name, project_id), "reserved": 0}
        for name, limit in limits(uow, settings, project_id).items()
    }


class QuotaRoutes:
    """HTTP for ``/v2.0/quotas``; each handler runs its database work in a thread."""

    def __init__(
        self, db: Database, settings: ProviderSettings, context_of: Callable[[Request], RequestContext]
    ) -> None:
        self.db = db
        self.settings = settings
        self.context_of = context_of

    def routes(self, prefix: str = "/v2.0") -> list[Route]:
        from neutrino.provider.api.resource import guarded  # resource.py calls enforce()

        base = f"{prefix}/quotas"
        own = {"project": self.own("project"), "tenant": self.own("tenant")}
        out = [Route(base, guarded(self.index), methods=["GET"])]
        for suffix in ("", ".json"):
            out += [
                *[Route(f"{base}/{k}{suffix}", guarded(h), methods=["GET"]) for k, h in own.items()],
                Route(f"{base}/{{id}}/default{suffix}", guarded(self.default), methods=["GET"]),
                Route(f"{base}/{{id}}/details{suffix}", guarded(self.details), methods=["GET"]),
            ]
        out += [
            Route(base + "/{id}", guarded(self.show), methods=["GET"]),
            Route(base + "/{id}", guarded(self.update), methods=["PUT"]),
            Route(base + "/{id}", guarded(self.delete), methods=["DELETE"]),
        ]
        return out

    def _reader(self, request: Request, *, action: str = "get_quota") -> tuple[RequestContext, str]:
        """The caller and the project named in the path; another project's quotas are admins'."""
        ctx = self.context_of(request)
        project_id = str(request.path_params["id"]).removesuffix(".json")
        if project_id != ctx.project_id and not ctx.is_admin:
            raise errors.PolicyNotAuthorized(action=action)
        return ctx, project_id

    def own(self, key: str) -> Callable[[Request], Any]:
        async def handler(request: Request) -> Response:
            ctx = self.context_of(request)
            if not ctx.project_id:
                raise errors.QuotaMissingTenant()
            return JSONResponse({key: {f"{key}_id": ctx.project_id}})

        return handler

    async def index(self, request: Request) -> Response:
        ctx = self.context_of(request)
        if not ctx.is_admin:
            raise errors.PolicyNotAuthorized(action="get_quota")

        def work() -> list[dict[str, Any]]:
            q = t.quotas.c
            with self.db.reader() as uow:
                rows = uow.rows(sa.select(q.project_id, q.resource, q.limit).order_by(q.project_id))
            out: dict[str, dict[str, Any]] = {}
            for row in rows:
                entry = out.setdefault(
                    row.project_id,
                    {**defaults(self.settings), "project_id": row.project_id, "tenant_id": row.project_id},
                )
                if row.resource in TABLES:
                    entry[row.resource] = row.limit
            return list(out.values())

        return JSONResponse({"quotas": await run_in_threadpool(work)})

    async def show(self, request: Request) -> Response:
        _ctx, project_id = self._reader(request)

        def work() -> dict[str, int]:
            with self.db.reader() as uow:
                return limits(uow, self.settings, project_id)

        return JSONResponse({"quota": await run_in_threadpool(work)})

    async def default(self, request: Request) -> Response:
        self._reader(request)
        return JSONResponse({"quota": defaults(self.settings)})

    async def details(self, request: Request) -> Response:
        _ctx, project_id = self._reader(request)

        def work() -> dict[str, dict[str, int]]:
            with self.db.reader() as uow:
                return details(uow, self.settings, project_id)

        return JSONResponse({"quota": await run_in_threadpool(work)})

    async def update(self, request: Request) -> Response:
        ctx = self.context_of(request)
        if not ctx.is_admin:
            raise errors.PolicyNotAuthorized(action="update_quota")
        from neutrino.provider.api.resource import read_json

        project_id = str(request.path_params["id"])
        body = await read_json(request)
        given = body.get("quota") if isinstance(body, dict) else None
        if isinstance(given, dict):
            given = dict(given)
            force = given.pop("force", None) is True
            given.pop("check_limit", None)  # Neutron's old opt-in: checking is now the default
            body = {"quota": given}
        else:
            force = False
        wanted = attributes.parse_update(DEFINITION, body, ctx)

        def work() -> dict[str, int]:
            q = t.quotas.c
            with self.db.uow() as uow:
                for resource, limit in wanted.items():
                    uow.advisory_lock(_lock_key(project_id, resource))
                    if force or limit == UNLIMITED:
                        continue
                    usage = used(uow, resource, project_id)
                    if usage > limit:
                        raise errors.HTTPBadRequest(
                            msg=f"Quota limit {limit} for {resource} must be greater than or equal to "
                            f"already used {usage}"
                        )
                for resource, limit in wanted.items():
                    uow.execute(sa.delete(t.quotas).where(q.project_id == project_id, q.resource == resource))
                    uow.execute(
                        sa.insert(t.quotas).values(project_id=project_id, resource=resource, limit=limit)
                    )
                answer = limits(uow, self.settings, project_id)
                uow.commit()
            return answer

        return JSONResponse({"quota": await run_in_threadpool(work)})

    async def delete(self, request: Request) -> Response:
        ctx = self.context_of(request)
        if not ctx.is_admin:
            raise errors.PolicyNotAuthorized(action="delete_quota")
        project_id = str(request.path_params["id"])

        def work() -> None:
            with self.db.uow() as uow:
                gone = uow.execute(sa.delete(t.quotas).where(t.quotas.c.project_id == project_id)).rowcount
                if not gone:
                    raise errors.TenantQuotaNotFound(tenant_id=project_id)
                uow.commit()

        await run_in_threadpool(work)
        return Response(status_code=204)
