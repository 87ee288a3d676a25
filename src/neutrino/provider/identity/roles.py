"""Keystone v3 roles and role assignments: the three roles Neutron's default policies know (``admin``,
``member``, ``reader``; each role's id is its name), granted to a user on a project.

There are no groups, domain or system assignments and no implied roles, so a user's effective
assignments are its direct ones, and ``GET /v3/role_assignments`` answers both the same way.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from neutrino.provider import errors
from neutrino.provider.identity import service
from neutrino.provider.identity.http import caller, identity_of
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import UnitOfWork

DOMAIN = {"id": "default", "name": "Default"}


def _base(request: Request) -> str:
    return (request.app.state.provider.settings.public_url or str(request.base_url)).rstrip("/")


def require_admin(request: Request, action: str = "identity:admin_required") -> None:
    if not caller(request).is_admin:
        raise errors.PolicyNotAuthorized(action=action)


def role_body(request: Request, role: str) -> dict[str, Any]:
    return {
        "id": role,
        "name": role,
        "domain_id": None,
        "description": None,
        "options": {},
        "links": {"self": f"{_base(request)}/v3/roles/{role}"},
    }


def _known(role: str) -> str:
    if role not in service.ROLES:
        raise errors.RoleNotFound(role=role)
    return role


async def list_roles(request: Request) -> Response:
    """``GET /v3/roles`` (``name`` filter): any authenticated caller, as Keystone's reader policy allows."""
    caller(request)
    name = request.query_params.get("name")
    roles = [role_body(request, r) for r in service.ROLES if name in (None, r)]
    return JSONResponse({"roles": roles, "links": {"self": str(request.url)}})


async def show_role(request: Request) -> Response:
    caller(request)
    return JSONResponse({"role": role_body(request, _known(request.path_params["role_id"]))})


async def refuse_role_change(request: Request) -> Response:
    """``POST /v3/roles``, ``PATCH``/``DELETE /v3/roles/{id}``: the policies know three roles; a fourth
    would grant nothing, and renaming or deleting one would change what every assignment means."""
    require_admin(request)
    raise errors.FixedRoles(action=f"{request.method} {request.url.path}")


def _must_exist(uow: UnitOfWork, user_id: str, project_id: str) -> None:
    if uow.one_or_none(sa.select(t.users.c.id).where(t.users.c.id == user_id)) is None:
        raise errors.UserNotFound(user=user_id)
    if uow.one_or_none(sa.select(t.projects.c.id).where(t.projects.c.id == project_id)) is None:
        raise errors.ProjectNotFound(project=project_id)


async def grant_role(request: Request) -> Response:
    """``PUT /v3/projects/{p}/users/{u}/roles/{r}``: idempotent, as Keystone's."""
    require_admin(request)
    p = request.path_params
    role = _known(p["role"])

    def grant() -> None:
        with identity_of(request).db.uow() as uow:
            _must_exist(uow, p["user_id"], p["project_id"])
            service.assign_role(uow, p["user_id"], p["project_id"], role)
            uow.commit()

    await run_in_threadpool(grant)
    return Response(status_code=204)


async def check_role(request: Request) -> Response:
    """``HEAD``/``GET /v3/projects/{p}/users/{u}/roles/{r}``: 204 when granted, Keystone's 404 when not."""
    require_admin(request)
    p = request.path_params
    role = _known(p["role"])

    def check() -> None:
        with identity_of(request).db.reader() as uow:
            _must_exist(uow, p["user_id"], p["project_id"])
            if not service.has_role(uow, p["user_id"], p["project_id"], role):
                raise errors.RoleAssignmentNotFound(role=role, user=p["user_id"], project=p["project_id"])

    await run_in_threadpool(check)
    return Response(status_code=204)


async def revoke_role(request: Request) -> Response:
    """``DELETE /v3/projects/{p}/users/{u}/roles/{r}``: the user's tokens on that project die with the role
    (as Keystone revokes them); a new token carries the roles left."""
    require_admin(request)
    p = request.path_params
    role = _known(p["role"])
    ident = identity_of(request)

    def revoke() -> None:
        with ident.db.uow() as uow:
            _must_exist(uow, p["user_id"], p["project_id"])
            removed = uow.execute(
                sa.delete(t.role_assignments).where(
                    t.role_assignments.c.user_id == p["user_id"],
                    t.role_assignments.c.project_id == p["project_id"],
                    t.role_assignments.c.role == role,
                )
            )
            if not removed.rowcount:
                raise errors.RoleAssignmentNotFound(role=role, user=p["user_id"], project=p["project_id"])
            ident.revoke_user_tokens(uow, p["user_id"], project_id=p["project_id"])
            uow.commit()

    await run_in_threadpool(revoke)
    return Response(status_code=204)


async def user_roles_on_project(request: Request) -> Response:
    """``GET /v3/projects/{p}/users/{u}/roles``: the roles the user has there."""
    require_admin(request)
    p = request.path_params

    def load() -> list[str]:
        with identity_of(request).db.reader() as uow:
            _must_exist(uow, p["user_id"], p["project_id"])
            rows = uow.rows(
                sa.select(t.role_assignments.c.role)
                .where(
                    t.role_assignments.c.user_id == p["user_id"],
                    t.role_assignments.c.project_id == p["project_id"],
                )
                .order_by(t.role_assignments.c.role)
            )
            return [r.role for r in rows]

    roles = [role_body(request, r) for r in await run_in_threadpool(load)]
    return JSONResponse({"roles": roles, "links": {"self": str(request.url)}})


#: filters of ``GET /v3/role_assignments`` that can only match what Neutrino does not have
_NOTHING_MATCHES = ("group.id", "scope.domain.id", "scope.system", "scope.OS-INHERIT:inherited_to")
_TRUE = ("", "1", "true", "yes", "on")


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name)
    return value is not None and value.lower() in _TRUE


async def list_assignments(request: Request) -> Response:
    """``GET /v3/role_assignments``: filters ``user.id``, ``scope.project.id``, ``role.id``, ``effective``
    (the same answer: no groups, no inheritance), ``include_names``. Admin only, as Keystone's default."""
    require_admin(request, "identity:list_role_assignments")
    q = request.query_params
    names = _flag(request, "include_names")
    if any(key in q for key in _NOTHING_MATCHES) or ("role.id" in q and q["role.id"] not in service.ROLES):
        return JSONResponse({"role_assignments": [], "links": {"self": str(request.url)}})
    a, users, projects = t.role_assignments, t.users, t.projects
    query = (
        sa.select(
            a.c.user_id,
            a.c.project_id,
            a.c.role,
            users.c.name.label("user"),
            projects.c.name.label("project"),
        )
        .join(users, users.c.id == a.c.user_id)
        .join(projects, projects.c.id == a.c.project_id)
        .order_by(users.c.name, projects.c.name, a.c.role)
    )
    for key, column in (
        ("user.id", a.c.user_id),
        ("scope.project.id", a.c.project_id),
        ("role.id", a.c.role),
    ):
        if key in q:
            query = query.where(column == q[key])

    def load() -> list[Any]:
        with identity_of(request).db.reader() as uow:
            return list(uow.rows(query))

    base = _base(request)
    out = []
    for row in await run_in_threadpool(load):
        user: dict[str, Any] = {"id": row.user_id}
        project: dict[str, Any] = {"id": row.project_id}
        role: dict[str, Any] = {"id": row.role}
        if names:
            user.update(name=row.user, domain=DOMAIN)
            project.update(name=row.project, domain=DOMAIN)
            role["name"] = row.role
        link = f"{base}/v3/projects/{row.project_id}/users/{row.user_id}/roles/{row.role}"
        out.append({"role": role, "user": user, "scope": {"project": project}, "links": {"assignment": link}})
    return JSONResponse({"role_assignments": out, "links": {"self": str(request.url)}})


ROUTES = [
    ("/v3/roles", list_roles, ["GET"]),
    ("/v3/roles", refuse_role_change, ["POST"]),
    ("/v3/roles/{role_id}", show_role, ["GET"]),
    ("/v3/roles/{role_id}", refuse_role_change, ["PATCH", "DELETE"]),
    ("/v3/role_assignments", list_assignments, ["GET"]),
    ("/v3/projects/{project_id}/users/{user_id}/roles", user_roles_on_project, ["GET"]),
    ("/v3/projects/{project_id}/users/{user_id}/roles/{role}", grant_role, ["PUT"]),
    ("/v3/projects/{project_id}/users/{user_id}/roles/{role}", check_role, ["GET", "HEAD"]),
    ("/v3/projects/{project_id}/users/{user_id}/roles/{role}", revoke_role, ["DELETE"]),
]
