"""The ``open_vswitch`` vNIC driver: vNICs on the integration bridge ``br-int``.

Each provider network gets a host-local VLAN tag on ``br-int`` (Neutron's OVS agent does the
same); a vNIC's ``tap<port[:11]>`` is an access port with that tag and the interface external
ids ``iface-id`` = port id, ``attached-mac``, ``iface-status``. Across hosts a VXLAN network
uses a kernel ``vxlan-<vni>`` device (unicast, ``nolearning``, flood entries toward the peers) as
an access port of ``br-int`` with the network's tag: it works with OVS's userspace datapath too.
The port is added even before its device exists, so a libvirt domain (whose XML names
``br-int`` with ``interfaceid``) joins with the right tag.

A vNIC with security groups gets the hybrid plug (OVS cannot filter statefully here, as in the
seed): its tap joins a per-port Linux bridge ``qbr<port[:11]>``, filtered by the iptables
firewall, and a veth ``qvb<port[:11]>``/``qvo<port[:11]>`` joins that bridge to ``br-int``, where
``qvo`` carries the tag and the external ids. A vNIC whose groups come or go after the plug (the
provider sync re-plugs it) changes layout: plugging it with groups takes its tap off ``br-int``
onto a new ``qbr``, plugging it without takes the hybrid plug down and its tap back onto
``br-int`` (its traffic pauses for as long as that takes).

On the userspace datapath (``datapath_type=netdev``) ovs-vswitchd reads a veth port's frames
with an AF_PACKET socket and sends them on as they are. A frame its sender left to checksum
offload (a TCP/UDP checksum the kernel would complete later, ``CHECKSUM_PARTIAL``) so leaves
OVS with an incomplete checksum, and receivers drop it: conntrack marks it ``INVALID`` (the
hybrid plug's firewall drops it, e.g. the DHCP reply to a filtered vNIC), a guest's stack or
``udhcpc`` ignores it. So the driver turns TX checksum offload off on the other end of every veth
it puts on such a bridge (``ethtool -K PEER tx off``, as Open vSwitch's documentation asks for
veths on the userspace datapath): a netns guest's ``eth<n>``, the DHCP server's ``eth0``, the
hybrid plug's ``qvb``. The kernel datapath keeps the checksum state and needs none of this.

In OVN mode (``context.ovn``) OVN owns ``br-int``: a vNIC is a plain untagged port with
``iface-id`` = the port id, which ovn-controller binds to its logical switch port; no local VLANs,
no VXLAN devices, no hybrid plug (OVN applies the security groups). The driver then takes
``OVIRT_PROVIDER_OVN`` vNICs too (what oVirt registers for ovirt-provider-ovn, whose host hook does
the same plug).
"""

from __future__ import annotations

import logging

from neutrino.agent.datapath import linux_net
from neutrino.agent.datapath.hostnet import HostNetError, VxlanSpec
from neutrino.agent.datapath.vswitch import OvsDb, OvsPort
from neutrino.agent.vnic.base import DriverInfo, Vif, VnicDriver, VnicDriverError, peers_of
from neutrino.agent.vnic.linux_bridge import VXLAN_OVERHEAD
from neutrino.agent_api.schema import Plugged

log = logging.getLogger(__name__)

INTEGRATION_BRIDGE = "br-int"
NET_KEY = "neutrino-net"
#: the interface external id that marks a port as the agent's: it changes and deletes no other
OWNER_KEY, OWNER = "neutrino-owner", "neutrino"
OVN_PLUGIN_TYPES = ("OPEN_VSWITCH", "OVIRT_PROVIDER_OVN")
OVN_NETWORK_TYPES = ("geneve", "vxlan", "flat", "vlan")


def _qvo(port_id: str) -> str:
    """The br-int end of a hybrid plug's veth."""
    return ("qvo" + port_id)[:14]


def local_vlan(ports: list[OvsPort], network_id: str, bridge: str = INTEGRATION_BRIDGE) -> int:
    """The network's tag on the bridge: the one its ports have, else the lowest free one."""
    used = set()
    for port in ports:
        if port.external_ids.get(NET_KEY) == network_id and port.tag is not None:
            return port.tag
        if port.tag is not None:
            used.add(port.tag)
    for tag in range(1, 4095):
        if tag not in used:
            return tag
    raise VnicDriverError(f"{bridge} has no free local VLAN for network {network_id}")


def owned(external_ids: dict[str, str], vnic_id: str | None = None) -> bool:
    """Whether a port with these interface external ids is the agent's: it carries the mark (or, made
    before the mark existed, ``neutrino-net``, or the ``iface-id`` of the very vNIC being plugged)."""
    return (
        external_ids.get(OWNER_KEY) == OWNER
        or NET_KEY in external_ids
        or (vnic_id is not None and external_ids.get("iface-id") == vnic_id)
    )


class NotOurs(VnicDriverError):
    """A port by the name the agent needs exists and is someone else's (e.g. ovn-controller's)."""


class OpenVSwitchDriver(VnicDriver):
    """Plugs OPEN_VSWITCH vNICs on local and vxlan networks into ``br-int`` (the context's
    ``integration_bridge``)."""

    name = "open_vswitch"
    filters_with_firewall = True
    network_types = ("local", "vxlan")

    @property
    def br_int(self) -> str:
        """The integration bridge (``br-int`` unless configured otherwise)."""
        return self.context.integration_bridge

    def _ovs(self) -> OvsDb:
        if self.context.ovs is None:
            raise VnicDriverError("this agent has no Open vSwitch database configured")
        return self.context.ovs

    def describe(self) -> DriverInfo:
        if self.context.ovn:
            return DriverInfo(
                name=self.name,
                plugin_types=OVN_PLUGIN_TYPES,
                network_types=OVN_NETWORK_TYPES,
                security_groups=True,
                details={"integration_bridge": self.br_int, "ovn": True},
            )
        return DriverInfo(
            name=self.name,
            plugin_types=("OPEN_VSWITCH",),
            network_types=self.network_types,
            security_groups=self.context.firewall is not None,
            details={"integration_bridge": self.br_int, "tunnel_ip": self.context.tunnel_ip},
        )

    def _kind(self, vif: Vif) -> str:
        net = vif.net
        kind = net.network_type or ("vxlan" if net.segmentation_id is not None else "local")
        if kind not in self.network_types:
            raise VnicDriverError(f"open_vswitch cannot carry {kind} network {net.network_id}")
        if kind == "vxlan" and net.segmentation_id is None:
            raise VnicDriverError(f"vxlan network {net.network_id} has no segmentation id")
        return kind

    def plug(self, vif: Vif) -> Plugged:  # noqa: C901 (the ordered, idempotent steps of a hybrid or direct OVS plug, each a guard)
        if self.context.ovn:
            return self._plug_ovn(vif)
        net = vif.net
        groups = list(net.security_groups or [])
        firewall = self.context.firewall
        if groups and firewall is None:
            raise VnicDriverError("this host's open_vswitch driver applies no security groups")
        kind = self._kind(vif)
        ovs, host = self._ovs(), self.context.host_net
        if firewall is not None:
            try:
                firewall.check(groups)
            except HostNetError as exc:
                raise VnicDriverError(str(exc)) from exc
        details: dict[str, object] = {"network_type": kind}
        try:
            ovs.ensure_bridge(self.br_int, self.context.ovs_datapath_type)
            on_br_int = ovs.ports(self.br_int)
            tag = local_vlan(on_br_int, net.network_id, self.br_int)
            mtu = vif.mtu
            if kind == "vxlan":
                assert net.segmentation_id is not None
                mtu = min(vif.mtu or 65535, self.context.underlay_mtu - VXLAN_OVERHEAD)
                dev = linux_net.vxlan_name(net.segmentation_id)
                spec = VxlanSpec(
                    vni=net.segmentation_id,
                    local=self.context.tunnel_ip,
                    port=self.context.vxlan_port,
                    dev=self.context.underlay_dev,
                    mtu=self.context.underlay_mtu - VXLAN_OVERHEAD,
                )
                linux_net.ensure_vxlan(host, dev, spec)
                peers = peers_of(self.context, net.tunnel_peers)
                linux_net.ensure_flood_entries(host, dev, peers)
                self._ensure_own_port(on_br_int, dev, tag, {NET_KEY: net.network_id})
                details.update(vxlan=dev, segmentation_id=net.segmentation_id, peers=sorted(peers))
            external_ids = {
                "iface-id": net.vnic_id,
                "attached-mac": vif.mac,
                "iface-status": "active",
                NET_KEY: net.network_id,
                OWNER_KEY: OWNER,
            }
            # e.g. a DHCP server port whose MAC the kernel chose: OVSDB refuses an empty value
            if not vif.mac:
                del external_ids["attached-mac"]
            bridge = self.br_int
            if groups:
                assert firewall is not None
                bridge = self._hybrid(vif, tag, mtu, external_ids, on_br_int)
                firewall.set_port(
                    vif.device, vif.mac, groups, net.network_id, bridge=bridge
                )  # before the tap joins qbr
                if any(p.name == vif.device and owned(p.external_ids) for p in on_br_int):
                    ovs.delete_port(self.br_int, vif.device)  # plugged without groups before
                linux_net.ensure_state_if_exists(host, vif.device, master=bridge, mtu=mtu)
            else:
                if host.link(linux_net.qbr_name(net.vnic_id)) or host.link(_qvo(net.vnic_id)):
                    self._unhybrid(vif)  # plugged with groups before
                if firewall is not None and vif.device in firewall.ports:
                    firewall.set_port(vif.device, vif.mac, [])
                self._ensure_own_port(on_br_int, vif.device, tag, external_ids)
                if linux_net.ensure_state_if_exists(host, vif.device, mtu=mtu) is not None:
                    self._sender_checksums(vif.device)
            details["tag"] = tag
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

    def _plug_ovn(self, vif: Vif) -> Plugged:
        """The vNIC's device on br-int, untagged, named to OVN by ``iface-id``."""
        ovs, host, net = self._ovs(), self.context.host_net, vif.net
        external_ids = {
            "iface-id": net.vnic_id,
            "attached-mac": vif.mac,
            "iface-status": "active",
            OWNER_KEY: OWNER,
        }
        if not vif.mac:
            del external_ids["attached-mac"]
        try:
            ovs.ensure_bridge(self.br_int, self.context.ovs_datapath_type)
            present = ovs.interface_external_ids(vif.device)
            if present is not None and not owned(present, net.vnic_id):
                raise self._not_ours(vif.device)
            ovs.ensure_port(self.br_int, vif.device, None, external_ids)
            if linux_net.ensure_state_if_exists(host, vif.device, mtu=vif.mtu) is not None:
                self._sender_checksums(vif.device)
        except HostNetError as exc:
            raise VnicDriverError(str(exc)) from exc
        return Plugged(
            driver=self.name,
            vnic_id=net.vnic_id,
            plugin_type=net.plugin_type,
            mac=vif.mac,
            security_groups=list(net.security_groups or []),
            device=vif.device,
            bridge=self.br_int,
            details={"ovn": True, "iface_id": net.vnic_id},
        )

    def _ensure_own_port(
        self, on_br_int: list[OvsPort], name: str, tag: int | None, external_ids: dict[str, str]
    ) -> None:
        """``name`` on br-int with ``tag`` and ``external_ids`` (the mark among them), unless a port of that
        name is someone else's (:class:`NotOurs`)."""
        for port in on_br_int:
            if port.name == name and not owned(port.external_ids, external_ids.get("iface-id")):
                raise self._not_ours(name)
        self._ovs().ensure_port(self.br_int, name, tag, {**external_ids, OWNER_KEY: OWNER})

    def _not_ours(self, name: str) -> NotOurs:
        return NotOurs(
            f"{self.br_int} already has a port {name} that is not Neutrino's (no external id "
            f"{OWNER_KEY}={OWNER}): the agent neither changes nor removes it"
        )

    def _delete_own_port(self, name: str) -> None:
        """``name`` off br-int if it is the agent's; someone else's port stays (ovn-controller's tunnels...)."""
        ovs = self._ovs()
        present = ovs.interface_external_ids(name)
        if present is None:
            return
        if not owned(present):
            log.warning("%s: port %s is not Neutrino's; left in place", self.br_int, name)
            return
        ovs.delete_port(self.br_int, name)

    def _hybrid(
        self, vif: Vif, tag: int, mtu: int | None, external_ids: dict[str, str], on_br_int: list[OvsPort]
    ) -> str:
        """qbr with the veth toward br-int; returns the bridge the tap belongs on."""
        host = self.context.host_net
        port = vif.net.vnic_id
        qbr, qvb, qvo = linux_net.qbr_name(port), ("qvb" + port)[:14], _qvo(port)
        linux_net.ensure_bridge(host, qbr, mtu, host_ipv6=False)
        linux_net.ensure_veth(host, qvb, qvo, None)
        linux_net.ensure_link_state(host, qvb, master=qbr, mtu=mtu)
        linux_net.ensure_link_state(host, qvo, mtu=mtu)
        self._ensure_own_port(on_br_int, qvo, tag, external_ids)
        self._sender_checksums(qvo)
        return qbr

    def _sender_checksums(self, port: str) -> None:
        """On the userspace datapath, the other end of the veth ``port`` completes its TCP/UDP
        checksums itself (see the module docstring); nothing for other devices (a libvirt tap)."""
        if self.context.ovs_datapath_type == "netdev":
            linux_net.ensure_peer_tx_checksum(self.context.host_net, port, False)

    def _unhybrid(self, vif: Vif) -> None:
        """No hybrid plug for ``vif``: no qvo on br-int, no qvb/qvo veth, the tap on no qbr, no
        qbr (a no-op when there is none)."""
        host = self.context.host_net
        port = vif.net.vnic_id
        qvo, qbr = _qvo(port), linux_net.qbr_name(port)
        self._delete_own_port(qvo)
        linux_net.delete_link(host, qvo)  # and qvb with it
        link = host.link(vif.device)
        if link is not None and link.master == qbr:
            linux_net.ensure_detached(host, vif.device)
        linux_net.delete_link(host, qbr)

    def unplug(self, vif: Vif, *, network_in_use: bool) -> None:
        host = self.context.host_net
        if self.context.ovn:
            try:
                self._delete_own_port(vif.device)
            except HostNetError as exc:
                raise VnicDriverError(str(exc)) from exc
            return
        try:
            self._delete_own_port(vif.device)
            self._unhybrid(vif)
            if self.context.firewall is not None and vif.device in self.context.firewall.ports:
                self.context.firewall.set_port(vif.device, vif.mac, [])
            if not network_in_use and vif.net.segmentation_id is not None and self._kind(vif) == "vxlan":
                dev = linux_net.vxlan_name(vif.net.segmentation_id)
                self._delete_own_port(dev)
                linux_net.delete_link(host, dev)
        except HostNetError as exc:
            raise VnicDriverError(str(exc)) from exc
