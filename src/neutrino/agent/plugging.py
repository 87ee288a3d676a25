"""The agent's plugging part (VDSM's role): VMs through the VM backend, and their vNICs through the
vNIC drivers (external networks) or into the internal networks' bridges.

Each verb changes the host, then saves the state; a failed create-VM or hot-plug undoes what it
did before raising, so the host is as it was. With a provider follower, :class:`PlugHooks` lets
it fetch what the vNICs need before they are plugged, and tells it when vNICs came or went.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from neutrino.agent.datapath import linux_net
from neutrino.agent.datapath.hostnet import HostNet, HostNetError
from neutrino.agent.errors import (
    NetworkNotCarried,
    NicExists,
    NicNotFound,
    NoDriverForPluginType,
    PlugFailed,
    UnplugFailed,
    VmExists,
    VmNotFound,
)
from neutrino.agent.pools import pool
from neutrino.agent.port_security import PortSecurity
from neutrino.agent.state import HostStore, StoredNic, StoredVm
from neutrino.agent.vm.base import AttachedNic, VmBackend, VmBackendError
from neutrino.agent.vnic.base import Vif, VnicDriver, VnicDriverError
from neutrino.agent.vnic.linux_bridge import VXLAN_OVERHEAD
from neutrino.agent_api.schema import NicSpec, NicState, Plugged, VmSpec, VmState

log = logging.getLogger(__name__)

_HOST_ERRORS = (VnicDriverError, VmBackendError, HostNetError)


class PlugHooks(Protocol):
    """What the plugging verbs call on the provider follower (its prefetcher)."""

    def prepare(self, nics: Sequence[NicSpec]) -> None:
        """Before ``nics`` are plugged: fetch what the host needs for them (security groups not
        set here yet, the ports' fixed IPs). Raises an :class:`~neutrino.agent.errors.AgentError`
        when a vNIC cannot be plugged without it."""

    def plugged(self, nics: Sequence[NicSpec], networks: Mapping[str, NetworkUse]) -> None:
        """``nics`` are plugged (``networks``: the provider networks plugged vNICs here carry) and
        their guest is not started yet: serve them what the guest asks for first (its DHCP lease).
        Raises nothing: what fails is left to the follower's next round."""

    def kick(self) -> None:
        """vNICs came or went: sync soon rather than at the next interval."""


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
class ProviderUse:
    """What the vNICs here (and those about to be plugged) use of the provider."""

    networks: dict[str, NetworkUse]  # networks of plugged external vNICs (of drivers carrying traffic)
    groups: frozenset[str]  # security groups of the vNICs here that the firewall applies
    ports: frozenset[str]  # provider port ids of the vNICs here the firewall filters or could filter


class Plugging:
    """VMs and their vNICs on this host."""

    def __init__(
        self,
        store: HostStore,
        backend: VmBackend,
        drivers: Mapping[str, VnicDriver],
        host_net: HostNet,
        security: PortSecurity,
        hooks: PlugHooks | None = None,
    ) -> None:
        self.store = store
        self.backend = backend
        self.drivers = drivers
        self.host_net = host_net
        self.security = security
        self.hooks = hooks
        self._down: dict[str, str] = {}  # port id -> plugin type, unplugged since the last report

    # -- reads --------------------------------------------------------------------------------
    def list_vms(self) -> list[VmState]:
        with self.store.lock:
            return [self._vm_state(vm) for _, vm in sorted(self.store.state.vms.items())]

    def get_vm(self, vm_id: str) -> VmState:
        with self.store.lock:
            return self._vm_state(self._vm(vm_id))

    def _vm_state(self, vm: StoredVm) -> VmState:
        nics = [self._nic_state(n) for n in sorted(vm.nics.values(), key=lambda n: n.slot)]
        return VmState(
            vm_id=vm.spec.vm_id,
            name=vm.spec.name,
            status="Up" if all(n.state == "plugged" for n in nics) else "Down",
            backend=self.backend.name,
            memory_mb=vm.spec.memory_mb,
            vcpus=vm.spec.vcpus,
            nics=nics,
        )

    # -- VMs ----------------------------------------------------------------------------------
    def create_vm(self, spec: VmSpec) -> tuple[VmState, bool]:
        """Run ``spec`` here; returns the VM and whether it was created (False: it already ran
        with this very definition). Raises :class:`VmExists` for another definition.

        A new guest and its vNICs' host ends are made in a thread of their own while the hooks read
        what the vNICs need from the provider (the one waits on the kernel, the other on the network);
        the vNICs are connected to their networks once both are done."""
        with self.store.lock:
            new = spec.vm_id not in self.store.state.vms
        guest = pool("guest", 2).submit(self._make_guest, spec) if new and self.hooks is not None else None
        try:
            with self.prepared(spec.nics), linux_net.one_pass():
                return self._create_vm(spec, guest)
        except BaseException:
            if guest is not None:
                self._drop_guest(spec, guest)
            raise

    def _make_guest(self, spec: VmSpec) -> None:
        """The guest of ``spec`` and its vNICs' host ends (the backend's create and attaches)."""
        self.backend.create(spec)
        for slot, nic in enumerate(spec.nics):
            self.backend.attach(spec, AttachedNic(nic, slot))

    def _drop_guest(self, spec: VmSpec, guest: Future[None]) -> None:
        """A create-VM failed: the guest :meth:`_make_guest` made goes, unless the VM is here (another
        create of the same VM stored it meanwhile)."""
        with contextlib.suppress(Exception):
            guest.result()
        with self.store.lock:
            if spec.vm_id in self.store.state.vms:
                return
            try:
                self.backend.destroy(spec)
            except _HOST_ERRORS as exc:
                log.warning("undo: VM %s: %s", spec.vm_id, exc)

    def _create_vm(self, spec: VmSpec, guest: Future[None] | None = None) -> tuple[VmState, bool]:
        with self.store.lock:
            state = self.store.state
            existing = state.vms.get(spec.vm_id)
            if existing is not None:
                if existing.spec == spec:
                    return self._vm_state(existing), False
                raise VmExists(spec.vm_id)
            for nic in spec.nics:
                self._check_plugable(nic)
            vm = StoredVm(spec=spec)
            state.vms[spec.vm_id] = vm  # so undo sees this VM's NICs as users of their networks
            # made ahead (else, or when that failed, here: a failed attach names its vNIC)
            attached = guest is not None and guest.exception() is None
            nics = [StoredNic(spec=self._resolve(nic), slot=slot) for slot, nic in enumerate(spec.nics)]
            vifs = [self._vif(n) for n in nics if n.spec.external is not None]
            try:
                if not attached:
                    self.backend.create(spec)
                # the guest is not started: its rules are written while its vNICs are plugged (when their
                # drivers set their filters ahead) and its network's DHCP server starts
                with self.security.alongside():
                    ahead = self.security.filter_ahead(vifs)
                    if not ahead:
                        self._plug_all(vm, nics, attached)
                if ahead:
                    with self.security.ahead():
                        self._plug_all(vm, nics, attached)
                self._before_start(spec.nics)
                self.security.settle()
                self.backend.start(vm.current_spec(), self._attached(vm))
            except _HOST_ERRORS as exc:
                failed = next((n for n in vm.nics.values() if n.state != "plugged"), None)
                with contextlib.suppress(HostNetError):
                    self.security.settle()  # its error is this one's, or the undo's to meet again
                reached = {n.spec.nic_id for n in vm.nics.values()}
                with contextlib.suppress(HostNetError):  # filters set ahead of plugs never reached
                    self.security.unfilter([v for v in vifs if v.nic_id not in reached])
                self._undo(vm)
                del state.vms[spec.vm_id]
                what = f"vNIC {failed.spec.name} ({failed.spec.nic_id})" if failed else f"VM {spec.vm_id}"
                raise PlugFailed(f"Cannot run VM {spec.name}: {what}: {exc}") from exc
            self.store.save()
            return self._vm_state(vm), True

    def _plug_all(self, vm: StoredVm, nics: list[StoredNic], attached: bool) -> None:
        for stored in nics:
            vm.nics[stored.spec.nic_id] = stored
            self._plug(vm, stored, attached=attached)

    def destroy_vm(self, vm_id: str) -> list[str]:
        """Stop the VM and unplug its vNICs; returns warnings for parts that could not be undone
        (the VM is forgotten regardless)."""
        with self.store.lock, self.store.saves_once():
            vm = self._vm(vm_id)
            warnings = self._undo(vm)
            del self.store.state.vms[vm_id]
            self.store.save()
        self._changed()
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

    # -- hot plug -----------------------------------------------------------------------------
    def plug_nic(self, vm_id: str, spec: NicSpec) -> tuple[NicState, bool]:
        """Hot-plug ``spec`` into the VM; returns the NIC and whether it was added (False: it was
        already there with this very definition)."""
        with self.prepared([spec]), linux_net.one_pass():
            return self._plug_nic(vm_id, spec)

    def _plug_nic(self, vm_id: str, spec: NicSpec) -> tuple[NicState, bool]:
        with self.store.lock:
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
                self._before_start([spec])
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
            self.store.save()
            return self._nic_state(stored), True

    def unplug_nic(self, vm_id: str, nic_id: str) -> None:
        """Hot-unplug a NIC; the NIC is forgotten only when the host let go of it."""
        with self.store.lock:
            vm = self._vm(vm_id)
            nic = vm.nics.get(nic_id)
            if nic is None:
                raise NicNotFound(vm_id, nic_id)
            try:
                self._unplug(vm, nic)
            except _HOST_ERRORS as exc:
                self.store.save()
                raise UnplugFailed(f"Cannot unplug vNIC {nic.spec.name} ({nic_id}): {exc}") from exc
            del vm.nics[nic_id]
            try:
                self.backend.start(vm.current_spec(), self._attached(vm))
            finally:
                self.store.save()
        self._changed()

    # -- around the verbs ---------------------------------------------------------------------
    @contextmanager
    def prepared(self, nics: Sequence[NicSpec]) -> Iterator[None]:
        """Around a verb that plugs ``nics``: the hooks fetch what they need first, and nothing
        fetched is dropped as unused (:attr:`HostStore.pending`) before the verb is done; the state
        is saved once (:meth:`HostStore.saves_once`), then the hooks are kicked (the follower's round
        it starts does not hold up the verb's answer)."""
        hooks = self.hooks
        if hooks is None:
            with self.store.saves_once():
                yield
            return
        groups = [g for nic in nics for g in self.security.filtered_groups(nic)]
        ports = [nic.external.vnic_id for nic in nics if nic.external is not None]
        networks = [nic.external.network_id for nic in nics if nic.external is not None]
        with self.store.lock:
            self.store.pending.add(groups, ports, networks)
        try:
            with self.store.saves_once():
                hooks.prepare(nics)
                yield
        finally:
            with self.store.lock:
                self.store.pending.remove(groups, ports, networks)
            hooks.kick()

    def _before_start(self, nics: Sequence[NicSpec]) -> None:
        """The hooks serve the plugged ``nics`` what their guest asks for first (holding the lock:
        the follower sees the vNICs plugged and their network served together)."""
        if self.hooks is not None and any(nic.external is not None for nic in nics):
            self.hooks.plugged(nics, self.provider_use().networks)

    def _changed(self) -> None:
        if self.hooks is not None:
            self.hooks.kick()

    # -- restart and the provider's changes -----------------------------------------------------
    def replay(self) -> None:
        """Create every VM and plug its NICs again (idempotent, after a restart). A NIC that cannot
        be plugged is recorded ``failed`` with the cause; nothing is raised."""
        with self.store.lock:
            for vm in self.store.state.vms.values():
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

    def replug_external(self, why: str) -> None:
        """Plug every plugged external vNIC again (idempotent: e.g. for new tunnel peers)."""
        with self.store.lock:
            for vm, nic in list(self.store.state.plugged_nics()):
                if nic.spec.external is not None:
                    try:
                        self._plug(vm, nic)
                    except _HOST_ERRORS as exc:
                        log.error("%s: vNIC %s: %s", why, nic.spec.nic_id, exc)

    def follow_port_groups(self, groups: dict[str, list[str]]) -> list[str]:
        """The groups the provider now gives the ports of plugged vNICs (port id → groups; ``[]``
        for none or port security disabled): each filtered vNIC whose applied groups differ is
        re-plugged with them (its firewall rewritten; an ``open_vswitch`` one may change plug
        layout), and ``plugged.security_groups`` says so. A group not set here is left for the
        next round; a vNIC that cannot be re-plugged keeps its groups. Returns the nic ids changed."""
        changed: list[str] = []
        with self.store.lock:
            for vm, nic in list(self.store.state.plugged_nics()):
                ext = nic.spec.external
                if ext is None or ext.vnic_id not in groups or not self.security.follows(nic.spec):
                    continue
                wanted = sorted(set(groups[ext.vnic_id]))
                provider_groups = None if wanted == sorted(set(ext.security_groups or [])) else wanted
                if provider_groups == nic.provider_groups:
                    continue
                missing = sorted(set(wanted) - set(self.store.state.security_groups))
                if missing:
                    log.warning("vNIC %s: groups %s are not set yet", nic.spec.nic_id, ", ".join(missing))
                    continue
                if self._refilter(vm, nic, provider_groups, wanted):
                    log.info("vNIC %s now filtered with groups %s", nic.spec.nic_id, wanted)
                    changed.append(nic.spec.nic_id)
            if changed:
                self.store.save()
        return changed

    def _refilter(
        self, vm: StoredVm, nic: StoredNic, provider_groups: list[str] | None, wanted: list[str]
    ) -> bool:
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
            return False
        return True

    def provider_use(self) -> ProviderUse:
        """What the provider follower keeps in step: the networks, groups and ports of the vNICs
        here and of those about to be plugged."""
        with self.store.lock:
            networks: dict[str, NetworkUse] = {}
            groups: set[str] = set(self.store.pending.groups)
            ports: set[str] = set(self.store.pending.ports)
            for vm in self.store.state.vms.values():
                for nic in sorted(vm.nics.values(), key=lambda n: n.slot):
                    ext = nic.spec.external
                    if ext is None:
                        continue
                    groups.update(self.security.filtered_groups(nic.applied_spec()))
                    if self.security.follows(nic.spec):
                        ports.add(ext.vnic_id)
                    driver = self.drivers.get(ext.plugin_type)
                    if nic.state != "plugged" or driver is None or not driver.carries_traffic:
                        continue
                    old = networks.get(ext.network_id)
                    kind = ext.network_type or ("vxlan" if ext.segmentation_id is not None else None)
                    networks[ext.network_id] = NetworkUse(
                        network_id=ext.network_id,
                        plugin_type=old.plugin_type if old else ext.plugin_type,
                        network_type=old.network_type if old else ext.network_type,
                        segmentation_id=old.segmentation_id if old else ext.segmentation_id,
                        physical_network=old.physical_network if old else ext.physical_network,
                        tunnel_peers=tuple(sorted({*(old.tunnel_peers if old else ()), *ext.tunnel_peers})),
                        max_mtu=driver.context.underlay_mtu - VXLAN_OVERHEAD if kind == "vxlan" else None,
                    )
            return ProviderUse(networks=networks, groups=frozenset(groups), ports=frozenset(ports))

    # -- for the reporter -----------------------------------------------------------------------
    def unreported_down(self) -> dict[str, str]:
        """Provider ports unplugged since the last report (port id → plugin type)."""
        with self.store.lock:
            return dict(self._down)

    def confirm_reported_down(self, port_ids: list[str]) -> None:
        """The provider knows these ports are down."""
        with self.store.lock:
            for port_id in port_ids:
                self._down.pop(port_id, None)

    # -- helpers --------------------------------------------------------------------------------
    def _vm(self, vm_id: str) -> StoredVm:
        vm = self.store.state.vms.get(vm_id)
        if vm is None:
            raise VmNotFound(vm_id)
        return vm

    @staticmethod
    def _nic_state(nic: StoredNic) -> NicState:
        return NicState(spec=nic.spec, state=nic.state, plugged=nic.plugged, error=nic.error)

    @staticmethod
    def _attached(vm: StoredVm) -> list[AttachedNic]:
        return [AttachedNic(n.applied_spec(), n.slot) for n in sorted(vm.nics.values(), key=lambda n: n.slot)]

    def _check_plugable(self, nic: NicSpec) -> None:
        if nic.external is not None:
            if nic.external.plugin_type not in self.drivers:
                raise NoDriverForPluginType(nic.name, nic.external.plugin_type)
            self.security.require_groups(nic)
            return
        assert nic.internal is not None
        net = self.store.state.networks.get(nic.internal.network)
        if net is None:
            raise NetworkNotCarried(nic.name, nic.internal.network)
        if nic.internal.bridge not in (None, net.bridge):
            raise NetworkNotCarried(nic.name, f"{nic.internal.network} on bridge {nic.internal.bridge}")

    def _resolve(self, nic: NicSpec) -> NicSpec:
        """``nic`` with its internal network's bridge filled in from this host's networks."""
        if nic.internal is None or nic.internal.bridge is not None:
            return nic
        net = self.store.state.networks.get(nic.internal.network)
        if net is None:
            return nic
        return nic.model_copy(update={"internal": nic.internal.model_copy(update={"bridge": net.bridge})})

    @staticmethod
    def _vif(nic: StoredNic) -> Vif:
        spec = nic.applied_spec()
        assert spec.external is not None
        return Vif(
            nic_id=spec.nic_id,
            mac=spec.mac,
            mtu=spec.mtu,
            device=linux_net.tap_name(spec.device_id),
            net=spec.external,
        )

    def _plug(self, vm: StoredVm, nic: StoredNic, *, attached: bool = False) -> None:
        """Attach (unless ``attached`` already) and plug one NIC, recording the outcome on ``nic``
        (also when raising)."""
        attached_nic = AttachedNic(nic.applied_spec(), nic.slot)
        try:
            if not attached:
                self.backend.attach(vm.current_spec(), attached_nic)
            if nic.spec.external is not None:
                driver = self.drivers.get(nic.spec.external.plugin_type)
                if driver is None:
                    raise VnicDriverError(f"no vNIC driver for plugin type {nic.spec.external.plugin_type}")
                nic.plugged = driver.plug(self._vif(nic))
            else:
                nic.plugged = self._plug_internal(nic, attached_nic)
        except _HOST_ERRORS as exc:
            nic.state, nic.error = "failed", str(exc)
            raise
        nic.state, nic.error = "plugged", None

    def _plug_internal(self, nic: StoredNic, attached: AttachedNic) -> Plugged:
        assert nic.spec.internal is not None
        net = self.store.state.networks.get(nic.spec.internal.network)
        if net is None:
            raise VnicDriverError(f"network {nic.spec.internal.network} is not set up on this host")
        linux_net.ensure_state_if_exists(self.host_net, attached.device, master=net.bridge, mtu=nic.spec.mtu)
        return Plugged(driver="internal", mac=nic.spec.mac, device=attached.device, bridge=net.bridge)

    def _unplug(self, vm: StoredVm, nic: StoredNic) -> None:
        ext = nic.spec.external
        if ext is not None and nic.state in ("plugged", "failed"):
            driver = self.drivers.get(ext.plugin_type)
            if driver is not None:
                in_use = self.store.state.external_in_use(ext.network_id, but=nic)
                driver.unplug(self._vif(nic), network_in_use=in_use)
        self.backend.detach(vm.current_spec(), AttachedNic(nic.applied_spec(), nic.slot))
        if ext is not None:
            self._down[ext.vnic_id] = ext.plugin_type
        nic.state, nic.plugged, nic.error = "unplugged", None, None
