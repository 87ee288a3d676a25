"""The agent's reports to the network provider, and the tunnel peers it learns back.

Every ``interval`` seconds :class:`Reporter` reports each plugin type this host plugs
(``POST /v2.0/agent-reports``, the embedded provider's extension
:data:`~neutrino.neutron_client.REPORT_EXTENSION`): its
configuration, and its ports ACTIVE / ERROR / DOWN (the DHCP ports of servers run for the
provider follower ACTIVE too). It then reads the other hosts' agents (``GET /v2.0/agents``) for
their VXLAN addresses. Peers are the live agents' addresses only: when that set changes, the flood
entries toward addresses that left it (an agent not alive any more, deleted, or reporting another address)
are removed from every VXLAN device here, and vNICs, DHCP servers and routers' legs are re-plugged (a no-op
but for new flood entries). The first round after a start also removes entries a previous run left toward
peers gone since. An address no host can be reached at (loopback, link-local, multicast, unspecified,
reserved, or this host's own) is never a peer: flooding there would loop back into this host or go
nowhere. A real Neutron takes no reports; peers are still learned from it.

With the provider's change feed (:mod:`~neutrino.agent.change_feed`; the reporter is its subscriber)
the agents are read when the feed says they changed (an agent appeared, left, stopped or started
reporting, or moved its tunnel address) instead of after every report; a full read still comes
every ``resync_interval`` seconds.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from neutrino.agent.datapath import linux_net
from neutrino.agent.datapath.hostnet import HostNetError
from neutrino.agent.dhcp_service import DhcpService
from neutrino.agent.identity import HostIdentity
from neutrino.agent.l3_routers import L3Routers
from neutrino.agent.plugging import Plugging
from neutrino.agent.state import HostStore
from neutrino.agent.vnic.base import VnicDriver
from neutrino.neutron_client import (
    AgentReport,
    Changes,
    NeutronClient,
    NeutronClientError,
    NotFound,
    PortStatus,
)

log = logging.getLogger(__name__)

#: Neutron's agent_type names for the plugin types the agent's drivers plug.
AGENT_TYPES = {"LINUX_BRIDGE": "Linux bridge agent", "OPEN_VSWITCH": "Open vSwitch agent"}


def agent_type(plugin_type: str) -> str:
    return AGENT_TYPES.get(plugin_type, f"{plugin_type} agent")


def unusable_peer(address: str, mine: str | None) -> str | None:
    """Why flooding toward ``address`` would loop back into this host or go nowhere (None: it
    would not). ``mine``: this host's tunnel address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "not an IP address"
    if mine is not None and {str(ip)} == _normalized([mine]):
        return "this host's own"
    for unusable, kind in (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip.is_reserved, "reserved"),
    ):
        if unusable:
            return f"a {kind} address"
    return None


def _normalized(addresses: Iterable[str]) -> set[str]:
    found = set()
    for address in addresses:
        try:
            found.add(str(ipaddress.ip_address(address)))
        except ValueError:
            continue
    return found


@dataclass
class _Draft:
    """One plugin type's report while it is put together."""

    host: str
    configurations: dict[str, object]
    ports: list[PortStatus] = field(default_factory=list)
    devices: int = 0

    def report(self, plugin_type: str) -> AgentReport:
        return AgentReport(
            host=self.host,
            agent_type=agent_type(plugin_type),
            configurations={**self.configurations, "devices": self.devices},
            ports=tuple(self.ports),
            binary="neutrino-agent",
        )


class Reporter:
    """Reports this host to the provider and learns peers, once or in a background thread."""

    def __init__(
        self,
        neutron: NeutronClient,
        identity: HostIdentity,
        store: HostStore,
        drivers: Mapping[str, VnicDriver],
        vms: Plugging,
        dhcp: DhcpService,
        interval: float = 30,
        *,
        routers: L3Routers | None = None,
        resync_interval: float = 300,
    ) -> None:
        self.neutron = neutron
        self.identity = identity
        self.store = store
        self.drivers = drivers
        self.vms = vms
        self.dhcp = dhcp
        self.routers = routers
        self.interval = interval
        self.resync_interval = resync_interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._feed = False  # peers are read when the change feed says the agents changed
        self._peers_due = False
        self._thread: threading.Thread | None = None
        self._pruned = False  # the first round after a start removes what a previous run left
        self._refused: set[str] = set()  # peer addresses refused and logged already
        self.reports_supported = True  # False against a provider without agent-reports (real Neutron)

    # -- the change feed (called in the feed reader's thread) --------------------------------------
    def feed_changed(self, changes: Changes) -> None:
        self._feed = True
        if changes.changed is None or "agents" in changes.changed:
            self._peers_due = True
            self._wake.set()

    def feed_unavailable(self) -> None:
        self._feed = False

    def report_once(self, *, peers: bool = True) -> None:
        """One round (the report, then the peers unless ``peers`` is False); raises what the provider
        or the network raised."""
        reports, reported_down = self.reports()
        if self.reports_supported:
            try:
                for report in reports.values():
                    self.neutron.report_agent(report)
                self.vms.confirm_reported_down(reported_down)
            except NotFound:
                # a real Neutron has no agent-reports; its own agents still tell us the peers
                log.info("the network provider takes no agent reports; only learning peers from it")
                self.reports_supported = False
        if peers:
            self.read_peers(reports)

    def read_peers(self, reports: dict[str, AgentReport] | None = None) -> None:
        """Learn the peers from the agents the provider lists (one read per tunnelling agent type)."""
        if reports is None:
            reports = self.reports()[0]
        peers: set[str] = set()
        for report in reports.values():
            tunnels = report.configurations.get("tunnel_types")
            if not isinstance(tunnels, list) or "vxlan" not in tunnels:
                continue
            for other in self.neutron.list_agents(agent_type=report.agent_type):
                ip = other.tunneling_ip
                if not other.alive or not ip or other.host == report.host:
                    continue
                peer = self._usable_peer(ip, f"agent {other.id or other.agent_type} on host {other.host}")
                if peer is not None:
                    peers.add(peer)
        self.learn_peers(peers)

    def _usable_peer(self, address: str, whose: str) -> str | None:
        """``address`` normalized when other hosts' tunnels can be sent there, else None (logged
        once per address)."""
        problem = unusable_peer(address, self.identity.tunnel_ip)
        if problem is None:
            return str(ipaddress.ip_address(address))
        if address not in self._refused:
            self._refused.add(address)
            log.warning("%s reports tunnel address %r, %s: not a VXLAN peer", whose, address, problem)
        return None

    def reports(self) -> tuple[dict[str, AgentReport], list[str]]:
        """One report per plugin type (ports ACTIVE, ERROR or DOWN) and the unplugged port ids
        they mark DOWN."""
        with self.store.lock:
            drafts = {
                plugin_type: self._draft(plugin_type, d) for plugin_type, d in sorted(self.drivers.items())
            }
            state = self.store.state
            for _, vm in sorted(state.vms.items()):
                for nic in vm.nics.values():
                    ext = nic.spec.external
                    if ext is None or ext.plugin_type not in drafts:
                        continue
                    draft = drafts[ext.plugin_type]
                    status = {"plugged": "ACTIVE", "failed": "ERROR"}.get(nic.state, "DOWN")
                    draft.ports.append(PortStatus(ext.vnic_id, status))
                    draft.devices += nic.state == "plugged"
            for network_id, port_id in sorted(state.provider_dhcp.items()):
                served = state.dhcp.get(network_id)
                if served is not None and served.plugin_type in drafts:
                    drafts[served.plugin_type].ports.append(PortStatus(port_id, "ACTIVE"))
            down = []
            for port_id, plugin_type in sorted(self.vms.unreported_down().items()):
                if plugin_type in drafts:
                    drafts[plugin_type].ports.append(PortStatus(port_id, "DOWN"))
                    down.append(port_id)
            return {plugin_type: d.report(plugin_type) for plugin_type, d in drafts.items()}, down

    def _draft(self, plugin_type: str, driver: VnicDriver) -> _Draft:
        info = driver.describe()
        configurations: dict[str, object] = {
            "driver": info.name,
            "network_types": list(info.network_types),
            "security_groups": info.security_groups,
        }
        if self.identity.tunnel_ip:
            configurations["tunneling_ip"] = self.identity.tunnel_ip
            if "vxlan" in info.network_types:
                configurations["tunnel_types"] = ["vxlan"]
        mappings = driver.context.physical_interfaces
        if mappings:
            configurations["interface_mappings"] = dict(mappings)
        return _Draft(host=self.identity.binding_host_id(plugin_type), configurations=configurations)

    def learn_peers(self, peers: set[str]) -> None:
        """Other hosts' tunnel addresses as the provider knows them now. When the set changed (and
        once after a start), flood entries toward addresses not in it (nor configured, nor given
        with a vNIC) are removed; vNICs, DHCP servers and routers' legs are re-plugged when it
        changed (a no-op but for new flood entries and the peers their details list)."""
        with self.store.lock:
            contexts = {id(d.context): d.context for d in self.drivers.values()}
            changed = any(ctx.learned_peers != peers for ctx in contexts.values())
            for ctx in contexts.values():
                ctx.learned_peers.clear()
                ctx.learned_peers.update(peers)
            if changed or not self._pruned:
                self._prune(peers)
                self._pruned = True
            if not changed:
                return
            self.dhcp.replug("re-plug for new peers")
            self.vms.replug_external("re-plug for new peers")
            if self.routers is not None:
                self.routers.replug("re-plug for new peers")
            self.store.save()

    def _prune(self, peers: set[str]) -> None:
        """Remove flood entries toward addresses that are no peer any more."""
        keep = set(peers)
        hosts = {}
        for driver in self.drivers.values():
            hosts[id(driver.context.host_net)] = driver.context.host_net
            keep.update(_normalized(driver.context.vxlan_peers))
        for use in self.vms.provider_use().networks.values():
            keep.update(use.tunnel_peers)  # given with the vNICs
        for spec in self.store.state.dhcp.values():
            keep.update(spec.tunnel_peers)
        for host in hosts.values():
            try:
                removed = linux_net.prune_flood_entries(host, keep)
            except HostNetError as exc:
                log.error("cannot remove the flood entries toward former peers: %s", exc)
                continue
            for device, address in removed:
                log.info("%s: no longer flooding toward %s (no live agent reports it)", device, address)

    # -- the thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        next_report = 0.0
        last_peers = -math.inf
        while not self._stop.is_set():
            self._wake.clear()
            now = time.monotonic()
            try:
                if now >= next_report:
                    next_report = now + self.interval
                    resync = now - last_peers >= self.resync_interval
                    self.report_once(peers=not self._feed or resync)
                    if not self._feed or resync:
                        last_peers, self._peers_due = now, False
                if self._peers_due:
                    self._peers_due = False
                    self.read_peers()
                    last_peers = now
            except (NeutronClientError, ValueError) as exc:
                log.warning("report to the network provider failed: %s", exc)
            self._wake.wait(max(0.0, next_report - time.monotonic()))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="provider-reporter", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (the client stays open: its owner closes it)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
