"""Keystone wire format: ``/v3`` (version, tokens, catalog, projects, users) and ``POST /v2.0/tokens``.

Errors here are Keystone's ``{"error": {"code", "title", "message"}}``, not NeutronError.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from neutrino.provider import errors
from neutrino.provider.identity import admin
from neutrino.provider.identity.http import caller, identity_of, read_body
from neutrino.provider.identity.requests import AuthV3, TokenRequestV2, TokenRequestV3, parse
from neutrino.provider.identity.service import Scope
from neutrino.provider.identity.tokens import TokenClaims

DOMAIN = {"id": "default", "name": "Default"}
_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict"}

Handler = Callable[[Request], Awaitable[Response]]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _keystone_errors(handler: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except sa.exc.IntegrityError:  # e.g. two creates of one name at once: the unique index refused one
            return _keystone_error(request, errors.DBConflict())
        except errors.ProviderError as exc:
            return _keystone_error(request, exc)

    return wrapped


def _keystone_error(request: Request, exc: errors.ProviderError) -> Response:
    status = errors.status_of(exc)
    body = {"error": {"code": status, "title": _TITLES.get(status, "Error"), "message": exc.msg}}
    headers = {"WWW-Authenticate": f'Keystone uri="{_base_url(request)}/v3"'} if status == 401 else {}
    if isinstance(exc, errors.AccountLocked):
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse(body, status_code=status, headers=headers)


def _base_url(request: Request) -> str:
    public = request.app.state.provider.settings.public_url
    return (public or str(request.base_url)).rstrip("/")


def catalog(request: Request) -> list[dict[str, Any]]:
    base = _base_url(request)
    region = request.app.state.provider.settings.region
    services = (("network", "neutron", base + "/", "9e2d"), ("identity", "keystone", base + "/v3", "1d3a"))
    return [
        {
            "id": f"{sid}0000000000000000000000000000",
            "type": stype,
            "name": name,
            "endpoints": [
                {
                    "id": f"{sid}{i}{'0' * 27}",
                    "interface": interface,
                    "region": region,
                    "region_id": region,
                    "url": url,
                }
                for i, interface in enumerate(("public", "internal", "admin"))
            ],
        }
        for stype, name, url, sid in services
    ]


def _v3_token_body(request: Request, claims: TokenClaims, *, with_catalog: bool = True) -> dict[str, Any]:
    token: dict[str, Any] = {
        "methods": list(claims.methods),
        "user": {
            "id": claims.user_id,
            "name": claims.user_name,
            "domain": DOMAIN,
            "password_expires_at": None,
        },
        "audit_ids": [claims.audit_id],
        "issued_at": _iso(claims.issued_at),
        "expires_at": _iso(claims.expires_at),
    }
    if claims.project_id:
        token["project"] = {"id": claims.project_id, "name": claims.project_name, "domain": DOMAIN}
        token["is_domain"] = False
        token["roles"] = [{"id": role, "name": role} for role in claims.roles]
        if with_catalog:
            token["catalog"] = catalog(request)
    return {"token": token}


async def version_v3(request: Request) -> Response:
    return JSONResponse(
        {
            "version": {
                "id": "v3.14",
                "status": "stable",
                "updated": "2020-04-07T00:00:00Z",
                "links": [{"rel": "self", "href": _base_url(request) + "/v3/"}],
                "media-types": [
                    {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
                ],
            }
        }
    )


def _scope_v3(auth: AuthV3) -> Scope:
    scope = auth.scope
    if not scope or scope == "unscoped":
        return Scope()
    project = scope.project if not isinstance(scope, str) else None
    if project is None:
        raise errors.HTTPBadRequest(msg="Only project scope is supported")
    return Scope(project_id=project.id, project_name=project.name)


async def issue_v3(request: Request) -> Response:
    auth = parse(TokenRequestV3, await read_body(request)).auth
    identity, methods = auth.identity, auth.identity.methods
    scope = _scope_v3(auth)
    ident = identity_of(request)
    if "password" in methods and identity.password is not None:
        user = identity.password.user
        token, claims = await run_in_threadpool(
            ident.authenticate_password,
            user_id=user.id,
            user_name=user.name,
            password=user.password,
            scope=scope,
            methods=tuple(methods),
            source=_client_address(request),
        )
    elif "token" in methods and identity.token is not None:
        token, claims = await run_in_threadpool(
            ident.authenticate_token, identity.token.id, scope, tuple(methods)
        )
    else:
        raise errors.Unauthorized(msg="Unsupported authentication method")
    return JSONResponse(_v3_token_body(request, claims), status_code=201, headers={"X-Subject-Token": token})


def _client_address(request: Request) -> str:
    return request.client.host if request.client else ""


#: How long after expiry ``?allow_expired=1`` still validates a token (Keystone's ``allow_expired_window``).
ALLOW_EXPIRED_WINDOW = 48 * 3600.0


def _subject(request: Request, *, allow_expired: bool = False) -> TokenClaims:
    """The token named by X-Subject-Token, as Keystone answers: 401 when the caller's own token is bad,
    404 when the subject is missing, forged, expired or revoked, 403 when a non-admin asks about someone
    else's token."""
    asking = caller(request)
    subject = request.headers.get("X-Subject-Token", "")
    if not subject:
        raise errors.TokenNotFound(token_id="no token in the request")
    window = ALLOW_EXPIRED_WINDOW if allow_expired else 0.0
    claims = identity_of(request).issuer.validate(subject, expired_window=window)
    if claims is None:
        raise errors.TokenNotFound(token_id=subject[:16] + "...")
    if not asking.is_admin and claims.user_id != asking.user_id:
        raise errors.PolicyNotAuthorized(action="identity:validate_token")
    return claims


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name)
    return value is not None and value.lower() not in ("0", "false", "no", "off")


async def check_v3(request: Request) -> Response:
    """``GET``/``HEAD /v3/auth/tokens``: validate X-Subject-Token (``nocatalog``, ``allow_expired``)."""
    claims = _subject(request, allow_expired=_flag(request, "allow_expired"))
    if request.method == "HEAD":
        return Response(status_code=200)
    body = _v3_token_body(request, claims, with_catalog="nocatalog" not in request.query_params)
    return JSONResponse(body)


async def revoke_v3(request: Request) -> Response:
    claims = _subject(request)
    await run_in_threadpool(identity_of(request).revoke_token, claims)
    return Response(status_code=204)


async def auth_catalog(request: Request) -> Response:
    caller(request)
    return JSONResponse({"catalog": catalog(request), "links": {"self": str(request.url)}})


async def auth_projects(request: Request) -> Response:
    claims = caller(request)

    def load() -> list[dict[str, Any]]:
        with identity_of(request).db.reader() as uow:
            return [admin.project_body(r) for r in uow.rows(admin.projects_of(claims.user_id))]

    return JSONResponse({"projects": await run_in_threadpool(load), "links": {"self": str(request.url)}})


async def issue_v2(request: Request) -> Response:
    """Keystone v2.0 ``POST /v2.0/tokens``, still used by the real oVirt engine."""
    auth = parse(TokenRequestV2, await read_body(request)).auth
    given = auth.model_fields_set if auth is not None else set()
    scope = Scope(project_id=auth.tenant_id, project_name=auth.tenant_name) if auth else Scope()
    ident = identity_of(request)
    if auth is not None and "password_credentials" in given:
        creds = auth.password_credentials
        token, claims = await run_in_threadpool(
            ident.authenticate_password,
            user_id=creds.user_id if creds else None,
            user_name=creds.username if creds else None,
            password=creds.password if creds else "",
            scope=scope,
            source=_client_address(request),
        )
    elif auth is not None and "token" in given:
        token, claims = await run_in_threadpool(
            ident.authenticate_token, auth.token.id if auth.token else "", scope
        )
    else:
        raise errors.HTTPBadRequest(msg="Expecting passwordCredentials or token in auth")
    access: dict[str, Any] = {
        "token": {
            "id": token,
            "issued_at": _iso(claims.issued_at),
            "expires": _iso(claims.expires_at)[:19] + "Z",
            "audit_ids": [claims.audit_id],
        },
        "user": {
            "id": claims.user_id,
            "name": claims.user_name,
            "username": claims.user_name,
            "roles": [{"name": r} for r in claims.roles],
            "roles_links": [],
        },
        "metadata": {"is_admin": 0, "roles": list(claims.roles)},
        "serviceCatalog": [],
    }
    if claims.project_id:
        access["token"]["tenant"] = {
            "id": claims.project_id,
            "name": claims.project_name,
            "enabled": True,
            "description": None,
        }
        access["serviceCatalog"] = [
            {
                "type": svc["type"],
                "name": svc["name"],
                "endpoints_links": [],
                "endpoints": [
                    {
                        "id": svc["endpoints"][0]["id"],
                        "region": svc["endpoints"][0]["region"],
                        "publicURL": svc["endpoints"][0]["url"],
                        "internalURL": svc["endpoints"][1]["url"],
                        "adminURL": svc["endpoints"][2]["url"],
                    }
                ],
            }
            for svc in catalog(request)
        ]
    return JSONResponse({"access": access})


def routes() -> list[Route]:
    def r(path: str, handler: Handler, methods: list[str]) -> Route:
        return Route(path, _keystone_errors(handler), methods=methods)

    return [
        r("/v3", version_v3, ["GET"]),
        r("/v3/", version_v3, ["GET"]),
        r("/v3/auth/tokens", issue_v3, ["POST"]),
        r("/v3/auth/tokens", check_v3, ["GET", "HEAD"]),
        r("/v3/auth/tokens", revoke_v3, ["DELETE"]),
        r("/v3/auth/catalog", auth_catalog, ["GET"]),
        r("/v3/auth/projects", auth_projects, ["GET"]),
        r("/v2.0/tokens", issue_v2, ["POST"]),
        *[r(path, handler, methods) for path, handler, methods in admin.ROUTES],
    ]
