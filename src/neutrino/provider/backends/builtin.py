"""The builtin backend: the provider's database is all there is; host agents read it over the API.

Its datapath for routing is the host agents' (legacy L3 agents: a router is a namespace on one
host): :class:`~neutrino.provider.backends.l3_scheduler.L3Scheduler` places each router on a live L3 agent
as routers change and in a thread (failover), the ``l3_agent_scheduler`` routes show where; the
agents learn of changes from the provider's change feed (``/v2.0/changes``), where the scheduler
notes the routers it moves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from neutrino.provider.api.versions import DHCP_EXTENSIONS, ROUTING_EXTENSIONS
from neutrino.provider.backends.l3_scheduler import L3Scheduler
from neutrino.provider.context import RequestContext
from neutrino.provider.settings import ProviderSettings
from neutrino.provider.store.db import Database

log = logging.getLogger(__name__)


def _ignore(kind: str, ids: Sequence[str]) -> None:
    pass


class BuiltinBackend:
    #: the agents' dnsmasq serves ports' extra DHCP options, names and domains
    extensions = ROUTING_EXTENSIONS | DHCP_EXTENSIONS | {"l3_agent_scheduler"}

    def __init__(
        self, settings: ProviderSettings, db: Database, notify: Callable[[str, Sequence[str]], None] = _ignore
    ) -> None:
        self.scheduler = L3Scheduler(settings, db, notify)

    def start(self) -> None:
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.stop()

    def changed(self, collection: str, resource_ids: Sequence[str]) -> None:
        if collection != "routers":
            return
        try:
            self.scheduler.schedule(resource_ids)
        except Exception:  # the write is the truth; the scheduler's thread tries again
            log.exception("scheduling routers %s failed", ", ".join(resource_ids))

    def routes(
        self,
        services: Mapping[str, Any],
        db: Database,
        context_of: Callable[[Request], RequestContext],
    ) -> list[Route]:
        """The ``l3_agent_scheduler`` routes."""
        from neutrino.provider.backends.l3_agents import L3AgentRoutes

        return L3AgentRoutes(services, db, context_of, self.scheduler).routes()
