"""The agent's L3 part: the routers the provider scheduled to this host, each a namespace
(:class:`~neutrino.agent.datapath.router.RouterNamespaces`) whose legs the network's vNIC driver
plugs into the networks' bridges like vNICs — so a network's bridge and VXLAN device exist here
for a router even without a VM on it.

:meth:`L3Routers.sync` converges on the wanted set (what :mod:`neutrino.agent.l3_follower` read
from the provider): new and changed routers are built, routers that went or moved elsewhere are
removed with their legs, and router namespaces this agent has no record of (a crash between the
two) are deleted. What it applied is kept in the state file (``routers``) so a restarted agent
knows what to remove; :meth:`statuses` is what the follower reports.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from neutrino.agent.datapath.hostnet import HostNetError
from neutrino.agent.datapath.router import RouterLeg, RouterNamespaces, RouterSpec
from neutrino.agent.state import HostStore
from neutrino.agent.vnic.base import Vif, VnicDriver, VnicDriverError

log = logging.getLogger(__name__)

_HOST_ERRORS = (VnicDriverError, HostNetError)


@dataclass(frozen=True)
class RouterStatuses:
    """What the routers here are: port id → ACTIVE or ERROR; floating IP id → (status, fixed IP)."""

    ports: dict[str, str] = field(default_factory=dict)
    floating_ips: dict[str, tuple[str, str]] = field(default_factory=dict)


class L3Routers:
    """The routers this host runs."""

    def __init__(
        self, store: HostStore, drivers: Mapping[str, VnicDriver], namespaces: RouterNamespaces
    ) -> None:
        self.store = store
        self.drivers = drivers
        self.namespaces = namespaces
        self._errors: dict[str, str] = {}  # router id -> why its last build failed

    # -- converging -------------------------------------------------------------------------------
    def sync(self, wanted: Mapping[str, RouterSpec], *, force: bool = False) -> list[str]:
        """Run exactly ``wanted`` here; a router already applied unchanged is only checked to still
        have its namespace (``force``: rebuilt all the same, idempotently). Returns the ids of
        routers that failed (the cause logged and in :meth:`statuses`)."""
        with self.store.lock:
            applied = self.store.state.routers
            present, known = self.namespaces.present(), set(applied)
            for router_id in sorted(known - set(wanted)):
                self._remove(router_id)  # its namespace with it
            for router_id in sorted(present - set(wanted) - known):
                log.info("router %s: deleting a namespace this host has no record of", router_id)
                self._delete_namespace(router_id)
            failed = []
            for router_id, spec in sorted(wanted.items()):
                current = applied.get(router_id)
                if current == spec and router_id not in self._errors and router_id in present and not force:
                    continue
                if not self._apply(spec, current, full=force or router_id not in present):
                    failed.append(router_id)
            self.store.save()
            return failed

    def replug(self, why: str) -> None:
        """Build every applied router again (idempotent: after a restart, or for new tunnel peers)."""
        with self.store.lock:
            for spec in list(self.store.state.routers.values()):
                if not self._apply(spec, spec):
                    log.error("%s: router %s: %s", why, spec.router_id, self._errors.get(spec.router_id))
            self.store.save()

    def _apply(self, spec: RouterSpec, previous: RouterSpec | None, *, full: bool = True) -> bool:
        """Build the router; unless ``full``, when only its floating IPs, routes or SNAT changed
        (the same legs), only what changed of the routes, the NAT rules and the floating IPs."""
        state = self.store.state
        full = full or previous is None or previous.legs != spec.legs or spec.router_id in self._errors
        try:
            if full:
                self._build_legs(spec, previous)
            state.routers[spec.router_id] = spec
            self.namespaces.ensure_routing(spec, previous, check=full)
        except _HOST_ERRORS as exc:
            self._errors[spec.router_id] = str(exc)
            log.error("router %s: %s", spec.router_id, exc)
            return False
        self._errors.pop(spec.router_id, None)
        return True

    def _build_legs(self, spec: RouterSpec, previous: RouterSpec | None) -> None:
        self.namespaces.ensure_namespace(spec)
        self.namespaces.remove_stale_legs(spec)
        self.store.state.routers[spec.router_id] = spec  # its legs now count as users of their networks
        if previous is not None:
            kept = {leg.port_id for leg in spec.legs}
            for leg in previous.legs:
                if leg.port_id not in kept:
                    self._unplug(leg)
        for leg in spec.legs:
            self.namespaces.ensure_leg(spec, leg)
            self._plug(leg)

    def _remove(self, router_id: str) -> None:
        spec = self.store.state.routers.pop(router_id)
        self._errors.pop(router_id, None)
        for leg in spec.legs:
            try:
                self._unplug(leg)
            except _HOST_ERRORS as exc:
                log.error("router %s: leg %s: %s", router_id, leg.port_id, exc)
        self._delete_namespace(router_id)
        log.info("router %s removed from this host", router_id)

    def _delete_namespace(self, router_id: str) -> None:
        try:
            self.namespaces.delete(router_id)
        except HostNetError as exc:
            log.error("router %s: %s", router_id, exc)

    def _vif(self, leg: RouterLeg) -> Vif:
        return Vif(
            nic_id=f"router-{leg.port_id}", mac=leg.mac, mtu=leg.mtu, device=leg.host_device, net=leg.net
        )

    def _driver(self, leg: RouterLeg) -> VnicDriver:
        driver = self.drivers.get(leg.net.plugin_type)
        if driver is None:
            raise VnicDriverError(f"no vNIC driver for plugin type {leg.net.plugin_type}")
        return driver

    def _plug(self, leg: RouterLeg) -> None:
        self._driver(leg).plug(self._vif(leg))

    def _unplug(self, leg: RouterLeg) -> None:
        """Unplug a leg gone from the applied routers; the network's devices go with it unless
        another leg, a vNIC or a DHCP server still uses the network."""
        state, network_id = self.store.state, leg.net.network_id
        in_use = state.external_in_use(network_id, routers=False) or any(
            other.net.network_id == network_id and other.port_id != leg.port_id
            for spec in state.routers.values()
            for other in spec.legs
        )
        self._driver(leg).unplug(self._vif(leg), network_in_use=in_use)

    # -- reads --------------------------------------------------------------------------------------
    def applied(self) -> dict[str, RouterSpec]:
        with self.store.lock:
            return dict(self.store.state.routers)

    def statuses(self) -> RouterStatuses:
        """Each applied router's ports ACTIVE (ERROR when its build failed) and its floating IPs."""
        with self.store.lock:
            ports: dict[str, str] = {}
            fips: dict[str, tuple[str, str]] = {}
            for router_id, spec in self.store.state.routers.items():
                status = "ERROR" if router_id in self._errors else "ACTIVE"
                ports.update({leg.port_id: status for leg in spec.legs})
                fips.update({f.id: (status, f.fixed_ip) for f in spec.floating_ips})
            return RouterStatuses(ports, fips)
