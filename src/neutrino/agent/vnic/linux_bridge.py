"""The ``linux_bridge`` vNIC driver: Neutron's linuxbridge-agent datapath, done by the agent.

Per provider network one bridge ``brq<net[:11]>``; a VXLAN network gets a unicast, non-learning
``vxlan-<segmentation id>`` device on it with a flood entry toward each peer host's tunnel
address; a flat network gets the host interface mapped to its physical network. The vNIC's host
device ``tap<port[:11]>`` joins the bridge when it exists (a netns VM's veth does at plug time; a
libvirt domain's tap is created by libvirt on the same bridge). The host keeps no IPv6 on the
bridge (``disable_ipv6``): it takes no address from the router advertisements guests receive.
"""

from __future__ import annotations

from neutrino.agent.datapath import linux_net
from neutrino.agent.datapath.hostnet import HostNetError, VxlanSpec
from neutrino.agent.vnic.base import DriverInfo, Vif, VnicDriver, VnicDriverError, peers_of
from neutrino.agent_api.schema import Plugged

VXLAN_OVERHEAD = 50  # outer IPv4 + UDP + VXLAN + inner Ethernet


class LinuxBridgeDriver(VnicDriver):
    """Plugs LINUX_BRIDGE vNICs on vxlan, flat and local networks; security groups through the
    context's :class:`~neutrino.agent.datapath.firewall.Firewall` when it has one."""

    name = "linux_bridge"
    filters_with_firewall = True
    filters_ahead = True
    network_types = ("flat", "local", "vxlan")

    def describe(self) -> DriverInfo:
        ctx = self.context
        return DriverInfo(
            name=self.name,
            plugin_types=("LINUX_BRIDGE",),
            network_types=self.network_types,
            security_groups=ctx.firewall is not None,
            details={
                "tunnel_ip": ctx.tunnel_ip,
                "physical_interface_mappings": dict(ctx.physical_interfaces),
            },
        )

    def _network_type(self, vif: Vif) -> str:
        net = vif.net
        kind = net.network_type or ("vxlan" if net.segmentation_id is not None else None)
        if kind is None:
            raise VnicDriverError(f"network {net.network_id} has no known network type")
        if kind not in self.network_types:
            raise VnicDriverError(f"linux_bridge cannot carry {kind} network {net.network_id}")
        return kind

    def filter_ahead(self, vif: Vif) -> None:
        firewall = self.context.firewall
        groups = list(vif.net.security_groups or [])
        if firewall is None or any(g not in firewall.groups for g in groups):
            return  # the plug says what is wrong
        bridge = linux_net.brq_name(vif.net.network_id)
        firewall.set_port(vif.device, vif.mac, groups, vif.net.network_id, bridge=bridge)

    def plug(self, vif: Vif) -> Plugged:
        net = vif.net
        firewall = self.context.firewall
        groups = list(net.security_groups or [])
        if groups and firewall is None:
            raise VnicDriverError("this host's linux_bridge driver applies no security groups")
        if firewall is not None:
            try:
                firewall.check(groups)
            except HostNetError as exc:
                raise VnicDriverError(str(exc)) from exc
        kind = self._network_type(vif)
        host = self.context.host_net
        bridge = linux_net.brq_name(net.network_id)
        details: dict[str, object] = {"network_type": kind}
        tap_mtu = vif.mtu
        try:
            # the network's devices: once per verb of the agent (a guest's vNICs and the network's DHCP port)
            if kind == "vxlan":
                if net.segmentation_id is None:
                    raise VnicDriverError(f"vxlan network {net.network_id} has no segmentation id")
                mtu = self.context.underlay_mtu - VXLAN_OVERHEAD
                dev = linux_net.vxlan_name(net.segmentation_id)
                spec = VxlanSpec(
                    vni=net.segmentation_id,
                    local=self.context.tunnel_ip,
                    port=self.context.vxlan_port,
                    dev=self.context.underlay_dev,
                    mtu=mtu,
                )
                tap_mtu = min(vif.mtu or mtu, mtu)
                peers = peers_of(self.context, net.tunnel_peers)

                def vxlan() -> None:
                    linux_net.ensure_bridge(host, bridge, mtu, host_ipv6=False)
                    linux_net.ensure_vxlan(host, dev, spec, bridge)
                    linux_net.ensure_flood_entries(host, dev, peers)

                linux_net.once_per_pass((bridge, spec, frozenset(peers)), vxlan)
                details.update(vxlan=dev, segmentation_id=net.segmentation_id, peers=sorted(peers))
            elif kind == "flat":
                physnet = net.physical_network
                iface = self.context.physical_interfaces.get(physnet or "")
                if iface is None:
                    raise VnicDriverError(f"no host interface is mapped to physical network {physnet!r}")

                def flat() -> None:
                    linux_net.ensure_bridge(host, bridge, host_ipv6=False)
                    linux_net.ensure_link_state(host, iface, master=bridge)

                linux_net.once_per_pass((bridge, iface), flat)
                details.update(physical_interface=iface)
            else:
                linux_net.once_per_pass(
                    (bridge,), lambda: linux_net.ensure_bridge(host, bridge, host_ipv6=False)
                )
            if firewall is not None:
                # filter before the tap joins the bridge: no unfiltered window
                firewall.set_port(vif.device, vif.mac, groups, net.network_id, bridge=bridge)
            linux_net.ensure_state_if_exists(host, vif.device, master=bridge, mtu=tap_mtu)
        except HostNetError as exc:
            raise VnicDriverError(str(exc)) from exc
        return Plugged(
            driver=self.name,
            vnic_id=net.vnic_id,
            plugin_type=net.plugin_type,
            mac=vif.mac,
            security_groups=groups,
            device=vif.device,
            bridge=bridge,
            details=details,
        )

    def unplug(self, vif: Vif, *, network_in_use: bool) -> None:
        host = self.context.host_net
        bridge = linux_net.brq_name(vif.net.network_id)
        try:
            if self.context.firewall is not None and vif.device in self.context.firewall.ports:
                self.context.firewall.set_port(vif.device, vif.mac, [])
            link = host.link(vif.device)
            if link is not None and link.master == bridge:
                linux_net.ensure_detached(host, vif.device)
            if network_in_use:
                return
            if vif.net.segmentation_id is not None and (vif.net.network_type or "vxlan") == "vxlan":
                linux_net.delete_link(host, linux_net.vxlan_name(vif.net.segmentation_id))
            # a flat network's host interface is released, not deleted, with the bridge
            linux_net.delete_link(host, bridge)
        except HostNetError as exc:
            raise VnicDriverError(str(exc)) from exc
