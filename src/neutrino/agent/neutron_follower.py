"""The agent's provider follower: it reads the network provider (Neutron) and drives the agent's
parts, for security groups and DHCP, as Neutron's L2 agent and DHCP agent get them (the engine
pushes neither to agents).

With a network provider (``--provider-url``):

* **before a vNIC is plugged** (:meth:`Prefetcher.prepare`, the plugging part's
  :class:`~neutrino.agent.plugging.PlugHooks`), fetches the security groups it
  names that are not set on the host yet — their rules, and the fixed IPs of the ports carrying
  them (what ``remote_group_id`` rules match), plus the groups those rules refer to — and the
  vNIC's port with its fixed IPs (a filtered guest may send only from those; the engine sends them with
  the vNIC, so the provider is asked only by an engine that does not), and for a network not served
  DHCP here yet what its server needs (this host's DHCP port there found or created);
* **once the vNICs are plugged**, before their guest starts (:meth:`Prefetcher.plugged`), serves
  their leases: added to their network's running server, or that server started, so the guest's
  first DHCP request is answered;
* when the provider's change feed names changes that touch this host (the embedded provider's
  ``GET /v2.0/changes``, read by :class:`~neutrino.agent.change_feed.FeedReader`), only what they
  touch; every ``resync_interval`` seconds (unless the feed's ``state`` says nothing was written
  since the last such round: then the host is driven again from what that round read), against a
  provider without the feed (a real Neutron) every ``interval`` seconds, and right after a verb
  plugged or unplugged vNICs (:meth:`Prefetcher.kick`), all of it: :class:`NeutronFollower` re-reads the ports of the networks
  with plugged vNICs and the groups in use, and re-applies what changed (the firewall is rewritten only when its rules
  differ): the groups' rules and members, each filtered port's ``security_groups`` and
  ``port_security_enabled`` (a vNIC whose groups changed after the plug is re-plugged with them,
  from filtered to unfiltered and back, as Neutron's L2 agent does), its fixed IPs and allowed
  address pairs, and where router advertisements on each network may come from (the link-local
  addresses of its DHCP ports, all hosts', and router interfaces); forgets groups no vNIC here
  uses;
* serves DHCP for each provider network with a plugged vNIC here, for its subnets with
  ``enable_dhcp``: finds or creates this host's port with ``device_owner`` ``network:dhcp`` and
  ``device_id`` ``dhcp<host>-<network id>`` (as Neutron's DHCP agent names it), whose fixed IPs
  are the server's addresses, and serves static leases for the network's ports (MAC → fixed IP)
  with the gateway, DNS servers and MTU (a VXLAN network's at most the underlay's less 50); on
  IPv6 subnets, router advertisements (with ``ipv6_ra_mode``) and DHCPv6 by the subnets' modes,
  leases only for ``dhcpv6-stateful`` ones (SLAAC addresses are the provider's EUI-64 ones). A
  network whose last vNIC went stops being served here and its DHCP port is deleted.

What is read and how it becomes host state is :mod:`neutrino.agent.neutron_reads`; the parts
driven are :mod:`~neutrino.agent.port_security`, :mod:`~neutrino.agent.dhcp_service` and
:mod:`~neutrino.agent.plugging` (a vNIC re-filtered), which never call back into this module but
through :class:`~neutrino.agent.plugging.PlugHooks`. Never imports :mod:`neutrino.provider`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from neutrino.agent.datapath.firewall import link_local, source
from neutrino.agent.datapath.hostnet import HostNetError
from neutrino.agent.dhcp_service import DhcpService
from neutrino.agent.errors import AgentError, PlugFailed, SecurityGroupNotSet
from neutrino.agent.identity import HostIdentity
from neutrino.agent.neutron_reads import (
    DHCP_OWNER,
    RA_OWNERS,
    dhcp_device_id,
    dhcp_host,
    dhcp_spec,
    port_groups,
    port_sources,
    ra_sources,
    read_groups,
    read_groups_and_members,
    read_rules,
    serves_dhcp,
)
from neutrino.agent.plugging import NetworkUse, Plugging
from neutrino.agent.pools import pool
from neutrino.agent.port_security import PortSecurity
from neutrino.agent_api.schema import DhcpHost, DhcpSpec, NicSpec, SecurityGroupSpec
from neutrino.neutron_client import (
    Changed,
    Changes,
    FixedIpRequest,
    Network,
    NeutronClient,
    NeutronClientError,
    NotFound,
    Port,
    PortCreate,
    PortUpdate,
    Subnet,
)

log = logging.getLogger(__name__)

SYNC_ERRORS = (NeutronClientError, AgentError, ValueError)


def _readers(kind: str = "plug-read") -> ThreadPoolExecutor:
    """The threads that make a plug's provider reads at once (each waits on the network). A read that
    waits on reads of its own (``read_network_dhcp``'s lists) has them made by another ``kind``."""
    return pool(kind)


class Prefetcher:
    """The plugging part's :class:`~neutrino.agent.plugging.PlugHooks`: fetches what vNICs need
    before they are plugged, serves their leases once plugged (before their guests start), and
    wakes the follower (through ``wake``) after.

    ``dhcp`` None: the follower serves no DHCP (or this host none at all), nor does this."""

    def __init__(
        self,
        neutron: NeutronClient,
        security: PortSecurity,
        wake: threading.Event,
        dhcp: DhcpService | None = None,
        identity: HostIdentity | None = None,
    ) -> None:
        self.neutron = neutron
        self.security = security
        self.wake = wake
        self.dhcp = dhcp if dhcp is not None and dhcp.servers is not None and identity is not None else None
        self.identity = identity
        #: networks not served here yet → what :meth:`prepare` read for their servers (None: it failed)
        self._read: dict[str, NetworkDhcp | None] = {}
        self._lock = threading.Lock()

    def prepare(self, nics: Sequence[NicSpec]) -> None:
        """Set the groups ``nics`` need that the host lacks, and learn their ports' fixed IPs (from
        the ports the engine sent, else the provider's) and where router advertisements on their
        networks may come from (when the provider cannot say, the next round does); for a network
        not served DHCP here yet, read what its server needs and find or create this host's DHCP
        port there. Raises :class:`SecurityGroupNotSet` for a group the provider does not have and
        :class:`PlugFailed` when it cannot be asked."""
        # the DHCP servers' reads (networks not served here yet) go at once, beside the groups' and ports'
        unserved = self._unserved(nics)
        # a DHCP port this host may still have there: one being released, or one it serves from
        known = (
            {*self.dhcp.ports_to_release(), *self.dhcp.provider_served()} if self.dhcp is not None else set()
        )
        servers = {
            network_id: _readers().submit(
                partial(
                    read_network_dhcp,
                    self.neutron,
                    self._identity(),
                    network_id,
                    plugin,
                    port_known_absent=network_id not in known,
                )
            )
            for network_id, plugin in sorted(unserved.items())
        }
        try:
            self._prepare_filters(nics, set(unserved))
        finally:  # a plug refused for its groups still keeps what was read (the DHCP port made is reused)
            self._read_servers(servers)

    def _prepare_filters(self, nics: Sequence[NicSpec], unserved: set[str]) -> None:
        """The groups, port addresses and router-advertisement sources ``nics`` need (see :meth:`prepare`)."""
        missing = self.security.missing_groups(nics)
        if missing:
            try:
                specs = read_groups(self.neutron, missing, _readers("plug-list"))
            except NeutronClientError as exc:
                names = ", ".join(sorted(missing))
                raise PlugFailed(
                    f"Cannot read security groups {names} from the network provider: {exc}"
                ) from exc
            for nic in nics:
                for group in (nic.external.security_groups or []) if nic.external else []:
                    if group in missing and group not in specs:
                        raise SecurityGroupNotSet(nic.name, group, "the network provider has no such group")
            self.security.sync_security_groups(specs, drop_unused=False)
        filtered = [nic for nic in nics if nic.external and self.security.filtered_groups(nic)]
        given = {
            nic.external.vnic_id: given_sources(nic) for nic in filtered if nic.external and nic.external.port
        }
        if given:
            self.security.set_port_addresses(given)
        exts = [nic.external for nic in filtered if nic.external]
        ports = {ext.vnic_id for ext in exts} - self.security.known_port_addresses()
        networks = {ext.network_id for ext in exts} - self.security.known_ra_networks() - unserved
        try:
            if ports:
                found = self.neutron.list_ports(id=sorted(ports))
                self.security.set_port_addresses({p.id: port_sources(p) for p in found if p.id in ports})
            if networks:
                routers = self.neutron.list_ports(network_id=sorted(networks), device_owner=RA_OWNERS)
                self.security.set_ra_sources(ra_sources(routers, networks))
        except NeutronClientError as exc:
            log.warning("cannot read ports from the network provider: %s", exc)

    def _read_servers(self, servers: dict[str, Future[NetworkDhcp]]) -> None:
        """Keep the DHCP servers read (network → its read under way) of networks not served here yet for
        :meth:`plugged`."""
        for network_id, reading in servers.items():
            read: NetworkDhcp | None = None  # None: the plug does not ask again
            try:
                found = reading.result()
            except SYNC_ERRORS as exc:
                log.warning("DHCP on network %s before the plug (the follower retries): %s", network_id, exc)
            else:
                self.security.set_ra_sources(ra_sources(found.ports, [network_id]))
                read = found
            with self._lock:
                self._read[network_id] = read

    def _identity(self) -> HostIdentity:
        assert self.identity is not None
        return self.identity

    def _unserved(self, nics: Sequence[NicSpec]) -> dict[str, str]:
        """The networks of ``nics`` this host is to serve DHCP on and does not yet (→ plugin type)."""
        if self.dhcp is None:
            return {}
        found: dict[str, str] = {}
        for nic in nics:
            ext = nic.external
            # a driver that connects nothing (noop) gets no DHCP server, as in the follower's rounds
            driver = self.security.drivers.get(ext.plugin_type) if ext is not None else None
            if ext is None or driver is None or not driver.carries_traffic or ext.network_id in found:
                continue
            if self.dhcp.provider_spec(ext.network_id) is None:
                found[ext.network_id] = ext.plugin_type
        return found

    def plugged(self, nics: Sequence[NicSpec], networks: Mapping[str, NetworkUse]) -> None:
        """``nics`` are plugged and their guests not started: each one's network is served DHCP
        here with the vNIC's lease (from the port the engine sent), so the guest's first request is
        answered; a network not served here yet gets its server now, from what :meth:`prepare` read
        (as the follower's round would set it up). What fails is logged and left to the follower."""
        if self.dhcp is None:
            return
        for network_id in sorted({n.external.network_id for n in nics if n.external}):
            with self._lock:
                prepared = network_id in self._read
                read = self._read.pop(network_id, None)
            use = networks.get(network_id)
            if use is None:
                continue  # a driver that carries no traffic, or not plugged
            mine = [n for n in nics if n.external and n.external.network_id == network_id]
            try:
                if self._add_leases(network_id, mine):
                    continue
                if read is None:
                    if prepared:
                        continue  # prepare could not read it: left to the follower
                    read = read_network_dhcp(self.neutron, self._identity(), network_id, use.plugin_type)
                spec = read.spec(use)
                if spec is not None and read.port is not None:
                    self.dhcp.serve_provider_dhcp(spec, read.port.id)
            except (*SYNC_ERRORS, HostNetError) as exc:
                log.warning("DHCP on network %s at plug time (the follower retries): %s", network_id, exc)

    def _add_leases(self, network_id: str, nics: list[NicSpec]) -> bool:
        """Add the leases of ``nics`` (all with their ports) to the network's server here; False when
        the network is not served here yet or a vNIC came without its port."""
        assert self.dhcp is not None
        served = self.dhcp.provider_spec(network_id)
        if served is None or any(n.external is None or n.external.port is None for n in nics):
            return False
        spec, port_id = served
        leased = [s.cidr for s in spec.subnets()] + [s.cidr for s in spec.ipv6_subnets if s.stateful]
        hosts = {(h.mac, h.ip): h for h in spec.hosts}
        for nic in nics:
            for h in given_leases(nic, leased):  # a lease served already keeps its name and options
                hosts.setdefault((h.mac, h.ip), h)
        if len(hosts) != len(spec.hosts):
            ordered = sorted(hosts.values(), key=lambda h: (h.ip.version, int(h.ip), h.mac))
            self.dhcp.serve_provider_dhcp(spec.model_copy(update={"hosts": ordered}), port_id)
        return True

    def kick(self) -> None:
        self.wake.set()


def given_leases(nic: NicSpec, leased: Sequence[IPv4Network | IPv6Network]) -> list[DhcpHost]:
    """The static leases of ``nic`` by the port the engine sent: its first address in each subnet of
    ``leased``, named as the follower names them from the provider's port (:func:`dhcp_host`) when the
    engine sent the port's DNS and DHCP fields (an older engine's: the address alone, until the follower's
    next round)."""
    assert nic.external is not None and nic.external.port is not None
    details = nic.external.port
    first: dict[str, IPv4Address | IPv6Address] = {}
    for fixed in details.fixed_ips:
        if fixed.subnet_id not in first and any(
            fixed.ip_address.version == c.version and fixed.ip_address in c for c in leased
        ):
            first[fixed.subnet_id] = fixed.ip_address
    if not details.names_its_lease:
        return [DhcpHost(mac=nic.mac, ip=ip) for ip in first.values()]
    port = Port.from_json(  # read as the follower reads the provider's port
        {
            "id": nic.external.vnic_id,
            "network_id": nic.external.network_id,
            "mac_address": nic.mac,
            "dns_domain": details.dns_domain or "",
            "dns_assignment": [a.model_dump() for a in details.dns_assignment or ()],
            "extra_dhcp_opts": [o.model_dump() for o in details.extra_dhcp_opts or ()],
        }
    )
    return [dhcp_host(port, str(ip), details.network_dns_domain or "") for ip in first.values()]


def given_sources(nic: NicSpec) -> list[str]:
    """What the guest of ``nic`` may send from, by the port the engine sent (as
    :func:`~neutrino.agent.neutron_reads.port_sources` says of a provider port)."""
    assert nic.external is not None and nic.external.port is not None
    port = nic.external.port
    found = {str(ip.ip_address) for ip in port.fixed_ips}
    for pair in port.allowed_address_pairs:
        mac = pair.mac_address or nic.mac
        found.add(source(pair.ip_address, None if mac == nic.mac else mac))
    return sorted(found)


@dataclass(frozen=True)
class NetworkDhcp:
    """What a network's DHCP server here is made of, read from the provider: the network, its
    subnets and ports, and this host's DHCP port there."""

    network: Network | None
    subnets: list[Subnet]
    ports: list[Port]  # the network's, this host's DHCP port among them
    port: Port | None  # None: nothing to serve there

    def spec(self, use: NetworkUse) -> DhcpSpec | None:
        """The server (as the follower's round makes it), None when there is nothing to serve."""
        served = served_subnets(self.subnets)
        if self.network is None or self.port is None or not served:
            return None
        server: dict[str, str] = {}
        for fixed in self.port.fixed_ips:
            server.setdefault(fixed.subnet_id, fixed.ip_address)
        served = [s for s in served if server.get(s.id)]
        if not served:
            raise PlugFailed(
                f"the provider gave DHCP port {self.port.id} no address on network {use.network_id}"
            )
        return dhcp_spec(use, self.network, served, server, self.port, self.ports)


def served_subnets(subnets: list[Subnet]) -> list[Subnet]:
    """The subnets a network's DHCP server serves, in the order the follower serves them."""
    return sorted(
        (s for s in subnets if s.enable_dhcp and serves_dhcp(s)),
        key=lambda s: (s.created_at or "", s.id),
    )


def read_network_dhcp(
    neutron: NeutronClient,
    identity: HostIdentity,
    network_id: str,
    plugin_type: str,
    *,
    port_known_absent: bool = False,
) -> NetworkDhcp:
    """Read a network's DHCP server from the provider, finding or creating this host's DHCP port on
    it with an address on each subnet served (as the follower's round does).

    ``port_known_absent``: this host's state says it has no DHCP port there (none made, or the last one
    deleted): the port is created as soon as the network and its subnets are read, while the network's
    ports are still being listed, rather than after them. Should the list show one after all (made by a
    run of this agent that died before saving it), that one is kept and the new one deleted."""
    pool = _readers("plug-list")
    reading = (
        pool.submit(neutron.list_networks, id=[network_id]),
        pool.submit(neutron.list_subnets, network_id=[network_id]),
    )
    listing = pool.submit(neutron.list_ports, network_id=[network_id]) if port_known_absent else None
    try:
        network = next((n for n in reading[0].result() if n.id == network_id), None)
        subnets = [s for s in reading[1].result() if s.network_id == network_id]
        served = served_subnets(subnets)
        device_id = dhcp_device_id(identity.host_name, network_id)
        created: Port | None = None
        if listing is not None and network is not None and served:
            created = neutron.create_port(_dhcp_port_request(identity, network_id, plugin_type, served)).port
    finally:
        listed_ports = (
            listing.result() if listing is not None else neutron.list_ports(network_id=[network_id])
        )
    ports = [
        p for p in listed_ports if p.network_id == network_id and (created is None or p.id != created.id)
    ]
    port = next((p for p in ports if p.device_id == device_id and p.device_owner == DHCP_OWNER), None)
    if created is not None and port is not None:
        neutron.delete_port(created.id)  # one was there after all: it stays the host's DHCP port
    elif created is not None:
        port = created
        ports.append(port)
    if network is None or not served:
        return NetworkDhcp(network, subnets, ports, None)
    if port is None:
        port = neutron.create_port(_dhcp_port_request(identity, network_id, plugin_type, served)).port
        ports.append(port)
    else:
        have = {ip.subnet_id for ip in port.fixed_ips}
        missing = [FixedIpRequest(subnet_id=s.id) for s in served if s.id not in have]
        if missing:
            kept = [FixedIpRequest(ip.subnet_id, ip.ip_address) for ip in port.fixed_ips]
            port = neutron.update_port(port.id, PortUpdate(fixed_ips=(*kept, *missing))).port
            ports = [port if p.id == port.id else p for p in ports]
    return NetworkDhcp(network, subnets, ports, port)


def _dhcp_port_request(
    identity: HostIdentity, network_id: str, plugin_type: str, subnets: Sequence[Subnet]
) -> PortCreate:
    """This host's DHCP port on a network, with an address on each of ``subnets``."""
    return PortCreate(
        network_id,
        name=f"dhcp-{identity.host_name}"[:255],
        device_owner=DHCP_OWNER,
        device_id=dhcp_device_id(identity.host_name, network_id),
        fixed_ips=tuple(FixedIpRequest(subnet_id=s.id) for s in subnets),
        host_id=identity.binding_host_id(plugin_type),
    )


@dataclass(frozen=True)
class ProviderView:
    """A snapshot of what the follower keeps in step with the provider."""

    host: str
    networks: dict[str, NetworkUse]  # networks of plugged external vNICs (of drivers carrying traffic)
    groups: frozenset[str]  # security groups of the vNICs here that the firewall applies
    ports: frozenset[str]  # provider port ids of the vNICs here the firewall filters or could filter
    dhcp: dict[str, str]  # networks served for the provider → this host's DHCP port id

    def key(self) -> tuple[object, ...]:
        """What, when it differs, makes the next round a full one (a vNIC plugged or unplugged, or
        a DHCP server set up by a verb: a VM made and gone between two rounds leaves the vNICs as
        they were, but not the server its create started)."""
        return (
            sorted(self.networks.items()),
            sorted(self.groups),
            sorted(self.ports),
            sorted(self.dhcp.items()),
        )


@dataclass
class _Reads:
    """What the last rounds read, for a round after changes to reread only what they touch."""

    key: tuple[object, ...]
    ports: list[Port]  # the ports of the networks here
    groups: set[str] = field(default_factory=set)  # the groups applied here, with those their rules name
    specs: dict[str, SecurityGroupSpec] = field(default_factory=dict)  # as last read
    members: set[str] = field(default_factory=set)  # the ports whose addresses are those groups' members
    networks: list[Network] = field(default_factory=list)
    subnets: list[Subnet] = field(default_factory=list)


#: what a round after changes must do
_PORTS, _GROUPS, _RULES, _NETWORKS = "ports", "groups", "rules", "networks"


class NeutronFollower:
    """Keeps the host's security groups, port addresses, router advertisement sources and DHCP
    servers in step with the provider (see the module docstring); :meth:`sync_once` is one full
    round, :meth:`sync_changes` one after the changes the provider's feed named; :meth:`start`
    runs rounds in a thread, woken early through ``wake`` (a vNIC plugged or unplugged here) and
    by the change feed (:class:`~neutrino.agent.change_feed.FeedReader`, as its subscriber)."""

    def __init__(
        self,
        neutron: NeutronClient,
        identity: HostIdentity,
        vms: Plugging,
        security: PortSecurity,
        dhcp: DhcpService,
        wake: threading.Event,
        interval: float = 2.0,
        *,
        serve_dhcp: bool = True,
        resync_interval: float = 300.0,
    ) -> None:
        self.neutron = neutron
        self.identity = identity
        self.vms = vms
        self.security = security
        self.dhcp = dhcp
        #: seconds between rounds without a change feed (a real Neutron)
        self.interval = interval
        #: seconds between full rounds while following the change feed (the safety net)
        self.resync_interval = resync_interval
        #: serve DHCP on the provider's networks (False: leave it to the provider's DHCP agents)
        self.serve_dhcp = serve_dhcp and dhcp.servers is not None
        self._wake = wake
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        #: None: polling (no feed, or not known yet); else the changes not applied yet (None: anything)
        self._following = False
        self._pending: dict[str, Changed] | None = {}
        self._reads: _Reads | None = None
        #: the provider's state (``Changes.state``) just before the last full round read it
        self._state: str | None = None
        self._pending_state: str | None = None

    def view(self) -> ProviderView:
        use = self.vms.provider_use()
        return ProviderView(
            host=self.identity.host_name,
            networks=use.networks,
            groups=use.groups,
            ports=use.ports,
            dhcp=self.dhcp.provider_served(),
        )

    # -- the change feed (called in the feed reader's thread) --------------------------------------
    def feed_changed(self, changes: Changes) -> None:
        with self._lock:
            self._following = True
            if changes.changed is None or self._pending is None:
                self._pending = None
                # the state an answer "anything may have changed" told (at once: no cursor yet)
                self._pending_state = changes.state if changes.changed is None else None
            else:
                for kind, changed in changes.changed.items():
                    before = self._pending.get(kind)
                    self._pending[kind] = changed if before is None else _merged(before, changed)
        self._wake.set()

    def feed_unavailable(self) -> None:
        with self._lock:
            self._following = False
        self._wake.set()

    def _take(self) -> tuple[dict[str, Changed] | None, str | None]:
        """The changes not applied yet, and with "anything may have" the provider's state it told."""
        with self._lock:
            pending, self._pending = self._pending, {}
            state, self._pending_state = self._pending_state, None
            return pending, state if pending is None else None

    # -- one round -----------------------------------------------------------------------------
    def sync_once(self) -> None:
        """One full round: every step runs; the first error is raised after the others ran."""
        view = self.view()
        self._stop_unused_dhcp(view)
        failures: list[Exception] = []
        ports: list[Port] | None = None
        self._reads, self._state = None, None
        try:
            ports = self._read_ports(view)
        except SYNC_ERRORS as exc:
            failures.append(exc)
        reads = _Reads(view.key(), ports or [])
        steps = [partial(self._sync_groups, view, reads)]
        if ports is not None:
            steps += [
                partial(self._sync_ports, view, reads),
                partial(self._sync_networks, view, reads, read=True),
            ]
        steps.append(partial(self._release_dhcp_ports, view))
        self._run_steps(steps, failures)
        if ports is not None and not failures:
            self._reads = reads

    def sync_changes(self, changed: dict[str, Changed]) -> list[str]:
        """A round after the changes the feed named: only what they touch here is read and applied
        (a full round when a vNIC was plugged or unplugged since the last one, or after a failed
        one). Returns what was reread (``ports``, ``groups``, ``networks``)."""
        view = self.view()
        reads = self._reads
        if reads is None or reads.key != view.key():
            self.sync_once()
            return sorted([_PORTS, _GROUPS, _NETWORKS])
        needs = _needs(changed, reads, set(view.networks), set(view.ports))
        if not needs:
            return []
        self._reads = None  # until this round succeeded
        failures: list[Exception] = []
        steps = []
        if _PORTS in needs:
            reads.ports = self._read_ports(view)
            steps.append(partial(self._sync_ports, view, reads))
        if _GROUPS in needs:
            steps.insert(0, partial(self._sync_groups, view, reads))
        elif _RULES in needs:
            steps.insert(0, partial(self._sync_rules, view, reads))
        if _NETWORKS in needs or _PORTS in needs:
            steps.append(partial(self._sync_networks, view, reads, read=_NETWORKS in needs))
        self._run_steps(steps, failures)
        if not failures:
            self._reads = reads
        return sorted(needs)

    @staticmethod
    def _run_steps(steps: Sequence[Callable[[], object]], failures: list[Exception]) -> None:
        for step in steps:
            try:
                step()
            except SYNC_ERRORS as exc:
                failures.append(exc)
        if failures:
            raise failures[0]

    def _stop_unused_dhcp(self, view: ProviderView) -> None:
        for network_id in view.dhcp:  # first, and without asking the provider
            if network_id not in view.networks or not self.serve_dhcp:
                self.dhcp.stop_provider_dhcp(network_id)

    def _read_ports(self, view: ProviderView) -> list[Port]:
        """The ports of the networks with plugged vNICs here (theirs, other hosts', DHCP ports)."""
        ids = sorted(view.networks)
        ports = self.neutron.list_ports(network_id=ids) if ids else []
        return [p for p in ports if p.network_id in view.networks]

    def _sync_groups(self, view: ProviderView, reads: _Reads) -> None:
        """The groups in use here and those the provider now gives the ports here."""
        wanted = set(view.groups)
        wanted.update(g for p in reads.ports if p.id in view.ports for g in port_groups(p))
        specs, reads.members = read_groups_and_members(self.neutron, wanted)
        reads.groups, reads.specs = wanted | set(specs), specs
        changed = self.security.sync_security_groups(specs, drop_unused=True)
        if changed:
            log.info("security groups changed on the provider or no longer used: %s", ", ".join(changed))

    def _sync_rules(self, view: ProviderView, reads: _Reads) -> None:
        """After rules changed (and no member): the groups' rules read again, their members as last
        read (a group not read before: everything is)."""
        rules = read_rules(self.neutron, reads.groups & set(reads.specs))
        if not set(rules) <= set(reads.specs):
            self._sync_groups(view, reads)
            return
        specs = {
            g: SecurityGroupSpec(rules=rs, member_ips=reads.specs[g].member_ips) for g, rs in rules.items()
        }
        reads.specs = specs
        changed = self.security.sync_security_groups(specs, drop_unused=True)
        if changed:
            log.info("security groups changed on the provider: %s", ", ".join(changed))

    def _sync_ports(self, view: ProviderView, reads: _Reads) -> None:
        """The ports' fixed IPs, the networks' router advertisement sources, then the ports'
        groups (after :meth:`_sync_groups` set the groups they name)."""
        ports = reads.ports
        mine = {p.id: p for p in ports if p.id in view.ports}
        self.security.set_port_addresses({i: port_sources(p) for i, p in mine.items()}, prune=True)
        self.security.set_ra_sources(ra_sources(ports, view.networks), prune=True)
        changed = self.vms.follow_port_groups({i: port_groups(p) for i, p in mine.items()})
        if changed:
            log.info("vNICs re-filtered with their ports' new security groups: %s", ", ".join(changed))

    def _sync_networks(self, view: ProviderView, reads: _Reads, *, read: bool) -> None:
        ids = sorted(view.networks)
        if not self.serve_dhcp or not ids:
            return
        if read:
            reads.networks = [n for n in self.neutron.list_networks(id=ids) if n.id in view.networks]
            reads.subnets = self.neutron.list_subnets(network_id=ids)
        networks = {n.id: n for n in reads.networks}
        failures: list[Exception] = []
        for network_id, use in sorted(view.networks.items()):
            try:
                self._sync_dhcp(
                    view,
                    use,
                    networks.get(network_id),
                    [s for s in reads.subnets if s.network_id == network_id],
                    [p for p in reads.ports if p.network_id == network_id],
                )
            except SYNC_ERRORS as exc:
                failures.append(PlugFailed(f"DHCP on network {network_id}: {exc}"))
        if failures:
            raise failures[0]

    def _sync_dhcp(
        self,
        view: ProviderView,
        use: NetworkUse,
        network: Network | None,
        subnets: list[Subnet],
        ports: list[Port],
    ) -> None:
        served = sorted(
            (s for s in subnets if s.enable_dhcp and serves_dhcp(s)),
            key=lambda s: (s.created_at or "", s.id),
        )
        if network is None or not served:  # not the provider's, or nothing to serve
            if use.network_id in view.dhcp:
                self.dhcp.stop_provider_dhcp(use.network_id)
            return
        port = self._dhcp_port(view, use, served, ports)
        if port.mac_address:  # its advertisements get into filtered guests from the start
            self.security.add_ra_source(use.network_id, link_local(port.mac_address))
        server: dict[str, str] = {}
        for fixed in port.fixed_ips:
            server.setdefault(fixed.subnet_id, fixed.ip_address)
        served = [s for s in served if server.get(s.id)]
        if not served:
            raise PlugFailed(f"the provider gave DHCP port {port.id} no address on network {use.network_id}")
        spec = dhcp_spec(use, network, served, server, port, ports)
        self.dhcp.serve_provider_dhcp(spec, port.id)

    def _dhcp_port(
        self, view: ProviderView, use: NetworkUse, subnets: list[Subnet], ports: list[Port]
    ) -> Port:
        """This host's DHCP port on the network, found or created, with an address on each subnet
        (bound to this host where the provider's policy lets the agent bind ports)."""
        device_id = dhcp_device_id(view.host, use.network_id)
        port = next((p for p in ports if p.device_id == device_id and p.device_owner == DHCP_OWNER), None)
        if port is None:
            request = PortCreate(
                use.network_id,
                name=f"dhcp-{view.host}"[:255],
                device_owner=DHCP_OWNER,
                device_id=device_id,
                fixed_ips=tuple(FixedIpRequest(subnet_id=s.id) for s in subnets),
                host_id=self.identity.binding_host_id(use.plugin_type),
            )
            return self.neutron.create_port(request).port
        have = {ip.subnet_id for ip in port.fixed_ips}
        missing = [FixedIpRequest(subnet_id=s.id) for s in subnets if s.id not in have]
        if missing:
            kept = [FixedIpRequest(ip.subnet_id, ip.ip_address) for ip in port.fixed_ips]
            port = self.neutron.update_port(port.id, PortUpdate(fixed_ips=(*kept, *missing))).port
        return port

    def _release_dhcp_ports(self, view: ProviderView) -> None:
        for network_id in self.dhcp.ports_to_release():
            device_id = dhcp_device_id(view.host, network_id)
            for port in self.neutron.list_ports(device_id=device_id):
                if port.device_id == device_id and port.device_owner == DHCP_OWNER:
                    self.neutron.delete_port(port.id)
            self.dhcp.dhcp_port_released(network_id)

    # -- the thread ----------------------------------------------------------------------------
    def _round(self, full: bool) -> bool:
        """One round (``full``: everything read, unless the feed says nothing was written since the last
        full one); False, with nothing read and the feed's changes kept for later, while a verb is plugging
        vNICs here: it reads what they need itself and wakes this thread when done
        (:meth:`Plugging.prepared`), and a round beside it would read the same, and the changes its port
        made, while its guest is about to ask for its lease."""
        if self.vms.store.pending:  # without the store's lock, which the verb holds: a glance at counters
            return False
        pending, state = self._take()
        if full and pending is not None and self._following:
            # the safety net, following the feed: one request says whether the provider's state is
            # still the one the last full round read; only then is the full reread left out
            try:
                state = self.neutron.changes().state
            except NotFound:  # the feed went (another provider behind the URL): read everything
                state = None
            if state is not None and state == self._state and self._reads_current():
                log.debug("periodic resync: nothing written on the provider since the last full round")
                self.reapply()
                full = False
        if full or pending is None:
            self.sync_once()
            if self._reads is not None:
                self._state = state
        elif pending or not self._reads_current():
            self.sync_changes(pending)
        return True

    def reapply(self) -> None:
        """The host side of a full round from what the last rounds read, without asking the
        provider: the groups, the ports' addresses and groups, the DHCP servers (one that died is
        started again). Raises the first error after every step ran."""
        reads, view = self._reads, self.view()
        if reads is None or reads.key != view.key():
            raise ValueError("nothing read for the vNICs plugged here now: a full round is due")
        self._stop_unused_dhcp(view)
        self._reads = None  # until this round succeeded
        self._run_steps(
            [
                partial(self.security.sync_security_groups, reads.specs, drop_unused=True),
                partial(self._sync_ports, view, reads),
                partial(self._sync_networks, view, reads, read=False),
                partial(self._release_dhcp_ports, view),
            ],
            [],
        )
        self._reads = reads

    def _reads_current(self) -> bool:
        """Whether the last round's reads are of the vNICs plugged here now."""
        return self._reads is not None and self._reads.key == self.view().key()

    def _run(self) -> None:
        last_error = ""
        last_full = -math.inf
        while not self._stop.is_set():
            with self._lock:
                following = self._following
            now = time.monotonic()
            full = not following or now - last_full >= self.resync_interval
            try:
                if not self._round(full):  # after the verb plugging vNICs here, which wakes this thread
                    self._wake.wait(self.interval)
                    self._wake.clear()
                    continue
                if full:
                    last_full = now
                if last_error:
                    log.info("sync with the network provider works again")
                last_error = ""
            except SYNC_ERRORS as exc:
                # every interval while the provider is down: say it once, not every 2 s
                level = logging.DEBUG if str(exc) == last_error else logging.WARNING
                log.log(level, "sync with the network provider: %s", exc)
                last_error = str(exc)
                self._reads = None
                last_full = -math.inf  # the next round is a full one
            except Exception:  # the thread must outlive any one bad round
                log.exception("sync with the network provider failed")
                self._reads = None
                last_full = -math.inf
            with self._lock:
                following = self._following
            if following and not last_error:
                timeout = max(0.0, last_full + self.resync_interval - time.monotonic())
            else:
                timeout = self.interval
            self._wake.wait(timeout)
            self._wake.clear()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="provider-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (the client stays open: its owner closes it)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=15)


def _merged(a: Changed, b: Changed) -> Changed:
    def union(x: frozenset[str] | None, y: frozenset[str] | None) -> frozenset[str] | None:
        return None if x is None or y is None else x | y

    return Changed(
        union(a.ids, b.ids),
        union(a.network_ids, b.network_ids),
        union(a.security_group_ids, b.security_group_ids),
    )


def _touches(values: frozenset[str] | None, here: set[str]) -> bool:
    """Whether ids the feed named (None: it cannot tell which) may be some of ``here``."""
    return values is None or bool(values & here)


def _needs(changed: dict[str, Changed], reads: _Reads, networks: set[str], mine: set[str]) -> set[str]:
    """What a round after ``changed`` must reread: ports (of the networks here), groups (their
    rules and members), rules (the groups' rules alone), networks (and their subnets, for DHCP)."""
    needs = set()
    seen_ports = {p.id for p in reads.ports}
    subnets = {s.id for s in reads.subnets}
    ports = changed.get("ports")
    if ports is not None:
        if _touches(ports.ids, seen_ports) or _touches(ports.network_ids, networks):
            needs.add(_PORTS)
        if _touches(ports.ids, reads.members) or _touches(ports.security_group_ids, reads.groups):
            needs.add(_GROUPS)
        if _touches(ports.ids, mine):  # a vNIC's port here: its groups may be new ones
            needs.update((_PORTS, _GROUPS))
    groups = changed.get("security_groups")
    if groups is not None and _touches(groups.ids, reads.groups):
        needs.add(_RULES)
    rules = changed.get("security_group_rules")
    if rules is not None and _touches(rules.security_group_ids, reads.groups):
        needs.add(_RULES)
    nets = changed.get("networks")
    if nets is not None and _touches(nets.ids, networks):
        needs.add(_NETWORKS)
    subs = changed.get("subnets")
    if subs is not None and (_touches(subs.ids, subnets) or _touches(subs.network_ids, networks)):
        needs.add(_NETWORKS)
    return needs
