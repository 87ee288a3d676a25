"""The builtin backend's L3 scheduler: which host agent runs each router (Neutron's legacy
``l3_agent_scheduler``, one L3 agent per router).

A router needs a host once it has a port (an interface or a gateway). It goes to a live L3 agent
(``agent_type`` "L3 agent", reporting through ``agent-reports``; alive by the agents' rule) that
is administratively up and, for a gateway on a flat or VLAN network, maps that network's
physical network to an interface (``interface_mappings`` in its configurations); among those, the
one hosting the fewest routers. A router stays where it is while that agent is alive; one whose
agent is gone or no longer alive moves to another (when none qualifies, it stays where it was: its
agent may come back). A router without ports has no host.

When a router's host changes, its ports get ``binding:host_id`` = the new host (the other agents
learn its tunnel address as they learn every agent's) and status DOWN, and its floating IPs DOWN,
until the new host's agent reports them in place.

Each move is noted in the provider's change feed (kind ``l3_agents``, the routers moved): the L3
agents wait on it (``GET /v2.0/changes``, :mod:`neutrino.provider.api.changes`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from neutrino.provider.api.ports import UNBOUND
from neutrino.provider.api.resource import utcnow
from neutrino.provider.settings import ProviderSettings
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import Database, UnitOfWork

log = logging.getLogger(__name__)

#: Neutron's agent type of L3 agents; a Neutrino host agent reports one beside its L2 agent.
L3_AGENT_TYPE = "L3 agent"
#: network types whose gateway needs the physical network mapped on the router's host
PHYSICAL_TYPES = ("flat", "vlan")


@dataclass(frozen=True)
class Candidate:
    """A live L3 agent routers may go to."""

    id: str
    host: str
    admin_state_up: bool
    mappings: frozenset[str]  # physical networks it maps to interfaces
    load: int  # routers it hosts


def live_l3_agents(uow: UnitOfWork, deadline: datetime) -> dict[str, Candidate]:
    """The L3 agents alive at ``deadline`` (a heartbeat since), by id, with their load."""
    a, b = t.agents.c, t.router_l3_agent_bindings.c
    load: dict[str, int] = {
        row[0]: int(row[1])
        for row in uow.rows(sa.select(b.l3_agent_id, sa.func.count()).group_by(b.l3_agent_id))
    }
    found = {}
    for row in uow.rows(
        sa.select(a.id, a.host, a.admin_state_up, a.configurations).where(
            a.agent_type == L3_AGENT_TYPE, a.heartbeat_timestamp >= deadline
        )
    ):
        mappings = (row.configurations or {}).get("interface_mappings") or {}
        found[row.id] = Candidate(
            row.id,
            row.host,
            bool(row.admin_state_up),
            frozenset(mappings) if isinstance(mappings, dict) else frozenset(),
            load.get(row.id, 0),
        )
    return found


def _gateway_physnets(uow: UnitOfWork, router_ids: Sequence[str]) -> dict[str, str]:
    """Router id → the physical network its gateway needs mapped (flat and VLAN gateways only)."""
    r, p, n = t.routers.c, t.ports.c, t.networks.c
    stmt = (
        sa.select(r.id, n.network_type, n.physical_network)
        .join(t.ports, p.id == r.gw_port_id)
        .join(t.networks, n.id == p.network_id)
        .where(r.id.in_(list(router_ids)))
    )
    return {
        row.id: row.physical_network
        for row in uow.rows(stmt)
        if row.network_type in PHYSICAL_TYPES and row.physical_network
    }


def schedule(uow: UnitOfWork, down_time: timedelta, router_ids: Iterable[str] | None = None) -> list[str]:
    """Place the routers (all when None) as the module docstring says; returns the ids of those
    whose host changed."""
    r, rp, b = t.routers.c, t.router_ports.c, t.router_l3_agent_bindings.c
    stmt = sa.select(r.id).order_by(r.created_at, r.id)
    if router_ids is not None:
        stmt = stmt.where(r.id.in_(sorted(set(router_ids))))
    routers = [row.id for row in uow.rows(stmt)]
    if not routers:
        return []
    with_ports = {row.router_id for row in uow.rows(sa.select(rp.router_id).where(rp.router_id.in_(routers)))}
    bound = {
        row.router_id: row.l3_agent_id
        for row in uow.rows(sa.select(b.router_id, b.l3_agent_id).where(b.router_id.in_(routers)))
    }
    agents = live_l3_agents(uow, utcnow() - down_time)
    physnets = _gateway_physnets(uow, routers)
    hosts = _hosts(uow, set(bound.values()))
    moved = []
    for router_id in routers:
        current = bound.get(router_id)
        if router_id not in with_ports:
            target = None
        elif current in agents:
            target = agents[current]
        else:
            target = _pick(agents.values(), physnets.get(router_id))
            if target is None and current is not None:
                continue  # nowhere to go: it stays with its agent, which may come back
        if target is None and current is None:
            continue
        if target is not None and target.id == current:
            _bind_ports(uow, router_id, target.host)  # new interfaces of a router in place
            continue
        _rebind(uow, router_id, current, target)
        if target is not None:
            agents[target.id] = Candidate(**{**target.__dict__, "load": target.load + 1})
        log.info(
            "router %s: %s -> %s",
            router_id,
            hosts.get(current or "", "no agent"),
            target.host if target is not None else "no agent",
        )
        moved.append(router_id)
    return moved


def _hosts(uow: UnitOfWork, agent_ids: set[str]) -> dict[str, str]:
    a = t.agents.c
    if not agent_ids:
        return {}
    return {row.id: row.host for row in uow.rows(sa.select(a.id, a.host).where(a.id.in_(sorted(agent_ids))))}


def _pick(agents: Iterable[Candidate], physnet: str | None) -> Candidate | None:
    fit = [a for a in agents if a.admin_state_up and (physnet is None or physnet in a.mappings)]
    return min(fit, key=lambda a: (a.load, a.host, a.id), default=None)


def bind(uow: UnitOfWork, router_id: str, agent: Candidate | None) -> None:
    """Host the router on ``agent`` (None: on no agent), whatever hosted it."""
    b = t.router_l3_agent_bindings.c
    current = uow.one_or_none(sa.select(b.l3_agent_id).where(b.router_id == router_id))
    _rebind(uow, router_id, current.l3_agent_id if current is not None else None, agent)


def _rebind(uow: UnitOfWork, router_id: str, current: str | None, target: Candidate | None) -> None:
    b = t.router_l3_agent_bindings.c
    if current is not None:
        uow.execute(sa.delete(t.router_l3_agent_bindings).where(b.router_id == router_id))
    if target is not None:
        uow.execute(
            sa.insert(t.router_l3_agent_bindings).values(
                router_id=router_id, l3_agent_id=target.id, created_at=utcnow()
            )
        )
    _bind_ports(uow, router_id, target.host if target is not None else "", moved=True)
    f = t.floating_ips.c
    uow.execute(
        sa.update(t.floating_ips)
        .where(f.router_id == router_id, f.status != "DOWN")
        .values(status="DOWN", updated_at=utcnow(), revision_number=f.revision_number + 1)
    )


def _bind_ports(uow: UnitOfWork, router_id: str, host: str, *, moved: bool = False) -> None:
    """The router's ports bound to ``host`` ("": unbound); DOWN when the host changed."""
    p, rp = t.ports.c, t.router_ports.c
    mine = sa.select(rp.port_id).where(rp.router_id == router_id)
    values: dict[str, Any] = {
        "binding_host_id": host,
        "binding_vif_type": "bridge" if host else UNBOUND,
        "updated_at": utcnow(),
        "revision_number": p.revision_number + 1,
    }
    where: list[sa.ColumnElement[bool]] = [p.id.in_(mine)]
    if moved:
        values["status"] = "DOWN"
    else:
        where.append(p.binding_host_id != host)
    uow.execute(sa.update(t.ports).where(*where).values(**values))


class L3Scheduler:
    """Schedules routers as they change and, in a thread, every ``l3_schedule_interval`` seconds
    (routers of agents no longer alive move; routers left without an agent get one)."""

    def __init__(
        self, settings: ProviderSettings, db: Database, notify: Callable[[str, Sequence[str]], None]
    ) -> None:
        self.db = db
        self.down_time = timedelta(seconds=settings.agent_down_time)
        self.interval = settings.l3_schedule_interval
        #: told ``("l3_agents", routers)`` after routers moved (the change feed's ``note``)
        self.notify = notify
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def schedule(self, router_ids: Iterable[str] | None = None) -> list[str]:
        """Schedule the routers (all when None) in a unit of work of its own; returns those moved
        (and then notes them in the change feed)."""
        with self.db.uow() as uow:
            moved = schedule(uow, self.down_time, router_ids)
            uow.commit()
        if moved:
            self.notify("l3_agents", moved)
        return moved

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.schedule()
            except Exception:  # the thread must outlive a database outage
                log.exception("L3 scheduling failed")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="l3-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
