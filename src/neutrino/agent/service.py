"""The agent's verbs (VDSM's role): capabilities, VMs and their vNICs, internal networks.

One :class:`Agent` per process. Verbs are serialized by one lock; each verb changes the host
through the VM backend and the vNIC drivers, then saves the state file. A failed create-VM or
hot-plug undoes what it did before raising, so the host is as it was.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

from neutrino.agent.datapath import linux_net
from neutrino.agent.datapath.dhcp import DhcpServers
from neutrino.agent.datapath.firewall import Firewall
from neutrino.agent.datapath.hostnet import HostNet, HostNetError
from neutrino.agent.errors import (
    NetworkInUse,
    NetworkNotCarried,
    NetworkNotFound,
    NicExists,
    NicNotFound,
    NoDriverForPluginType,
    PlugFailed,
    SecurityGroupNotSet,
    UnplugFailed,
    VmExists,
    VmNotFound,
)
from neutrino.agent.network_services import HostIdentity
from neutrino.agent.provider_services import ProviderServices
from neutrino.agent.state import AgentState, StateFile, StoredNic, StoredVm
from neutrino.agent.vm.base import AttachedNic, VmBackend, VmBackendError
from neutrino.agent.vnic.base import Vif, VnicDriver, VnicDriverError
from neutrino.agent_api.schema import (
    NetworkSpec,
    NetworkState,
    NicSpec,
    NicState,
    Plugged,
    VmSpec,
    VmState,
)

log = logging.getLogger(__name__)

_HOST_ERRORS = (VnicDriverError, VmBackendError, HostNetError)


class Agent(ProviderServices):
    """The host agent's verbs over one VM backend and a set of vNIC drivers (with a provider
    sync in :attr:`provider`, the verbs that plug vNICs let it fetch what they need first)."""

    def __init__(
        self,
        identity: HostIdentity,
        host_net: HostNet,
        backend: VmBackend,
        drivers: dict[str, VnicDriver],
        state_file: StateFile,
        dhcp: DhcpServers | None = None,
        firewall: Firewall | None = None,
    ) -> None:
        self.identity = identity
        self.host_net = host_net
        self.backend = backend
        self.drivers = drivers
        self.state_file = state_file
        self.dhcp = dhcp
        self.firewall = firewall
        self.state: AgentState = state_file.load()
        self._lock = threading.RLock()
        self._down: dict[str, str] = {}  # port id -> plugin type, unplugged since the last report
        if firewall is not None:
            firewall.groups = dict(self.state.security_groups)
        self._init_provider_services()

    # -- reports ---------------------------------------------------------------------------
    def capabilities(self) -> dict[str, Any]:
        """The capabilities report (see :mod:`neutrino.agent_api`)."""
        with self._lock:
            drivers = {d.name: d.describe() for d in self.drivers.values()}
            plugin_types = {}
            for plugin_type, driver in sorted(self.drivers.items()):
                info = drivers[driver.name]
                plugin_types[plugin_type] = {
                    "driver": driver.name,
                    "binding_host_id": self.identity.binding_host_ids.get(
                        plugin_type, self.identity.host_name
                    ),
                    "network_types": list(info.network_types),
                    "security_groups": info.security_groups,
                }
            external: dict[str, dict[str, Any]] = {}
            for _, nic in self._plugged_nics():
                ext = nic.spec.external
                if ext is None:
                    continue
                entry = external.setdefault(
                    ext.network_id,
                    {
                        "network_id": ext.network_id,
                        "plugin_type": ext.plugin_type,
                        "network_type": ext.network_type,
                        "segmentation_id": ext.segmentation_id,
                        "vnics": 0,
                    },
                )
                entry["vnics"] += 1
            return {
                "host_name": self.identity.host_name,
                "tunnel_ip": self.identity.tunnel_ip,
                "vm_backend": self.backend.describe(),
                "vnic_drivers": {name: info.as_json() for name, info in sorted(drivers.items())},
                "plugin_types": plugin_types,
                "networks": {
                    "internal": [n.model_dump() for _, n in sorted(self.state.networks.items())],
                    "external": [external[k] for k in sorted(external)],
                    "dhcp": sorted(self.state.dhcp),
                },
                "security_groups": sorted(self.state.security_groups),
            }

    def list_vms(self) -> list[VmState]:
        with self._lock:
            return [self._vm_state(vm) for _, vm in sorted(self.state.vms.items())]

    def get_vm(self, vm_id: str) -> VmState:
        with self._lock:
            return self._vm_state(self._vm(vm_id))

    def _vm_state(self, vm: StoredVm) -> VmState:
        nics = [
            NicState(spec=n.spec, state=n.state, plugged=n.plugged, error=n.error)
            for n in sorted(vm.nics.values(), key=lambda n: n.slot)
        ]
        up = all(n.state == "plugged" for n in nics)
        return VmState(
            vm_id=vm.spec.vm_id,
            name=vm.spec.name,
            status="Up" if up else "Down",
            backend=self.backend.name,
            memory_mb=vm.spec.memory_mb,
            vcpus=vm.spec.vcpus,
            nics=nics,
        )

    # -- VMs -------------------------------------------------------------------------------
    def create_vm(self, spec: VmSpec) -> tuple[VmState, bool]:
        """Run ``spec`` here; returns the VM and whether it was created (False: it already ran
        with this very definition). Raises :class:`VmExists` for another definition."""
        with self.provider_prepared(spec.nics):
            return self._create_vm(spec)

    def _create_vm(self, spec: VmSpec) -> tuple[VmState, bool]:
        with self._lock:
            existing = self.state.vms.get(spec.vm_id)
            if existing is not None:
                if existing.spec == spec:
                    return self._vm_state(existing), False
                raise VmExists(spec.vm_id)
            for nic in spec.nics:
                self._check_plugable(nic)
            vm = StoredVm(spec=spec)
            self.state.vms[spec.vm_id] = vm  # so undo sees this VM's NICs as users of their networks
            try:
                self.backend.create(spec)
                for slot, nic in enumerate(spec.nics):
                    stored = StoredNic(spec=self._resolve(nic), slot=slot)
                    vm.nics[nic.nic_id] = stored
                    self._plug(vm, stored)
                self.backend.start(vm.current_spec(), self._attached(vm))
            except _HOST_ERRORS as exc:
                failed = next((n for n in vm.nics.values() if n.state != "plugged"), None)
                self._undo(vm)
                del self.state.vms[spec.vm_id]
                what = f"vNIC {failed.spec.name} ({failed.spec.nic_id})" if failed else f"VM {spec.vm_id}"
                raise PlugFailed(f"Cannot run VM {spec.name}: {what}: {exc}") from exc
            self._save()
            return self._vm_state(vm), True

    def destroy_vm(self, vm_id: str) -> list[str]:
        """Stop the VM and unplug its vNICs; returns warnings for parts that could not be undone
        (the VM is forgotten regardless)."""
        with self._lock:
            vm = self._vm(vm_id)
            warnings = self._undo(vm)
            del self.state.vms[vm_id]
            self._save()
        self.provider_changed()
        return warnings

    def _undo(self, vm: StoredVm) -> list[str]:
        warnings = []
        for nic in sorted(vm.nics.values(), key=lambda n: n.slot, reverse=True):
            try:
                self._unplug(vm, nic)
            except _HOST_ERRORS as exc:
                warnings.append(f"vNIC {nic.spec.name} ({nic.spec.nic_id}): {exc}")
        try:
            self.backend.destroy(vm.current_spec())
        except _HOST_ERRORS as exc:
            warnings.append(f"VM {vm.spec.vm_id}: {exc}")
        for warning in warnings:
            log.warning("undo: %s", warning)
        return warnings

    # -- hot plug --------------------------------------------------------------------------
    def plug_nic(self, vm_id: str, spec: NicSpec) -> tuple[NicState, bool]:
        """Hot-plug ``spec`` into the VM; returns the NIC and whether it was added (False: it was
        already there with this very definition)."""
        with self.provider_prepared([spec]):
            return self._plug_nic(vm_id, spec)

    def _plug_nic(self, vm_id: str, spec: NicSpec) -> tuple[NicState, bool]:
        with self._lock:
            vm = self._vm(vm_id)
            self._check_plugable(spec)
            spec = self._resolve(spec)
            current = vm.nics.get(spec.nic_id)
            if current is not None:
                if current.spec == spec:
                    return self._nic_state(current), False
                raise NicExists(f"VM {vm_id} already has nic {spec.nic_id} with another definition")
            for other in vm.nics.values():
                if other.spec.mac == spec.mac or other.spec.device_id == spec.device_id:
                    raise NicExists(
                        f"VM {vm_id} already has a nic with MAC {spec.mac} or port {spec.device_id}"
                    )
            self._check_plugable(spec)
            used = {n.slot for n in vm.nics.values()}
            stored = StoredNic(spec=spec, slot=min(set(range(len(used) + 1)) - used))
            vm.nics[spec.nic_id] = stored
            try:
                self._plug(vm, stored)
                self.backend.start(vm.current_spec(), self._attached(vm))
            except _HOST_ERRORS as exc:
                del vm.nics[spec.nic_id]
                try:
                    self._unplug(vm, stored)
                except _HOST_ERRORS as undo_exc:
                    log.warning("undo hot-plug of %s: %s", spec.nic_id, undo_exc)
                raise PlugFailed(
                    f"Cannot plug vNIC {spec.name} ({spec.nic_id}) into VM {vm.spec.name}: {exc}"
                ) from exc
            self._save()
            return self._nic_state(stored), True

    def unplug_nic(self, vm_id: str, nic_id: str) -> None:
        """Hot-unplug a NIC; the NIC is forgotten only when the host let go of it."""
        with self._lock:
            vm = self._vm(vm_id)
            nic = vm.nics.get(nic_id)
            if nic is None:
                raise NicNotFound(vm_id, nic_id)
            try:
                self._unplug(vm, nic)
            except _HOST_ERRORS as exc:
                self._save()
                raise UnplugFailed(f"Cannot unplug vNIC {nic.spec.name} ({nic_id}): {exc}") from exc
            del vm.nics[nic_id]
            try:
                self.backend.start(vm.current_spec(), self._attached(vm))
            finally:
                self._save()
        self.provider_changed()

    # -- internal networks -----------------------------------------------------------------
    def setup_network(self, name: str, spec: NetworkSpec) -> tuple[NetworkState, bool]:
        """Ensure the local bridge of an internal network; returns it and whether it is new."""
        with self._lock:
            net = NetworkState(network=name, bridge=spec.bridge or name, mtu=spec.mtu)
            old = self.state.networks.get(name)
            if old is not None and old.bridge != net.bridge and self._network_users(name):
                raise NetworkInUse(f"network {name}: bridge {old.bridge} is used by running vNICs")
            try:
                linux_net.ensure_bridge(self.host_net, net.bridge, net.mtu)
                if old is not None and old.bridge != net.bridge:
                    linux_net.delete_link(self.host_net, old.bridge)
            except HostNetError as exc:
                raise PlugFailed(f"Cannot set up network {name}: {exc}") from exc
            self.state.networks[name] = net
            self._save()
            return net, old is None

    def teardown_network(self, name: str) -> None:
        """Remove the local bridge of an internal network no running vNIC uses."""
        with self._lock:
            net = self.state.networks.get(name)
            if net is None:
                raise NetworkNotFound(name)
            users = self._network_users(name)
            if users:
                raise NetworkInUse(f"network {name} is used by vNICs {', '.join(users)}")
            try:
                linux_net.delete_link(self.host_net, net.bridge)
            except HostNetError as exc:
                raise UnplugFailed(f"Cannot tear down network {name}: {exc}") from exc
            del self.state.networks[name]
            self._save()

    def sync_networks(self, wanted: list[NetworkState]) -> dict[str, list[str]]:
        """Carry exactly ``wanted``: set up each, tear down the others no vNIC uses. Returns
        ``{"removed": [...], "in_use": [...]}`` (networks kept because vNICs still use them)."""
        with self._lock:
            for net in wanted:
                self.setup_network(net.network, NetworkSpec(bridge=net.bridge, mtu=net.mtu))
            names = {n.network for n in wanted}
            removed, in_use = [], []
            for name in sorted(set(self.state.networks) - names):
                if self._network_users(name):
                    in_use.append(name)
                    continue
                self.teardown_network(name)
                removed.append(name)
            return {"removed": removed, "in_use": in_use}

    def list_networks(self) -> list[NetworkState]:
        with self._lock:
            return [n for _, n in sorted(self.state.networks.items())]

    # -- restart ---------------------------------------------------------------------------
    def recover(self) -> None:
        """Replay the saved state onto the host (idempotent): internal bridges, DHCP servers,
        VMs, plugs.

        A NIC that cannot be plugged is reported ``failed`` with the cause; nothing is raised.
        """
        with self._lock:
            try:
                with self.firewall.batch() if self.firewall else contextlib.nullcontext():
                    self._replay()
            except HostNetError as exc:
                log.error("recover security groups: %s", exc)
            self._save()

    def _replay(self) -> None:
        for net in self.state.networks.values():
            try:
                linux_net.ensure_bridge(self.host_net, net.bridge, net.mtu)
            except HostNetError as exc:
                log.error("recover network %s: %s", net.network, exc)
        for spec in self.state.dhcp.values():
            try:
                self._plug_dhcp(spec)
            except _HOST_ERRORS as exc:
                log.error("recover DHCP of network %s: %s", spec.network_id, exc)
        for vm in self.state.vms.values():
            try:
                self.backend.create(vm.current_spec())
            except _HOST_ERRORS as exc:
                log.error("recover VM %s: %s", vm.spec.vm_id, exc)
                for nic in vm.nics.values():
                    nic.state, nic.error = "failed", str(exc)
                continue
            for nic in sorted(vm.nics.values(), key=lambda n: n.slot):
                try:
                    self._plug(vm, nic)
                except _HOST_ERRORS as exc:
                    log.error("recover vNIC %s of VM %s: %s", nic.spec.nic_id, vm.spec.vm_id, exc)
            try:
                self.backend.start(vm.current_spec(), self._attached(vm))
            except _HOST_ERRORS as exc:
                log.error("recover VM %s: %s", vm.spec.vm_id, exc)

    # -- helpers ---------------------------------------------------------------------------
    def _vm(self, vm_id: str) -> StoredVm:
        vm = self.state.vms.get(vm_id)
        if vm is None:
            raise VmNotFound(vm_id)
        return vm

    def _nic_state(self, nic: StoredNic) -> NicState:
        return NicState(spec=nic.spec, state=nic.state, plugged=nic.plugged, error=nic.error)

    def _attached(self, vm: StoredVm) -> list[AttachedNic]:
        return [AttachedNic(n.applied_spec(), n.slot) for n in sorted(vm.nics.values(), key=lambda n: n.slot)]

    def _plugged_nics(self) -> Iterator[tuple[StoredVm, StoredNic]]:
        for vm in self.state.vms.values():
            for nic in vm.nics.values():
                if nic.state == "plugged":
                    yield vm, nic

    def _network_users(self, network: str) -> list[str]:
        return sorted(
            nic.spec.nic_id
            for _, nic in self._plugged_nics()
            if nic.spec.internal is not None and nic.spec.internal.network == network
        )

    def _check_plugable(self, nic: NicSpec) -> None:
        if nic.external is not None:
            driver = self.drivers.get(nic.external.plugin_type)
            if driver is None:
                raise NoDriverForPluginType(nic.name, nic.external.plugin_type)
            if self.firewall is not None and driver.filters_with_firewall:
                for group in nic.external.security_groups or []:
                    if group not in self.state.security_groups:
                        raise SecurityGroupNotSet(nic.name, group)
        else:
            assert nic.internal is not None
            net = self.state.networks.get(nic.internal.network)
            if net is None:
                raise NetworkNotCarried(nic.name, nic.internal.network)
            if nic.internal.bridge not in (None, net.bridge):
                raise NetworkNotCarried(nic.name, f"{nic.internal.network} on bridge {nic.internal.bridge}")

    def _resolve(self, nic: NicSpec) -> NicSpec:
        """``nic`` with its internal network's bridge filled in from this host's networks."""
        if nic.internal is None or nic.internal.bridge is not None:
            return nic
        net = self.state.networks.get(nic.internal.network)
        if net is None:
            return nic
        return nic.model_copy(update={"internal": nic.internal.model_copy(update={"bridge": net.bridge})})

    def _vif(self, nic: StoredNic) -> Vif:
        spec = nic.applied_spec()
        assert spec.external is not None
        return Vif(
            nic_id=spec.nic_id,
            mac=spec.mac,
            mtu=spec.mtu,
            device=linux_net.tap_name(spec.device_id),
            net=spec.external,
        )

    def _plug(self, vm: StoredVm, nic: StoredNic) -> None:
        """Attach and plug one NIC, recording the outcome on ``nic`` (also when raising)."""
        attached = AttachedNic(nic.applied_spec(), nic.slot)
        try:
            self.backend.attach(vm.current_spec(), attached)
            if nic.spec.external is not None:
                driver = self.drivers.get(nic.spec.external.plugin_type)
                if driver is None:
                    raise VnicDriverError(f"no vNIC driver for plugin type {nic.spec.external.plugin_type}")
                nic.plugged = driver.plug(self._vif(nic))
            else:
                nic.plugged = self._plug_internal(nic, attached)
        except _HOST_ERRORS as exc:
            nic.state, nic.error = "failed", str(exc)
            raise
        nic.state, nic.error = "plugged", None

    def _plug_internal(self, nic: StoredNic, attached: AttachedNic) -> Plugged:
        assert nic.spec.internal is not None
        net = self.state.networks.get(nic.spec.internal.network)
        if net is None:
            raise VnicDriverError(f"network {nic.spec.internal.network} is not set up on this host")
        if self.host_net.link(attached.device) is not None:
            linux_net.ensure_link_state(self.host_net, attached.device, master=net.bridge, mtu=nic.spec.mtu)
        return Plugged(driver="internal", mac=nic.spec.mac, device=attached.device, bridge=net.bridge)

    def _unplug(self, vm: StoredVm, nic: StoredNic) -> None:
        ext = nic.spec.external
        if ext is not None and nic.state in ("plugged", "failed"):
            driver = self.drivers.get(ext.plugin_type)
            if driver is not None:
                in_use = self._external_in_use(ext.network_id, but=nic)
                driver.unplug(self._vif(nic), network_in_use=in_use)
        self.backend.detach(vm.current_spec(), AttachedNic(nic.applied_spec(), nic.slot))
        if ext is not None:
            self._down[ext.vnic_id] = ext.plugin_type
        nic.state, nic.plugged, nic.error = "unplugged", None, None

    def _external_in_use(self, network_id: str, but: StoredNic | None = None) -> bool:
        """Whether a plugged vNIC (other than ``but``) or a DHCP server uses the network here."""
        if network_id in self.state.dhcp:
            return True
        return any(
            other is not but
            and other.spec.external is not None
            and other.spec.external.network_id == network_id
            for _, other in self._plugged_nics()
        )

    def _save(self) -> None:
        self.state_file.save(self.state)
