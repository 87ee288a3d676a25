"""What the agent's provider sync (:mod:`neutrino.agent.provider_sync`) reads from and applies to
the agent: a snapshot of what this host plugs (:class:`ProviderView`), security groups, the ports'
groups and fixed IPs and the networks' router advertisement sources as the provider knows them,
and DHCP servers run for the provider.

Mixed into :class:`neutrino.agent.service.Agent`, whose lock and state it shares. No network I/O
happens here: the sync reads the provider outside the agent's lock, then applies what it read
through these methods, each a short critical section.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from neutrino.agent.datapath.hostnet import HostNetError
from neutrino.agent.datapath.linux_net import tap_name
from neutrino.agent.errors import PlugFailed, UnplugFailed
from neutrino.agent.network_services import NetworkServices
from neutrino.agent.state import StoredVm
from neutrino.agent.vm.base import AttachedNic, VmBackend, VmBackendError
from neutrino.agent.vnic.base import VnicDriverError
from neutrino.agent.vnic.linux_bridge import VXLAN_OVERHEAD
from neutrino.agent_api.schema import DhcpSpec, NicSpec, SecurityGroupSpec

log = logging.getLogger(__name__)

_HOST_ERRORS = (VnicDriverError, VmBackendError, HostNetError)


class ProviderHooks(Protocol):
    """What the agent's verbs call on the provider sync."""

    def prepare(self, nics: Sequence[NicSpec]) -> None:
        """Before ``nics`` are plugged: fetch what the host needs for them (security groups not
        set here yet, the ports' fixed IPs). Raises an :class:`~neutrino.agent.errors.AgentError`
        when a vNIC cannot be plugged without it."""

    def kick(self) -> None:
        """Something changed: sync soon rather than at the next interval."""


@dataclass(frozen=True)
class NetworkUse:
    """A provider network as the vNICs plugged on this host carry it."""

    network_id: str
    plugin_type: str
    network_type: str | None
    segmentation_id: int | None
    physical_network: str | None
    tunnel_peers: tuple[str, ...]
    max_mtu: int | None  # VXLAN: the underlay MTU less the overhead; else None (the provider's)


@dataclass(frozen=True)
class ProviderView:
    """A snapshot of what the provider sync keeps in step with the provider."""

    host: str
    networks: dict[str, NetworkUse]  # networks of plugged external vNICs (of drivers carrying traffic)
    groups: frozenset[str]  # security groups of the vNICs here that the firewall applies
    ports: frozenset[str]  # provider port ids of the vNICs here the firewall filters or could filter
    dhcp: dict[str, str]  # networks served for the provider → this host's DHCP port id
    to_release: tuple[str, ...]  # networks whose DHCP port is still to be deleted


class ProviderServices(NetworkServices):
    """Reads and applies for the provider sync (see the module docstring)."""

    provider: ProviderHooks | None = None
    backend: VmBackend
    _pending_groups: Counter[str]
    _pending_ports: Counter[str]
    _pending_networks: Counter[str]

    def _attached(self, vm: StoredVm) -> list[AttachedNic]:
        raise NotImplementedError

    def _init_provider_services(self) -> None:
        self.provider = None
        self._pending_groups = Counter()
        self._pending_ports = Counter()
        self._pending_networks = Counter()
        if self.firewall is not None:
            self.firewall.addresses = self._firewall_addresses()
            self.firewall.ra_sources = self._firewall_ra_sources()

    # -- around the verbs ------------------------------------------------------------------
    @contextmanager
    def provider_prepared(self, nics: Sequence[NicSpec]) -> Iterator[None]:
        """Around a verb that plugs ``nics``: the provider sync fetches what they need first, and
        nothing it fetched is dropped as unused before the verb is done; a sync follows."""
        hooks = self.provider
        if hooks is None:
            yield
            return
        groups = [g for nic in nics for g in self.filtered_groups(nic)]
        ports = [nic.external.vnic_id for nic in nics if nic.external is not None]
        networks = [nic.external.network_id for nic in nics if nic.external is not None]
        with self._lock:
            self._pending_groups.update(groups)
            self._pending_ports.update(ports)
            self._pending_networks.update(networks)
        try:
            hooks.prepare(nics)
            yield
        finally:
            with self._lock:
                self._pending_groups.subtract(groups)
                self._pending_ports.subtract(ports)
                self._pending_networks.subtract(networks)
                self._pending_groups = +self._pending_groups  # drop zero counts
                self._pending_ports = +self._pending_ports
                self._pending_networks = +self._pending_networks
            hooks.kick()

    def provider_changed(self) -> None:
        """A verb unplugged vNICs: let the provider sync catch up now."""
        if self.provider is not None:
            self.provider.kick()

    def filtered_groups(self, nic: NicSpec) -> list[str]:
        """The groups the firewall must know before ``nic`` is plugged."""
        ext = nic.external
        if ext is None or self.firewall is None:
            return []
        driver = self.drivers.get(ext.plugin_type)
        if driver is None or not driver.filters_with_firewall:
            return []
        return list(ext.security_groups or [])

    def _follows(self, nic: NicSpec) -> bool:
        """Whether the firewall filters ``nic`` by its groups: the provider sync follows them."""
        ext = nic.external
        if ext is None or self.firewall is None:
            return False
        driver = self.drivers.get(ext.plugin_type)
        return driver is not None and driver.filters_with_firewall

    # -- reads -----------------------------------------------------------------------------
    def missing_groups(self, nics: Sequence[NicSpec]) -> set[str]:
        """Groups ``nics`` need that are not set on this host."""
        with self._lock:
            wanted = {g for nic in nics for g in self.filtered_groups(nic)}
            return wanted - set(self.state.security_groups)

    def provider_view(self) -> ProviderView:
        with self._lock:
            networks: dict[str, NetworkUse] = {}
            groups: set[str] = set()
            ports: set[str] = set()
            for vm in self.state.vms.values():
                for nic in sorted(vm.nics.values(), key=lambda n: n.slot):
                    ext = nic.spec.external
                    if ext is None:
                        continue
                    groups.update(self.filtered_groups(nic.applied_spec()))
                    if self._follows(nic.spec):
                        ports.add(ext.vnic_id)
                    driver = self.drivers.get(ext.plugin_type)
                    if nic.state != "plugged" or driver is None or not driver.carries_traffic:
                        continue
                    old = networks.get(ext.network_id)
                    kind = ext.network_type or ("vxlan" if ext.segmentation_id is not None else None)
                    underlay = driver.context.underlay_mtu
                    networks[ext.network_id] = NetworkUse(
                        network_id=ext.network_id,
                        plugin_type=old.plugin_type if old else ext.plugin_type,
                        network_type=old.network_type if old else ext.network_type,
                        segmentation_id=old.segmentation_id if old else ext.segmentation_id,
                        physical_network=old.physical_network if old else ext.physical_network,
                        tunnel_peers=tuple(sorted({*(old.tunnel_peers if old else ()), *ext.tunnel_peers})),
                        max_mtu=underlay - VXLAN_OVERHEAD if kind == "vxlan" else None,
                    )
            groups.update(self._pending_groups)
            ports.update(self._pending_ports)
            return ProviderView(
                host=self.identity.host_name,
                networks=networks,
                groups=frozenset(groups),
                ports=frozenset(ports),
                dhcp=dict(self.state.provider_dhcp),
                to_release=tuple(self.state.dhcp_ports_to_release),
            )

    # -- security groups -------------------------------------------------------------------
    def sync_security_groups(self, specs: dict[str, SecurityGroupSpec], *, drop_unused: bool) -> list[str]:
        """Set each group in ``specs`` whose rules or members differ from the host's, and with
        ``drop_unused`` forget the groups no vNIC here uses and no such group's rules refer to
        (those are in ``specs``). Returns the ids set or dropped; the firewall is applied once.
        Raises :class:`PlugFailed` (and changes nothing) when the firewall cannot be applied."""
        with self._lock:
            changed = {g: s for g, s in specs.items() if self.state.security_groups.get(g) != s}
            dropped: list[str] = []
            if drop_unused:
                keep = set(specs) | set(self._pending_groups)
                for vm in self.state.vms.values():
                    for nic in vm.nics.values():
                        keep.update(self.filtered_groups(nic.applied_spec()))
                dropped = sorted(set(self.state.security_groups) - keep)
            if not changed and not dropped:
                return []
            old = dict(self.state.security_groups)
            self.state.security_groups.update(changed)
            for group in dropped:
                del self.state.security_groups[group]
            if self.firewall is not None:
                self.firewall.groups = dict(self.state.security_groups)
                try:
                    if self.firewall.ports:
                        self.firewall.apply()
                except HostNetError as exc:
                    self.state.security_groups = old
                    self.firewall.groups = dict(old)
                    raise PlugFailed(
                        f"Cannot apply security groups {', '.join(sorted(changed))}: {exc}"
                    ) from exc
            self._save()
            return sorted([*changed, *dropped])

    # -- the ports' groups ------------------------------------------------------------------
    def follow_port_groups(self, groups: dict[str, list[str]]) -> list[str]:
        """The groups the provider now gives the ports of plugged vNICs (port id → groups; ``[]``
        for none or port security disabled): each filtered vNIC whose applied groups differ is
        re-plugged with them (its firewall rewritten; an ``open_vswitch`` one may change plug
        layout), and ``plugged.security_groups`` says so. A group not set here is left for the
        next round; a vNIC that cannot be re-plugged keeps its groups. Returns the nic ids changed."""
        changed: list[str] = []
        with self._lock:
            for vm, nic in list(self._plugged_nics()):
                ext = nic.spec.external
                if ext is None or ext.vnic_id not in groups or not self._follows(nic.spec):
                    continue
                wanted = sorted(set(groups[ext.vnic_id]))
                provider_groups = None if wanted == sorted(set(ext.security_groups or [])) else wanted
                if provider_groups == nic.provider_groups:
                    continue
                missing = sorted(set(wanted) - set(self.state.security_groups))
                if missing:
                    log.warning("vNIC %s: groups %s are not set yet", nic.spec.nic_id, ", ".join(missing))
                    continue
                old, nic.provider_groups = nic.provider_groups, provider_groups
                try:
                    self._plug(vm, nic)
                    self.backend.start(vm.current_spec(), self._attached(vm))
                except _HOST_ERRORS as exc:
                    log.error("cannot re-filter vNIC %s with groups %s: %s", nic.spec.nic_id, wanted, exc)
                    nic.provider_groups = old
                    try:
                        self._plug(vm, nic)
                    except _HOST_ERRORS as again:
                        log.error("vNIC %s: %s", nic.spec.nic_id, again)
                    continue
                log.info("vNIC %s now filtered with groups %s", nic.spec.nic_id, wanted)
                changed.append(nic.spec.nic_id)
            if changed:
                self._save()
        return changed

    # -- fixed IPs (anti-spoofing) -----------------------------------------------------------
    def known_port_addresses(self) -> set[str]:
        with self._lock:
            return set(self.state.port_addresses)

    def set_port_addresses(self, addresses: dict[str, list[str]], *, prune: bool = False) -> None:
        """Record the fixed IPs of provider ports (what their guests may send from); with
        ``prune``, forget those of ports no longer here."""
        with self._lock:
            new = dict(self.state.port_addresses)
            new.update({port: sorted(ips) for port, ips in addresses.items()})
            if prune:
                here = set(self._pending_ports)
                for vm in self.state.vms.values():
                    here.update(n.spec.external.vnic_id for n in vm.nics.values() if n.spec.external)
                new = {port: ips for port, ips in new.items() if port in here}
            if new == self.state.port_addresses:
                return
            self.state.port_addresses = new
            if self.firewall is not None:
                self.firewall.addresses = self._firewall_addresses()
                try:
                    if self.firewall.ports:
                        self.firewall.apply()
                except HostNetError as exc:
                    log.error("cannot apply the ports' addresses: %s", exc)
            self._save()

    def _firewall_addresses(self) -> dict[str, tuple[str, ...]]:
        return {tap_name(port): tuple(ips) for port, ips in self.state.port_addresses.items()}

    # -- router advertisement sources --------------------------------------------------------
    def known_ra_networks(self) -> set[str]:
        with self._lock:
            return set(self.state.ra_sources)

    def set_ra_sources(self, sources: dict[str, list[str]], *, prune: bool = False) -> None:
        """Record the link-local addresses router advertisements on provider networks may come
        from (network id → addresses); with ``prune``, forget networks no vNIC here uses."""
        with self._lock:
            new = dict(self.state.ra_sources)
            new.update({network: sorted(set(found)) for network, found in sources.items()})
            if prune:
                here = set(self._pending_networks)
                for vm in self.state.vms.values():
                    here.update(n.spec.external.network_id for n in vm.nics.values() if n.spec.external)
                new = {network: found for network, found in new.items() if network in here}
            self._set_ra_sources(new)

    def add_ra_source(self, network_id: str, address: str) -> None:
        """Router advertisements on the network may come from ``address`` too (e.g. this host's
        DHCP server, about to start)."""
        with self._lock:
            found = self.state.ra_sources.get(network_id, [])
            if address not in found:
                self._set_ra_sources({**self.state.ra_sources, network_id: sorted([*found, address])})

    def _set_ra_sources(self, new: dict[str, list[str]]) -> None:
        if new == self.state.ra_sources:
            return
        self.state.ra_sources = new
        if self.firewall is not None:
            self.firewall.ra_sources = self._firewall_ra_sources()
            try:
                if self.firewall.ports:
                    self.firewall.apply()
            except HostNetError as exc:
                log.error("cannot apply the router advertisement sources: %s", exc)
        self._save()

    def _firewall_ra_sources(self) -> dict[str, tuple[str, ...]]:
        return {network: tuple(found) for network, found in self.state.ra_sources.items()}

    # -- DHCP for the provider ---------------------------------------------------------------
    def serve_provider_dhcp(self, spec: DhcpSpec, port_id: str) -> bool:
        """Serve DHCP on a network for the provider sync, from the provider's DHCP port
        ``port_id``; False when no plugged vNIC uses the network any more (nothing done).
        Unchanged: only checks the server still runs. Raises :class:`PlugFailed`."""
        with self._lock:
            network_id = spec.network_id
            plugged = any(
                nic.spec.external is not None and nic.spec.external.network_id == network_id
                for _, nic in self._plugged_nics()
            )
            if not plugged:
                return False
            if network_id in self.state.dhcp_ports_to_release:
                self.state.dhcp_ports_to_release.remove(network_id)
            if (
                self.state.dhcp.get(network_id) == spec
                and self.state.provider_dhcp.get(network_id) == port_id
            ):
                assert self.dhcp is not None
                try:
                    self.dhcp.ensure_server(spec)
                except HostNetError as exc:
                    raise PlugFailed(f"Cannot serve DHCP on network {network_id}: {exc}") from exc
                return True
            self.setup_dhcp(spec)
            self.state.provider_dhcp[network_id] = port_id
            self._save()
            return True

    def stop_provider_dhcp(self, network_id: str) -> None:
        """Stop serving DHCP on a network for the provider; its DHCP port is to be released."""
        with self._lock:
            if network_id in self.state.dhcp:
                try:
                    self.teardown_dhcp(network_id)
                except UnplugFailed as exc:
                    log.error("%s (retried at the next sync)", exc)
                    return
            self.state.provider_dhcp.pop(network_id, None)
            if network_id not in self.state.dhcp_ports_to_release:
                self.state.dhcp_ports_to_release.append(network_id)
            self._save()

    def dhcp_port_released(self, network_id: str) -> None:
        """The provider no longer has this host's DHCP port on the network."""
        with self._lock:
            if network_id in self.state.dhcp_ports_to_release:
                self.state.dhcp_ports_to_release.remove(network_id)
                self._save()
