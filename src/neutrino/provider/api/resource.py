"""A resource's service (what it stores and checks) and the generic HTTP controller serving
``/v2.0/<collection>`` and ``/v2.0/<collection>/<id>`` from its declaration."""

from __future__ import annotations

import logging
import operator
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import orjson
import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from neutrino.http_input import InputError, parse_json, request_id
from neutrino.provider import errors
from neutrino.provider.api import attributes, quotas, revisions
from neutrino.provider.api.attributes import ResourceDefinition
from neutrino.provider.api.query import ListQuery, SpecialFilter, links, parse_query, select_page
from neutrino.provider.context import RequestContext
from neutrino.provider.store.db import Database, UnitOfWork
from neutrino.provider.store.rows import gc_paused

if TYPE_CHECKING:
    from neutrino.provider.settings import ProviderSettings

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]
#: Told, after a commit, which resources of a collection changed (the backend's ``changed``).
ChangeListener = Callable[[str, Sequence[str]], None]


def _ignore_changes(collection: str, resource_ids: Sequence[str]) -> None:
    pass


class Unprepared(Exception):  # noqa: N818 - a signal between a service and its controller, not an error
    """Raised by a service's create when what its :meth:`ResourceService.prepare` makes sure of is
    missing after all (prepare skipped it on this process's memory, and it has changed since): the
    controller runs prepare and the unit of work once more."""


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def timestamp(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds") + "Z"


class ResourceService:
    """Storage and rules of one resource. Subclasses set the class attributes and override
    ``create``/``update``/``delete`` (and ``expand`` for computed attributes)."""

    collection: ClassVar[str]
    member: ClassVar[str]
    path: ClassVar[str] = ""
    declaration: ClassVar[Mapping[str, Mapping[str, Any]]]
    table: ClassVar[sa.Table]
    #: Neutron's member actions (``PUT /<path>/<id>/<action>``, a bare JSON body in and out), each
    #: served by the service's method of that name: ``(uow, ctx, resource_id, body) -> answer``.
    actions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        self.special_filters: Mapping[str, SpecialFilter] = {}
        self._compile(self.declaration)

    def _compile(self, declaration: Mapping[str, Mapping[str, Any]]) -> None:
        self.definition: ResourceDefinition = attributes.define(
            self.collection, self.member, declaration, self.path
        )
        self._columns = [
            (name, attr.column)
            for name, attr in self.definition.attributes.items()
            if attr.column is not None and attr.column in self.table.c
        ]
        self._plans: dict[tuple[str, ...], Any] = {}

    def drop_attributes(self, names: Collection[str]) -> None:
        """Leave out the attributes of extensions the backend does not implement (call before the
        controller is made): a request naming one is refused as unrecognized, as by a Neutron without
        the extension, and none is rendered."""
        if names:
            self._compile({n: spec for n, spec in self.declaration.items() if n not in names})

    # --- reading -------------------------------------------------------------------------------

    def not_found(self, resource_id: str) -> errors.ProviderError:
        return errors.ResourceNotFound()

    def scope(self, ctx: RequestContext) -> sa.ColumnElement[bool] | None:
        """Rows this caller may see: admins all, others their project's."""
        return None if ctx.is_admin else self.table.c.project_id == ctx.project_id

    def record(self, row: sa.Row[Any]) -> dict[str, Any]:
        """The stored attributes of a row, under their wire names."""
        return self.records([row])[0]

    def records(self, rows: Sequence[sa.Row[Any]]) -> list[dict[str, Any]]:
        """:meth:`record` of rows of one result (they share their fields): the columns are looked up
        once, then each row is one C-level pick of its values."""
        if not rows:
            return []
        fields = rows[0]._fields
        plan = self._plans.get(fields)
        if plan is None:
            plan = self._plans[fields] = self._plan(fields)
        names, pick, stamps = plan
        out = [dict(zip(names, pick(row), strict=True)) for row in rows]
        for name in stamps:
            for record in out:
                value = record[name]
                if value is not None:
                    record[name] = timestamp(value)
        return out

    def _plan(
        self, fields: tuple[str, ...]
    ) -> tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]], list[str]]:
        """How :meth:`record` reads a row of these fields: the wire names, a getter of their values
        (one C call per row) and the names whose values are timestamps."""
        index = {name: i for i, name in enumerate(fields)}
        columns = [(name, column) for name, column in self._columns if column in index]
        if not columns:
            return (), lambda row: (), []
        names = tuple(name for name, _ in columns)
        getter = operator.itemgetter(*[index[column] for _, column in columns])
        pick = getter if len(columns) > 1 else lambda row: (getter(row),)
        stamps = [n for n, c in columns if isinstance(self.table.c[c].type, sa.DateTime)]
        return names, pick, stamps

    def record_of(self, values: Mapping[Any, Any]) -> dict[str, Any]:
        """The stored attributes of column values (what was just inserted, by column name)."""
        out: dict[str, Any] = {}
        for name, column in self._columns:
            value = values[column]
            out[name] = timestamp(value) if isinstance(value, datetime) else value
        return out

    def expand(
        self, uow: UnitOfWork, ctx: RequestContext, rows: Sequence[sa.Row[Any]]
    ) -> list[dict[str, Any]]:
        return self.records(rows)

    def list_records(
        self, uow: UnitOfWork, ctx: RequestContext, q: ListQuery
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """The records of one page of a list, and their ids."""
        rows = select_page(uow.conn, self.definition, self.table, q, self.scope(ctx), self.special_filters)
        return self.expand(uow, ctx, rows), [r.id for r in rows]

    def list_rendered(
        self, uow: UnitOfWork, ctx: RequestContext, q: ListQuery
    ) -> tuple[list[Any], list[str]] | None:
        """A page of a list already rendered (each item its wire JSON, an ``orjson.Fragment``) and its
        ids; None (the default): the controller renders :meth:`list_records`."""
        return None

    def get_row(self, uow: UnitOfWork, ctx: RequestContext, resource_id: str) -> sa.Row[Any]:
        stmt = sa.select(self.table).where(self.table.c.id == resource_id)
        if (scope := self.scope(ctx)) is not None:
            stmt = stmt.where(scope)
        row = uow.one_or_none(stmt)
        if row is None:
            raise self.not_found(resource_id)
        return row

    def show(self, uow: UnitOfWork, ctx: RequestContext, resource_id: str) -> dict[str, Any]:
        return self.expand(uow, ctx, [self.get_row(uow, ctx, resource_id)])[0]

    def before_list(self, db: Database, ctx: RequestContext) -> None:
        """Hook run before listing (Neutron creates a project's default security group here)."""

    def prepare(self, db: Database, ctx: RequestContext, data: dict[str, Any]) -> None:
        """Hook run before the create's unit of work, for work that needs its own (committed) one."""

    # --- writing -------------------------------------------------------------------------------

    def create(self, uow: UnitOfWork, ctx: RequestContext, data: dict[str, Any]) -> str:
        raise errors.HTTPBadRequest(msg=f"{self.collection} cannot be created")

    def create_record(self, uow: UnitOfWork, ctx: RequestContext, data: dict[str, Any]) -> dict[str, Any]:
        """Create, and the new resource's record as :meth:`show` gives it to an admin. A service whose
        create knows everything it wrote overrides this to skip reading it back."""
        return self.show(uow, RequestContext.admin(), self.create(uow, ctx, data))

    def update(self, uow: UnitOfWork, ctx: RequestContext, resource_id: str, data: dict[str, Any]) -> None:
        raise errors.HTTPBadRequest(msg=f"{self.collection} cannot be updated")

    def written(self, records: Sequence[dict[str, Any]]) -> None:
        """Hook run after a create or an update committed, with the records it wrote as an admin
        sees them (what :meth:`create_record` returned, or the update's read after the write), e.g.
        to keep them rendered for the next list (ports, ``api.rendered``)."""

    def delete(self, uow: UnitOfWork, ctx: RequestContext, resource_id: str) -> None:
        raise errors.HTTPBadRequest(msg=f"{self.collection} cannot be deleted")

    def touch(self, uow: UnitOfWork, resource_id: str, data: Mapping[str, Any]) -> None:
        """Write the column-backed attributes of ``data`` (wire names), bumping updated_at and
        revision_number; computed attributes are the caller's business."""
        attrs = self.definition.attributes
        values: dict[str, Any] = {}
        for key, value in data.items():
            column = attrs[key].column if key in attrs else None
            if column is not None:
                values[column] = value
        uow.execute(
            sa.update(self.table)
            .where(self.table.c.id == resource_id)
            .values(**values, updated_at=utcnow(), revision_number=self.table.c.revision_number + 1)
        )


def json_answer(body: Any, status_code: int = 200) -> Response:
    """A JSON answer rendered now, in the calling thread (a worker's, for a large list), with orjson:
    the same compact bytes as Starlette's ``JSONResponse``, several times faster for thousands of ports."""
    return Response(orjson.dumps(body), status_code=status_code, media_type="application/json")


def neutron_error(exc: errors.ProviderError) -> JSONResponse:
    return JSONResponse(errors.neutron_body(exc), status_code=errors.status_of(exc))


def guarded(handler: Handler) -> Handler:
    """Render every failure as a NeutronError; never a traceback."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except errors.ProviderError as exc:
            return neutron_error(exc)
        except sa.exc.IntegrityError as exc:
            log.info("integrity conflict on %s %s: %s", request.method, request.url.path, exc.orig)
            return neutron_error(errors.DBConflict())
        except Exception:
            rid = request_id(request.state)
            log.exception("failure serving %s %s (request %s)", request.method, request.url.path, rid)
            body = {
                "NeutronError": {
                    "type": "HTTPInternalServerError",
                    "message": f"Request Failed: internal server error while processing your request ({rid}).",
                    "detail": "",
                }
            }
            return JSONResponse(body, status_code=500)

    return wrapped


async def read_json(request: Request) -> Any:
    """The JSON body (None when empty); what the input boundary refuses is a 400 naming the field."""
    raw = await request.body()
    try:
        return parse_json(raw) if raw.strip() else None
    except InputError as exc:
        raise errors.HTTPBadRequest(msg=str(exc)) from exc


class Controller:
    """HTTP for one resource service; every handler runs its database work in a thread."""

    def __init__(
        self,
        service: ResourceService,
        db: Database,
        context_of: Callable[[Request], RequestContext],
        changed: ChangeListener = _ignore_changes,
    ) -> None:
        self.service = service
        self.db = db
        self.context_of = context_of
        self.changed = changed
        self.defn = service.definition

    def routes(self, prefix: str = "/v2.0") -> list[Route]:
        base = f"{prefix}/{self.defn.path}"
        return [
            Route(base, guarded(self.index), methods=["GET"]),
            Route(base, guarded(self.create), methods=["POST"]),
            Route(base + "/{id}", guarded(self.show), methods=["GET"]),
            Route(base + "/{id}", guarded(self.update), methods=["PUT"]),
            Route(base + "/{id}", guarded(self.delete), methods=["DELETE"]),
            *[
                Route(f"{base}/{{id}}/{action}", guarded(self.action(action)), methods=["PUT"])
                for action in self.service.actions
            ],
        ]

    def report(self, uow: UnitOfWork, ids: Sequence[str]) -> None:
        """Tell the backend, after the commit, what the unit changed: the resources it changed on
        the side first (a router's new port before the router), the request's own last."""
        own = list(ids)
        for collection, noted in uow.changes.items():
            if collection == self.defn.collection:
                own.extend(i for i in noted if i not in own)
            else:
                self.changed(collection, noted)
        self.changed(self.defn.collection, own)

    async def index(self, request: Request) -> Response:
        ctx = self.context_of(request)
        q = parse_query(self.defn, request.query_params, self.service.special_filters)

        def render() -> Response:
            with self.db.reader() as uow:
                rendered = self.service.list_rendered(uow, ctx, q)
                if rendered is None:
                    records, ids = self.service.list_records(uow, ctx, q)
            if rendered is not None:
                items, ids = rendered
            else:
                items = attributes.render_all(self.defn, records, ctx, q.fields)
            body: dict[str, Any] = {self.defn.collection: items}
            body.update(links(request.url, request.query_params, self.defn.collection, q, ids))
            # rendered here, in the worker thread: a large list would otherwise hold the event loop
            return json_answer(body)

        def work() -> Response:
            self.service.before_list(self.db, ctx)
            # The records are built, rendered and freed (when render returns) with the collector held
            # off: it would otherwise walk them all once at the first allocation after the pause
            # (~25 ms of a 10,000-port list), only to find them alive.
            with gc_paused():
                return render()

        return await run_in_threadpool(work)

    async def show(self, request: Request) -> Response:
        ctx = self.context_of(request)
        fields = [
            f for value in request.query_params.getlist("fields") for f in value.split(",") if f
        ] or None

        def work() -> Response:
            with self.db.reader() as uow:
                record = self.service.show(uow, ctx, request.path_params["id"])
            return json_answer({self.defn.member: attributes.render(self.defn, record, ctx, fields)})

        return await run_in_threadpool(work)

    async def create(self, request: Request) -> Response:
        ctx = self.context_of(request)
        body = await read_json(request)
        if isinstance(body, dict) and isinstance(body.get(self.defn.collection), list):
            # each item bare or wrapped in its member name, as Neutron takes them
            member = self.defn.member
            items = [
                attributes.parse_create(
                    self.defn, item if isinstance(item, dict) and member in item else {member: item}, ctx
                )
                for item in body[self.defn.collection]
            ]
            bulk = True
        else:
            items = [attributes.parse_create(self.defn, body, ctx)]
            bulk = False

        def attempt() -> list[dict[str, Any]]:
            for data in items:
                self.service.prepare(self.db, ctx, data)
            # The whole request is one unit of work: a bulk create is all or nothing.
            with self.db.uow() as uow:
                quotas.enforce(uow, self.service.settings, self.defn.member, items)
                records = [self.service.create_record(uow, ctx, data) for data in items]
                uow.commit()
            self.report(uow, [r["id"] for r in records])
            self.service.written(records)
            return [attributes.render(self.defn, r, ctx) for r in records]

        def work() -> list[dict[str, Any]]:
            try:
                return attempt()
            except Unprepared:
                return attempt()

        rendered = await run_in_threadpool(work)
        if bulk:
            return json_answer({self.defn.collection: rendered}, 201)
        return json_answer({self.defn.member: rendered[0]}, 201)

    async def update(self, request: Request) -> Response:
        ctx = self.context_of(request)
        data = attributes.parse_update(self.defn, await read_json(request), ctx)
        resource_id = request.path_params["id"]
        expected = revisions.constraint(request.headers)

        def work() -> dict[str, Any]:
            admin = RequestContext.admin()
            with self.db.uow() as uow:
                self.service.get_row(uow, ctx, resource_id)
                revisions.enforce(uow, self.service.table, resource_id, expected)
                mark = revisions.mark(uow, self.service.table, resource_id)
                before = self.service.show(uow, admin, resource_id)
                self.service.update(uow, ctx, resource_id, data)
                record = self.service.show(uow, admin, resource_id)
                if revisions.unchanged(before, record):
                    revisions.restore(uow, self.service.table, mark)
                    record = before
                uow.commit()
            self.report(uow, [resource_id])
            self.service.written([record])
            return {self.defn.member: attributes.render(self.defn, record, ctx)}

        return json_answer(await run_in_threadpool(work))

    async def delete(self, request: Request) -> Response:
        ctx = self.context_of(request)
        resource_id = request.path_params["id"]
        expected = revisions.constraint(request.headers)

        def work() -> None:
            with self.db.uow() as uow:
                self.service.get_row(uow, ctx, resource_id)
                revisions.enforce(uow, self.service.table, resource_id, expected)
                self.service.delete(uow, ctx, resource_id)
                uow.commit()
            self.report(uow, [resource_id])

        await run_in_threadpool(work)
        return Response(status_code=204)

    def action(self, name: str) -> Handler:
        """``PUT /<path>/<id>/<name>``: the service's method ``name`` in one unit of work."""
        act = getattr(self.service, name)

        async def handler(request: Request) -> Response:
            ctx = self.context_of(request)
            body = await read_json(request)
            resource_id = request.path_params["id"]

            def work() -> Any:
                with self.db.uow() as uow:
                    self.service.get_row(uow, ctx, resource_id)
                    answer = act(uow, ctx, resource_id, body)
                    uow.commit()
                self.report(uow, [resource_id])
                return answer

            return JSONResponse(await run_in_threadpool(work))

        return handler
