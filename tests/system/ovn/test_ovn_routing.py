"""Routing on the OVN backend (issue 12), on the session's OVN lab: the provider (``--backend ovn``, with the
southbound) writes a Logical_Router for a router whose gateway is on an external flat network on
``physnet1`` (each chassis maps it onto its provider bridge, all of them on one wire with an "outside"
namespace); guests are namespaces plugged on the chassis' ``br-int`` (``bench/ovn_routed.py``).

Checked, in this order: guests on two networks, one per chassis, reach each other through the router (over
Geneve); a guest's connection to the outside arrives from the router's gateway address (SNAT); the outside is
told of a floating IP by gratuitous ARP as soon as it is associated (within ``ANNOUNCED_WITHIN``: sooner than
ovn-controller's own first announcement, the agent's), reaches a guest through it and, once it is
disassociated, no longer does; the guests' security group (ICMP and TCP port 22 in) still applies to routed
and floating traffic (port 23, listened on too, stays shut); an extraroute is a static route of the
Logical_Router; removing an interface cuts the routed path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from bench.ovn_routed import OvnRouted, ovn_routed

from tests.support.l3_lab import eventually
from tests.support.netlab import Lab, sh
from tests.support.ovn_lab import OvnLab

pytestmark = pytest.mark.root


@pytest.fixture
def site(ovn_lab: OvnLab, lab: Lab, tmp_path: Path) -> Iterator[OvnRouted]:
    # the maintenance runs meanwhile: what it repairs must not differ from what the requests wrote
    with ovn_routed(ovn_lab, lab, tmp_path, maintenance=1) as site:
        yield site


def static_routes(ovn: OvnLab, router_id: str) -> set[tuple[str, str]]:
    """(prefix, nexthop) of the router's Logical_Router's static routes (``ovn-nbctl lr-route-list``)."""
    listed = ovn.nbctl("lr-route-list", f"neutron-{router_id}").splitlines()
    return {(w[0], w[1]) for w in (line.split() for line in listed) if len(w) >= 2 and "/" in w[0]}


#: a floating IP is announced to the outside sooner than this after its association (seconds)
ANNOUNCED_WITHIN = 0.9


def neighbour(ns: str, address: str) -> str | None:
    """The MAC of ``ns``'s neighbour entry for ``address`` on ``eth0`` (None: no usable entry)."""
    words = sh("ip", "-n", ns, "neigh", "show", address, "dev", "eth0").stdout.split()
    return words[words.index("lladdr") + 1] if "lladdr" in words else None


def gateway_mac(s: OvnRouted, router_id: str) -> str:
    owner = "network:router_gateway"
    [port] = s.provider.get("/v2.0/ports", device_id=router_id, device_owner=owner)["ports"]
    return str(port["mac_address"])


def announced(
    s: OvnRouted, router_id: str, associate: Callable[[], object], address: str
) -> tuple[float, str]:
    """Seconds from ``associate()`` until the outside, which does not ask for ``address``, has a neighbour
    entry for it, and the entry's MAC. The outside takes gratuitous ARPs as new entries (``arp_accept``)."""
    sh("ip", "netns", "exec", s.outside, "sysctl", "-qw", "net.ipv4.conf.eth0.arp_accept=1")
    sh("ip", "-n", s.outside, "neigh", "flush", "to", address, check=False)
    t0 = time.monotonic()
    associate()
    deadline = t0 + 10
    while (mac := neighbour(s.outside, address)) is None:
        assert time.monotonic() < deadline, f"{address} never announced to the outside"
        time.sleep(0.02)
    return time.monotonic() - t0, mac


def test_routed_snat_and_floating_traffic_through_a_logical_router(site: OvnRouted, ovn_lab: OvnLab) -> None:
    s = site
    ext = s.external_network()
    net1, net2 = s.network("net1", "10.81.1.0/24"), s.network("net2", "10.81.2.0/24")
    router = s.provider.create(
        "routers", "router", name="r1", external_gateway_info={"network_id": ext["id"]}
    )
    gateway_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    for net in (net1, net2):
        s.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": net["subnet"]["id"]})
    [chassis] = s.l3_hosts(router["id"])
    assert chassis in s.rig.hosts  # one of the chassis mapping physnet1 (none offers itself as a gateway)
    group = s.group(
        "ssh", {"protocol": "icmp"}, {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22}
    )
    a = s.vm("a", "h1", net1, [group])
    s.vm("b", "h2", net2, [group])

    eventually("a reaches b through the router, across the chassis", lambda: s.ping(a, s.ips["b"]), within=20)
    s.listen("b", 22, 23)
    eventually("a connects to b:22 through the router", lambda: s.tcp(a, s.ips["b"], 22), within=10)
    assert not s.tcp(a, s.ips["b"], 23)  # routed traffic meets b's group
    eventually("the router's ports ACTIVE", lambda: s.router_ports_active(router["id"]), within=10)
    assert s.seen_from_outside(a) == gateway_ip  # SNAT to the gateway address

    fip = s.provider.create("floatingips", "floatingip", floating_network_id=ext["id"])
    address = fip["floating_ip_address"]
    assert not s.ping(s.outside, address, wait=0.5)
    took, mac = announced(s, router["id"], lambda: s.put(
        f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": s.ports["b"]["id"]}}), address)  # fmt: skip
    # the agent's gratuitous ARP from the gateway chassis; ovn-controller's own first one comes 1 s after it
    # learns of the address (pinctrl), and an outside that asked too early would wait as long for its retry
    assert took < ANNOUNCED_WITHIN, f"{address} announced {took:.2f} s after the association"
    assert mac == gateway_mac(s, router["id"])
    eventually("the outside reaches b at its floating IP", lambda: s.ping(s.outside, address), within=15)
    assert s.tcp(s.outside, address, 22) and not s.tcp(s.outside, address, 23)  # so does floating traffic
    assert s.seen_from_outside(s.guests["b"]) == address  # and b goes out as its floating IP
    s.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": None}})
    eventually("the floating IP gone", lambda: not s.ping(s.outside, address, wait=0.5), within=15)

    s.put(f"/v2.0/routers/{router['id']}", {"router": {"routes": [
        {"destination": "10.81.9.0/24", "nexthop": s.ips["a"]}]}})  # fmt: skip
    assert ("10.81.9.0/24", s.ips["a"]) in static_routes(ovn_lab, router["id"])
    assert ("0.0.0.0/0", ext["subnet"]["gateway_ip"]) in static_routes(ovn_lab, router["id"])
    s.put(f"/v2.0/routers/{router['id']}", {"router": {"routes": []}})

    s.put(f"/v2.0/routers/{router['id']}/remove_router_interface", {"subnet_id": net2["subnet"]["id"]})
    eventually("the routed path cut", lambda: not s.ping(a, s.ips["b"], wait=0.5), within=10)
