"""OVN chassis as Neutron agents: the southbound's ``Chassis`` rows mirrored into the agents table.

``GET /v2.0/agents`` then lists every chassis as an ``OVN Controller agent`` (binary
``ovn-controller``, host = the chassis' ``hostname``, which a Neutrino agent sets to its host name,
as it sets ``system-id``), next to the agents that report themselves, with the same filters, sorting
and paging, so the engine's scheduler sees the chassis' health unchanged. The rows are read-only
through the API (:data:`AGENT_TYPE` rows cannot be updated, deleted or reported); the mirror alone
writes them, and deletes a row once its chassis is gone from the southbound.

Liveness, as Neutron's OVN driver does it: the provider bumps ``NB_Global.nb_cfg`` every
``BUMPS_EVERY`` passes, ovn-northd carries it to the southbound, and each ovn-controller acknowledges
it in its ``Chassis_Private.nb_cfg`` once it has caught up. A chassis whose ``nb_cfg`` equals the
northbound's when a pass reads it gets its heartbeat stamped with the provider's own clock (no
clock of the chassis is trusted); ``alive`` is then the agents' rule (a heartbeat within
``AGENT_DOWN_TIME``). A chassis never seen caught up has a heartbeat at the epoch: not alive.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from neutrino.provider.api.agents import AGENT_DOWN_TIME, OVN_AGENT_TYPE
from neutrino.provider.api.resource import utcnow
from neutrino.provider.backends.ovn import fastjson
from neutrino.provider.backends.ovn.northbound import PortUpListener, TlsFiles, ignore_port_up, up_events
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import Database

log = logging.getLogger(__name__)

AGENT_TYPE = OVN_AGENT_TYPE
BINARY = "ovn-controller"
SCHEMA = "OVN_Southbound"
#: NB_Global.nb_cfg is bumped once every this many passes (the passes in between see who caught up)
BUMPS_EVERY = 3
NEVER = datetime(1970, 1, 1)
_IDS = uuid.UUID("6f1d0c2e-5a52-4e8e-9a1c-0c7a5f3b9e11")  # agent id = uuid5(_IDS, chassis name)


@dataclass(frozen=True)
class ChassisInfo:
    """What the southbound says of one chassis."""

    name: str  # system-id
    hostname: str
    nb_cfg: int  # the last northbound configuration it acknowledged
    encaps: tuple[tuple[str, str], ...]  # (type, ip)
    other_config: tuple[tuple[str, str], ...]

    @property
    def host(self) -> str:
        return self.hostname or self.name

    def configurations(self) -> dict[str, object]:
        other = dict(self.other_config)
        return {
            "chassis_name": self.name,
            "bridge-mappings": other.get("ovn-bridge-mappings", ""),
            "datapath-type": other.get("datapath-type", ""),
            # "enable-chassis-as-gw" here offers the chassis for routers' gateways (routing.py)
            "ovn-cms-options": other.get("ovn-cms-options", ""),
            "encaps": [{"type": kind, "ip": ip} for kind, ip in self.encaps],
        }


def agent_id(chassis_name: str) -> str:
    """The agent's id: stable for a chassis across provider restarts."""
    return str(uuid.uuid5(_IDS, chassis_name))


def mirror(db: Database, chassis: Iterable[ChassisInfo], nb_cfg: int) -> None:
    """Make the :data:`AGENT_TYPE` rows be ``chassis``: insert the new, update the known (the
    heartbeat of those caught up with ``nb_cfg``), delete those gone."""
    now = utcnow()
    c = t.agents.c
    with db.uow() as uow:
        known = {
            r.id: r
            for r in uow.rows(
                sa.select(c.id, c.host, c.heartbeat_timestamp).where(c.agent_type == AGENT_TYPE)
            )
        }
        listed: dict[str, ChassisInfo] = {}  # agent id -> chassis, one per host
        hosts: set[str] = set()
        for ch in chassis:
            if ch.host in hosts:
                log.warning(
                    "OVN chassis %s: host %s already listed by another chassis; skipped", ch.name, ch.host
                )
                continue
            hosts.add(ch.host)
            listed[agent_id(ch.name)] = ch
        gone = set(known) - set(listed)
        if gone:  # first: a new chassis may take the host of one gone
            uow.execute(sa.delete(t.agents).where(c.id.in_(gone)))
        for ident, ch in listed.items():
            values: dict[str, object] = {"host": ch.host, "configurations": ch.configurations()}
            row = known.get(ident)
            if ch.nb_cfg == nb_cfg and nb_cfg > 0:
                values["heartbeat_timestamp"] = now
                if row is None or row.heartbeat_timestamp < now - AGENT_DOWN_TIME:
                    values["started_at"] = now
            if row is None:
                stamp = values.pop("heartbeat_timestamp", NEVER)
                uow.execute(
                    sa.insert(t.agents).values(
                        id=ident, agent_type=AGENT_TYPE, binary=BINARY, topic="N/A", created_at=now,
                        started_at=values.pop("started_at", now), heartbeat_timestamp=stamp, **values,
                    )
                )  # fmt: skip
            else:
                uow.execute(sa.update(t.agents).where(c.id == ident).values(**values))
        uow.commit()


class Southbound:
    """The southbound's chassis through ovsdbapp (an in-memory replica of three tables), and the
    ``up`` of VMs' port bindings (``on_port_up``, see :func:`_binding_up_events`)."""

    def __init__(
        self,
        remote: str,
        *,
        timeout: float,
        tls: TlsFiles | None = None,
        on_port_up: PortUpListener = ignore_port_up,
    ) -> None:
        self.remote = remote
        self.timeout = timeout
        self.tls = tls
        self.on_port_up = on_port_up
        self._api: Any = None
        self._events: Any = None

    def connect(self) -> None:
        if self._api is not None:
            return
        from ovsdbapp.backend.ovs_idl import connection, idlutils
        from ovsdbapp.schema.ovn_southbound import impl_idl

        fastjson.use_c_parser()

        if self.tls is not None:
            from ovs.stream import Stream

            Stream.ssl_set_private_key_file(self.tls.private_key)
            Stream.ssl_set_certificate_file(self.tls.certificate)
            Stream.ssl_set_ca_cert_file(self.tls.ca_cert)
        helper = idlutils.get_schema_helper(self.remote, SCHEMA)
        schema = helper.schema_json["tables"]
        tables = [n for n in ("Chassis", "Chassis_Private", "Encap") if n in schema]
        # VMs' bindings only (type ""), and of them only what says whether one is up: a few
        # columns of as many rows as ports (OVN < 21.03 has no ``up``: the northbound's alone then)
        bindings = "up" in schema["Port_Binding"]["columns"]
        if bindings:
            helper.register_columns("Port_Binding", ["logical_port", "type", "up"])
        if self._events is None:  # its thread, once: a connection that failed here is tried again
            self._events = _binding_up_events(self.on_port_up)
        events = self._events

        class SouthboundIdl(connection.OvsdbIdl):
            def notify(self, event: str, row: Any, updates: Any = None) -> None:
                events.notify(event, row, updates)

            def cooperative_yield(self) -> None:
                """No ``time.sleep(0)`` per row update (see :class:`.northbound.Northbound`)."""

        idl = SouthboundIdl.from_server(self.remote, SCHEMA, helper=helper, helper_tables=tables)
        if bindings:
            idl.cond_change("Port_Binding", [["type", "==", ""]])

        class SouthboundApi(impl_idl.OvnSbApiIdlImpl):  # see Northbound.connect: one class per connection
            pass

        self._api = SouthboundApi(connection.Connection(idl, self.timeout))

    def close(self) -> None:
        if self._api is not None:
            self._api.ovsdb_connection.stop(timeout=5)
            self._api = None
        if self._events is not None:
            self._events.shutdown()
            self._events = None

    def chassis(self) -> list[ChassisInfo]:
        api = self._api
        with api.ovsdb_connection.lock:
            tables = api.tables
            acked = {}
            if "Chassis_Private" in tables:  # OVN >= 20.09: ovn-controller acknowledges here
                acked = {p.name: p.nb_cfg for p in tables["Chassis_Private"].rows.values()}
            return [
                ChassisInfo(
                    name=ch.name,
                    hostname=ch.hostname,
                    nb_cfg=acked.get(ch.name, ch.nb_cfg),
                    encaps=tuple(sorted((e.type, e.ip) for e in ch.encaps)),
                    other_config=tuple(sorted(dict(ch.other_config).items())),
                )
                for ch in tables["Chassis"].rows.values()
            ]


def _binding_up_events(listener: PortUpListener) -> Any:
    """An ovsdbapp event handler (its own thread) calling ``listener`` when a VM's port binding's
    ``up`` changes. ovn-controller sets it once the port's flows are installed (and ``ovn-installed``
    on the interface), and unsets it when it releases the port; ovn-northd copies it to the
    Logical_Switch_Port's ``up`` in its next recompute, which on a busy northd is a while later."""
    return up_events(
        "Port_Binding",
        "NeutrinoBindingUp",
        listener,
        port_of=lambda row: row.logical_port,
        watched=lambda row: row.type == "",  # a VM's binding
    )


class ChassisMonitor:
    """A thread: every ``interval`` seconds, read the chassis and the northbound's ``nb_cfg``,
    mirror them (:func:`mirror`), and every :data:`BUMPS_EVERY` passes bump ``nb_cfg``."""

    def __init__(
        self,
        db: Database,
        southbound: Southbound,
        nb_cfg: Callable[[], int | None],
        bump: Callable[[], None],
        interval: float,
    ) -> None:
        self.db, self.sb, self.nb_cfg, self.bump, self.interval = db, southbound, nb_cfg, bump, interval
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._passes = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._forever, name="ovn-chassis", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(30)
        self.sb.close()

    def _forever(self) -> None:
        while not self._stopping.is_set():
            try:
                self.check()
            except Exception as exc:
                log.warning("OVN chassis check failed (%s); next in %s s", exc, self.interval)
            self._stopping.wait(self.interval)

    def check(self) -> None:
        """One pass (the southbound and northbound must be reachable, else it raises)."""
        self.sb.connect()
        current = self.nb_cfg()
        if current is None:
            return  # the northbound is not connected yet: liveness cannot be judged
        mirror(self.db, self.sb.chassis(), current)
        if self._passes % BUMPS_EVERY == 0:
            self.bump()
        self._passes += 1
