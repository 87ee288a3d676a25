"""The agent's verbs for network services on provider networks — DHCP servers, security groups —
and the provider's view of the host (reports, learned peers); mixed into
:class:`neutrino.agent.service.Agent`, whose lock and state they share."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from neutrino.agent.datapath.dhcp import DhcpServers, dhcp_device
from neutrino.agent.datapath.firewall import Firewall
from neutrino.agent.datapath.hostnet import HostNetError
from neutrino.agent.errors import (
    DhcpNotFound,
    NoDriverForPluginType,
    PlugFailed,
    SecurityGroupInUse,
    SecurityGroupNotFound,
    UnplugFailed,
)
from neutrino.agent.state import AgentState, StoredNic, StoredVm
from neutrino.agent.vm.base import VmBackendError
from neutrino.agent.vnic.base import Vif, VnicDriver, VnicDriverError
from neutrino.agent_api.schema import DhcpSpec, NicSpec, SecurityGroupSpec

_HOST_ERRORS = (VnicDriverError, VmBackendError, HostNetError)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HostIdentity:
    """Who this host is to the engine and to the network provider."""

    host_name: str
    binding_host_ids: dict[str, str]  # plugin type -> binding:host_id; default host_name
    tunnel_ip: str | None = None


def _groups_of(nic: NicSpec) -> list[str]:
    return list(nic.external.security_groups or []) if nic.external is not None else []


class NetworkServices:
    """DHCP and security group verbs."""

    _lock: threading.RLock
    state: AgentState
    drivers: dict[str, VnicDriver]
    dhcp: DhcpServers | None
    firewall: Firewall | None

    identity: HostIdentity
    _down: dict[str, str]

    def _save(self) -> None:
        raise NotImplementedError

    def _plug(self, vm: StoredVm, nic: StoredNic) -> None:
        raise NotImplementedError

    def _plugged_nics(self) -> Iterator[tuple[StoredVm, StoredNic]]:
        raise NotImplementedError

    def _external_in_use(self, network_id: str, but: StoredNic | None = None) -> bool:
        raise NotImplementedError

    # -- DHCP ------------------------------------------------------------------------------
    def setup_dhcp(self, spec: DhcpSpec) -> tuple[DhcpSpec, bool]:
        """Serve DHCP (static leases) on a provider network from this host; returns the
        request as stored and whether it is new. Safe to repeat with changed leases."""
        with self._lock:
            if self.dhcp is None:
                raise PlugFailed("this agent serves no DHCP")
            driver = self.drivers.get(spec.plugin_type)
            if driver is None:
                raise NoDriverForPluginType(f"dhcp-{spec.network_id}", spec.plugin_type)
            old = self.state.dhcp.get(spec.network_id)
            try:
                self._plug_dhcp(spec)
            except _HOST_ERRORS as exc:
                if old is None:
                    self._unplug_dhcp(spec)
                raise PlugFailed(f"Cannot serve DHCP on network {spec.network_id}: {exc}") from exc
            self.state.dhcp[spec.network_id] = spec
            self._save()
            return spec, old is None

    def teardown_dhcp(self, network_id: str) -> None:
        """Stop serving DHCP on the network; its devices go when no vNIC uses it either."""
        with self._lock:
            spec = self.state.dhcp.get(network_id)
            if spec is None:
                raise DhcpNotFound(network_id)
            del self.state.dhcp[network_id]
            try:
                self._unplug_dhcp(spec)
            except _HOST_ERRORS as exc:
                self.state.dhcp[network_id] = spec
                raise UnplugFailed(f"Cannot stop DHCP on network {network_id}: {exc}") from exc
            finally:
                self._save()

    def list_dhcp(self) -> list[DhcpSpec]:
        with self._lock:
            return [spec for _, spec in sorted(self.state.dhcp.items())]

    def _dhcp_vif(self, spec: DhcpSpec, device: str) -> Vif:
        return Vif(
            nic_id=f"dhcp-{spec.network_id}",
            mac=spec.server_mac or "",
            mtu=spec.mtu,
            device=device,
            net=spec.external(),
        )

    def _plug_dhcp(self, spec: DhcpSpec) -> None:
        assert self.dhcp is not None
        device = self.dhcp.ensure_port(spec)
        self.drivers[spec.plugin_type].plug(self._dhcp_vif(spec, device))
        self.dhcp.ensure_server(spec)

    def _unplug_dhcp(self, spec: DhcpSpec) -> None:
        assert self.dhcp is not None
        driver = self.drivers.get(spec.plugin_type)
        self.dhcp.delete(spec.network_id)
        if driver is not None:
            in_use = self._external_in_use(spec.network_id)
            driver.unplug(self._dhcp_vif(spec, dhcp_device(spec.network_id)), network_in_use=in_use)

    # -- security groups ------------------------------------------------------------------
    def set_security_group(self, group_id: str, spec: SecurityGroupSpec) -> tuple[SecurityGroupSpec, bool]:
        """Store a group's rules and members and re-apply the firewall of ports using them;
        returns the group and whether it is new."""
        with self._lock:
            old = self.state.security_groups.get(group_id)
            self.state.security_groups[group_id] = spec
            if self.firewall is not None:
                self.firewall.groups = dict(self.state.security_groups)
                try:
                    if self.firewall.ports:
                        self.firewall.apply()
                except HostNetError as exc:
                    if old is None:
                        del self.state.security_groups[group_id]
                    else:
                        self.state.security_groups[group_id] = old
                    self.firewall.groups = dict(self.state.security_groups)
                    raise PlugFailed(f"Cannot apply security group {group_id}: {exc}") from exc
            self._save()
            return spec, old is None

    def delete_security_group(self, group_id: str) -> None:
        """Forget a group no plugged vNIC uses."""
        with self._lock:
            if group_id not in self.state.security_groups:
                raise SecurityGroupNotFound(group_id)
            users = sorted(
                nic.spec.nic_id
                for _, nic in self._plugged_nics()
                if group_id in _groups_of(nic.applied_spec())
            )
            if users:
                raise SecurityGroupInUse(f"security group {group_id} is used by vNICs {', '.join(users)}")
            del self.state.security_groups[group_id]
            if self.firewall is not None:
                self.firewall.groups = dict(self.state.security_groups)
            self._save()

    def list_security_groups(self) -> dict[str, SecurityGroupSpec]:
        with self._lock:
            return dict(sorted(self.state.security_groups.items()))

    # -- the provider's view ---------------------------------------------------------------
    def provider_reports(self) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """One agent report per plugin type (``POST /v2.0/agent-reports`` bodies without
        ``agent_type``) and the unplugged port ids they mark DOWN. The DHCP ports of the servers
        run for the provider sync are reported ACTIVE too."""
        with self._lock:
            reports: dict[str, dict[str, Any]] = {}
            for plugin_type, driver in sorted(self.drivers.items()):
                info = driver.describe()
                configurations: dict[str, Any] = {
                    "driver": info.name,
                    "network_types": list(info.network_types),
                    "security_groups": info.security_groups,
                    "devices": 0,
                }
                if self.identity.tunnel_ip:
                    configurations["tunneling_ip"] = self.identity.tunnel_ip
                    if "vxlan" in info.network_types:
                        configurations["tunnel_types"] = ["vxlan"]
                mappings = driver.context.physical_interfaces
                if mappings:
                    configurations["interface_mappings"] = dict(mappings)
                reports[plugin_type] = {
                    "host": self.identity.binding_host_ids.get(plugin_type, self.identity.host_name),
                    "binary": "neutrino-agent",
                    "configurations": configurations,
                    "ports": [],
                }
            for _, vm in sorted(self.state.vms.items()):
                for nic in vm.nics.values():
                    ext = nic.spec.external
                    if ext is None or ext.plugin_type not in reports:
                        continue
                    report = reports[ext.plugin_type]
                    status = {"plugged": "ACTIVE", "failed": "ERROR"}.get(nic.state, "DOWN")
                    report["ports"].append({"id": ext.vnic_id, "status": status})
                    report["configurations"]["devices"] += nic.state == "plugged"
            for network_id, port_id in sorted(self.state.provider_dhcp.items()):
                served = self.state.dhcp.get(network_id)
                if served is not None and served.plugin_type in reports:
                    reports[served.plugin_type]["ports"].append({"id": port_id, "status": "ACTIVE"})
            down = []
            for port_id, plugin_type in sorted(self._down.items()):
                if plugin_type in reports:
                    reports[plugin_type]["ports"].append({"id": port_id, "status": "DOWN"})
                    down.append(port_id)
            return reports, down

    def confirm_reported_down(self, port_ids: list[str]) -> None:
        """The provider knows these ports are down."""
        with self._lock:
            for port_id in port_ids:
                self._down.pop(port_id, None)

    def set_learned_peers(self, peers: set[str]) -> None:
        """Other hosts' tunnel addresses as the provider knows them; vNICs are re-plugged (a
        no-op but for new flood entries) when the set grew."""
        with self._lock:
            contexts = {id(d.context): d.context for d in self.drivers.values()}
            grew = False
            for ctx in contexts.values():
                if not peers <= ctx.learned_peers:
                    grew = True
                ctx.learned_peers.clear()
                ctx.learned_peers.update(peers)
            if not grew:
                return
            for spec in self.state.dhcp.values():
                try:
                    self._plug_dhcp(spec)
                except _HOST_ERRORS as exc:
                    log.error("re-plug DHCP of network %s for new peers: %s", spec.network_id, exc)
            for vm, nic in list(self._plugged_nics()):
                if nic.spec.external is not None:
                    try:
                        self._plug(vm, nic)
                    except _HOST_ERRORS as exc:
                        log.error("re-plug vNIC %s for new peers: %s", nic.spec.nic_id, exc)
            self._save()
