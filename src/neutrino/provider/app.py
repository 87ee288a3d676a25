"""Composition root of the embedded network provider.

``bootstrap(settings)`` migrates the database and creates the first admin; ``create_app(settings)``
builds the Starlette application (Neutron v2.0 + Keystone on one port). Nothing is built at import.
The lead's ``neutrino up`` calls both, in that order, with one :class:`ProviderSettings`.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from neutrino import heap
from neutrino.access_log import AccessLog
from neutrino.http_input import Boundary, Scope
from neutrino.login_throttle import LoginThrottle, ThrottleLimits
from neutrino.private_files import private_dir, private_sqlite
from neutrino.provider import errors, policy
from neutrino.provider.api.changes import (
    AgentWatch,
    ChangeFeed,
    database_resolver,
    database_state,
    fan_out,
)
from neutrino.provider.backends import Backend, build_backend
from neutrino.provider.context import RequestContext
from neutrino.provider.identity.service import IdentityService
from neutrino.provider.identity.tokens import Revocations, TokenIssuer
from neutrino.provider.settings import ProviderSettings
from neutrino.provider.store.db import Database

#: What ``member_port_binding`` grants to project members.
BINDING_ATTRIBUTES = frozenset(
    {"binding:host_id", "binding:profile", "binding:vif_type", "binding:vif_details"}
)


@dataclass(frozen=True)
class BootstrapResult:
    #: The admin password when this call created the admin user (print it once), else None.
    admin_password: str | None
    database_url: str


def bootstrap(settings: ProviderSettings) -> BootstrapResult:
    """Create the data directory, migrate the database, ensure project/user ``admin`` exist."""
    from neutrino.provider.identity.keyfile import load_signing_key
    from neutrino.provider.identity.service import ensure_admin
    from neutrino.provider.identity.tokens import purge_expired
    from neutrino.provider.store.migrate import upgrade

    url = settings.database_url()
    private_dir(settings.data_dir)
    private_sqlite(url)
    upgrade(url, token_key_file=settings.token_key_path())
    load_signing_key(settings.token_key_path())
    db = Database(url, pool_size=1)
    try:
        with db.uow() as uow:
            password = ensure_admin(uow, settings.admin_password)
            purge_expired(uow, time.time())
            uow.commit()
    finally:
        db.dispose()
    created = password if password is not None and not settings.admin_password else None
    return BootstrapResult(admin_password=created, database_url=url)


@dataclass
class ProviderState:
    """What every request handler reaches through ``request.app.state.provider``."""

    settings: ProviderSettings
    db: Database
    issuer: TokenIssuer
    identity: IdentityService
    backend: Backend
    feed: ChangeFeed
    services: dict[str, Any] = field(default_factory=dict)

    def context_of(self, request: Request) -> RequestContext:
        """The caller, from its X-Auth-Token (or admin in no-auth mode); a reader's write is refused here."""
        if self.settings.no_auth:
            return RequestContext.admin(self.settings.default_project_id, no_auth=True)
        claims = self.issuer.validate(request.headers.get("X-Auth-Token", ""))
        if claims is None or claims.project_id is None:
            raise errors.Unauthorized(msg="Authentication required")
        granted = BINDING_ATTRIBUTES if self.settings.member_port_binding else frozenset()
        ctx = RequestContext(
            user_id=claims.user_id,
            project_id=claims.project_id,
            is_admin=claims.is_admin,
            roles=claims.roles,
            granted=granted,
        )
        if request.method in policy.WRITE_METHODS and not policy.may_write(ctx):
            members = {s.definition.path: s.definition.member for s in self.services.values()}
            raise errors.PolicyNotAuthorized(
                action=policy.action_of(request.method, request.url.path, members)
            )
        return ctx


_KEYSTONE_PATHS = ("/v3", "/v2.0/tokens")
_TITLES = {400: "Bad Request", 413: "Request Entity Too Large", 500: "Internal Server Error"}
_NEUTRON_TYPES = {400: "HTTPBadRequest", 413: "HTTPRequestEntityTooLarge", 500: "HTTPInternalServerError"}


def boundary_fault(scope: Scope, status: int, message: str) -> tuple[bytes, str]:
    """What the input boundary (``neutrino.http_input.Boundary``) answers: Keystone's error body on the
    identity paths, a NeutronError elsewhere."""
    path = str(scope.get("path", ""))
    if any(path == p or path.startswith(p + "/") for p in _KEYSTONE_PATHS):
        body: dict[str, Any] = {
            "error": {"code": status, "title": _TITLES.get(status, "Error"), "message": message}
        }
    else:
        kind = _NEUTRON_TYPES.get(status, "HTTPError")
        body = {"NeutronError": {"type": kind, "message": message, "detail": ""}}
    return bytes(JSONResponse(body).body), "application/json"


def _close_feed_on_exit(feed: ChangeFeed) -> Any:
    """Make SIGTERM and SIGINT end the change feed's pending waits before anything else; returns what
    undoes it.

    NOTE: uvicorn waits for every request in progress before it runs the lifespan's shutdown, and a
    change feed wait may last minutes; its signal handler (installed before the lifespan starts) is
    chained after ours. Only the main thread takes signals: servers run in threads end their waits
    at the lifespan's shutdown, or when they time out."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def handler(sig: int, frame: Any) -> None:
        feed.close()
        before = previous[signal.Signals(sig)]
        if callable(before):
            before(sig, frame)
        elif before == signal.SIG_DFL:  # not served by uvicorn: die as the signal says
            signal.signal(sig, before)
            signal.raise_signal(sig)

    for sig in previous:
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, before in previous.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, before)

    return restore


def create_app(settings: ProviderSettings) -> Starlette:
    """The provider's ASGI app. The database must have been bootstrapped (see :func:`bootstrap`)."""
    from neutrino.provider.api.agents import AgentService, report_route
    from neutrino.provider.api.changes import routes as change_routes
    from neutrino.provider.api.floatingips import FloatingIpService
    from neutrino.provider.api.networks import NetworkService
    from neutrino.provider.api.ports import PortService
    from neutrino.provider.api.quotas import QuotaRoutes
    from neutrino.provider.api.rbac import RbacPolicyService
    from neutrino.provider.api.resource import Controller
    from neutrino.provider.api.routers import RouterService
    from neutrino.provider.api.security_group_rules import SecurityGroupRuleService
    from neutrino.provider.api.security_groups import SecurityGroupService
    from neutrino.provider.api.subnetpools import SubnetPoolService
    from neutrino.provider.api.subnets import SubnetService
    from neutrino.provider.api.tags import routes as tag_routes
    from neutrino.provider.api.versions import routes as version_routes
    from neutrino.provider.api.versions import unoffered_attributes
    from neutrino.provider.identity.keyfile import load_signing_key
    from neutrino.provider.identity.routes import routes as identity_routes

    db = Database(settings.database_url(), pool_size=settings.db_pool_size)
    issuer = TokenIssuer(load_signing_key(settings.token_key_path()), Revocations(db))
    limits = ThrottleLimits(
        max_failures_per_user=settings.login_max_failures_per_user,
        max_failures_per_address=settings.login_max_failures_per_address,
        window_seconds=settings.login_failure_window,
    )
    feed = ChangeFeed(database_resolver(db), database_state(db))
    state = ProviderState(
        settings=settings,
        db=db,
        issuer=issuer,
        identity=IdentityService(db, issuer, settings.token_ttl_seconds, LoginThrottle(limits)),
        backend=build_backend(settings, db, feed.note),
        feed=feed,
    )
    # after a commit: the backend first (the builtin one schedules routers), then the change feed
    changed = fan_out(state.backend.changed, feed.note)
    watch = AgentWatch(db, feed, settings.agent_down_time, settings.agent_watch_interval)
    routes: list[BaseRoute] = [*version_routes(), *identity_routes(), *change_routes(feed, state.context_of)]
    services = (
        NetworkService,
        SubnetService,
        SubnetPoolService,
        PortService,
        SecurityGroupService,
        SecurityGroupRuleService,
        AgentService,
        RouterService,
        FloatingIpService,
        RbacPolicyService,
    )
    for service_class in services:
        service = service_class(settings)
        service.drop_attributes(unoffered_attributes(state.backend, service.collection))
        if isinstance(service, PortService):  # a backend serving fewer DHCP options than dnsmasq
            service.dhcp_option_problem = getattr(state.backend, "dhcp_option_problem", None)
        state.services[service.collection] = service
        routes.extend(Controller(service, db, state.context_of, changed).routes())
    routes.extend(tag_routes(state.services, db, state.context_of, changed))
    routes.extend(QuotaRoutes(db, settings, state.context_of).routes())
    routes.append(report_route(state.services["agents"], db, state.context_of))
    backend_routes = getattr(state.backend, "routes", None)  # e.g. the builtin backend's L3 agents
    if backend_routes is not None:
        routes.extend(backend_routes(state.services, db, state.context_of))

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        state.backend.start()
        watch.start()
        restore = _close_feed_on_exit(feed)
        try:
            with heap.settled():
                yield
        finally:
            restore()
            feed.close()
            watch.stop()
            state.backend.stop()
            db.dispose()

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        kind = {404: "HTTPNotFound", 405: "HTTPMethodNotAllowed"}.get(exc.status_code, "HTTPError")
        body = {"NeutronError": {"type": kind, "message": str(exc.detail), "detail": ""}}
        return JSONResponse(body, status_code=exc.status_code)

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})
    app.add_middleware(
        Boundary,
        program="provider",
        fault=boundary_fault,
        max_body=settings.max_body_bytes,
        header="x-openstack-request-id",
    )
    app.add_middleware(AccessLog, program="provider", path=settings.data_dir / "provider.log")
    app.state.provider = state
    return app
