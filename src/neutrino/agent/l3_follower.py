"""The agent's L3 agent: follows the routers the provider scheduled to this host, like Neutron's
legacy L3 agent, over the Neutron API.

In its own thread it reports an "L3 agent" (``POST /v2.0/agent-reports``: alive, what it can
reach — ``interface_mappings`` — and its routers' ports and floating IPs ACTIVE, or ERROR when a
router could not be built), which is what the provider schedules routers onto; reads the routers
it hosts (``GET /v2.0/agents/{id}/l3-routers``) and what they need (:mod:`~neutrino.agent.l3_reads`);
and converges the L3 part (:class:`~neutrino.agent.l3_routers.L3Routers`) on them, then reports at
once. Between rounds it waits for the provider's change feed (``GET /v2.0/changes``, the embedded
provider's extension ``neutrino-changes``, read by the agent's one
:class:`~neutrino.agent.change_feed.FeedReader`, of which it is a subscriber), so a change reaches
the host within tens of milliseconds, and rereads only what the kinds of change it names touch (a
floating IP's association: one read; changes of ports, groups or agents alone: nothing); a
provider without it is read every ``sync_interval`` seconds. Every ``resync_interval`` seconds the
routers are rebuilt all the same (repairs drift), read again only when the feed's ``state`` digest
moved since the last full read (:meth:`L3Follower.resync`). A second thread reports every
``report_interval`` seconds, so a long round never makes the agent look dead.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping

from neutrino.agent.errors import AgentError
from neutrino.agent.identity import HostIdentity
from neutrino.agent.l3_reads import ROUTER_KINDS, RouterReads, read_routers, reread, router_specs
from neutrino.agent.l3_routers import L3Routers
from neutrino.neutron_client import (
    AgentReport,
    Changes,
    FloatingIpStatus,
    NeutronClient,
    NeutronClientError,
    NotFound,
    PortStatus,
)

log = logging.getLogger(__name__)

L3_AGENT_TYPE = "L3 agent"
#: the kinds of change of the provider's feed that an L3 agent applies
L3_KINDS = frozenset({"routers", "l3_agents", "floatingips", "networks", "subnets"})


class L3Follower:
    """The L3 agent's rounds (:meth:`sync_once`) and heartbeat, in threads (:meth:`start`)."""

    def __init__(
        self,
        neutron: NeutronClient,
        identity: HostIdentity,
        routers: L3Routers,
        *,
        plugin_type: str,
        underlay_mtu: int,
        interface_mappings: Mapping[str, str],
        sync_interval: float = 2.0,
        report_interval: float = 30.0,
        resync_interval: float = 300.0,
    ) -> None:
        self.neutron = neutron
        self.identity = identity
        self.routers = routers
        self.plugin_type = plugin_type
        self.underlay_mtu = underlay_mtu
        self.interface_mappings = dict(interface_mappings)
        self.sync_interval = sync_interval
        self.report_interval = report_interval
        self.resync_interval = resync_interval
        self.agent_id: str | None = None
        self._reads: RouterReads | None = None  # the last round's, for a round after small changes
        #: the provider's state (``Changes.state``) just before the last full read; a round that
        #: applied the feed's changes leaves it, so after any write the next resync reads again
        self._state: str | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._following = False  # the change feed says what changed; else poll every sync_interval
        self._pending: frozenset[str] | None = frozenset()  # kinds not applied yet (None: anything)
        self._threads: list[threading.Thread] = []
        self._reported: AgentReport | None = None  # the last report the provider took
        self._report_lock = threading.Lock()  # the rounds' reports and the heartbeat's

    @property
    def host(self) -> str:
        return self.identity.binding_host_id(self.plugin_type)

    # -- one round ------------------------------------------------------------------------------
    def report(self, *, if_changed: bool = False) -> str:
        """Report this L3 agent and its routers' statuses; returns its agent id. ``if_changed``:
        only when the report differs from the last one the provider took (after a round: most
        rounds change nothing here, and a report is a write; the heartbeat reports all the same).
        One at a time, each built when its turn comes: the last one sent is the newest."""
        with self._report_lock:
            return self._report(if_changed)

    def _report(self, if_changed: bool) -> str:
        applied = self.routers.applied()
        statuses = self.routers.statuses()
        configurations: dict[str, object] = {
            "agent_mode": "legacy",
            "interface_driver": "linuxbridge",
            "handle_internal_only_routers": True,
            "interface_mappings": dict(self.interface_mappings),
            "routers": len(applied),
            "ex_gw_ports": sum(1 for s in applied.values() if s.gateway is not None),
            "interfaces": sum(1 for s in applied.values() for leg in s.legs if leg.kind == "internal"),
            "floating_ips": sum(len(s.floating_ips) for s in applied.values()),
        }
        report = AgentReport(
            host=self.host,
            agent_type=L3_AGENT_TYPE,
            configurations=configurations,
            ports=tuple(PortStatus(p, s) for p, s in sorted(statuses.ports.items())),
            binary="neutrino-agent",
            floatingips=tuple(
                FloatingIpStatus(f, s, fixed) for f, (s, fixed) in sorted(statuses.floating_ips.items())
            ),
        )
        if if_changed and self.agent_id is not None and report == self._reported:
            return self.agent_id
        self._reported = None  # until the provider took it
        answer = self.neutron.report_agent(report)
        self.agent_id = answer.agent.id or self.agent_id
        if self.agent_id is None:
            raise ValueError("the provider's answer to the L3 agent's report has no agent id")
        self._reported = report
        return self.agent_id

    def sync_once(self, *, force: bool = False, changed: frozenset[str] | None = None) -> list[str]:
        """Read the routers hosted here (after ``changed`` kinds of change that leave routers and
        their ports alone, only what changed), converge on them, report; returns those that
        failed."""
        agent_id = self.agent_id or self.report()
        if changed is not None and not changed & ROUTER_KINDS and self._reads is not None and not force:
            reads = reread(self.neutron, self._reads, changed)
        else:
            reads = read_routers(self.neutron, self.neutron.list_l3_agent_routers(agent_id))
        # a router moved away and back between two rounds had its ports set DOWN by the move:
        # after a move (or anything) the statuses are reported even when they look the same here
        moved = force or changed is None or "l3_agents" in changed
        return self._converge(reads, force=force, report=moved)

    def resync(self) -> list[str]:
        """The periodic safety net: every router here rebuilt idempotently (drift repaired). While
        the change feed is followed, one request first asks the provider's ``state``: when it is
        the one the last full read started from, nothing was written since and the routers are
        rebuilt from what the rounds since read, without reading them again."""
        state = None
        if self._following and self._reads is not None:
            try:
                state = self.neutron.changes().state
            except NotFound:  # the feed went (another provider behind the URL): read everything
                state = None
            if state is not None and state == self._state:
                log.debug("L3 resync: nothing written on the provider since the last full read")
                return self._converge(self._reads, force=True, report=True)
        self._state = None
        failed = self.sync_once(force=True)
        self._state = state  # the reads started after it: at least as new
        return failed

    def _converge(self, reads: RouterReads, *, force: bool, report: bool) -> list[str]:
        """Converge on ``reads``; then report (unless ``report``, only when something changed)."""
        self._reads = reads
        failed = self.routers.sync(router_specs(reads, self.plugin_type, self.underlay_mtu), force=force)
        self.report(if_changed=not report)
        return failed

    # -- the change feed (called in the feed reader's thread) --------------------------------------
    def feed_changed(self, changes: Changes) -> None:
        kinds = changes.kinds()
        with self._lock:
            self._following = True
            if kinds is None or self._pending is None:
                self._pending = None
            elif kinds & L3_KINDS:
                self._pending = self._pending | (kinds & L3_KINDS)
            else:
                return  # nothing an L3 agent applies
        self._wake.set()

    def feed_unavailable(self) -> None:
        with self._lock:
            self._following = False
        self._wake.set()

    # -- the thread ----------------------------------------------------------------------------
    def _run(self) -> None:
        last_sync = -math.inf
        last_error = ""
        while not self._stop.is_set():
            self._wake.clear()
            with self._lock:
                following, pending, self._pending = self._following, self._pending, frozenset()
            now = time.monotonic()
            try:
                if now - last_sync >= self.resync_interval:
                    self.resync()
                    last_sync = now
                elif not following or pending is None:
                    self.sync_once()
                elif pending:
                    self.sync_once(changed=pending)
                if last_error:
                    log.info("L3 sync with the network provider works again")
                last_error = ""
                if following:
                    timeout = max(0.0, last_sync + self.resync_interval - time.monotonic())
                else:
                    timeout = self.sync_interval
            except (NeutronClientError, AgentError, ValueError) as exc:
                level = logging.DEBUG if str(exc) == last_error else logging.WARNING
                log.log(level, "L3 sync with the network provider: %s", exc)
                last_error, self.agent_id, self._reads, self._state = str(exc), None, None, None
                self._pending, timeout = None, min(self.sync_interval, 2.0)
            except Exception:  # the thread must outlive any one bad round
                log.exception("L3 sync with the network provider failed")
                self._reads, self._state, self._pending = None, None, None
                timeout = min(self.sync_interval, 2.0)
            self._wake.wait(timeout)

    def _heartbeat(self) -> None:
        """Report every ``report_interval`` seconds, however long a round takes (a router being
        built must not make the agent look dead)."""
        while not self._stop.wait(self.report_interval):
            try:
                self.report()
            except (NeutronClientError, ValueError) as exc:
                log.debug("L3 agent report: %s", exc)

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._run, name="l3-agent", daemon=True),
            threading.Thread(target=self._heartbeat, name="l3-agent-report", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop the thread; the routers stay as they are (a restarted agent takes them over)."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=15)
