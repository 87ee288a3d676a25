"""Keystone v3 administration: projects, users (and their passwords), and the one domain every project
and user lives in (``default``, read-only). Roles and their assignments: :mod:`.roles`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from neutrino.provider import errors
from neutrino.provider.identity import roles, service
from neutrino.provider.identity.http import caller, identity_of, read_body
from neutrino.provider.identity.requests import (
    PasswordChangeRequest,
    ProjectChangeRequest,
    ProjectRequest,
    UserChangeRequest,
    UserRequest,
    parse,
)
from neutrino.provider.identity.roles import require_admin
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import UnitOfWork

DEFAULT_DOMAIN_ID = "default"


def project_body(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "enabled": row.enabled,
        "domain_id": "default",
        "parent_id": "default",
        "is_domain": False,
        "tags": [],
        "options": {},
    }


def user_body(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "enabled": row.enabled,
        "domain_id": "default",
        "default_project_id": row.default_project_id,
        "password_expires_at": None,
        "options": {},
        # Keystone stores these as extra attributes and shows them only once set
        **{key: getattr(row, key) for key in ("email", "description") if getattr(row, key) is not None},
    }


def _require_admin(request: Request) -> None:
    require_admin(request)


_TRUE = ("1", "true", "yes", "on")


def _filtered(request: Request, table: sa.Table, query: sa.Select[Any]) -> sa.Select[Any]:
    """Keystone's list filters: ``name``, ``enabled``, and ``domain_id`` (all is in ``default``)."""
    q = request.query_params
    if "name" in q:
        query = query.where(table.c.name == q["name"])
    if "enabled" in q:
        query = query.where(table.c.enabled == (q["enabled"].lower() in _TRUE))
    if q.get("domain_id", DEFAULT_DOMAIN_ID) != DEFAULT_DOMAIN_ID:
        query = query.where(sa.false())
    return query


async def list_projects(request: Request) -> Response:
    _require_admin(request)
    query = _filtered(request, t.projects, sa.select(t.projects).order_by(t.projects.c.name))

    def load() -> list[dict[str, Any]]:
        with identity_of(request).db.reader() as uow:
            return [project_body(r) for r in uow.rows(query)]

    return JSONResponse({"projects": await run_in_threadpool(load), "links": {"self": str(request.url)}})


async def create_project(request: Request) -> Response:
    _require_admin(request)
    body = parse(ProjectRequest, await read_body(request)).project

    def create() -> dict[str, Any]:
        with identity_of(request).db.uow() as uow:
            project_id = service.create_project(uow, body.name, body.description or "", enabled=body.enabled)
            row = uow.one_or_none(sa.select(t.projects).where(t.projects.c.id == project_id))
            uow.commit()
            return project_body(row)

    return JSONResponse({"project": await run_in_threadpool(create)}, status_code=201)


async def list_users(request: Request) -> Response:
    _require_admin(request)
    query = _filtered(request, t.users, sa.select(t.users).order_by(t.users.c.name))
    if "default_project_id" in request.query_params:
        query = query.where(t.users.c.default_project_id == request.query_params["default_project_id"])

    def load() -> list[dict[str, Any]]:
        with identity_of(request).db.reader() as uow:
            return [user_body(r) for r in uow.rows(query)]

    return JSONResponse({"users": await run_in_threadpool(load), "links": {"self": str(request.url)}})


def _project_exists(uow: UnitOfWork, project_id: str | None) -> None:
    if (
        project_id
        and uow.one_or_none(sa.select(t.projects.c.id).where(t.projects.c.id == project_id)) is None
    ):
        raise errors.ProjectNotFound(project=project_id)


async def create_user(request: Request) -> Response:
    """Creates a user. As in Keystone, its ``default_project_id`` grants nothing: a role assignment does."""
    _require_admin(request)
    body = parse(UserRequest, await read_body(request)).user

    def create() -> dict[str, Any]:
        with identity_of(request).db.uow() as uow:
            project_id = body.default_project_id
            _project_exists(uow, project_id)
            user_id = service.create_user(
                uow,
                body.name,
                body.password,
                project_id,
                enabled=body.enabled,
                email=body.email,
                description=body.description,
            )
            row = uow.one_or_none(sa.select(t.users).where(t.users.c.id == user_id))
            uow.commit()
            return user_body(row)

    return JSONResponse({"user": await run_in_threadpool(create)}, status_code=201)


async def update_user(request: Request) -> Response:
    """``PATCH /v3/users/{id}``: name, password, enabled, default project, email, description. A new
    password or disabling the user kills its tokens, as in Keystone."""
    _require_admin(request)
    user_id = request.path_params["user_id"]
    body = parse(UserChangeRequest, await read_body(request)).user
    ident = identity_of(request)
    # what the body names; null clears what may be cleared, and changes nothing else
    given = {key: getattr(body, key) for key in body.model_fields_set}
    values = {k: v for k, v in given.items() if v is not None or k in _CLEARABLE}
    password = values.pop("password", None)

    def update() -> dict[str, Any]:
        with ident.db.uow() as uow:
            if uow.one_or_none(sa.select(t.users.c.id).where(t.users.c.id == user_id)) is None:
                raise errors.UserNotFound(user=user_id)
            if "name" in values and uow.one_or_none(
                sa.select(t.users.c.id).where(t.users.c.name == values["name"], t.users.c.id != user_id)
            ):
                raise errors.DuplicateName(type="user", name=values["name"])
            _project_exists(uow, values.get("default_project_id"))
            if password is not None:
                service.set_password(uow, user_id, password)
            if values:
                uow.execute(sa.update(t.users).where(t.users.c.id == user_id).values(**values))
            row = uow.one_or_none(sa.select(t.users).where(t.users.c.id == user_id))
            assert row is not None  # checked above, in this transaction
            if password is not None or not row.enabled:
                ident.revoke_user_tokens(uow, user_id)  # as Keystone: the old password's tokens die
            uow.commit()
            return user_body(row)

    return JSONResponse({"user": await run_in_threadpool(update)})


#: what ``null`` in a PATCH clears (Keystone drops an extra attribute set to null)
_CLEARABLE = ("default_project_id", "email", "description")


async def change_own_password(request: Request) -> Response:
    """``POST /v3/users/{id}/password`` with the original password (Keystone's self-service)."""
    user_id = request.path_params["user_id"]
    body = parse(PasswordChangeRequest, await read_body(request)).user
    ident = identity_of(request)

    source = request.client.host if request.client else ""

    def change() -> None:
        with ident.db.uow() as uow:
            row = uow.one_or_none(sa.select(t.users).where(t.users.c.id == user_id))
            ident.check_password(row, user_id, body.original_password, source)
            service.set_password(uow, user_id, body.password)
            ident.revoke_user_tokens(uow, user_id)
            uow.commit()

    await run_in_threadpool(change)
    return Response(status_code=204)


def domain_body(request: Request) -> dict[str, Any]:
    base = (request.app.state.provider.settings.public_url or str(request.base_url)).rstrip("/")
    return {
        "id": DEFAULT_DOMAIN_ID,
        "name": "Default",
        "description": "The default domain",
        "enabled": True,
        "tags": [],
        "options": {},
        "links": {"self": f"{base}/v3/domains/{DEFAULT_DOMAIN_ID}"},
    }


async def list_domains(request: Request) -> Response:
    """``GET /v3/domains`` (admin; ``name``, ``enabled`` filters): the one domain there is."""
    _require_admin(request)
    domain = domain_body(request)
    wanted = request.query_params
    matches = wanted.get("name", domain["name"]) == domain["name"] and wanted.get(
        "enabled", "true"
    ).lower() in ("true", "1")
    return JSONResponse({"domains": [domain] if matches else [], "links": {"self": str(request.url)}})


async def show_domain(request: Request) -> Response:
    """``GET /v3/domains/{id}``: every project is in the default domain, so any caller may read it
    (Keystone's policy: admin, or a token scoped to a project of that domain)."""
    caller(request)
    domain_id = request.path_params["domain_id"]
    if domain_id != DEFAULT_DOMAIN_ID:
        raise errors.DomainNotFound(domain=domain_id)
    return JSONResponse({"domain": domain_body(request)})


async def show_project(request: Request) -> Response:
    """Keystone's ``identity:get_project``: an admin, or a token scoped to that project."""
    project_id = request.path_params["project_id"]
    asking = caller(request)
    if not asking.is_admin and asking.project_id != project_id:
        raise errors.PolicyNotAuthorized(action="identity:get_project")

    def load() -> dict[str, Any]:
        with identity_of(request).db.reader() as uow:
            row = uow.one_or_none(sa.select(t.projects).where(t.projects.c.id == project_id))
        if row is None:
            raise errors.ProjectNotFound(project=project_id)
        return project_body(row)

    return JSONResponse({"project": await run_in_threadpool(load)})


async def show_user(request: Request) -> Response:
    """Keystone's ``identity:get_user``: an admin, or the user itself."""
    user_id = request.path_params["user_id"]
    asking = caller(request)
    if not asking.is_admin and asking.user_id != user_id:
        raise errors.PolicyNotAuthorized(action="identity:get_user")

    def load() -> dict[str, Any]:
        with identity_of(request).db.reader() as uow:
            row = uow.one_or_none(sa.select(t.users).where(t.users.c.id == user_id))
        if row is None:
            raise errors.UserNotFound(user=user_id)
        return user_body(row)

    return JSONResponse({"user": await run_in_threadpool(load)})


async def user_projects(request: Request) -> Response:
    """``GET /v3/users/{id}/projects`` (``openstack project list --my-projects``): the projects the user has
    a role on; an admin, or the user itself."""
    user_id = request.path_params["user_id"]
    asking = caller(request)
    if not asking.is_admin and asking.user_id != user_id:
        raise errors.PolicyNotAuthorized(action="identity:list_user_projects")

    def load() -> list[dict[str, Any]]:
        with identity_of(request).db.reader() as uow:
            if uow.one_or_none(sa.select(t.users.c.id).where(t.users.c.id == user_id)) is None:
                raise errors.UserNotFound(user=user_id)
            return [project_body(r) for r in uow.rows(projects_of(user_id))]

    return JSONResponse({"projects": await run_in_threadpool(load), "links": {"self": str(request.url)}})


def projects_of(user_id: str) -> sa.Select[Any]:
    """The projects ``user_id`` has a role on, by name."""
    return (
        sa.select(t.projects)
        .where(
            t.projects.c.id.in_(
                sa.select(t.role_assignments.c.project_id).where(t.role_assignments.c.user_id == user_id)
            )
        )
        .order_by(t.projects.c.name)
    )


async def update_project(request: Request) -> Response:
    """``PATCH /v3/projects/{id}``: name, description, enabled; disabling it kills the tokens scoped to it."""
    _require_admin(request)
    project_id = request.path_params["project_id"]
    body = parse(ProjectChangeRequest, await read_body(request)).project
    ident = identity_of(request)
    # what the body names; a name or an enabled flag given as null changes nothing (a description may be cleared)
    values = {key: getattr(body, key) for key in body.model_fields_set - {"tags"}}
    values = {key: value for key, value in values.items() if value is not None or key == "description"}
    if "description" in values and values["description"] is None:
        values["description"] = ""  # cleared (stored as "", shown as Keystone shows it)

    def update() -> dict[str, Any]:
        with ident.db.uow() as uow:
            if "name" in values and uow.one_or_none(
                sa.select(t.projects.c.id).where(
                    t.projects.c.name == values["name"], t.projects.c.id != project_id
                )
            ):
                raise errors.DuplicateName(type="project", name=values["name"])
            if values:
                uow.execute(sa.update(t.projects).where(t.projects.c.id == project_id).values(**values))
            row = uow.one_or_none(sa.select(t.projects).where(t.projects.c.id == project_id))
            if row is None:
                raise errors.ProjectNotFound(project=project_id)
            if not row.enabled:
                ident.revoke_project_tokens(uow, project_id)
            uow.commit()
            return project_body(row)

    return JSONResponse({"project": await run_in_threadpool(update)})


def _deleter(
    table: sa.Table, param: str, not_found: Callable[[str], Exception], revoke: Callable[..., None], doc: str
) -> Callable[[Request], Awaitable[Response]]:
    """A ``DELETE /v3/{kind}/{id}`` handler: the row goes (its role assignments with it, by the
    schema's cascades), then every token of it dies (``revoke(identity, uow, id)``: the revocation for
    that kind), in one transaction; an unknown id answers Keystone's 404."""

    async def delete(request: Request) -> Response:
        _require_admin(request)
        entity_id = request.path_params[param]
        ident = identity_of(request)

        def work() -> None:
            with ident.db.uow() as uow:
                if not uow.execute(sa.delete(table).where(table.c.id == entity_id)).rowcount:
                    raise not_found(entity_id)
                revoke(ident, uow, entity_id)
                uow.commit()

        await run_in_threadpool(work)
        return Response(status_code=204)

    delete.__doc__ = doc
    return delete


delete_project = _deleter(
    t.projects,
    "project_id",
    lambda project_id: errors.ProjectNotFound(project=project_id),
    lambda ident, uow, project_id: ident.revoke_project_tokens(uow, project_id),
    """``DELETE /v3/projects/{id}``: its role assignments go with it, and every token scoped to it dies.
    Its network resources stay, as in OpenStack (an admin cleans them up).""",
)
delete_user = _deleter(
    t.users,
    "user_id",
    lambda user_id: errors.UserNotFound(user=user_id),
    lambda ident, uow, user_id: ident.revoke_user_tokens(uow, user_id),
    """``DELETE /v3/users/{id}``: its role assignments go with it, and every token of it dies.""",
)


ROUTES = [
    ("/v3/domains", list_domains, ["GET"]),
    ("/v3/domains/{domain_id}", show_domain, ["GET"]),
    ("/v3/projects", list_projects, ["GET"]),
    ("/v3/projects", create_project, ["POST"]),
    ("/v3/projects/{project_id}", show_project, ["GET"]),
    ("/v3/projects/{project_id}", update_project, ["PATCH"]),
    ("/v3/projects/{project_id}", delete_project, ["DELETE"]),
    ("/v3/users", list_users, ["GET"]),
    ("/v3/users", create_user, ["POST"]),
    ("/v3/users/{user_id}", show_user, ["GET"]),
    ("/v3/users/{user_id}", update_user, ["PATCH"]),
    ("/v3/users/{user_id}", delete_user, ["DELETE"]),
    ("/v3/users/{user_id}/password", change_own_password, ["POST"]),
    ("/v3/users/{user_id}/projects", user_projects, ["GET"]),
    *roles.ROUTES,
]
