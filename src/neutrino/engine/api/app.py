"""The oVirt REST API v4 at /ovirt-engine/api, and its SSO endpoints.

Speaks XML (what ``ovirtsdk4`` sends and expects) and JSON (``Accept: application/json``).
Every call needs ``Authorization: Bearer <token>`` from ``/ovirt-engine/sso/oauth/token``, or HTTP Basic.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from neutrino import __version__
from neutrino.engine.api import wire
from neutrino.engine.api.faults import fault, status_of
from neutrino.engine.api.fields import API
from neutrino.engine.api.resource import Call, MethodNotAllowed
from neutrino.engine.api.tree import EMPTY_LISTS, EMPTY_TOP, Node, build_tree
from neutrino.engine.commands import auth, events
from neutrino.engine.commands.common import EngineContext
from neutrino.engine.domain.errors import EngineError, NotFound
from neutrino.engine.domain.model import BLANK_TEMPLATE_ID
from neutrino.http_input import Scope, text_problem

log = logging.getLogger(__name__)

XML = "application/xml"
JSON = "application/json"
TOKEN_CACHE_SECONDS = 60.0
TOKEN_CACHE_SIZE = 4096
# the top-level collections the <api> root links to
ROOT_LINKS = (
    "clusters",
    "datacenters",
    "disks",
    "events",
    "hosts",
    "macpools",
    "networks",
    "openstacknetworkproviders",
    "schedulingpolicies",
    "storagedomains",
    "templates",
    "users",
    "vms",
    "vnicprofiles",
)


class Reply:
    """What a dispatched call answers: a status and a tree under a root element (or nothing)."""

    def __init__(self, status: int, root: str | None = None, tree: wire.Tree | None = None) -> None:
        self.status, self.root, self.tree = status, root, tree


class TokenCache:
    """Bearer tokens checked recently, so a busy client does not cost a query per call.

    Bounded: past ``size`` tokens the least recently used one is dropped (and read from the database again
    if it comes back). A cached token is trusted until it expires, and for at most TOKEN_CACHE_SECONDS, so a
    session removed elsewhere stops working soon after. What it answers is who the token's user is.
    """

    def __init__(self, ctx: EngineContext, size: int = TOKEN_CACHE_SIZE) -> None:
        self.ctx = ctx
        self.size = size
        # token -> (time.time() deadline, its user)
        self._trusted_until: OrderedDict[str, tuple[float, events.Actor]] = OrderedDict()
        self._lock = threading.Lock()  # calls arrive on the thread pool

    def cached(self, token: str) -> events.Actor | None:
        """The token's user if the cache trusts the token now, else None (then ask ``valid``). No I/O: the
        API checks a busy client's token with it on the event loop, without a trip to the thread pool."""
        with self._lock:
            found = self._trusted_until.get(token)
            if found is not None and found[0] > time.time():
                self._trusted_until.move_to_end(token)
                return found[1]
        return None

    def valid(self, token: str) -> events.Actor | None:
        """The token's user while the token is good, else None."""
        now = time.time()
        with self._lock:
            found = self._trusted_until.get(token)
            if found is not None and found[0] > now:
                self._trusted_until.move_to_end(token)
                return found[1]
            self._trusted_until.pop(token, None)
        live = auth.session_user(self.ctx, token)
        if live is None:
            return None
        session, user = live
        actor = events.Actor(user.id, user.principal)
        until = min(auth.expires_at(self.ctx, session).timestamp(), now + TOKEN_CACHE_SECONDS)
        with self._lock:
            self._trusted_until[token] = (until, actor)
            self._trusted_until.move_to_end(token)
            while len(self._trusted_until) > self.size:
                self._trusted_until.popitem(last=False)
        return actor

    def forget(self, token: str) -> None:
        with self._lock:
            self._trusted_until.pop(token, None)

    def __len__(self) -> int:
        return len(self._trusted_until)

    def __contains__(self, token: object) -> bool:
        return token in self._trusted_until


def create_api(ctx: EngineContext) -> list[Route]:
    tree = build_tree()
    tokens = TokenCache(ctx)

    async def sso_token(request: Request) -> Response:
        form = await _form(request)
        if form.get("grant_type") != "password":
            return JSONResponse(
                {"error_code": "unsupported_grant_type", "error": "Only the password grant is supported."},
                400,
            )
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        request.state.user = username  # for the access log (never the password)
        source = request.client.host if request.client else ""
        try:
            opened = await run_in_threadpool(auth.open_session, ctx, username, password, source)
        except auth.LoginLocked as exc:
            return JSONResponse(
                {"error_code": "access_denied", "error": str(exc)},
                401,
                headers={"Retry-After": str(exc.retry_after)},
            )
        if opened is None:
            return JSONResponse(
                {
                    "error_code": "access_denied",
                    "error": "Cannot authenticate user: the user name or password is incorrect.",
                },
                400,
            )
        expires = int(
            auth.expires_at(ctx, opened.session).timestamp() * 1000
        )  # milliseconds since the epoch, as oVirt
        return JSONResponse(
            {
                "access_token": opened.token,
                "scope": str(form.get("scope", "ovirt-app-api")),
                "exp": str(expires),
                "token_type": "bearer",
            }
        )

    async def sso_logout(request: Request) -> Response:
        form = await _form(request)
        token = str(form.get("token", ""))
        if token:
            await run_in_threadpool(auth.logout, ctx, token)
            tokens.forget(token)
        return JSONResponse({})

    async def api(request: Request) -> Response:
        wants_json = _wants_json(request)
        try:
            actor = _cached_bearer(request, tokens) or await run_in_threadpool(
                _authenticated, request, ctx, tokens
            )
        except auth.LoginLocked as exc:
            return _render(
                Reply(401, "fault", fault(str(exc), "Unauthorized")),
                wants_json,
                {"WWW-Authenticate": 'Bearer realm="RESTAPI"', "Retry-After": str(exc.retry_after)},
            )
        if actor is None:
            return _render(
                Reply(401, "fault", fault("Authentication required.", "Unauthorized")),
                wants_json,
                {"WWW-Authenticate": 'Bearer realm="RESTAPI"'},
            )
        body = await request.body()
        path = request.path_params.get("path", "").strip("/")
        segments = [s for s in path.split("/") if s]
        method = "GET" if request.method == "HEAD" else request.method  # the server drops a HEAD's body
        reply = await run_in_threadpool(
            _dispatch,
            ctx,
            tree,
            method,
            segments,
            dict(request.query_params),
            body,
            request.headers.get("content-type", ""),
            actor,
            getattr(request.state, "request_id", "-"),
        )
        request.state.user = actor.name  # for the access log
        return _render(reply, wants_json)

    # every method reaches the router, so an unsupported one is answered with a fault, not a text/plain 405
    methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
    return [
        Route("/ovirt-engine/sso/oauth/token", sso_token, methods=["POST"]),
        Route("/ovirt-engine/services/sso-logout", sso_logout, methods=["POST", "GET"]),
        Route("/ovirt-engine/api", api, methods=methods),
        Route("/ovirt-engine/api/{path:path}", api, methods=methods),
    ]


def create_app(ctx: EngineContext) -> Starlette:
    return Starlette(routes=create_api(ctx))


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form (the SSO endpoints' only encoding), plus the query string; a field holding what no
    user name or password can (a NUL, an invalid byte) is dropped, so the login fails as any wrong one does."""
    fields = dict(request.query_params)
    for key, values in parse_qs((await request.body()).decode("utf-8", "replace")).items():
        fields[key] = values[-1]
    return {key: value for key, value in fields.items() if "\x00" not in value and "\ufffd" not in value}


# the engine's fault shapes, by path: the SSO endpoints', the web UI's own calls', else the API's <fault>
_TITLES = {400: "Bad Request", 413: "Request Entity Too Large", 500: "Internal Server Error"}


def boundary_fault(scope: Scope, status: int, message: str) -> tuple[bytes, str]:
    """What the input boundary (``neutrino.http_input.Boundary``) answers, in the engine's own shapes."""
    path = str(scope.get("path", ""))
    if path.startswith("/ovirt-engine/sso") or path.startswith("/ovirt-engine/services"):
        code = "server_error" if status >= 500 else "invalid_request"
        return bytes(JSONResponse({"error_code": code, "error": message}).body), JSON
    if path.startswith("/ui"):
        return bytes(JSONResponse({"error": message}).body), JSON
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
    reply = Reply(status, "fault", fault(message, _TITLES.get(status, "Operation Failed")))
    wants_json = "json" in headers.get("accept", "") and "xml" not in headers.get("accept", "")
    rendered = _render(reply, wants_json)
    return bytes(rendered.body), JSON if wants_json else XML


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "json" in accept and "xml" not in accept


def _cached_bearer(request: Request, tokens: TokenCache) -> events.Actor | None:
    """A bearer token's user when the cache trusts the token (the usual call of a busy client), else None."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return tokens.cached(value.strip()) if scheme.lower() == "bearer" and value else None


def _authenticated(request: Request, ctx: EngineContext, tokens: TokenCache) -> events.Actor | None:
    """Who the call is from: a bearer token's user, or HTTP Basic credentials'; None when neither holds."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return tokens.valid(value.strip())
    if scheme.lower() == "basic" and value:
        try:
            name, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return None
        if text_problem(name) or text_problem(password):  # no user has a NUL in their name or password
            return None
        source = request.client.host if request.client else ""
        user = auth.authenticate(ctx, name, password, source)  # raises LoginLocked
        return events.Actor(user.user_id, user.principal) if user is not None else None
    return None


def _render(reply: Reply, wants_json: bool, headers: dict[str, str] | None = None) -> Response:
    if reply.root is None or reply.tree is None:
        return Response(b"", reply.status, headers=headers, media_type=JSON if wants_json else XML)
    if wants_json:
        return Response(wire.to_json(reply.tree), reply.status, headers=headers, media_type=JSON)
    return Response(wire.to_xml(reply.root, reply.tree), reply.status, headers=headers, media_type=XML)


def _dispatch(
    ctx: EngineContext,
    tree: dict[str, Node],
    method: str,
    segments: list[str],
    query: dict[str, str],
    body: bytes,
    content_type: str,
    actor: events.Actor | None = None,
    request_id: str = "-",
) -> Reply:
    call = Call(ctx=ctx, query=query)
    try:
        with events.acting_as(actor):
            return _route(call, tree, method, segments, lambda: _parse_body(body, content_type))
    except EngineError as exc:
        return Reply(status_of(exc), "fault", fault(exc.message))
    except Exception:
        log.exception("unexpected error in %s /%s (request %s)", method, "/".join(segments), request_id)
        return Reply(
            500,
            "fault",
            fault(
                f"An internal error occurred; the operation was not applied (request {request_id}).",
                "Internal Server Error",
            ),
        )
    finally:
        call.close()


def _parse_body(body: bytes, content_type: str) -> wire.Tree:
    if not body.strip():
        return {}
    if "json" in content_type:
        return wire.from_json(body)
    _root, tree = wire.from_xml(body)
    return tree if isinstance(tree, dict) else {}


def _route(  # noqa: C901 (one dispatch table of the oVirt API's path shapes)
    call: Call, tree: dict[str, Node], method: str, segs: list[str], body: Callable[[], wire.Tree]
) -> Reply:
    if not segs:
        if method != "GET":
            raise MethodNotAllowed("Only GET is supported on the API root.")
        return Reply(200, "api", _root(call))
    if segs[0] in EMPTY_TOP and segs[0] not in tree and len(segs) == 1 and method == "GET":
        return Reply(200, EMPTY_LISTS.get(segs[0], segs[0]), {})
    node = tree.get(segs[0])
    if node is None:
        raise NotFound(f"There is no collection '{segs[0]}' in the API.")
    parents: list[str] = []
    rest = segs[1:]
    while True:
        coll = node.collection
        call.parents = tuple(parents)
        if not rest:  # the collection itself
            if method == "GET":
                return Reply(200, coll.plural, coll.render_list(call, coll.find(call)))
            if method == "POST":
                call.close()  # the write commits elsewhere; rendering must see it (SQLite readers keep a snapshot)
                entity = coll.add(call, body())
                return Reply(201, coll.element, coll.render(call, entity))
            raise MethodNotAllowed(f"{method} is not supported on a collection.")
        entity_id, rest = rest[0], rest[1:]
        if not rest:  # one entity
            if method == "GET":
                return Reply(200, coll.element, coll.render(call, coll.get(call, entity_id)))
            if method == "PUT":
                coll.get(call, entity_id)
                call.close()
                entity = coll.update(call, entity_id, body())
                return Reply(200, coll.element, coll.render(call, entity))
            if method == "DELETE":
                coll.get(call, entity_id)
                call.close()
                coll.remove(call, entity_id)
                return Reply(200)
            raise MethodNotAllowed(f"{method} is not supported on an entity.")
        name, rest = rest[0], rest[1:]
        child = node.children.get(name)
        if child is not None:
            # held for the request: the session's identity map is weak, and a child reads its parent again;
            # not read for a child's self-checking action (its command reads the parent and 404s alike)
            if not (method == "POST" and len(rest) == 2 and rest[1] in child.collection.self_checking):
                call.parent_entities += (coll.get(call, entity_id),)
            parents.append(entity_id)
            node = child
            continue
        if not rest and method == "POST" and name in coll.actions:
            if name not in coll.self_checking:
                coll.get(call, entity_id)
            call.close()
            result = coll.act(call, entity_id, name, body())
            return Reply(200, "action", result)
        if not rest and method == "GET" and name in EMPTY_LISTS and name in coll.links:
            coll.get(call, entity_id)
            return Reply(200, EMPTY_LISTS[name], {})
        raise NotFound(f"There is no '{name}' under '{coll.path}'.")


def _root(call: Call) -> wire.Tree:
    vms = call.uow.vms.list()
    hosts = call.uow.hosts.list()
    return {
        "link": [{"href": f"{API}/{rel}", "rel": rel} for rel in ROOT_LINKS]
        + [
            {"href": f"{API}/{rel}?search={{query}}", "rel": f"{rel}/search"}
            for rel in ("vms", "hosts", "clusters", "datacenters", "networks")
        ],
        "product_info": {
            "instance_id": _instance_id(call),
            "name": "Neutrino",
            "vendor": "Neutrino",
            "version": {"build": "0", "full_version": __version__, "major": 4, "minor": 5, "revision": 0},
        },
        "special_objects": {
            "blank_template": {"href": f"{API}/templates/{BLANK_TEMPLATE_ID}", "id": BLANK_TEMPLATE_ID}
        },
        "summary": {
            "hosts": {"active": sum(1 for h in hosts if h.status.value == "up"), "total": len(hosts)},
            "storage_domains": {"active": 0, "total": 0},
            "users": {"active": 1, "total": call.uow.users.count()},
            "vms": {"active": sum(1 for v in vms if v.is_running), "total": len(vms)},
        },
        "time": time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime()),
    }


def _instance_id(call: Call) -> str:
    return call.uow.settings.get("instance_id") or ""
