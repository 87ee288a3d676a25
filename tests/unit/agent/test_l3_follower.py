"""The L3 agent against a canned provider (in-process transport, no token): it reports an L3
agent, reads the routers scheduled to it and what they need, builds them on the in-memory host,
reports their ports and floating IPs; a router that is down keeps its legs without addresses (its
ports ACTIVE, nothing routed); the change feed's kinds decide what is reread, and a provider without the feed is polled; the
periodic resync reads again only when the feed's state digest moved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from neutrino.agent.change_feed import FeedReader
from neutrino.agent.datapath.memory import MemoryNet
from neutrino.agent.datapath.router import RouterNamespaces
from neutrino.agent.identity import HostIdentity
from neutrino.agent.l3_follower import L3Follower
from neutrino.agent.l3_routers import L3Routers
from neutrino.agent.state import HostStore, StateFile
from neutrino.agent.vnic.base import DriverContext
from neutrino.agent.vnic.linux_bridge import LinuxBridgeDriver
from neutrino.neutron_client import Changed, Changes, Endpoint, NeutronClient
from tests.support.canned import Canned
from tests.support.neutron_transport import Call, CannedAdapter

R, NET, EXT = "r0000000-0000-4000-8000-000000000001", "n1000000-0000-4000-8000-000000000001", "e1000000-0000-4000-8000-000000000001"  # fmt: skip


class Provider:
    """Just the calls the L3 agent makes."""

    def __init__(self) -> None:
        self.admin_state_up = True
        self.reports: list[dict[str, Any]] = []
        self.changes = True  # has the neutrino-changes extension
        self.state = "s1"  # the digest of the provider's database
        self.fixed_ip = "10.0.1.7"  # the floating IP's

    def __call__(self, call: Call) -> Canned:  # noqa: C901 (one branch per call)
        path = call.path.removeprefix("/v2.0/")
        if path == "agent-reports":
            self.reports.append(call.body["agent_report"])
            return Canned(
                200, {"agent": {"id": "agent-1", "host": "h1", "agent_type": "L3 agent", "alive": True}}
            )
        if path == "agents/agent-1/l3-routers":
            gateway = {"network_id": EXT, "enable_snat": True, "external_fixed_ips": []}
            router = {
                "id": R,
                "name": "r",
                "admin_state_up": self.admin_state_up,
                "external_gateway_info": gateway,
            }
            return Canned(200, {"routers": [router]})
        if path == "ports":
            return Canned(200, {"ports": [
                {"id": "pi000000-0", "network_id": NET, "mac_address": "fa:16:3e:00:00:01", "device_id": R,
                 "device_owner": "network:router_interface", "fixed_ips": [{"subnet_id": "s1", "ip_address": "10.0.1.1"}]},
                {"id": "pg000000-0", "network_id": EXT, "mac_address": "fa:16:3e:00:00:02", "device_id": R,
                 "device_owner": "network:router_gateway", "fixed_ips": [{"subnet_id": "se", "ip_address": "203.0.113.5"}]},
            ]})  # fmt: skip
        if path == "subnets":
            return Canned(200, {"subnets": [
                {"id": "s1", "network_id": NET, "cidr": "10.0.1.0/24", "ip_version": 4, "gateway_ip": "10.0.1.1"},
                {"id": "se", "network_id": EXT, "cidr": "203.0.113.0/24", "ip_version": 4, "gateway_ip": "203.0.113.1"},
            ]})  # fmt: skip
        if path == "networks":
            return Canned(200, {"networks": [
                {"id": NET, "name": "n", "mtu": 1450, "provider:network_type": "vxlan", "provider:segmentation_id": 5},
                {"id": EXT, "name": "e", "mtu": 1500, "provider:network_type": "flat",
                 "provider:physical_network": "public"},
            ]})  # fmt: skip
        if path == "floatingips":
            return Canned(200, {"floatingips": [
                {"id": "f1", "floating_ip_address": "203.0.113.9", "floating_network_id": EXT, "router_id": R,
                 "port_id": "vm", "fixed_ip_address": self.fixed_ip, "status": "DOWN"},
            ]})  # fmt: skip
        if path == "changes" and self.changes:
            return Canned(200, {"changes": {"cursor": "e-1", "changed": None, "state": self.state}})
        return Canned(404, {"NeutronError": {"type": "HTTPNotFound", "message": path, "detail": ""}})


def make(tmp_path: Path, provider: Provider) -> tuple[MemoryNet, L3Follower]:
    net = MemoryNet()
    net.add_veth("eth9", "wire9")
    driver = LinuxBridgeDriver(
        DriverContext(host_net=net, tunnel_ip="192.0.2.1", physical_interfaces={"public": "eth9"})
    )
    routers = L3Routers(
        HostStore(StateFile(tmp_path / "s.json")), {"LINUX_BRIDGE": driver}, RouterNamespaces(net, "t-")
    )
    client = NeutronClient(Endpoint(url="http://provider:9696"), adapter=CannedAdapter(provider))
    follower = L3Follower(
        client, HostIdentity("h1"), routers, plugin_type="LINUX_BRIDGE", underlay_mtu=1500,
        interface_mappings={"public": "eth9"},
    )  # fmt: skip
    return net, follower


def test_a_round_builds_the_routers_scheduled_here_and_reports_them(tmp_path: Path) -> None:
    provider = Provider()
    net, follower = make(tmp_path, provider)
    assert follower.sync_once() == []
    inner = net.in_netns(f"t-qrouter-{R}")
    assert inner.addresses("qg-pg000000-0") == {"203.0.113.5/24", "203.0.113.9/32"}
    assert inner.routes() == {("0.0.0.0/0", "203.0.113.1")}
    first, last = provider.reports[0], provider.reports[-1]
    assert first["agent_type"] == "L3 agent" and first["configurations"]["interface_mappings"] == {
        "public": "eth9"
    }
    assert sorted((p["id"], p["status"]) for p in last["ports"]) == [
        ("pg000000-0", "ACTIVE"),
        ("pi000000-0", "ACTIVE"),
    ]
    assert last["floatingips"] == [{"id": "f1", "status": "ACTIVE", "fixed_ip_address": "10.0.1.7"}]
    assert last["configurations"]["routers"] == 1 and last["configurations"]["floating_ips"] == 1

    provider.admin_state_up = False  # down: its legs stay plugged, without addresses, routes or NAT
    follower.sync_once()
    assert inner.addresses("qg-pg000000-0") == set() and inner.addresses("qr-pi000000-0") == set()
    assert inner.routes() == set()
    assert sorted((p["id"], p["status"]) for p in provider.reports[-1]["ports"]) == [
        ("pg000000-0", "ACTIVE"),
        ("pi000000-0", "ACTIVE"),
    ]
    assert provider.reports[-1]["floatingips"] == []

    provider.admin_state_up = True  # up again: routing as before
    follower.sync_once()
    assert inner.addresses("qg-pg000000-0") == {"203.0.113.5/24", "203.0.113.9/32"}
    assert inner.routes() == {("0.0.0.0/0", "203.0.113.1")}


def test_the_change_feed_and_its_absence(tmp_path: Path) -> None:
    provider = Provider()
    _, follower = make(tmp_path, provider)
    reader = FeedReader(follower.neutron, wait=0.01)
    reader.subscribe(follower)
    assert reader.read_once() == Changes("e-1", None, "s1")  # the first answer: anything may have changed
    assert follower._following and follower._pending is None
    follower._pending = frozenset()
    follower.feed_changed(Changes("e-2", {"ports": Changed(frozenset({"p1"}))}))
    assert follower._pending == frozenset()  # nothing an L3 agent applies
    follower.feed_changed(Changes("e-3", {"floatingips": Changed(frozenset({"f1"})), "ports": Changed()}))
    assert follower._pending == {"floatingips"}
    provider.changes = False
    assert reader.read_once() is None and reader.available is False
    assert not follower._following  # no feed: read every sync interval


def test_after_a_floating_ip_change_only_floating_ips_are_read_and_only_a_change_reported(
    tmp_path: Path,
) -> None:
    provider = Provider()
    _, follower = make(tmp_path, provider)
    follower.sync_once()
    seen: list[str] = []

    def counting(call: Call) -> Canned:
        seen.append(call.path)
        return provider(call)

    follower.neutron = NeutronClient(Endpoint(url="http://provider:9696"), adapter=CannedAdapter(counting))
    follower.sync_once(changed=frozenset({"floatingips"}))
    assert seen == ["/v2.0/floatingips"]  # the same as before: nothing to report either
    provider.fixed_ip = "10.0.1.8"  # the floating IP moved to another address
    seen.clear()
    follower.sync_once(changed=frozenset({"floatingips"}))
    assert seen == ["/v2.0/floatingips", "/v2.0/agent-reports"]
    assert provider.reports[-1]["floatingips"] == [
        {"id": "f1", "status": "ACTIVE", "fixed_ip_address": "10.0.1.8"}
    ]
    seen.clear()
    follower.sync_once(changed=frozenset({"routers"}))
    assert seen == ["/v2.0/agents/agent-1/l3-routers", "/v2.0/ports", "/v2.0/subnets", "/v2.0/networks",
                    "/v2.0/floatingips"]  # fmt: skip
    seen.clear()
    follower.sync_once(changed=frozenset({"l3_agents"}))  # a move: the statuses again, even the same
    assert seen[-1] == "/v2.0/agent-reports"


def test_a_resync_reads_the_routers_again_only_when_the_providers_state_moved(tmp_path: Path) -> None:
    provider = Provider()
    net, follower = make(tmp_path, provider)
    seen: list[str] = []

    def counting(call: Call) -> Canned:
        seen.append(call.path)
        return provider(call)

    follower.neutron = NeutronClient(Endpoint(url="http://provider:9696"), adapter=CannedAdapter(counting))
    follower.feed_changed(Changes("e-1", None))  # following the feed
    follower.resync()  # nothing read yet: read, no state asked
    assert "/v2.0/changes" not in seen and "/v2.0/ports" in seen
    seen.clear()
    follower.resync()  # the state the reads started from is not known: read again, knowing it now
    assert seen[:3] == ["/v2.0/changes", "/v2.0/agents/agent-1/l3-routers", "/v2.0/ports"]

    seen.clear()
    namespace = f"t-qrouter-{R}"
    net.delete_netns(namespace)  # drift on the host
    follower.resync()  # nothing written since: one question, the routers rebuilt from the last reads
    assert seen == ["/v2.0/changes", "/v2.0/agent-reports"]
    assert net.in_netns(namespace).addresses("qg-pg000000-0") == {"203.0.113.5/24", "203.0.113.9/32"}

    follower.sync_once(changed=frozenset({"floatingips"}))  # a round after the feed's changes...
    seen.clear()
    follower.resync()  # ...keeps the last full read's state: still nothing new
    assert seen == ["/v2.0/changes", "/v2.0/agent-reports"]

    provider.state = "s2"  # a write
    seen.clear()
    follower.resync()
    assert seen[:3] == ["/v2.0/changes", "/v2.0/agents/agent-1/l3-routers", "/v2.0/ports"]
    seen.clear()
    follower.resync()
    assert seen == ["/v2.0/changes", "/v2.0/agent-reports"]

    follower.feed_unavailable()  # polling a provider without the feed: always read
    seen.clear()
    follower.resync()
    assert "/v2.0/changes" not in seen and "/v2.0/ports" in seen
