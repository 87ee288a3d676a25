"""The libvirt domain XML of a VM, with each vNIC wired the way oVirt's openstacknet hook does.

* internal network: ``<interface type="bridge">`` on the network's bridge;
* LINUX_BRIDGE: on ``brq<net[:11]>`` with target ``tap<port[:11]>`` (Neutron's linuxbridge
  names; the seed's hook left the tap on ``;vdsmdummy;`` only to work around a libvirt bug);
* OPEN_VSWITCH: on ``br-int`` with ``<virtualport type="openvswitch">`` and
  ``interfaceid`` = port id; with security groups, the hybrid plug instead: on the per-port
  Linux bridge ``qbr<port[:11]>``, which the OVS driver joins to ``br-int``.

Pure functions: no I/O.
"""

from __future__ import annotations

import uuid

from lxml import etree

from neutrino.agent.datapath.linux_net import brq_name, qbr_name, tap_name
from neutrino.agent_api.schema import NicSpec, VmSpec

INTEGRATION_BRIDGE = "br-int"
METADATA_NS = "http://neutrino.invalid/xmlns/agent/1"


def _sub(parent: etree._Element, tag: str, **attrs: str) -> etree._Element:
    return etree.SubElement(parent, tag, attrs)


def interface_element(nic: NicSpec, integration_bridge: str = INTEGRATION_BRIDGE) -> etree._Element:
    """The ``<interface>`` of one vNIC (also what a hot-plug would attach)."""
    iface = etree.Element("interface", type="bridge")
    _sub(iface, "mac", address=nic.mac)
    ext = nic.external
    virtualport = None
    if ext is None:
        assert nic.internal is not None
        bridge = nic.internal.bridge_name
    elif ext.plugin_type == "OPEN_VSWITCH":
        if ext.security_groups:
            bridge = qbr_name(ext.vnic_id)
        else:
            bridge = integration_bridge
            virtualport = ext.vnic_id
    else:
        bridge = brq_name(ext.network_id)
    _sub(iface, "source", bridge=bridge)
    if virtualport is not None:
        vp = _sub(iface, "virtualport", type="openvswitch")
        _sub(vp, "parameters", interfaceid=virtualport)
    _sub(iface, "target", dev=tap_name(nic.device_id))
    _sub(iface, "model", type="virtio")
    if nic.mtu:
        _sub(iface, "mtu", size=str(nic.mtu))
    _sub(iface, "alias", name=f"ua-{nic.nic_id}")
    return iface


def domain_xml(
    vm: VmSpec, nics: list[NicSpec] | None = None, integration_bridge: str = INTEGRATION_BRIDGE
) -> str:
    """The whole ``<domain>`` document for ``vm`` with ``nics`` (default: all of its NICs);
    OPEN_VSWITCH vNICs without security groups go on ``integration_bridge``."""
    dom = etree.Element("domain", type="kvm")
    _sub(dom, "name").text = vm.name
    try:
        vm_uuid = str(uuid.UUID(vm.vm_id))
    except ValueError:
        vm_uuid = None  # libvirt makes one up
    if vm_uuid:
        _sub(dom, "uuid").text = vm_uuid
    meta = _sub(dom, "metadata")
    agent = etree.SubElement(meta, f"{{{METADATA_NS}}}vm", nsmap={"neutrino": METADATA_NS})
    agent.set("id", vm.vm_id)
    _sub(dom, "memory", unit="MiB").text = str(vm.memory_mb)
    _sub(dom, "vcpu").text = str(vm.vcpus)
    os_el = _sub(dom, "os")
    _sub(os_el, "type", arch="x86_64", machine="pc").text = "hvm"
    _sub(os_el, "boot", dev="network")
    devices = _sub(dom, "devices")
    for nic in vm.nics if nics is None else nics:
        devices.append(interface_element(nic, integration_bridge))
    return etree.tostring(dom, pretty_print=True, encoding="unicode")
