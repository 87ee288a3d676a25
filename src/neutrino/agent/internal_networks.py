"""The agent's part for internal networks: the local bridges of the cluster's (non-external) VM
networks, set up and torn down by the API's ``/networks`` verbs; vNICs on them are plugged into
these bridges by :mod:`neutrino.agent.plugging`.

A bridge that exists without the agent's mark (``linux_net.OWNER_MARK``) belongs to the host's admin, as
oVirt's ``ovirtmgmt`` does: the network uses it as it is (its addresses, MTU, ports and state untouched) and
tearing the network down leaves it in place. Only bridges the agent created are changed or deleted."""

from __future__ import annotations

import logging

from neutrino.agent.datapath import linux_net
from neutrino.agent.datapath.hostnet import HostNet, HostNetError
from neutrino.agent.errors import InvalidDeviceName, NetworkInUse, NetworkNotFound, PlugFailed, UnplugFailed
from neutrino.agent.state import HostStore
from neutrino.agent_api.schema import NetworkSpec, NetworkState, NetworkSyncResult

log = logging.getLogger(__name__)


class InternalNetworks:
    """The bridges of the internal networks this host carries."""

    def __init__(self, store: HostStore, host_net: HostNet) -> None:
        self.store = store
        self.host_net = host_net

    def setup_network(self, name: str, spec: NetworkSpec) -> tuple[NetworkState, bool]:
        """Ensure the local bridge of an internal network; returns it and whether it is new."""
        with self.store.lock:
            state = self.store.state
            net = NetworkState(network=name, bridge=spec.bridge or name, mtu=spec.mtu)
            problem = linux_net.device_name_problem(net.bridge)
            if problem is not None:
                what = "bridge" if spec.bridge else "network name (its bridge's name)"
                raise InvalidDeviceName(what, net.bridge, problem)
            old = state.networks.get(name)
            if old is not None and old.bridge != net.bridge and state.network_users(name):
                raise NetworkInUse(f"network {name}: bridge {old.bridge} is used by running vNICs")
            try:
                self._ensure_bridge(net)
                if old is not None and old.bridge != net.bridge:
                    linux_net.delete_link(self.host_net, old.bridge)
            except HostNetError as exc:
                raise PlugFailed(f"Cannot set up network {name}: {exc}") from exc
            state.networks[name] = net
            self.store.save()
            return net, old is None

    def teardown_network(self, name: str) -> None:
        """Remove the local bridge of an internal network no running vNIC uses."""
        with self.store.lock:
            state = self.store.state
            net = state.networks.get(name)
            if net is None:
                raise NetworkNotFound(name)
            users = state.network_users(name)
            if users:
                raise NetworkInUse(f"network {name} is used by vNICs {', '.join(users)}")
            try:
                link = self.host_net.link(net.bridge)
                if link is not None and linux_net.owned(link):
                    linux_net.delete_link(self.host_net, net.bridge)  # the host admin's bridge stays
            except HostNetError as exc:
                raise UnplugFailed(f"Cannot tear down network {name}: {exc}") from exc
            del state.networks[name]
            self.store.save()

    def sync_networks(self, wanted: list[NetworkState]) -> NetworkSyncResult:
        """Carry exactly ``wanted``: set up each, tear down the others no vNIC uses (those still
        used are kept and listed in ``in_use``)."""
        with self.store.lock:
            for net in wanted:
                self.setup_network(net.network, NetworkSpec(bridge=net.bridge, mtu=net.mtu))
            names = {n.network for n in wanted}
            removed, in_use = [], []
            for name in sorted(set(self.store.state.networks) - names):
                if self.store.state.network_users(name):
                    in_use.append(name)
                    continue
                self.teardown_network(name)
                removed.append(name)
            return NetworkSyncResult(networks=self.list_networks(), removed=removed, in_use=in_use)

    def _ensure_bridge(self, net: NetworkState) -> None:
        """The network's bridge: ours (created or corrected), or a foreign bridge used as it is."""
        link = self.host_net.link(net.bridge)
        if link is not None and not linux_net.owned(link):
            if link.kind != "bridge":
                raise linux_net.ForeignDevice(link)  # a foreign non-bridge: vNICs cannot join it
            log.info("network %s uses the host's own bridge %s as it is", net.network, net.bridge)
            return
        linux_net.ensure_bridge(self.host_net, net.bridge, net.mtu)

    def list_networks(self) -> list[NetworkState]:
        with self.store.lock:
            return [n for _, n in sorted(self.store.state.networks.items())]

    def replay(self) -> None:
        """Ensure every bridge again (after a restart); one that fails is logged."""
        with self.store.lock:
            for net in self.store.state.networks.values():
                try:
                    self._ensure_bridge(net)
                except HostNetError as exc:
                    log.error("recover network %s: %s", net.network, exc)
