"""Neutron's ``l3_agent_scheduler`` extension (builtin backend): which L3 agent hosts a router.

- ``GET /v2.0/routers/{id}/l3-agents``: the agents hosting the router (``{"agents": [...]}``);
- ``GET /v2.0/agents/{id}/l3-routers``: the routers an L3 agent hosts (``{"routers": [...]}``);
- ``POST /v2.0/agents/{id}/l3-routers`` ``{"router_id": R}``: host R there (409
  ``RouterHostedByL3Agent`` when another agent does); ``DELETE /v2.0/agents/{id}/l3-routers/{R}``:
  no longer (409 ``RouterNotHostedByL3Agent``); the scheduler places it again at its next check.

The L3 agents wait for routing changes on the provider's change feed (``GET /v2.0/changes``):
scheduling a router here notes it there (kind ``l3_agents``). All admin only, as in Neutron.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from neutrino.provider import errors
from neutrino.provider.api.attributes import render
from neutrino.provider.api.resource import ResourceService, guarded, read_json, utcnow
from neutrino.provider.backends.l3_scheduler import L3_AGENT_TYPE, L3Scheduler, bind, live_l3_agents
from neutrino.provider.context import RequestContext
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import Database, UnitOfWork


class L3AgentRoutes:
    """The routes above over the app's agent and router services."""

    def __init__(
        self,
        services: Mapping[str, ResourceService],
        db: Database,
        context_of: Callable[[Request], RequestContext],
        scheduler: L3Scheduler,
    ) -> None:
        self.agents = services["agents"]
        self.routers = services["routers"]
        self.db = db
        self.context_of = context_of
        self.scheduler = scheduler

    def routes(self) -> list[Route]:
        return [
            Route("/v2.0/routers/{id}/l3-agents", guarded(self.router_agents), methods=["GET"]),
            Route("/v2.0/agents/{id}/l3-routers", guarded(self.agent_routers), methods=["GET"]),
            Route("/v2.0/agents/{id}/l3-routers", guarded(self.add_router), methods=["POST"]),
            Route(
                "/v2.0/agents/{id}/l3-routers/{router_id}", guarded(self.remove_router), methods=["DELETE"]
            ),
        ]

    def _admin(self, request: Request, action: str) -> RequestContext:
        ctx = self.context_of(request)
        if not ctx.is_admin:
            raise errors.PolicyNotAuthorized(action=action)
        return ctx

    @staticmethod
    def _fields(request: Request) -> list[str] | None:
        return [f for value in request.query_params.getlist("fields") for f in value.split(",") if f] or None

    def _l3_agent(self, uow: UnitOfWork, ctx: RequestContext, agent_id: str) -> sa.Row[Any]:
        row = self.agents.get_row(uow, ctx, agent_id)
        if row.agent_type != L3_AGENT_TYPE:
            raise errors.InvalidL3Agent(id=agent_id)
        return row

    async def router_agents(self, request: Request) -> Response:
        ctx = self._admin(request, "get_l3_agents_hosting_routers")
        router_id, fields = request.path_params["id"], self._fields(request)

        def work() -> dict[str, Any]:
            b = t.router_l3_agent_bindings.c
            with self.db.reader() as uow:
                self.routers.get_row(uow, ctx, router_id)
                rows = uow.rows(
                    sa.select(t.agents)
                    .join(t.router_l3_agent_bindings, b.l3_agent_id == t.agents.c.id)
                    .where(b.router_id == router_id)
                )
                records = self.agents.expand(uow, ctx, rows)
            return {"agents": [render(self.agents.definition, r, ctx, fields) for r in records]}

        return JSONResponse(await run_in_threadpool(work))

    async def agent_routers(self, request: Request) -> Response:
        ctx = self._admin(request, "get_l3-routers")
        agent_id, fields = request.path_params["id"], self._fields(request)

        def work() -> dict[str, Any]:
            b = t.router_l3_agent_bindings.c
            with self.db.reader() as uow:
                self.agents.get_row(uow, ctx, agent_id)
                rows = uow.rows(
                    sa.select(t.routers)
                    .join(t.router_l3_agent_bindings, b.router_id == t.routers.c.id)
                    .where(b.l3_agent_id == agent_id)
                    .order_by(t.routers.c.created_at, t.routers.c.id)
                )
                records = self.routers.expand(uow, ctx, rows)
            return {"routers": [render(self.routers.definition, r, ctx, fields) for r in records]}

        return JSONResponse(await run_in_threadpool(work))

    async def add_router(self, request: Request) -> Response:
        ctx = self._admin(request, "create_l3-router")
        agent_id = request.path_params["id"]
        body = await read_json(request)
        router_id = body.get("router_id") if isinstance(body, dict) else None
        if not isinstance(router_id, str) or not router_id:
            raise errors.HTTPBadRequest(msg="router_id: a router id is required")

        def work() -> None:
            b = t.router_l3_agent_bindings.c
            with self.db.uow() as uow:
                agent = self._l3_agent(uow, ctx, agent_id)
                uow.lock_rows(t.routers, [router_id])
                self.routers.get_row(uow, ctx, router_id)
                current = uow.one_or_none(sa.select(b.l3_agent_id).where(b.router_id == router_id))
                if current is not None and current.l3_agent_id != agent_id:
                    raise errors.RouterHostedByL3Agent(router_id=router_id, agent_id=current.l3_agent_id)
                live = live_l3_agents(uow, utcnow() - self.scheduler.down_time)
                if not agent.admin_state_up or agent_id not in live:
                    raise errors.InvalidL3Agent(id=agent_id)
                if current is None:
                    bind(uow, router_id, live[agent_id])
                uow.commit()
            self.scheduler.notify("l3_agents", [router_id])

        await run_in_threadpool(work)
        return JSONResponse(None, status_code=201)  # Neutron's answer: null

    async def remove_router(self, request: Request) -> Response:
        ctx = self._admin(request, "delete_l3-router")
        agent_id, router_id = request.path_params["id"], request.path_params["router_id"]

        def work() -> None:
            b = t.router_l3_agent_bindings.c
            with self.db.uow() as uow:
                self._l3_agent(uow, ctx, agent_id)
                uow.lock_rows(t.routers, [router_id])
                self.routers.get_row(uow, ctx, router_id)
                current = uow.one_or_none(sa.select(b.l3_agent_id).where(b.router_id == router_id))
                if current is None or current.l3_agent_id != agent_id:
                    raise errors.RouterNotHostedByL3Agent(router_id=router_id, agent_id=agent_id)
                bind(uow, router_id, None)
                uow.commit()
            self.scheduler.notify("l3_agents", [router_id])

        await run_in_threadpool(work)
        return Response(status_code=204)
