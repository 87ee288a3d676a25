"""Provider networks on OVN, driven through the engine with the real ovirtsdk4 and the ``openstack``
CLI: a VLAN network (``provider:network_type vlan`` on ``physnet1``, segment 123) and a flat one on the
same physical network. The provider (``--backend ovn``) writes a ``localnet`` port per network; each
chassis' agent maps ``physnet1`` onto the lab's provider bridge ``br-prov`` and ovn-controller patches it
to ``br-int``. Two VMs, one per chassis, each with a vNIC on both networks, get their addresses by DHCP
from OVN and ping each other; on the wire between the chassis' provider bridges (``tcpdump -e``: this
kernel has no 802.1Q, the lab's Linux bridge carries tagged frames as they are) the VLAN network's
frames are the guests' own, tagged 123, the flat network's untagged, and nothing crosses the Geneve
underlay meanwhile."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.engine_stack import World, add_vm, eventually, setup_site, start_vm
from tests.support.netlab import Lab, sh
from tests.support.ovn_lab import PHYSNET, PROVIDER_BRIDGE, OvnLab, tcpdump, wait_for
from tests.support.ovn_world import ovn_world

pytestmark = pytest.mark.root

VLAN = 123
GENEVE_PORT = 6081
PINGS = 3


@pytest.fixture
def world(ovn_lab: OvnLab, lab: Lab) -> Iterator[World]:
    """The engine and the provider (``--backend ovn``) in the central's namespace, an agent per chassis
    with ``physnet1`` mapped onto ``br-prov``, registered as hosts."""
    with ovn_world(ovn_lab, lab) as world:
        yield world


def import_network(w: World, env: dict[str, Any], network: dict[str, Any]) -> Any:
    """The provider network imported into the site's data center, on every cluster; its vNIC profile."""
    import ovirtsdk4.types as types

    s = w.system
    [osp] = [p for p in w.run(s.openstack_network_providers_service().list) if p.name == "osp"]
    dc = next(iter(env["clusters"].values())).data_center
    networks = s.openstack_network_providers_service().provider_service(osp.id).networks_service()
    w.run(networks.network_service(network["id"]).import_, data_center=types.DataCenter(id=dc.id))
    [net] = [
        n
        for n in w.run(s.networks_service().list, search=f"name={network['name']}")
        if n.data_center.id == dc.id
    ]
    for cluster in env["clusters"].values():
        w.run(
            s.clusters_service().cluster_service(cluster.id).networks_service().add,
            types.Network(id=net.id, required=False),
        )
    [profile] = w.run(s.networks_service().network_service(net.id).vnic_profiles_service().list)
    return profile


def localnet(ovn: OvnLab, network_id: str) -> dict[str, Any]:
    """The network's localnet port in the northbound: type, tag (None if untagged), options."""
    got = json.loads(ovn.nbctl("--format=json", "--columns=type,tag,options", "find", "Logical_Switch_Port",
                               f"name=provnet-{network_id}"))["data"]  # fmt: skip
    assert len(got) == 1, f"no localnet port for network {network_id}: {got}"
    kind, tag, (_, options) = got[0]
    return {"type": kind, "tag": None if tag == ["set", []] else tag, "options": dict(options)}


def check_echoes(
    wire: list[str], src_port: dict[str, Any], dst_port: dict[str, Any], tag: int | None
) -> None:
    """The wire carried a ping from the first port's address to the second's and its replies, each
    frame the guests' own (their MACs: no tunnel), 802.1Q-tagged ``tag``, or untagged if None."""
    src, dst = ((p["fixed_ips"][0]["ip_address"], p["mac_address"]) for p in (src_port, dst_port))
    link = f"ethertype 802.1Q (0x8100), length 102: vlan {tag}, p 0, ethertype IPv4 (0x0800)"
    for kind, (from_ip, from_mac), (to_ip, to_mac) in (("request", src, dst), ("reply", dst, src)):
        frames = [f for f in wire if f"{from_ip} > {to_ip}: ICMP echo {kind}" in f]
        seen = "\n".join(wire)
        assert len(frames) >= PINGS, f"{PINGS} echo {kind}s {from_ip} > {to_ip} expected; the wire:\n{seen}"
        for frame in frames:
            assert f" {from_mac} > {to_mac}, " in frame, frame
            if tag is None:
                assert "802.1Q" not in frame and "ethertype IPv4 (0x0800), length 98:" in frame, frame
            else:
                assert link in frame, frame


def has_address(guest: str, dev: str, ip: str) -> bool:
    return f"{ip}/24" in sh("ip", "-n", guest, "-4", "addr", "show", "dev", dev).stdout


def test_vlan_and_flat_networks_cross_the_chassis_on_the_provider_bridges(
    world: World, ovn_lab: OvnLab
) -> None:
    import ovirtsdk4.types as types

    w = world
    env = setup_site(w, plugin_type="OPEN_VSWITCH")
    vlan = json.loads(w.provider.openstack(
        "network", "create", "--provider-network-type", "vlan", "--provider-physical-network", PHYSNET,
        "--provider-segment", str(VLAN), "-f", "json", "vlan123",
    ))  # fmt: skip
    assert (vlan["provider:network_type"], vlan["provider:segmentation_id"]) == ("vlan", VLAN), vlan
    flat = w.provider.create("networks", "network", name="flat1", **{
        "provider:network_type": "flat", "provider:physical_network": PHYSNET})  # fmt: skip
    for network, cidr in ((vlan, "10.30.0.0/24"), (flat, "10.31.0.0/24")):
        w.provider.create("subnets", "subnet", network_id=network["id"], cidr=cidr, ip_version=4)
    on_physnet = {"network_name": PHYSNET}
    assert localnet(ovn_lab, vlan["id"]) == {"type": "localnet", "tag": VLAN, "options": on_physnet}
    assert localnet(ovn_lab, flat["id"]) == {"type": "localnet", "tag": None, "options": on_physnet}

    # one VM per chassis: nic1 (eth0) on the VLAN network, nic2 (eth1) on the flat one
    profiles = {"vlan": import_network(w, env, vlan), "flat": import_network(w, env, flat)}
    ports: dict[str, dict[str, Any]] = {}
    for name, host in zip(("vm1", "vm2"), w.addresses, strict=True):
        service = add_vm(w, name, env["clusters"][host], profiles["vlan"])
        nic2 = w.run(service.nics_service().add,
                     types.Nic(name="nic2", vnic_profile=types.VnicProfile(id=profiles["flat"].id)))  # fmt: skip
        start_vm(w, name, service)  # nic1's address by DHCP from OVN
        [ports[name]] = w.provider.get("/v2.0/ports", device_id=w.nic_ids[name])["ports"]
        [ports[f"{name}-flat"]] = w.provider.get("/v2.0/ports", device_id=nic2.id)["ports"]
        for port, network in ((ports[name], vlan), (ports[f"{name}-flat"], flat)):
            assert port["network_id"] == network["id"]
            wait_for(
                f"{port['id']} bound to {host}",
                lambda port=port, host=host: ovn_lab.port_chassis(port["id"]) == host,
            )
        flat_ip = ports[f"{name}-flat"]["fixed_ips"][0]["ip_address"]
        eventually(f"{name}'s flat address by DHCP", lambda name=name, ip=flat_ip: has_address(
            w.guest(name), "eth1", ip), within=30)  # fmt: skip
    for ch in ovn_lab.chassis:  # ovn-controller patched br-int to the mapped bridge, once per localnet port
        on_bridge = ch.vsctl("list-ports", PROVIDER_BRIDGE).split()
        assert len([p for p in on_bridge if p.startswith("patch-")]) == 2, f"{ch.name}: {on_bridge}"

    flat_ip2 = ports["vm2-flat"]["fixed_ips"][0]["ip_address"]
    eventually("vm1 -> vm2 on the VLAN network", lambda: w.ping("vm1", "vm2"), within=15)
    eventually("vm1 -> vm2 on the flat network", lambda: w.ping("vm1", flat_ip2), within=15)
    ch1 = ovn_lab.chassis[0]
    with (
        tcpdump(ovn_lab.underlay_ns, ch1.wire) as wire,
        tcpdump(ovn_lab.underlay_ns, f"p-{ch1.name}", "udp", "port", str(GENEVE_PORT)) as underlay,
    ):
        for dst in (w.ips["vm2"], flat_ip2):
            assert w.lab.ping(w.guest("vm1"), dst, count=PINGS), f"vm1 -> {dst}"
    check_echoes(wire, ports["vm1"], ports["vm2"], tag=VLAN)
    check_echoes(wire, ports["vm1-flat"], ports["vm2-flat"], tag=None)
    assert underlay == [], "Geneve between the chassis while the guests pinged:\n" + "\n".join(underlay)
