"""``agents`` (Neutron's agent extension) and Neutrino's ``agent-reports``, through which a host
agent says it is alive, what it can carry, and the status of the ports it plugged.

``POST /v2.0/agent-reports`` (admin only) with::

    {"agent_report": {"host": "h1", "agent_type": "Linux bridge agent", "binary": "neutrino-agent",
                      "configurations": {...}, "ports": [{"id": PORT_ID, "status": "ACTIVE"}]}}

upserts the agent (one per type and host), stamps its heartbeat, and sets each listed port's
status; it answers the agent as ``GET /v2.0/agents/{id}`` would, plus the ports it updated. An L3
agent (``agent_type`` "L3 agent") also lists ``floatingips`` (``{"id", "status",
"fixed_ip_address"}``): a status is taken for a floating IP still associated with that address
(an ACTIVE report about an association that has since changed is stale and ignored).

A ``configurations.tunneling_ip`` is where the other hosts' VXLAN devices send this host's traffic,
so a report naming one no other host can use is refused (400 naming the field): not an IP address,
unspecified, loopback, link-local, multicast or reserved (the others would send to themselves or
nowhere), or the address a live agent of the same type on another host reports already (both would
get each other's traffic). It is stored normalized.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from neutrino.provider import errors
from neutrino.provider.api import common
from neutrino.provider.api.attributes import define, parse_create, render
from neutrino.provider.api.resource import ResourceService, guarded, new_id, read_json, utcnow
from neutrino.provider.api.validators import to_boolean
from neutrino.provider.context import RequestContext
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import Database, UnitOfWork

#: An agent whose last report is older than this is not alive (Neutron's agent_down_time); the
#: provider's setting ``agent_down_time`` (default the same) is what its API applies.
AGENT_DOWN_TIME = timedelta(seconds=75)
#: Agents of this type are OVN's chassis, mirrored from the southbound (``backends/ovn/chassis.py``):
#: read-only through the API.
OVN_AGENT_TYPE = "OVN Controller agent"
PORT_STATUSES = ("ACTIVE", "DOWN", "BUILD", "ERROR")
TUNNEL_LOCK = 0x4E54554E  # advisory lock key: one report at a time claims a tunnel address (PostgreSQL)

DECLARATION: common.Declaration = {
    **common.ident(),
    "agent_type": {"allow_post": False, "is_filter": True, "is_sort_key": True},
    "binary": {"allow_post": False, "is_filter": True, "is_sort_key": True},
    "topic": {"allow_post": False, "is_filter": True},
    "host": {"allow_post": False, "is_filter": True, "is_sort_key": True},
    "admin_state_up": {"allow_post": False, "allow_put": True, "convert_to": to_boolean, "is_filter": True},
    "availability_zone": {"allow_post": False, "is_filter": True},
    "description": {
        "allow_post": False,
        "allow_put": True,
        "validate": {"type:string": 255},
        "is_filter": True,
    },
    "configurations": {"allow_post": False},
    "alive": {"allow_post": False, "column": None},
    "created_at": {"allow_post": False, "is_sort_key": True},
    "started_at": {"allow_post": False, "is_sort_key": True},
    "heartbeat_timestamp": {"allow_post": False, "is_sort_key": True},
    "resources_synced": {"allow_post": False, "column": None},
}

REPORT_DECLARATION: common.Declaration = {
    "host": {"allow_post": True, "validate": {"type:string": 255}},
    "agent_type": {"allow_post": True, "validate": {"type:string": 255}},
    "binary": {"allow_post": True, "default": "neutrino-agent", "validate": {"type:string": 255}},
    "topic": {"allow_post": True, "default": "N/A", "validate": {"type:string": 255}},
    "availability_zone": {"allow_post": True, "default": None, "validate": {"type:string_or_none": 255}},
    "configurations": {"allow_post": True, "default": {}, "validate": {"type:dict_or_empty": None}},
    "ports": {
        "allow_post": True,
        "default": [],
        "validate": {"type:list_of_text_dicts": (("id", "status"), ("id", "status"))},
    },  # fmt: skip
    "floatingips": {
        "allow_post": True,
        "default": [],
        "validate": {"type:list_of_text_dicts": (("id", "status", "fixed_ip_address"), ("id", "status"))},
    },  # fmt: skip
}
FLOATING_IP_STATUSES = ("ACTIVE", "DOWN", "ERROR")


class AgentService(ResourceService):
    collection = "agents"
    member = "agent"
    declaration = DECLARATION
    table = t.agents

    def not_found(self, resource_id: str) -> errors.ProviderError:
        return errors.AgentNotFound(id=resource_id)

    @property
    def down_time(self) -> timedelta:
        """Without a report for this long, an agent is not alive."""
        return timedelta(seconds=self.settings.agent_down_time)

    def scope(self, ctx: RequestContext) -> sa.ColumnElement[bool] | None:
        """Neutron's ``get_agent`` is admin-only and filters, as every policy on reads does: a list holds
        no agent for others (200, empty), one agent is not found (404)."""
        return None if ctx.is_admin else sa.false()

    def expand(
        self, uow: UnitOfWork, ctx: RequestContext, rows: Sequence[sa.Row[Any]]
    ) -> list[dict[str, Any]]:
        deadline = utcnow() - self.down_time
        out = []
        for row in rows:
            record = self.record(row)
            record.update(alive=row.heartbeat_timestamp >= deadline, resources_synced=None)
            out.append(record)
        return out

    def update(self, uow: UnitOfWork, ctx: RequestContext, resource_id: str, data: dict[str, Any]) -> None:
        self._writable(uow, resource_id, "updated")
        uow.execute(sa.update(t.agents).where(t.agents.c.id == resource_id).values(**data))

    def delete(self, uow: UnitOfWork, ctx: RequestContext, resource_id: str) -> None:
        self._writable(uow, resource_id, "deleted")
        uow.execute(sa.delete(t.agents).where(t.agents.c.id == resource_id))

    @staticmethod
    def _writable(uow: UnitOfWork, resource_id: str, done: str) -> None:
        c = t.agents.c
        kind = uow.one_or_none(sa.select(c.agent_type).where(c.id == resource_id))
        if kind is not None and kind.agent_type == OVN_AGENT_TYPE:
            raise errors.HTTPBadRequest(
                msg=f"Agent {resource_id} is an OVN chassis, listed from the southbound DB: it cannot be {done}"
            )

    def report(self, uow: UnitOfWork, data: dict[str, Any]) -> tuple[str, list[str]]:
        """Upsert the reporting agent and apply its port statuses; returns (agent id, port ids)."""
        if data["agent_type"] == OVN_AGENT_TYPE:
            raise errors.InvalidAttribute(
                attr="agent_type", reason=f"'{OVN_AGENT_TYPE}' agents are OVN's chassis, not reported"
            )
        now = utcnow()
        self._check_tunneling_ip(uow, data, now)
        c = t.agents.c
        row = uow.one_or_none(
            sa.select(c.id, c.heartbeat_timestamp).where(
                c.agent_type == data["agent_type"], c.host == data["host"]
            )
        )
        values = {k: data[k] for k in ("binary", "topic", "availability_zone", "configurations")}
        if row is None:
            agent_id = new_id()
            uow.execute(
                sa.insert(t.agents).values(
                    id=agent_id,
                    agent_type=data["agent_type"],
                    host=data["host"],
                    created_at=now,
                    started_at=now,
                    heartbeat_timestamp=now,
                    **values,
                )
            )
        else:
            agent_id = row.id
            if row.heartbeat_timestamp < now - self.down_time:
                values["started_at"] = now  # it was down: this report starts it again
            uow.execute(sa.update(t.agents).where(c.id == agent_id).values(heartbeat_timestamp=now, **values))
        updated = []
        for item in data["ports"]:
            if item["status"] not in PORT_STATUSES:
                raise errors.InvalidAttribute(
                    attr="ports", reason=f"'{item['status']}' is not in {list(PORT_STATUSES)}"
                )
            result = uow.execute(
                sa.update(t.ports)
                .where(t.ports.c.id == item["id"], t.ports.c.status != item["status"])
                .values(status=item["status"], updated_at=now, revision_number=t.ports.c.revision_number + 1)
            )
            if result.rowcount:
                updated.append(item["id"])
        self._floating_ip_statuses(uow, data["floatingips"], now)
        return agent_id, updated

    def _check_tunneling_ip(self, uow: UnitOfWork, data: dict[str, Any], now: datetime) -> None:
        """Refuse a reported tunnel address no other host can send to, or one a live agent of the
        same type on another host has; store it normalized."""
        configurations = data["configurations"]
        value = configurations.get("tunneling_ip")
        if value is None:
            return
        problem = tunnel_address_problem(value)
        if problem is not None:
            raise errors.InvalidAttribute(attr="configurations.tunneling_ip", reason=problem)
        address = ipaddress.ip_address(value)
        uow.advisory_lock(TUNNEL_LOCK)
        c = t.agents.c
        live = uow.rows(
            sa.select(c.id, c.host, c.configurations).where(
                c.agent_type == data["agent_type"],
                c.host != data["host"],
                c.heartbeat_timestamp >= now - self.down_time,
            )
        )
        for other in live:
            if _tunnel_address_of(other.configurations) == address:
                raise errors.InvalidAttribute(
                    attr="configurations.tunneling_ip",
                    reason=f"{value!r} is already the tunnel address of live agent {other.id} on host {other.host}",
                )
        data["configurations"] = {**configurations, "tunneling_ip": str(address)}

    @staticmethod
    def _floating_ip_statuses(uow: UnitOfWork, items: list[dict[str, Any]], now: Any) -> None:
        c = t.floating_ips.c
        for item in items:
            if item["status"] not in FLOATING_IP_STATUSES:
                raise errors.InvalidAttribute(
                    attr="floatingips", reason=f"'{item['status']}' is not in {list(FLOATING_IP_STATUSES)}"
                )
            where = [c.id == item["id"], c.status != item["status"]]
            if item["status"] != "DOWN":  # only about the association the agent applied
                where += [c.router_id.is_not(None), c.fixed_ip_address == item.get("fixed_ip_address")]
            uow.execute(
                sa.update(t.floating_ips)
                .where(*where)
                .values(status=item["status"], updated_at=now, revision_number=c.revision_number + 1)
            )


def tunnel_address_problem(value: object) -> str | None:
    """Why ``value`` cannot be the address other hosts' tunnels send to (None: it can)."""
    if not isinstance(value, str):
        return f"{value!r} is not an IP address"
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return f"{value!r} is not an IP address"
    for unusable, kind in (
        (address.is_unspecified, "the unspecified address"),
        (address.is_loopback, "a loopback address: other hosts would send to themselves"),
        (address.is_link_local, "a link-local address: other hosts cannot route to it"),
        (address.is_multicast, "a multicast address: not one host's"),
        (address.is_reserved, "a reserved address: no host has it"),
    ):
        if unusable:
            return f"{value!r} is {kind}"
    return None


def _tunnel_address_of(configurations: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The usable tunnel address a stored agent's configurations name, if any."""
    value = configurations.get("tunneling_ip") if isinstance(configurations, dict) else None
    if not isinstance(value, str) or tunnel_address_problem(value) is not None:
        return None
    return ipaddress.ip_address(value)


def report_route(service: AgentService, db: Database, context_of: Any) -> Route:
    report_defn = define("agent_reports", "agent_report", REPORT_DECLARATION)

    async def report(request: Request) -> Response:
        ctx = context_of(request)
        if not ctx.is_admin:
            raise errors.PolicyNotAuthorized(action="create_agent_report")
        body = await read_json(request)
        data = parse_create(report_defn, body, ctx)

        def work() -> dict[str, Any]:
            with db.uow() as uow:
                agent_id, ports = service.report(uow, data)
                record = service.show(uow, ctx, agent_id)
                uow.commit()
            return {"agent": render(service.definition, record, ctx), "updated_ports": ports}

        return JSONResponse(await run_in_threadpool(work))

    return Route("/v2.0/agent-reports", guarded(report), methods=["POST"])
