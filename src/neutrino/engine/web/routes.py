"""The web UI: a static single-page app at ``/`` plus the few calls it needs that the oVirt API lacks.

The app talks to ``/ovirt-engine/api`` (JSON) for everything else. Its own calls live under ``/ui`` and
take the same ``Authorization: Bearer <token>`` as the API:

- ``POST /ui/providers/test``: try an unsaved provider's settings (the Add Provider dialog's Test button);
  answers ``{"ok": true}`` or ``{"error": message}``.
- ``GET /ui/networks/{id}/external``: which provider network a logical network is linked to
  (the API names the provider but not the provider's network id, which subnets need).
- ``GET /ui/vms/{id}/ports`` and ``GET /ui/networks/{id}/ports``: the provider ports behind a VM's vNICs (their
  addresses) and the vNIC ports of an external network, read live from the provider (``commands/port_reads.py``).
- ``GET /ui/providers/{id}/routing``: a provider's routers and floating IPs, read live and read only
  (``commands/routing_reads.py``).
- ``GET /ui/topology``: the topology picture's data (``web/topology.py``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from neutrino.engine.commands import auth, port_reads, routing_reads
from neutrino.engine.commands import providers as providers_cmd
from neutrino.engine.commands.common import EngineContext
from neutrino.engine.domain import model
from neutrino.engine.domain.errors import EngineError
from neutrino.engine.web.topology import topology_routes
from neutrino.http_input import InputError, parse_json

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
NO_CACHE = {"Cache-Control": "no-cache"}


def web_routes() -> list[BaseRoute]:
    async def index(_request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers=NO_CACHE)

    async def test_provider(request: Request) -> Response:
        ctx = _ctx(request)
        if not await run_in_threadpool(_authorized, request, ctx):
            return JSONResponse({"error": "Authentication required."}, 401)
        try:
            body = parse_json(await request.body())
        except InputError as exc:
            return JSONResponse({"error": str(exc)}, 400)
        if not isinstance(body, dict):
            return JSONResponse({"error": "The request body must be a JSON object."}, 400)
        try:
            provider, password = _unsaved_provider(body)
            await run_in_threadpool(providers_cmd.test_unsaved, ctx, provider, password)
        except EngineError as exc:
            return JSONResponse({"error": exc.message})
        except ValueError as exc:
            return JSONResponse({"error": str(exc)})
        except Exception as exc:  # the provider's client may fail in ways it does not translate
            log.exception("testing an unsaved provider failed")
            return JSONResponse({"error": f"The provider could not be reached: {exc}"})
        return JSONResponse({"ok": True})

    async def external_link(request: Request) -> Response:
        ctx = _ctx(request)
        if not await run_in_threadpool(_authorized, request, ctx):
            return JSONResponse({"error": "Authentication required."}, 401)
        network_id = request.path_params["network_id"]
        found = await run_in_threadpool(_external_link, ctx, network_id)
        if found is None:
            return JSONResponse({"error": f"Network '{network_id}' was not found."}, 404)
        return JSONResponse(found)

    return [
        Route("/", index),
        Route("/ui/vms/{id}/ports", _reading(port_reads.vm_ports, "VM")),
        Route("/ui/networks/{id}/ports", _reading(port_reads.network_ports, "Network")),
        Route("/ui/providers/{id}/routing", _reading(routing_reads.provider_routing, "Provider")),
        Route("/ui/providers/test", test_provider, methods=["POST"]),
        Route("/ui/networks/{network_id}/external", external_link),
        *topology_routes(),
        Mount("/ui/static", app=StaticFiles(directory=STATIC), name="ui-static"),
    ]


def _reading(read: Any, what: str) -> Any:
    """A GET route answering ``read(ctx, id)`` as JSON (None: 404 naming ``what``)."""

    async def route(request: Request) -> Response:
        ctx = _ctx(request)
        if not await run_in_threadpool(_authorized, request, ctx):
            return JSONResponse({"error": "Authentication required."}, 401)
        id_ = request.path_params["id"]
        found = await run_in_threadpool(read, ctx, id_)
        if found is None:
            return JSONResponse({"error": f"{what} '{id_}' was not found."}, 404)
        return JSONResponse(found, headers=NO_CACHE)

    return route


def _ctx(request: Request) -> EngineContext:
    ctx: EngineContext = request.app.state.engine.ctx
    return ctx


def _authorized(request: Request, ctx: EngineContext) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return (
        scheme.lower() == "bearer"
        and bool(token.strip())
        and auth.user_for_token(ctx, token.strip()) is not None
    )


def _unsaved_provider(body: dict[str, object]) -> tuple[model.ExternalProvider, str | None]:
    """The Test dialog's JSON (keys as the dialog names them) as a provider never stored, and its password;
    empty texts are not given, unknown keys are ignored."""

    def text(key: str) -> str | None:
        value = body.get(key)
        return value.strip() if isinstance(value, str) and value.strip() else None

    def flag(key: str) -> bool:
        value = body.get(key)
        return value is True or (isinstance(value, str) and value.lower() == "true")

    raw_type = str(body.get("type") or model.ProviderType.NEUTRON.value)
    try:
        provider_type = model.ProviderType(raw_type)
    except ValueError:
        raise ValueError(f"Unknown provider type '{raw_type}'.") from None
    provider = model.ExternalProvider(
        name=text("name") or "test",
        type=provider_type,
        url=text("url") or "",
        description=text("description") or "",
        requires_authentication=flag("requires_authentication"),
        username=text("username"),
        authentication_url=text("authentication_url"),
        tenant_name=text("tenant_name"),
        project_name=text("project_name"),
        project_domain_name=text("project_domain_name"),
        user_domain_name=text("user_domain_name"),
        plugin_type=text("plugin_type"),
        external_plugin_type=text("external_plugin_type"),
        read_only=flag("read_only"),
        auto_sync=flag("auto_sync"),
    )
    password = body.get("password")
    return provider, (password if isinstance(password, str) and password else None)


def _external_link(ctx: EngineContext, network_id: str) -> dict[str, Any] | None:
    with ctx.reader() as uow:
        network = uow.networks.get(network_id)
        if network is None:
            return None
        return {"provider_id": network.provider_id, "network_id": network.provider_network_id}
