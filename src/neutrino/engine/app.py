"""The engine's composition root: ``create_app(settings)`` builds everything; nothing happens at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from neutrino import heap
from neutrino.access_log import AccessLog
from neutrino.engine.api.app import boundary_fault, create_api
from neutrino.engine.background import Periodic
from neutrino.engine.bootstrap import Engine, build
from neutrino.engine.commands.converge import converge
from neutrino.engine.commands.events import prune as prune_events
from neutrino.engine.commands.monitoring import monitor_all
from neutrino.engine.commands.ports import janitor
from neutrino.engine.commands.sync import synchronize_all
from neutrino.engine.settings import EngineSettings
from neutrino.engine.web.pki_resource import pki_routes
from neutrino.engine.web.routes import web_routes
from neutrino.http_input import Boundary


def create_app(settings: EngineSettings, engine: Engine | None = None) -> Starlette:
    """The engine's ASGI app. ``engine`` lets a caller that already built (and bootstrapped) it pass it in."""
    built = engine or build(settings)
    retention = timedelta(days=settings.event_retention_days)

    jobs = [
        Periodic("provider-sync", settings.provider_sync_interval, lambda: synchronize_all(built.ctx)),
        Periodic("host-monitor", settings.host_monitor_interval, lambda: monitor_all(built.ctx)),
        Periodic("janitor", settings.janitor_interval, lambda: janitor(built.ctx)),
        Periodic("event-aging", settings.event_prune_interval, lambda: _prune(built, retention)),
    ]

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # what a killed engine left in flight is finished or undone before the API takes new work
        await run_in_threadpool(converge, built.ctx)
        await run_in_threadpool(prune_events, built.ctx, retention)
        for job in jobs:
            job.start()
        with heap.settled():
            yield
        for job in jobs:
            job.stop()
        built.dispose()

    pki = pki_routes(built.pki.ca_pem, built.pki.server_pem)
    app = Starlette(routes=[*pki, *create_api(built.ctx), *web_routes()], lifespan=lifespan)
    app.add_middleware(Boundary, program="engine", fault=boundary_fault, max_body=settings.max_body_bytes)
    app.add_middleware(AccessLog, program="engine", path=settings.data_dir / "engine.log")
    app.state.engine = built
    return app


def create_http_app(settings: EngineSettings, built: Engine) -> Starlette:
    """The plain-HTTP listener's app, as oVirt's port 80: the PKI resource, so clients can fetch the CA
    before they trust anything; every other GET is redirected to the same path over HTTPS, nothing else is
    served (no credential is ever accepted in clear)."""
    host, port = settings.host_port
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    https = f"https://{f'[{host}]' if ':' in host else host}:{port}"

    async def to_https(request: Request) -> Response:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"{https}{request.url.path}{query}", status_code=301)

    routes = [
        *pki_routes(built.pki.ca_pem, built.pki.server_pem),
        Route("/{path:path}", to_https, methods=["GET", "HEAD"]),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(AccessLog, program="engine", path=settings.data_dir / "engine.log")
    return app


def _prune(built: Engine, retention: timedelta) -> None:
    prune_events(built.ctx, retention)
