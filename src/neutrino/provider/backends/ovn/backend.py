"""The OVN backend: the provider's writes go on to OVN's northbound database.

Outage policy: **a write is kept and left to the repair.** The provider's database is the source
of truth and a write is committed there before the northbound is touched; when the northbound is
unreachable (or a northbound transaction fails), the API still answers success, the failure is
logged, and the next maintenance pass writes what is missing (or deletes what is gone). This is what
Neutron's OVN driver does. Clients never see a half-written resource: the Neutron API shows the
provider's database, which is complete; only the datapath lags until the repair.

Maintenance: a background thread (started and stopped with the app's lifespan) connects to the
northbound, then at start and every ``ovn_maintenance_interval`` seconds compares the whole provider
database with the northbound's owned rows (found by the Neutron ids in ``external_ids``) and
repairs drift both ways, logging counts of what it fixed.

Chassis: with a southbound connection, a second thread mirrors OVN's chassis into the agents list
(see :mod:`.chassis`).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace

import sqlalchemy as sa

from neutrino.agent_api import dhcp_options
from neutrino.provider.api.versions import DHCP_EXTENSIONS, ROUTING_EXTENSIONS
from neutrino.provider.backends.ovn import desired, groups
from neutrino.provider.backends.ovn import model as m
from neutrino.provider.backends.ovn.chassis import ChassisMonitor, Southbound
from neutrino.provider.backends.ovn.desired import Scope
from neutrino.provider.backends.ovn.northbound import Northbound, Snapshot, TlsFiles
from neutrino.provider.backends.ovn.repair import describe, repair
from neutrino.provider.settings import ProviderSettings
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import Database, UnitOfWork

log = logging.getLogger(__name__)

WATCHED = (
    "networks",
    "subnets",
    "ports",
    "security_groups",
    "security_group_rules",
    "routers",
    "floatingips",
)


class OvnBackend:
    #: logical routers (:mod:`.routing`): the routing extensions, none of the builtin L3 agents';
    #: the DHCP ones: dns-integration (the LSP's ``options:hostname``, the network's domain in its
    #: subnets' DHCP_Options), extra_dhcp_opt and dns-domain-ports (a port's own DHCP_Options row)
    extensions = ROUTING_EXTENSIONS | DHCP_EXTENSIONS
    #: what OVN's DHCP cannot serve of a port's extra_dhcp_opts (the API refuses it)
    dhcp_option_problem = staticmethod(dhcp_options.ovn_problem)

    def __init__(self, settings: ProviderSettings, db: Database) -> None:
        self.db = db
        self.interval = settings.ovn_maintenance_interval
        tls = None
        if "ssl:" in (settings.ovn_nb_connection[:4], settings.ovn_sb_connection[:4]):
            assert settings.ovn_nb_private_key and settings.ovn_nb_certificate and settings.ovn_ca_cert
            tls = TlsFiles(
                str(settings.ovn_nb_private_key), str(settings.ovn_nb_certificate), str(settings.ovn_ca_cert)
            )
        nb_tls = tls if settings.ovn_nb_connection.startswith("ssl:") else None
        self.nb = Northbound(
            settings.ovn_nb_connection,
            timeout=settings.ovn_ovsdb_timeout,
            tls=nb_tls,
            on_port_up=self._port_up,
        )
        self._gate = _Gate()
        self._port_writes = _GroupCommit(self._write_ports)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._statuses: dict[str, str] = {}  # port id -> status from OVN, not yet stored
        self._statuses_changed = threading.Condition()
        self._status_thread: threading.Thread | None = None
        self.chassis: ChassisMonitor | None = None
        if settings.ovn_sb_connection:
            self.chassis = ChassisMonitor(
                db,
                Southbound(
                    settings.ovn_sb_connection,
                    timeout=settings.ovn_ovsdb_timeout,
                    tls=tls if settings.ovn_sb_connection.startswith("ssl:") else None,
                    on_port_up=self._port_up,
                ),
                self.nb.nb_cfg,
                self.nb.bump_nb_cfg,
                settings.ovn_chassis_interval,
            )

    def start(self) -> None:
        """Connect now (so the first requests can write through), then maintain in the background."""
        try:
            self.nb.connect()
        except Exception as exc:
            log.warning(
                "OVN northbound %s unreachable at start (%s); writes wait for the maintenance",
                self.nb.remote,
                exc.__cause__ or exc,
            )
        self._status_thread = threading.Thread(
            target=self._store_statuses, name="ovn-port-status", daemon=True
        )
        self._status_thread.start()
        self._thread = threading.Thread(target=self._maintain_forever, name="ovn-maintenance", daemon=True)
        self._thread.start()
        if self.chassis is not None:
            self.chassis.start()

    def stop(self) -> None:
        self._stopping.set()
        with self._statuses_changed:
            self._statuses_changed.notify()
        if self.chassis is not None:
            self.chassis.stop()
        if self._thread is not None:
            self._thread.join(30)
        self.nb.close()
        if self._status_thread is not None:
            self._status_thread.join(30)

    def _maintain_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                self.maintain()
            except Exception:
                log.exception("OVN maintenance pass failed; next one in %s s", self.interval)
            self._stopping.wait(self.interval)

    def maintain(self) -> Counter[str] | None:
        """One maintenance pass: the counts of what it fixed, or None when the northbound is down."""
        try:
            self.nb.connect()
        except Exception as exc:
            log.warning(
                "OVN northbound %s unreachable (%s); next try in %s s", self.nb.remote, exc, self.interval
            )
            return None
        if not self.nb.connected:
            log.warning("OVN northbound %s not connected; maintenance skipped", self.nb.remote)
            return None
        done = self._repair(Scope())
        if done:
            log.warning("OVN maintenance repaired drift: %s", describe(done))
        else:
            log.debug("OVN maintenance: northbound in sync")
        return done

    def changed(self, collection: str, resource_ids: Sequence[str]) -> None:
        if collection not in WATCHED or not resource_ids:
            return
        if not self.nb.connected:
            log.warning(
                "OVN northbound unreachable: %s %s kept, left to the maintenance",
                collection,
                ", ".join(resource_ids),
            )
            return
        try:
            if collection == "ports":
                self._port_writes.write(resource_ids)
                return
            done = self._repair(self._scope(collection, resource_ids))
            log.debug("OVN northbound written for %s %s: %s", collection, resource_ids, describe(done))
        except Exception as exc:
            log.warning(
                "OVN northbound write failed for %s %s (%s); left to the maintenance",
                collection,
                ", ".join(resource_ids),
                exc,
            )

    def _write_ports(self, port_ids: Sequence[str]) -> None:
        """The ports of one or more requests (:class:`_GroupCommit`), in one repair."""
        done = self._repair(self._scope("ports", port_ids), port_ids)
        log.debug("OVN northbound written for ports %s: %s", port_ids, describe(done))

    def _port_up(self, port_id: str, up: bool) -> None:
        """A port's status follows OVN's ``up``: ACTIVE once a chassis has bound it, DOWN before.
        Noted here (ovsdbapp's event thread) and stored by :meth:`_store_statuses`."""
        with self._statuses_changed:
            self._statuses[port_id] = "ACTIVE" if up else "DOWN"
            self._statuses_changed.notify()

    def _store_statuses(self) -> None:
        """The statuses noted since the last store, in one transaction (a burst of ports coming up
        is one write, not one per port, each behind the requests' writes).

        Status is runtime state: neither ``updated_at`` nor the revision number moves (the revision
        is what the northbound's rows are compared by)."""
        while True:
            with self._statuses_changed:
                self._statuses_changed.wait_for(lambda: self._statuses or self._stopping.is_set())
                statuses, self._statuses = self._statuses, {}
            if not statuses:
                return
            try:
                with self.db.uow() as uow:
                    p = t.ports.c
                    for status in ("ACTIVE", "DOWN"):
                        ids = sorted(i for i, s in statuses.items() if s == status)
                        for clause in uow.where_in(p.id, ids) if ids else []:
                            uow.execute(
                                sa.update(t.ports).where(clause, p.status != status).values(status=status)
                            )
                    uow.commit()
            except Exception:
                log.exception("statuses of %d ports from OVN not stored", len(statuses))

    def _scope(self, collection: str, ids: Sequence[str]) -> Scope:
        if collection == "routers":
            return Scope.only(routers=ids)
        if collection == "floatingips":
            # the routers carrying them now (the database) and before (their NAT rows)
            with self.db.reader() as uow:
                f = t.floating_ips.c
                now = {
                    r.router_id
                    for r in uow.rows(sa.select(f.router_id).where(f.id.in_(ids), f.router_id.is_not(None)))
                }
            return Scope.only(routers=now | self.nb.routers_of(floating_ips=ids))
        if collection == "security_groups":
            return Scope.only(port_groups=ids)
        if collection == "security_group_rules":
            # a deleted rule's group is known only from its ACL
            in_nb = {
                g
                for g, acls in self.nb.read(
                    Scope(networks=(), subnets=(), ports=(), group_members=False)
                ).acl_uuids.items()
                if any(a.rule_id in ids for a in acls)
            }
            with self.db.reader() as uow:
                r = t.security_group_rules.c
                in_db = {
                    row.security_group_id
                    for row in uow.rows(sa.select(r.security_group_id).where(r.id.in_(ids)))
                }
            return Scope.only(port_groups=in_nb | in_db)
        if collection == "ports":
            # the groups a port was in, as last written to its LSP
            written = self.nb.read(Scope.only(ports=ids)).state.ports.values()
            in_nb = {g for p in written for g in p.external_ids.get(m.SECURITY_GROUP_IDS, "").split()}
            with self.db.reader() as uow:
                in_db = groups.of_ports(uow, ids)
                routers = _routers_of_ports(uow, ids)
            return Scope.only(
                ports=ids, port_groups={m.DROP_GROUP} | in_nb | in_db, compare_groups=False, routers=routers
            )
        with self.db.reader() as uow:
            if collection == "subnets":
                a = t.ip_allocations.c
                ports = {r.port_id for r in uow.rows(sa.select(a.port_id).where(a.subnet_id.in_(ids)))}
                # the routers on them: their LRPs' networks, a gateway's default route
                return Scope.only(subnets=ids, ports=ports, routers=_routers_of_ports(uow, ports))
            # a network's subnets (MTU) and, once it is deleted, the DHCP options of subnets now gone
            s = t.subnets.c
            subnets = {r.id for r in uow.rows(sa.select(s.id).where(s.network_id.in_(ids)))}
            existing = {r.id for r in uow.rows(sa.select(s.id))}
            own = _ports_with_own_dhcp(uow, subnets)
        orphans = {sid for sid in self.nb.read(Scope.only()).state.dhcp if sid not in existing}
        return Scope.only(networks=ids, subnets=subnets | orphans, ports=own)

    def _repair(self, scope: Scope, ports: Sequence[str] = ()) -> Counter[str]:
        """Repair ``scope``: alone, or beside other ports' writes when it is one of ``ports`` (none
        of them a router's) and finds every group it needs there (two writes would both create a
        missing one)."""
        if ports and not scope.routers:
            with self._gate.ports(ports):
                snapshot = self.nb.read(scope)
                if not self._missing_groups(scope, snapshot):
                    return self._write(scope, snapshot)
        with self._gate.alone():
            return self._write(scope, self.nb.read(scope))

    @staticmethod
    def _missing_groups(scope: Scope, snapshot: Snapshot) -> set[str]:
        return {g for g in scope.port_groups or () if g not in snapshot.state.port_groups}

    def _write(self, scope: Scope, snapshot: Snapshot) -> Counter[str]:
        loaded = scope
        if not scope.compare_groups:  # groups only made to exist: those there need no loading
            loaded = replace(scope, port_groups=self._missing_groups(scope, snapshot))
        with self.db.reader() as uow:
            wanted = desired.load(uow, loaded)
        return repair(self.nb, wanted, snapshot, scope)


def _ports_with_own_dhcp(uow: UnitOfWork, subnet_ids: Collection[str]) -> set[str]:
    """The ports on these subnets with a DHCP_Options row of their own (extra options or their own
    domain): their rows copy the subnet's options (a network's MTU and domain among them)."""
    a, p, e = t.ip_allocations.c, t.ports.c, t.port_extra_dhcp_opts.c
    out = set[str]()
    for clause in uow.where_in(a.subnet_id, sorted(subnet_ids)) if subnet_ids else []:
        query = (
            sa.select(a.port_id)
            .join(t.ports, p.id == a.port_id)
            .where(clause, sa.or_(p.dns_domain != "", a.port_id.in_(sa.select(e.port_id))))
        )
        out.update(r.port_id for r in uow.rows(query))
    return out


def _routers_of_ports(uow: UnitOfWork, port_ids: Collection[str]) -> set[str]:
    """The routers owning these ports (a router's port changed through the port API: its LRP follows)."""
    rp = t.router_ports.c
    return {r.router_id for r in uow.rows_among((rp.router_id,), rp.port_id, sorted(port_ids))}


class _GroupCommit:
    """Port writes of concurrent requests as one: a request's ports join the next write, and the
    request returns once that write is done (or raises its error). While one write runs, the ports
    of the requests arriving meanwhile gather, and the first of them writes them all when it ends
    (a group commit: no timer, so a lone request waits for nothing). One northbound transaction, one
    read of the database and of the replica, for as many requests as came in during the last write:
    ovsdbapp runs one transaction at a time anyway, and each costs a round trip to the northbound
    and ovn-northd a recompute. At most :attr:`LIMIT` ports per write."""

    LIMIT = 200

    def __init__(self, write: Callable[[Sequence[str]], None]) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._pending: list[tuple[Sequence[str], _Ticket]] = []
        self._writing = False

    def write(self, port_ids: Sequence[str]) -> None:
        ticket = _Ticket()
        with self._lock:
            self._pending.append((port_ids, ticket))
            lead = not self._writing
            if lead:
                self._writing = True
        if not lead:
            ticket.done.wait()
            if not ticket.lead:
                if ticket.error is not None:
                    raise ticket.error
                return
        self._lead()
        if ticket.error is not None:
            raise ticket.error

    def _lead(self) -> None:
        """Write the pending ports (the oldest requests' first, up to :attr:`LIMIT`), then hand
        over to the next waiting request, if any, and return (this request's answer waits for no
        later write)."""
        with self._lock:
            batch: list[_Ticket] = []
            count = 0
            while self._pending and (not batch or count + len(self._pending[0][0]) <= self.LIMIT):
                ids, ticket = self._pending.pop(0)
                ticket.ids = ids
                batch.append(ticket)
                count += len(ids)
        error: Exception | None = None
        try:
            self._write(list(dict.fromkeys(p for t in batch for p in t.ids)))
        except Exception as exc:
            error = exc
        finally:  # whatever escapes the write (even a BaseException), the waiting requests are let go
            for ticket in batch:
                ticket.error = error
                ticket.done.set()
            with self._lock:
                if self._pending:
                    nxt = self._pending[0][1]
                    nxt.lead = True
                    nxt.done.set()
                else:
                    self._writing = False


class _Ticket:
    __slots__ = ("done", "error", "ids", "lead")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: Exception | None = None
        self.ids: Sequence[str] = ()
        self.lead = False


class _Gate:
    """Which repairs may run at once. Each reads the database and the northbound, then writes the
    difference; two that interleave on the same rows could write what is no longer true. So the
    maintenance and the writes of networks, subnets and security groups run alone; a write of ports
    (which touches its ports' LSPs and memberships) runs beside other such writes, but never beside
    one of the same port, unless it has a group to create (the first port of a project brings its
    default group): then it runs alone. Those waiting to run alone go first."""

    STRIPES = 64

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._sharing = 0  # port writes running
        self._alone = False
        self._waiting_alone = 0
        self._stripes = [threading.Lock() for _ in range(self.STRIPES)]

    @contextmanager
    def alone(self) -> Iterator[None]:
        with self._changed:
            self._waiting_alone += 1
            self._changed.wait_for(lambda: not self._alone and self._sharing == 0)
            self._waiting_alone -= 1
            self._alone = True
        try:
            yield
        finally:
            with self._changed:
                self._alone = False
                self._changed.notify_all()

    @contextmanager
    def ports(self, port_ids: Sequence[str]) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: not self._alone and self._waiting_alone == 0)
            self._sharing += 1
        # a lock per stripe of port ids, taken in order (two bulk writes never wait on each other in a cycle)
        stripes = [self._stripes[i] for i in sorted({hash(p) % self.STRIPES for p in port_ids})]
        try:
            with ExitStack() as held:
                for stripe in stripes:
                    held.enter_context(stripe)
                yield
        finally:
            with self._changed:
                self._sharing -= 1
                self._changed.notify_all()
