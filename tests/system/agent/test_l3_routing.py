"""Routing on the builtin backend, on a real kernel (``tests/support/l3_lab.py``): two hosts whose
agents are L3 agents, the embedded provider scheduling a router onto one of them, an external flat
network with the outside world on it.

VM1 (net1, host h1, a group allowing ICMP from anywhere and TCP 8000 only from net2) and VM2
(net2, host h2, open) are joined by a router with a gateway: they reach each other across hosts
through the router's namespace; VM2 reaches the outside through SNAT (the outside sees the
router's gateway address); the outside reaches VM1 through a floating IP (and VM1 goes out from
it), no longer after the disassociation; VM1's group applies to routed and floating traffic alike.
The router's host dies: the router moves to the other agent and works there; the dead host's
agent, back, removes its stale namespace. Removing an interface cuts the routed path.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import _require
from tests.support.l3_lab import OUTSIDE_IP, RoutedLab, eventually, routed_lab
from tests.support.netlab import Lab, netns_names, sh
from tests.support.provider_lab import openstack_reason

pytestmark = pytest.mark.root


@pytest.fixture
def routed(lab: Lab) -> Iterator[RoutedLab]:
    _require(openstack_reason())
    tools = sh("which", "iptables-restore", "conntrack", check=False).returncode == 0
    _require(None if tools else "iptables or conntrack missing (Debian iptables, conntrack)")
    with routed_lab(lab) as routed:
        yield routed


def test_a_router_joins_networks_reaches_outside_and_moves_when_its_host_dies(routed: RoutedLab) -> None:  # noqa: PLR0915
    r, p = routed, routed.provider
    ext, net1, net2 = r.external_network(), r.network("net1", "10.0.1.0/24"), r.network("net2", "10.0.2.0/24")
    extensions = {e["alias"] for e in p.get("/v2.0/extensions")["extensions"]}
    assert {"router", "l3_agent_scheduler"} <= extensions
    router = p.create("routers", "router", name="r1", external_gateway_info={"network_id": ext["id"]})
    rid = router["id"]
    gateway_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    for net in (net1, net2):
        r.put(f"/v2.0/routers/{rid}/add_router_interface", {"subnet_id": net["subnet"]["id"]})
    eventually("the router is scheduled", lambda: len(r.l3_hosts(rid)) == 1)
    [first] = r.l3_hosts(rid)
    assert p.get("/v2.0/agents", host=first, agent_type="L3 agent")["agents"][0]["alive"]
    [hosted] = p.get(f"/v2.0/agents/{p.get(f'/v2.0/routers/{rid}/l3-agents')['agents'][0]['id']}/l3-routers")[
        "routers"
    ]
    assert hosted["id"] == rid
    listed = json.loads(p.openstack("network", "agent", "list", "--router", rid, "-f", "json"))
    assert [a["Host"] for a in listed] == [first], listed
    eventually("the router's ports are ACTIVE", lambda: r.router_ports_active(rid))
    assert {pt["binding:host_id"] for pt in p.get("/v2.0/ports", device_id=rid)["ports"]} == {first}

    web = r.group(
        "web",
        {"protocol": "icmp"},
        {
            "protocol": "tcp",
            "port_range_min": 8000,
            "port_range_max": 8000,
            "remote_ip_prefix": "10.0.2.0/24",
        },
    )
    anything = r.group("open", {"protocol": "icmp"}, {"protocol": "tcp"})
    vm1, vm2 = r.vm("vm1", "h1", net1, [web]), r.vm("vm2", "h2", net2, [anything])
    r.listen("vm1", 8000, 8001)

    # routed across hosts, the group applying to routed traffic (source kept: net2's rule lets 8000 in)
    eventually("vm2 reaches vm1 through the router", lambda: r.ping(vm2, r.ips["vm1"]))
    assert r.ping(vm1, r.ips["vm2"])
    eventually("vm2 opens TCP 8000 on vm1", lambda: r.tcp(vm2, r.ips["vm1"], 8000))
    assert not r.tcp(vm2, r.ips["vm1"], 8001)
    # SNAT: the outside sees the router's gateway address
    assert r.seen_from_outside(vm2) == gateway_ip

    # a floating IP: the outside reaches vm1 (ICMP; TCP 8000 is not from net2: refused), vm1 goes out from it
    fip = p.create("floatingips", "floatingip", floating_network_id=ext["id"], port_id=r.ports["vm1"]["id"])
    address = fip["floating_ip_address"]
    took = eventually(
        "the outside reaches vm1 at its floating IP", lambda: r.ping(r.outside, address, wait=0.2)
    )
    eventually("the floating IP is ACTIVE", lambda: r.fip_status(fip["id"]) == "ACTIVE")
    assert not r.tcp(r.outside, address, 8000)
    assert r.seen_from_outside(vm1) == address
    # disassociated: unreachable
    r.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": None}})
    eventually("the floating IP is gone from the outside", lambda: not r.ping(r.outside, address, wait=0.3))
    assert r.fip_status(fip["id"]) == "DOWN"
    assert r.seen_from_outside(vm1) == gateway_ip

    # the router's host dies: the router moves to the other agent, and works there
    [first] = r.l3_hosts(rid)  # (where it is now: a loaded machine may have moved it already)
    other = "h2" if first == "h1" else "h1"
    r.agents[first].stop()
    r.host_down(first)
    stale = r.router_namespace(first, rid)
    assert stale in netns_names()
    eventually("the router moved", lambda: r.l3_hosts(rid) == [other], within=25)
    eventually("the router works on its new host", lambda: r.router_ports_active(rid))
    survivor = vm2 if other == "h2" else vm1
    eventually("SNAT from the new host", lambda: r.seen_from_outside(survivor) == gateway_ip, within=10)
    # the dead host comes back: its agent removes the namespace of the router it no longer hosts
    r.host_up(first)
    r.start_agent(first)
    eventually("the stale router namespace is removed", lambda: stale not in netns_names())
    assert r.l3_hosts(rid) == [other]
    eventually("vm2 reaches vm1 again", lambda: r.ping(vm2, r.ips["vm1"]), within=15)

    # removing an interface cuts the routed path
    r.put(f"/v2.0/routers/{rid}/remove_router_interface", {"subnet_id": net2["subnet"]["id"]})
    eventually("vm2 no longer reaches vm1", lambda: not r.ping(vm2, r.ips["vm1"], wait=0.3))
    assert not r.seen_from_outside(vm2)
    assert r.ping(vm1, OUTSIDE_IP)  # net1 still routed
    print(f"floating IP associated -> reachable from outside in {took:.2f} s")
