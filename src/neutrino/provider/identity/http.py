"""Helpers the identity routes share: the service, the calling token, the JSON body."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from neutrino.http_input import InputError, parse_json
from neutrino.provider import errors
from neutrino.provider.identity.service import IdentityService
from neutrino.provider.identity.tokens import TokenClaims


def identity_of(request: Request) -> IdentityService:
    return request.app.state.provider.identity


async def read_body(request: Request) -> dict[str, Any]:
    try:
        body = parse_json(await request.body() or b"{}")
    except InputError as exc:
        raise errors.HTTPBadRequest(msg=str(exc)) from exc
    if not isinstance(body, dict):
        raise errors.HTTPBadRequest(msg="Request body must be a JSON object")
    return body


def caller(request: Request) -> TokenClaims:
    claims = identity_of(request).issuer.validate(request.headers.get("X-Auth-Token", ""))
    if claims is None:
        raise errors.Unauthorized(msg="The request you have made requires authentication.")
    return claims
