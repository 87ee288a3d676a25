"""``standard-attr-tag``: tags on networks, subnets, ports, security groups, routers and floating
IPs, as Neutron's tag extension serves them.

=========================================  ======  ==========================================
``GET    /v2.0/<path>/<id>/tags``          200     ``{"tags": [...]}``
``PUT    /v2.0/<path>/<id>/tags``          200     replaces them all with the body's ``tags``
``POST   /v2.0/<path>/<id>/tags``          201     adds the body's ``tags`` to the resource's
``DELETE /v2.0/<path>/<id>/tags``          204     removes them all
``GET    /v2.0/<path>/<id>/tags/<tag>``    204     404 ``TagNotFound`` when absent
``PUT    /v2.0/<path>/<id>/tags/<tag>``    201     adds one (already there: no change)
``DELETE /v2.0/<path>/<id>/tags/<tag>``    204     404 ``TagNotFound`` when absent
=========================================  ======  ==========================================

A tag is a string of at most 255 characters; a resource has at most :data:`MAX_TAGS` (Neutron
sets no such cap; ours keeps a resource's row count bounded), refused with ``InvalidInput``.
Ports take ``tags`` in their POST too (``tag-ports-during-bulk-creation``). Listing filters,
each a comma-separated list (repeated parameters add up): ``tags`` (all of them),
``tags-any`` (at least one), ``not-tags`` (not all of them), ``not-tags-any`` (none of them),
compiled to ``id [NOT] IN (SELECT ...)`` on the resource's tag table. A change of tags bumps the
resource's revision number. Reading follows the resource's visibility; changing needs its owner
or an admin (Neutron's ``admin_or_owner`` for ``update_<resource>_tags``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from neutrino.provider import errors
from neutrino.provider.api import revisions
from neutrino.provider.api.query import SpecialFilter
from neutrino.provider.api.resource import ChangeListener, ResourceService, guarded, read_json
from neutrino.provider.context import RequestContext
from neutrino.provider.store.db import Database, UnitOfWork

if TYPE_CHECKING:
    from neutrino.provider.settings import ProviderSettings

MAX_TAG_LEN = 255
MAX_TAGS = 50
FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")


# --- validation (Neutron's messages) -----------------------------------------------------------


def tag_problem(tag: Any) -> str | None:
    """Why ``tag`` is no tag (neutron-lib's ``validate_string`` wording), or None."""
    if not isinstance(tag, str):
        return f"'{tag}' is not a valid string"
    if len(tag) > MAX_TAG_LEN:
        return f"'{tag}' exceeds maximum length of {MAX_TAG_LEN}"
    return None


def tags_problem(tags: Any) -> str | None:
    """Why ``tags`` is no list of tags (``validate_list_of_unique_strings``), or None."""
    if not isinstance(tags, list):
        return f"'{tags}' is not a list"
    seen: list[Any] = []
    duplicates: list[Any] = []
    for tag in tags:
        if tag in seen and tag not in duplicates:
            duplicates.append(tag)
        seen.append(tag)
    if duplicates:
        return "Duplicate items in the list: '{}'".format(", ".join(str(d) for d in duplicates))
    for tag in tags:
        if (problem := tag_problem(tag)) is not None:
            return problem
    return None


def check_count(count: int) -> None:
    if count > MAX_TAGS:
        raise errors.InvalidInput(
            error_message=f"The number of tags {count} exceeds the maximum {MAX_TAGS} per resource"
        )


def body_tags(body: Any) -> list[str]:
    """The ``tags`` of a ``PUT .../tags`` body, checked as Neutron checks them."""
    if not isinstance(body, dict) or "tags" not in body:
        raise errors.InvalidInput(error_message="Invalid tags body")
    if (problem := tags_problem(body["tags"])) is not None:
        raise errors.InvalidInput(error_message=problem)
    check_count(len(body["tags"]))
    return list(body["tags"])


def to_tags(value: Any) -> list[str]:
    """Converter of a port POST's ``tags``: reported as an invalid ``tags`` attribute."""
    from neutrino.provider.api.validators import InvalidValue

    if (problem := tags_problem(value)) is not None:
        raise InvalidValue(problem)
    check_count(len(value))
    return list(value)


# --- storage -----------------------------------------------------------------------------------


def load(uow: UnitOfWork, tag_table: sa.Table, ids: Sequence[str]) -> dict[str, list[str]]:
    """Each resource's tags, sorted (for ``expand``)."""
    found: dict[str, list[str]] = {i: [] for i in ids}
    c = tag_table.c
    for clause in uow.where_in(c.resource_id, list(ids)) if ids else []:
        for resource_id, tag in uow.execute(sa.select(c.resource_id, c.tag).where(clause)):
            found[resource_id].append(tag)
    for tags in found.values():
        tags.sort()
    return found


def current(uow: UnitOfWork, tag_table: sa.Table, resource_id: str) -> list[str]:
    return load(uow, tag_table, [resource_id])[resource_id]


def insert(uow: UnitOfWork, tag_table: sa.Table, resource_id: str, tags: Sequence[str]) -> None:
    if tags:
        uow.execute(sa.insert(tag_table), [{"resource_id": resource_id, "tag": tag} for tag in tags])


def replace(uow: UnitOfWork, tag_table: sa.Table, resource_id: str, wanted: Sequence[str]) -> bool:
    """Make the resource's tags ``wanted``; whether anything changed."""
    have = set(current(uow, tag_table, resource_id))
    gone, new = have - set(wanted), [tag for tag in dict.fromkeys(wanted) if tag not in have]
    if gone:
        uow.execute(
            sa.delete(tag_table).where(
                tag_table.c.resource_id == resource_id, tag_table.c.tag.in_(sorted(gone))
            )
        )
    insert(uow, tag_table, resource_id, new)
    return bool(gone or new)


# --- filters -----------------------------------------------------------------------------------


def _split(values: list[str]) -> list[str]:
    return sorted({tag for value in values for tag in value.split(",")})


def filters(table: sa.Table, tag_table: sa.Table) -> dict[str, SpecialFilter]:
    """The four tag filters of a resource, as WHERE clauses on its table."""
    c = tag_table.c

    def having_all(values: list[str]) -> sa.ColumnElement[bool]:
        tags = _split(values)
        sub = sa.select(c.resource_id).where(c.tag.in_(tags))
        if len(tags) > 1:
            sub = sub.group_by(c.resource_id).having(sa.func.count() == len(tags))
        return table.c.id.in_(sub)

    def having_any(values: list[str]) -> sa.ColumnElement[bool]:
        return table.c.id.in_(sa.select(c.resource_id).where(c.tag.in_(_split(values))))

    return {
        "tags": having_all,
        "tags-any": having_any,
        "not-tags": lambda values: sa.not_(having_all(values)),
        "not-tags-any": lambda values: sa.not_(having_any(values)),
    }


class Taggable(ResourceService):
    """A resource with tags: its service names its tag table; listing gets the tag filters."""

    tag_table: ClassVar[sa.Table]

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        self.special_filters = {**self.special_filters, **filters(self.table, self.tag_table)}

    def tags_of(self, uow: UnitOfWork, rows: Sequence[sa.Row[Any]]) -> dict[str, list[str]]:
        return load(uow, self.tag_table, [r.id for r in rows])


# --- HTTP --------------------------------------------------------------------------------------


class TagController:
    """``/v2.0/<path>/<id>/tags[/<tag>]`` of one taggable resource."""

    def __init__(
        self,
        service: Taggable,
        db: Database,
        context_of: Callable[[Request], RequestContext],
        changed: ChangeListener,
    ) -> None:
        self.service = service
        self.db = db
        self.context_of = context_of
        self.changed = changed

    def routes(self, prefix: str = "/v2.0") -> list[Route]:
        base = f"{prefix}/{self.service.definition.path}/{{id}}/tags"
        return [
            Route(base, guarded(self.index), methods=["GET"]),
            Route(base, guarded(self.update_all), methods=["PUT"]),
            Route(base, guarded(self.create), methods=["POST"]),
            Route(base, guarded(self.delete_all), methods=["DELETE"]),
            Route(base + "/{tag:path}", guarded(self.show), methods=["GET"]),
            Route(base + "/{tag:path}", guarded(self.update), methods=["PUT"]),
            Route(base + "/{tag:path}", guarded(self.delete), methods=["DELETE"]),
        ]

    # resources ---------------------------------------------------------------------------------
    def _row(self, uow: UnitOfWork, ctx: RequestContext, resource_id: str, *, write: bool) -> sa.Row[Any]:
        table = self.service.table
        stmt = sa.select(table).where(table.c.id == resource_id)
        if (scope := self.service.scope(ctx)) is not None:
            stmt = stmt.where(scope)
        row = uow.one_or_none(stmt)
        if row is None:
            raise errors.TagResourceNotFound(resource=self.service.collection, resource_id=resource_id)
        if write and not ctx.is_admin and row.project_id != ctx.project_id:
            raise errors.PolicyNotAuthorized(action=f"update_{self.service.collection}_tags")
        if write:
            uow.lock_rows(table, [resource_id])
        return row

    def _write(self, request: Request, change: Callable[[UnitOfWork, str], bool]) -> Callable[[], None]:
        ctx = self.context_of(request)
        resource_id = request.path_params["id"]

        def work() -> None:
            with self.db.uow() as uow:
                self._row(uow, ctx, resource_id, write=True)
                changed = change(uow, resource_id)
                if changed:
                    revisions.bump(uow, self.service.table, [resource_id])
                uow.commit()
            if changed:
                self.changed(self.service.collection, [resource_id])

        return work

    def _read(self, request: Request) -> list[str]:
        ctx = self.context_of(request)
        with self.db.reader() as uow:
            self._row(uow, ctx, request.path_params["id"], write=False)
            return current(uow, self.service.tag_table, request.path_params["id"])

    @staticmethod
    def _tag(request: Request) -> str:
        tag = request.path_params["tag"]
        if (problem := tag_problem(tag)) is not None:
            raise errors.InvalidInput(error_message=problem)
        return str(tag)

    # handlers ----------------------------------------------------------------------------------
    async def index(self, request: Request) -> Response:
        return JSONResponse({"tags": await run_in_threadpool(self._read, request)})

    async def show(self, request: Request) -> Response:
        tag = self._tag(request)
        if tag not in await run_in_threadpool(self._read, request):
            raise errors.TagNotFound(tag=tag)
        return Response(status_code=204)

    async def update_all(self, request: Request) -> Response:
        wanted = body_tags(await read_json(request))
        table = self.service.tag_table
        await run_in_threadpool(self._write(request, lambda uow, rid: replace(uow, table, rid, wanted)))
        return JSONResponse({"tags": wanted})

    async def create(self, request: Request) -> Response:
        wanted = body_tags(await read_json(request))
        table = self.service.tag_table

        def add(uow: UnitOfWork, resource_id: str) -> bool:
            have = current(uow, table, resource_id)
            new = [tag for tag in wanted if tag not in have]
            check_count(len(have) + len(new))
            insert(uow, table, resource_id, new)
            return bool(new)

        await run_in_threadpool(self._write(request, add))
        return JSONResponse({"tags": wanted}, status_code=201)

    async def delete_all(self, request: Request) -> Response:
        table = self.service.tag_table
        await run_in_threadpool(self._write(request, lambda uow, rid: replace(uow, table, rid, [])))
        return Response(status_code=204)

    async def update(self, request: Request) -> Response:
        tag = self._tag(request)
        table = self.service.tag_table

        def add(uow: UnitOfWork, resource_id: str) -> bool:
            have = current(uow, table, resource_id)
            if tag in have:
                return False
            check_count(len(have) + 1)
            insert(uow, table, resource_id, [tag])
            return True

        await run_in_threadpool(self._write(request, add))
        return Response(status_code=201)

    async def delete(self, request: Request) -> Response:
        tag = self._tag(request)
        table = self.service.tag_table

        def remove(uow: UnitOfWork, resource_id: str) -> bool:
            gone = uow.execute(
                sa.delete(table).where(table.c.resource_id == resource_id, table.c.tag == tag)
            ).rowcount
            if not gone:
                raise errors.TagNotFound(tag=tag)
            return True

        await run_in_threadpool(self._write(request, remove))
        return Response(status_code=204)


def routes(
    services: Mapping[str, Any],
    db: Database,
    context_of: Callable[[Request], RequestContext],
    changed: ChangeListener,
) -> list[Route]:
    """The tag routes of every taggable service among ``services``."""
    found: list[Route] = []
    for service in services.values():
        if isinstance(service, Taggable):
            found.extend(TagController(service, db, context_of, changed).routes())
    return found
