"""``GET /ui/topology``: the topology picture's data as JSON (``commands.topology.read``).

Query parameters: ``data_center=<id>`` or ``provider=<id>`` narrow the picture (neither: everything).
The same ``Authorization: Bearer <token>`` as the API; errors are ``{"error": message}``.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from neutrino.engine.commands import auth
from neutrino.engine.commands import topology as topology_cmd
from neutrino.engine.commands.common import EngineContext
from neutrino.engine.domain.errors import NotFound

NO_STORE = {"Cache-Control": "no-store"}


def topology_routes(reads: topology_cmd.ProviderReads | None = None) -> list[Route]:
    """The route; ``reads`` (one per app) keeps each provider's answers for its ttl across requests."""
    cache = reads or topology_cmd.ProviderReads()

    async def topology(request: Request) -> Response:
        ctx: EngineContext = request.app.state.engine.ctx
        if not await run_in_threadpool(_authorized, request, ctx):
            return JSONResponse({"error": "Authentication required."}, 401)
        params = request.query_params
        dc, provider = params.get("data_center") or None, params.get("provider") or None
        if dc and provider:
            return JSONResponse({"error": "Give either 'data_center' or 'provider', not both."}, 400)
        scope = topology_cmd.Scope(data_center_id=dc, provider_id=provider)
        try:
            body = await run_in_threadpool(_answer, ctx, cache, scope)
        except NotFound as exc:
            return JSONResponse({"error": exc.message}, 404)
        return Response(body, media_type="application/json", headers=NO_STORE)

    return [Route("/ui/topology", topology)]


def _answer(ctx: EngineContext, cache: topology_cmd.ProviderReads, scope: topology_cmd.Scope) -> bytes:
    return topology_cmd.encoded(topology_cmd.read(ctx, cache, scope))


def _authorized(request: Request, ctx: EngineContext) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return (
        scheme.lower() == "bearer"
        and bool(token.strip())
        and auth.user_for_token(ctx, token.strip()) is not None
    )
