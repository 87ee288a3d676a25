"""The agent's DHCP part: one ``dnsmasq`` per provider network served from this host
(:class:`~neutrino.agent.datapath.dhcp.DhcpServers`), its port plugged into the network by the
plugin type's vNIC driver like a vNIC.

Servers are set up by the API's ``/dhcp`` verbs, or by the provider follower for the provider's
networks with vNICs here (those it also remembers the provider's DHCP port of).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from neutrino.agent.datapath.dhcp import DhcpServers, dhcp_device
from neutrino.agent.datapath.hostnet import HostNetError
from neutrino.agent.errors import DhcpNotFound, NoDriverForPluginType, PlugFailed, UnplugFailed
from neutrino.agent.state import HostStore
from neutrino.agent.vm.base import VmBackendError
from neutrino.agent.vnic.base import Vif, VnicDriver, VnicDriverError
from neutrino.agent_api.schema import DhcpSpec

log = logging.getLogger(__name__)

_HOST_ERRORS = (VnicDriverError, VmBackendError, HostNetError)


class DhcpService:
    """The DHCP servers this host runs."""

    def __init__(
        self, store: HostStore, drivers: Mapping[str, VnicDriver], servers: DhcpServers | None
    ) -> None:
        self.store = store
        self.drivers = drivers
        self.servers = servers  # None: this agent serves no DHCP

    # -- the API's verbs ----------------------------------------------------------------------
    def setup_dhcp(self, spec: DhcpSpec) -> tuple[DhcpSpec, bool]:
        """Serve DHCP (static leases) on a provider network from this host; returns the
        request as stored and whether it is new. Safe to repeat with changed leases."""
        with self.store.lock:
            if self.servers is None:
                raise PlugFailed("this agent serves no DHCP")
            driver = self.drivers.get(spec.plugin_type)
            if driver is None:
                raise NoDriverForPluginType(f"dhcp-{spec.network_id}", spec.plugin_type)
            old = self.store.state.dhcp.get(spec.network_id)
            try:
                self._plug(spec)
            except _HOST_ERRORS as exc:
                if old is None:
                    self._unplug(spec)
                raise PlugFailed(f"Cannot serve DHCP on network {spec.network_id}: {exc}") from exc
            self.store.state.dhcp[spec.network_id] = spec
            self.store.save()
            return spec, old is None

    def teardown_dhcp(self, network_id: str) -> None:
        """Stop serving DHCP on the network; its devices go when no vNIC uses it either."""
        with self.store.lock:
            state = self.store.state
            spec = state.dhcp.get(network_id)
            if spec is None:
                raise DhcpNotFound(network_id)
            del state.dhcp[network_id]
            try:
                self._unplug(spec)
            except _HOST_ERRORS as exc:
                state.dhcp[network_id] = spec
                raise UnplugFailed(f"Cannot stop DHCP on network {network_id}: {exc}") from exc
            finally:
                self.store.save()

    def list_dhcp(self) -> list[DhcpSpec]:
        with self.store.lock:
            return [spec for _, spec in sorted(self.store.state.dhcp.items())]

    def replug(self, why: str) -> None:
        """Plug every server again (idempotent: after a restart, or for new tunnel peers); a
        server that cannot be plugged is logged."""
        with self.store.lock:
            for spec in self.store.state.dhcp.values():
                try:
                    self._plug(spec)
                except _HOST_ERRORS as exc:
                    log.error("%s: DHCP of network %s: %s", why, spec.network_id, exc)

    # -- for the provider follower --------------------------------------------------------------
    def serve_provider_dhcp(self, spec: DhcpSpec, port_id: str) -> bool:
        """Serve DHCP on a network for the provider follower, from the provider's DHCP port
        ``port_id``; False when no plugged vNIC uses the network any more (nothing done).
        Unchanged: only checks the server still runs. Raises :class:`PlugFailed`."""
        with self.store.lock:
            state = self.store.state
            network_id = spec.network_id
            plugged = any(
                nic.spec.external is not None and nic.spec.external.network_id == network_id
                for _, nic in state.plugged_nics()
            )
            if not plugged:
                return False
            if network_id in state.dhcp_ports_to_release:
                state.dhcp_ports_to_release.remove(network_id)
            if state.dhcp.get(network_id) == spec and state.provider_dhcp.get(network_id) == port_id:
                assert self.servers is not None
                try:
                    self.servers.ensure_server(spec)
                except HostNetError as exc:
                    raise PlugFailed(f"Cannot serve DHCP on network {network_id}: {exc}") from exc
                return True
            self.setup_dhcp(spec)
            state.provider_dhcp[network_id] = port_id
            self.store.save()
            return True

    def stop_provider_dhcp(self, network_id: str) -> None:
        """Stop serving DHCP on a network for the provider; its DHCP port is to be released."""
        with self.store.lock:
            state = self.store.state
            if network_id in state.dhcp:
                try:
                    self.teardown_dhcp(network_id)
                except UnplugFailed as exc:
                    log.error("%s (retried at the next sync)", exc)
                    return
            state.provider_dhcp.pop(network_id, None)
            if network_id not in state.dhcp_ports_to_release:
                state.dhcp_ports_to_release.append(network_id)
            self.store.save()

    def dhcp_port_released(self, network_id: str) -> None:
        """The provider no longer has this host's DHCP port on the network."""
        with self.store.lock:
            if network_id in self.store.state.dhcp_ports_to_release:
                self.store.state.dhcp_ports_to_release.remove(network_id)
                self.store.save()

    def provider_spec(self, network_id: str) -> tuple[DhcpSpec, str] | None:
        """The server this host runs on a network for the provider and its DHCP port id, or None."""
        with self.store.lock:
            port_id = self.store.state.provider_dhcp.get(network_id)
            spec = self.store.state.dhcp.get(network_id)
            return (spec, port_id) if spec is not None and port_id is not None else None

    def provider_served(self) -> dict[str, str]:
        """Networks served for the provider → this host's DHCP port id there."""
        with self.store.lock:
            return dict(self.store.state.provider_dhcp)

    def ports_to_release(self) -> tuple[str, ...]:
        """Networks whose DHCP port this host still has to delete on the provider."""
        with self.store.lock:
            return tuple(self.store.state.dhcp_ports_to_release)

    # -- the host --------------------------------------------------------------------------------
    def _vif(self, spec: DhcpSpec, device: str) -> Vif:
        return Vif(
            nic_id=f"dhcp-{spec.network_id}",
            mac=spec.server_mac or "",
            mtu=spec.mtu,
            device=device,
            net=spec.external(),
        )

    def _plug(self, spec: DhcpSpec) -> None:
        assert self.servers is not None
        device = self.servers.ensure_port(spec)
        self.drivers[spec.plugin_type].plug(self._vif(spec, device))
        self.servers.ensure_server(spec)

    def _unplug(self, spec: DhcpSpec) -> None:
        assert self.servers is not None
        driver = self.drivers.get(spec.plugin_type)
        self.servers.delete(spec.network_id)
        if driver is not None:
            in_use = self.store.state.external_in_use(spec.network_id)
            driver.unplug(self._vif(spec, dhcp_device(spec.network_id)), network_in_use=in_use)
