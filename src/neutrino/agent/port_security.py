"""The agent's firewall part: security groups, the addresses each filtered port may send from, and
where router advertisements on each provider network may come from, applied through the iptables
:class:`~neutrino.agent.datapath.firewall.Firewall` (none: the host filters nothing).

The API's ``/security-groups`` verbs and the provider follower set these; the vNIC drivers filter
each vNIC with them when plugging it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence

from neutrino.agent.datapath.firewall import Firewall
from neutrino.agent.datapath.hostnet import HostNetError
from neutrino.agent.datapath.linux_net import tap_name
from neutrino.agent.errors import PlugFailed, SecurityGroupInUse, SecurityGroupNotFound, SecurityGroupNotSet
from neutrino.agent.state import HostStore
from neutrino.agent.vnic.base import Vif, VnicDriver
from neutrino.agent_api.schema import NicSpec, SecurityGroupSpec

log = logging.getLogger(__name__)


def _groups_of(nic: NicSpec) -> list[str]:
    return list(nic.external.security_groups or []) if nic.external is not None else []


class PortSecurity:
    """Security groups, port addresses and router advertisement sources of this host."""

    def __init__(
        self, store: HostStore, drivers: Mapping[str, VnicDriver], firewall: Firewall | None
    ) -> None:
        self.store = store
        self.drivers = drivers
        self.firewall = firewall
        if firewall is not None:
            firewall.groups = dict(store.state.security_groups)
            firewall.addresses = self._firewall_addresses()
            firewall.ra_sources = self._firewall_ra_sources()

    def batch(self) -> contextlib.AbstractContextManager[None]:
        """Around many plugs (a restart's replay): the firewall is written once, at the end."""
        return self.firewall.batch() if self.firewall is not None else contextlib.nullcontext()

    def alongside(self) -> contextlib.AbstractContextManager[None]:
        """Around the plugs of a guest not started yet: the firewall is written at the end in a
        thread of its own, while the caller goes on; :meth:`settle` waits for it."""
        return self.firewall.alongside() if self.firewall is not None else contextlib.nullcontext()

    def filter_ahead(self, vifs: Sequence[Vif]) -> bool:
        """Inside :meth:`alongside`, before ``vifs`` (external vNICs of a guest not started) are plugged: their
        filters set as their drivers will set them, so the write starts before the plugs rather than after
        them. False, and nothing set, when a driver can only set it as it plugs."""
        if self.firewall is None or not vifs:
            return False
        drivers = [self.drivers.get(vif.net.plugin_type) for vif in vifs]
        if any(driver is None or not driver.filters_ahead for driver in drivers):
            return False
        for driver, vif in zip(drivers, vifs, strict=True):
            assert driver is not None
            driver.filter_ahead(vif)
        return True

    def ahead(self) -> contextlib.AbstractContextManager[None]:
        """Around the plugs of vNICs :meth:`filter_ahead` filtered (see :meth:`Firewall.ahead`)."""
        return self.firewall.ahead() if self.firewall is not None else contextlib.nullcontext()

    def unfilter(self, vifs: Sequence[Vif]) -> None:
        """The filters set ahead of plugs that never came go (a create-VM failed before them)."""
        if self.firewall is None:
            return
        for vif in vifs:
            if vif.device in self.firewall.ports:
                self.firewall.set_port(vif.device, vif.mac, [])

    def settle(self) -> None:
        """Wait for the write :meth:`alongside` started; raise its error (a ``HostNetError``)."""
        if self.firewall is not None:
            self.firewall.settle()

    # -- which vNICs are filtered ------------------------------------------------------------
    def follows(self, nic: NicSpec) -> bool:
        """Whether the firewall filters ``nic`` by its groups (its driver filters with it)."""
        ext = nic.external
        if ext is None or self.firewall is None:
            return False
        driver = self.drivers.get(ext.plugin_type)
        return driver is not None and driver.filters_with_firewall

    def filtered_groups(self, nic: NicSpec) -> list[str]:
        """The groups the firewall must know before ``nic`` is plugged."""
        return _groups_of(nic) if self.follows(nic) else []

    def require_groups(self, nic: NicSpec) -> None:
        """Raises :class:`SecurityGroupNotSet` for the first group ``nic`` is filtered with that is
        not set on this host."""
        with self.store.lock:
            for group in self.filtered_groups(nic):
                if group not in self.store.state.security_groups:
                    raise SecurityGroupNotSet(nic.name, group)

    def missing_groups(self, nics: Sequence[NicSpec]) -> set[str]:
        """Groups ``nics`` need that are not set on this host."""
        with self.store.lock:
            wanted = {g for nic in nics for g in self.filtered_groups(nic)}
            return wanted - set(self.store.state.security_groups)

    # -- security groups ----------------------------------------------------------------------
    def set_security_group(self, group_id: str, spec: SecurityGroupSpec) -> tuple[SecurityGroupSpec, bool]:
        """Store a group's rules and members and re-apply the firewall of ports using them;
        returns the group and whether it is new."""
        with self.store.lock:
            state = self.store.state
            old = state.security_groups.get(group_id)
            state.security_groups[group_id] = spec
            try:
                self._apply_groups()
            except HostNetError as exc:
                if old is None:
                    del state.security_groups[group_id]
                else:
                    state.security_groups[group_id] = old
                if self.firewall is not None:
                    self.firewall.groups = dict(state.security_groups)
                raise PlugFailed(f"Cannot apply security group {group_id}: {exc}") from exc
            self.store.save()
            return spec, old is None

    def delete_security_group(self, group_id: str) -> None:
        """Forget a group no plugged vNIC uses."""
        with self.store.lock:
            state = self.store.state
            if group_id not in state.security_groups:
                raise SecurityGroupNotFound(group_id)
            users = sorted(
                nic.spec.nic_id
                for _, nic in state.plugged_nics()
                if group_id in _groups_of(nic.applied_spec())
            )
            if users:
                raise SecurityGroupInUse(f"security group {group_id} is used by vNICs {', '.join(users)}")
            del state.security_groups[group_id]
            if self.firewall is not None:
                self.firewall.groups = dict(state.security_groups)
            self.store.save()

    def list_security_groups(self) -> dict[str, SecurityGroupSpec]:
        with self.store.lock:
            return dict(sorted(self.store.state.security_groups.items()))

    def sync_security_groups(self, specs: dict[str, SecurityGroupSpec], *, drop_unused: bool) -> list[str]:
        """Set each group in ``specs`` whose rules or members differ from the host's, and with
        ``drop_unused`` forget the groups no vNIC here uses (nor one about to be plugged) and no such
        group's rules refer to (those are in ``specs``). Returns the ids set or dropped; the
        firewall is applied once. Raises :class:`PlugFailed` (and changes nothing) when the
        firewall cannot be applied."""
        with self.store.lock:
            state = self.store.state
            changed = {g: s for g, s in specs.items() if state.security_groups.get(g) != s}
            dropped: list[str] = []
            if drop_unused:
                keep = set(specs) | set(self.store.pending.groups)
                for vm in state.vms.values():
                    for nic in vm.nics.values():
                        keep.update(self.filtered_groups(nic.applied_spec()))
                dropped = sorted(set(state.security_groups) - keep)
            if not changed and not dropped:
                return []
            old = dict(state.security_groups)
            state.security_groups.update(changed)
            for group in dropped:
                del state.security_groups[group]
            try:
                self._apply_groups()
            except HostNetError as exc:
                state.security_groups = old
                if self.firewall is not None:
                    self.firewall.groups = dict(old)
                raise PlugFailed(f"Cannot apply security groups {', '.join(sorted(changed))}: {exc}") from exc
            self.store.save()
            return sorted([*changed, *dropped])

    def _apply_groups(self) -> None:
        if self.firewall is not None:
            self.firewall.groups = dict(self.store.state.security_groups)
            if self.firewall.ports:
                self.firewall.apply()

    # -- fixed IPs (anti-spoofing) -----------------------------------------------------------
    def known_port_addresses(self) -> set[str]:
        with self.store.lock:
            return set(self.store.state.port_addresses)

    def set_port_addresses(self, addresses: dict[str, list[str]], *, prune: bool = False) -> None:
        """Record the fixed IPs of provider ports (what their guests may send from); with
        ``prune``, forget those of ports no longer here (nor about to be plugged)."""
        with self.store.lock:
            state = self.store.state
            new = dict(state.port_addresses)
            new.update({port: sorted(ips) for port, ips in addresses.items()})
            if prune:
                here = set(self.store.pending.ports)
                for vm in state.vms.values():
                    here.update(n.spec.external.vnic_id for n in vm.nics.values() if n.spec.external)
                new = {port: ips for port, ips in new.items() if port in here}
            if new == state.port_addresses:
                return
            state.port_addresses = new
            if self.firewall is not None:
                self.firewall.addresses = self._firewall_addresses()
                self._apply_quietly("the ports' addresses")
            self.store.save()

    def _firewall_addresses(self) -> dict[str, tuple[str, ...]]:
        return {tap_name(port): tuple(ips) for port, ips in self.store.state.port_addresses.items()}

    # -- router advertisement sources --------------------------------------------------------
    def known_ra_networks(self) -> set[str]:
        with self.store.lock:
            return set(self.store.state.ra_sources)

    def set_ra_sources(self, sources: dict[str, list[str]], *, prune: bool = False) -> None:
        """Record where router advertisements on provider networks may come from (network id →
        link-local addresses); with ``prune``, forget networks without vNICs here (nor about to
        be plugged)."""
        with self.store.lock:
            state = self.store.state
            new = dict(state.ra_sources)
            new.update({network: sorted(set(found)) for network, found in sources.items()})
            if prune:
                here = set(self.store.pending.networks)
                for vm in state.vms.values():
                    here.update(n.spec.external.network_id for n in vm.nics.values() if n.spec.external)
                new = {network: found for network, found in new.items() if network in here}
            self._set_ra_sources(new)

    def add_ra_source(self, network_id: str, address: str) -> None:
        """Router advertisements on the network may come from ``address`` too (e.g. this host's
        DHCP server, about to start)."""
        with self.store.lock:
            found = self.store.state.ra_sources.get(network_id, [])
            if address not in found:
                self._set_ra_sources({**self.store.state.ra_sources, network_id: sorted([*found, address])})

    def _set_ra_sources(self, new: dict[str, list[str]]) -> None:
        if new == self.store.state.ra_sources:
            return
        self.store.state.ra_sources = new
        if self.firewall is not None:
            self.firewall.ra_sources = self._firewall_ra_sources()
            self._apply_quietly("the router advertisement sources")
        self.store.save()

    def _firewall_ra_sources(self) -> dict[str, tuple[str, ...]]:
        return {network: tuple(found) for network, found in self.store.state.ra_sources.items()}

    def _apply_quietly(self, what: str) -> None:
        assert self.firewall is not None
        try:
            if self.firewall.ports:
                self.firewall.apply()
        except HostNetError as exc:
            log.error("cannot apply %s: %s", what, exc)
