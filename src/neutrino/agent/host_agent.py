"""The host agent as composed parts, each with one job (built by
:func:`neutrino.agent.app.build_agent`; the HTTP API calls the parts):

* ``identity`` (:class:`~neutrino.agent.identity.HostIdentity`) — who the host is: its name, its
  ``binding:host_id`` per plugin type, its tunnel address;
* ``store`` (:class:`~neutrino.agent.state.HostStore`) — the persisted state, its file and the one
  lock every part takes;
* ``vms`` (:class:`~neutrino.agent.plugging.Plugging`) — VMs through the VM backend and their vNICs
  through the vNIC drivers;
* ``networks`` (:class:`~neutrino.agent.internal_networks.InternalNetworks`) — the bridges of the
  cluster's internal networks;
* ``dhcp`` (:class:`~neutrino.agent.dhcp_service.DhcpService`) — a ``dnsmasq`` per provider network
  served here;
* ``security`` (:class:`~neutrino.agent.port_security.PortSecurity`) — the firewall: security
  groups, the ports' addresses, router advertisement sources;
* ``follower`` (:class:`~neutrino.agent.neutron_follower.NeutronFollower`, with a provider URL) —
  reads the provider and drives the parts above;
* ``reporter`` (:class:`~neutrino.agent.reporting.Reporter`, with a provider URL) — reports the
  host to the provider and learns tunnel peers from it;
* ``changes`` (:class:`~neutrino.agent.change_feed.FeedReader`, with a provider URL) — the one long
  poll of the provider's change feed, handed to the follower, the reporter and the L3 agent;
* ``routers`` (:class:`~neutrino.agent.l3_routers.L3Routers`, with a provider URL and a
  linux_bridge driver) — the routers scheduled here, each a ``qrouter-`` namespace;
* ``l3`` (:class:`~neutrino.agent.l3_follower.L3Follower`, beside ``routers``) — the L3 agent:
  reports it, reads the routers the provider scheduled here and drives ``routers``;
* ``ovn`` (:class:`~neutrino.agent.ovn_chassis.OvnChassis`, in OVN mode, instead of the follower
  and the reporter) — the host as an OVN chassis: Open vSwitch configured, ovn-controller supervised.

The parts depend on the store and on each other in one direction only (plugging uses the
firewall part); the follower and the reporter depend on the parts, never the other way round
(plugging calls the follower's prefetcher through :class:`~neutrino.agent.plugging.PlugHooks`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from neutrino.agent.change_feed import FeedReader
from neutrino.agent.datapath.hostnet import HostNetError
from neutrino.agent.datapath.vswitch import OvsDb
from neutrino.agent.dhcp_service import DhcpService
from neutrino.agent.identity import HostIdentity
from neutrino.agent.internal_networks import InternalNetworks
from neutrino.agent.l3_follower import L3Follower
from neutrino.agent.l3_routers import L3Routers
from neutrino.agent.neutron_follower import NeutronFollower
from neutrino.agent.ovn_chassis import OvnChassis
from neutrino.agent.plugging import Plugging
from neutrino.agent.port_security import PortSecurity
from neutrino.agent.reporting import Reporter
from neutrino.agent.state import HostStore
from neutrino.agent.vm.base import VmBackend
from neutrino.agent.vnic.base import VnicDriver
from neutrino.agent_api.schema import (
    PORT_LEASE,
    BackendDescription,
    Capabilities,
    CarriedNetworks,
    DriverDescription,
    ExternalNetworkUse,
    PluginTypeSupport,
)

log = logging.getLogger(__name__)


@dataclass
class HostAgent:
    """The agent's parts (see the module docstring)."""

    identity: HostIdentity
    store: HostStore
    backend: VmBackend
    drivers: Mapping[str, VnicDriver]  # plugin type -> driver
    vms: Plugging
    networks: InternalNetworks
    dhcp: DhcpService
    security: PortSecurity
    follower: NeutronFollower | None = None
    reporter: Reporter | None = None
    routers: L3Routers | None = None
    l3: L3Follower | None = None
    ovn: OvnChassis | None = None
    changes: FeedReader | None = None
    #: the host's Open vSwitch database (the open_vswitch driver's and the chassis'), closed at stop
    vswitch: OvsDb | None = None

    def capabilities(self) -> Capabilities:
        """The capabilities report (``GET /capabilities``)."""
        with self.store.lock:
            described = {d.name: d.describe() for d in self.drivers.values()}
            plugin_types = {
                plugin_type: PluginTypeSupport(
                    driver=driver.name,
                    binding_host_id=self.identity.binding_host_id(plugin_type),
                    network_types=list(described[driver.name].network_types),
                    security_groups=described[driver.name].security_groups,
                )
                for plugin_type, driver in sorted(self.drivers.items())
            }
            state = self.store.state
            external: dict[str, ExternalNetworkUse] = {}
            for _, nic in state.plugged_nics():
                ext = nic.spec.external
                if ext is None:
                    continue
                use = external.setdefault(
                    ext.network_id,
                    ExternalNetworkUse(
                        network_id=ext.network_id,
                        plugin_type=ext.plugin_type,
                        network_type=ext.network_type,
                        segmentation_id=ext.segmentation_id,
                        vnics=0,
                    ),
                )
                use.vnics += 1
            return Capabilities(
                host_name=self.identity.host_name,
                tunnel_ip=self.identity.tunnel_ip,
                vm_backend=BackendDescription.model_validate(self.backend.describe()),
                vnic_drivers={
                    name: DriverDescription(
                        name=info.name,
                        plugin_types=list(info.plugin_types),
                        network_types=list(info.network_types),
                        security_groups=info.security_groups,
                        details=dict(info.details),
                    )
                    for name, info in sorted(described.items())
                },
                plugin_types=plugin_types,
                networks=CarriedNetworks(
                    internal=[n for _, n in sorted(state.networks.items())],
                    external=[external[k] for k in sorted(external)],
                    dhcp=sorted(state.dhcp),
                ),
                accepts=[PORT_LEASE],
                security_groups=sorted(state.security_groups),
            )

    def recover(self) -> None:
        """Replay the saved state onto the host (idempotent): internal bridges, DHCP servers,
        VMs and their plugs, the firewall written once at the end. Routers are not: the L3 agent's
        first round rebuilds those still scheduled here (a router that moved while the agent was
        away must not come back with the address it now has elsewhere). A NIC that cannot be plugged
        is reported ``failed`` with the cause; nothing is raised."""
        with self.store.lock:
            try:
                with self.security.batch():
                    self.networks.replay()
                    self.dhcp.replug("recover")
                    self.vms.replay()
            except HostNetError as exc:
                log.error("recover security groups: %s", exc)
            self.store.save()

    def start(self) -> None:
        """Start the follower's, the reporter's, the L3 agent's and the change feed's threads (with a provider URL), or in OVN mode
        the chassis (ovn-controller and its supervisor)."""
        if self.ovn is not None:
            self.ovn.start()
        if self.reporter is not None:
            self.reporter.start()
        if self.follower is not None:
            self.follower.start()
        if self.l3 is not None:
            self.l3.start()
        if self.changes is not None:
            self.changes.start()

    def stop(self) -> None:
        """Stop those threads (and the agent's ovn-controller), then close the Open vSwitch connection."""
        if self.changes is not None:
            self.changes.stop()
        if self.l3 is not None:
            self.l3.stop()
        if self.follower is not None:
            self.follower.stop()
        if self.reporter is not None:
            self.reporter.stop()
        if self.ovn is not None:
            self.ovn.stop()
        if self.vswitch is not None:
            self.vswitch.close()
