"""The topology picture's data (``commands.topology``) on a real database, the provider and the host agents
faked at the engine's seams: what it shows, with live port states and addresses, how it narrows to a data
center or a provider, a provider that does not answer, the provider cache, and SQL that does not grow."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import pytest

from neutrino.engine.commands import clusters, datacenters, hosts, nics, vms
from neutrino.engine.commands.common import EngineContext, Ref
from neutrino.engine.commands.external_networks import import_network
from neutrino.engine.commands.providers import add_provider
from neutrino.engine.commands.routing_reads import NO_ROUTING, provider_routing
from neutrino.engine.commands.topology import ProviderReads, Scope, encoded, read
from neutrino.engine.domain.errors import NotFound
from neutrino.engine.store.database import QueryCounter
from neutrino.neutron_client import (
    ExternalGateway,
    FixedIp,
    FloatingIp,
    NetworkAgent,
    Port,
    Route,
    Router,
    Subnet,
)
from tests.integration.engine.conftest import BuildEngine
from tests.support.fakes import FakeAgent, FakeProvider


@dataclass
class World:
    ctx: EngineContext
    provider: FakeProvider
    provider_id: str
    cluster_id: str
    dc_id: str
    networks: dict[str, str]  # name -> engine network id
    profiles: dict[str, str]  # network name -> profile id
    read_db: Any

    def vm(self, name: str, *networks: str) -> str:
        vm = vms.add_vm(self.ctx, name, Ref(id=self.cluster_id))
        for i, net in enumerate(networks):
            nics.add_nic(self.ctx, vm.id, f"nic{i + 1}", Ref(id=self.profiles[net]))
        return vm.id


@pytest.fixture
def world(make_engine: BuildEngine) -> World:
    engine = make_engine(mac_pool_range="56:6f:20:00:00:00-56:6f:20:00:0f:ff")
    ctx = engine.ctx
    fake = FakeProvider()
    agents = {"h1": FakeAgent("h1"), "h2": FakeAgent("h2")}
    ctx.provider_client = lambda provider, password=None: fake
    ctx.agent_client = lambda host: agents[host.name]
    provider = add_provider(
        ctx, "osp", url="http://provider.invalid:9696", external_plugin_type="LINUX_BRIDGE"
    )
    with ctx.reader() as uow:
        default = uow.clusters.first(name="Default")
        dc = uow.datacenters.first(name="Default")
        assert default is not None and dc is not None
    networks, profiles = {}, {}
    for name, cidr in (("red", "10.0.0.0/24"), ("blue", "10.1.0.0/24")):
        ext = fake.add_network(name)
        fake.subnets[f"s-{name}"] = Subnet(f"s-{name}", ext.id, f"{name}-sub", cidr, 4, cidr[:-4] + "1")
        net = import_network(ctx, provider.id, ext.id, Ref(id=dc.id))
        clusters.attach_network(ctx, default.id, Ref(id=net.id), required=False)
        networks[name] = net.id
        with ctx.reader() as uow:
            profiles[name] = uow.profiles.first(network_id=net.id).id  # type: ignore[union-attr]
    for name in agents:
        hosts.add_host(ctx, name, "127.0.0.1", Ref(id=default.id), root_password="token")
    fake.agent_list = [
        NetworkAgent("h1", "Linux bridge agent", True, configurations={"tunneling_ip": "192.0.2.1"}),
        NetworkAgent("h2", "Linux bridge agent", False),
    ]
    return World(ctx, fake, provider.id, default.id, dc.id, networks, profiles, engine.read_db)


def by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {i["name"]: i for i in items}


def test_networks_subnets_hosts_agents_and_vnics_with_their_ports_and_a_version(world: World) -> None:
    running = world.vm("web", "red", "blue")
    world.vm("idle", "red")
    reads = ProviderReads(ttl=0, max_age=0)
    before = json.loads(encoded(read(world.ctx, reads, Scope())))
    assert list(before)[0] == "version"
    assert json.loads(encoded(read(world.ctx, reads, Scope())))["version"] == before["version"]
    vms.start_vm(world.ctx, running)
    # the host's agent reports the red port up: the provider says ACTIVE
    red_port = next(p for p in world.provider.ports.values() if p.name == "nic1" and p.device_id)
    world.provider.ports[red_port.id] = dataclasses.replace(red_port, status="ACTIVE")

    data = json.loads(encoded(read(world.ctx, reads, Scope())))

    assert data["version"] != before["version"]
    assert data["scope"] == {"kind": "all", "id": None, "name": "All data centers"}
    assert data["providers"] == [
        {"id": world.provider_id, "name": "osp", "error": None, "routing": False, "routing_error": None}
    ]
    nets = by_name(data["networks"])
    assert nets["red"]["subnets"] == [
        {"id": "s-red", "name": "red-sub", "cidr": "10.0.0.0/24", "ip_version": 4, "gateway_ip": "10.0.0.1"}
    ]
    assert (nets["red"]["network_type"], nets["red"]["provider_id"]) == ("vxlan", world.provider_id)
    assert nets["ovirtmgmt"]["provider_id"] is None and nets["ovirtmgmt"]["subnets"] == []
    hosts_ = by_name(data["hosts"])
    assert hosts_["h1"]["agents"] == [
        {"provider_id": world.provider_id, "type": "Linux bridge agent", "binary": "", "alive": True}
    ]
    assert hosts_["h1"]["tunnel_ip"] == "192.0.2.1"
    assert [a["alive"] for a in hosts_["h2"]["agents"]] == [False]
    assert {h["status"] for h in data["hosts"]} == {"up"}

    web = next(v for v in data["vms"] if v["id"] == running)
    assert web["status"] == "up" and web["host_id"] in {h["id"] for h in data["hosts"]}
    vnics = {(n["vm_id"], n["name"]): n for n in data["nics"]}
    red, blue = vnics[(running, "nic1")], vnics[(running, "nic2")]
    assert (red["network_id"], blue["network_id"]) == (world.networks["red"], world.networks["blue"])
    assert (red["port_status"], blue["port_status"]) == ("ACTIVE", "DOWN")
    assert red["addresses"] == ["10.0.0.5"] and red["provisioning"] == "plugged"
    idle = next(n for n in data["nics"] if n["vm_id"] != running)
    assert (idle["port_id"], idle["port_status"], idle["addresses"]) == (None, None, [])
    assert idle["provisioning"] == "none"
    # a provider without the `router` extension: no routers, and it was not asked for any
    assert data["routers"] == [] and data["floating_ips"] == [] and data["provider_networks"] == []
    assert "list_routers" not in world.provider.calls


def routed(world: World) -> dict[str, Any]:
    """Give the provider L3: an external network `public` (not imported), router r1 joined to red (imported) with
    its gateway on public, router r2 joined only to a network no engine network imports, and two floating IPs:
    one on web's red port through r1, one not associated. Returns the ids used."""
    fake = world.provider
    fake.exts.add("router")
    public = fake.add_network("public", network_type="flat")
    fake.networks[public.id] = dataclasses.replace(public, external=True)
    fake.subnets["s-pub"] = Subnet("s-pub", public.id, "pub-sub", "203.0.113.0/24", 4, "203.0.113.1")
    lonely = fake.add_network("lonely")
    web = world.vm("web", "red")
    vms.start_vm(world.ctx, web)
    port = next(p for p in fake.ports.values() if p.device_id and p.network_id != public.id)
    red_id = port.network_id
    fake.routers = {
        "r1": Router(
            "r1",
            "edge",
            "ACTIVE",
            gateway=ExternalGateway(public.id, True, (FixedIp("s-pub", "203.0.113.2"),)),
        ),
        "r2": Router("r2", "inner", "ACTIVE", routes=(Route("10.9.0.0/16", "10.0.0.254"),)),
    }
    fake.router_ports = [
        Port(
            "rp1",
            red_id,
            "fa:16:3e:00:00:01",
            device_id="r1",
            status="ACTIVE",
            fixed_ips=(FixedIp("s-red", "10.0.0.1"),),
        ),
        Port("rp2", lonely.id, "fa:16:3e:00:00:02", device_id="r2", status="DOWN"),
    ]
    fake.floating_ips = [
        FloatingIp("f1", "203.0.113.10", public.id, "ACTIVE", port.id, "10.0.0.5", "r1"),
        FloatingIp("f2", "203.0.113.11", public.id, "DOWN"),
    ]
    return {"web": web, "port": port.id, "public": public.id, "lonely": lonely.id, "red": red_id}


def test_routers_interfaces_gateways_and_floating_ips_when_the_provider_has_l3(world: World) -> None:
    ids = routed(world)
    reads = ProviderReads(ttl=0, max_age=0)

    data = read(world.ctx, reads, Scope())
    assert data["providers"][0]["routing"] is True and data["providers"][0]["routing_error"] is None
    routers = by_name(data["routers"])
    assert routers["edge"] == {
        "id": "r1",
        "name": "edge",
        "status": "ACTIVE",
        "provider_id": world.provider_id,
        "gateway": {"network_id": ids["public"], "ips": ["203.0.113.2"]},
        "interfaces": [{"network_id": ids["red"], "subnet_id": "s-red", "ip_address": "10.0.0.1"}],
    }
    # an interface port without an address still joins its network
    assert routers["inner"]["interfaces"] == [
        {"network_id": ids["lonely"], "subnet_id": None, "ip_address": None}
    ]
    fips = {f["floating_ip_address"]: f for f in data["floating_ips"]}
    assert fips["203.0.113.10"]["port_id"] == ids["port"] and fips["203.0.113.10"]["router_id"] == "r1"
    assert fips["203.0.113.11"]["port_id"] is None
    # the networks routers name that no engine network imports: public (external) and lonely
    extra = {n["name"]: n for n in data["provider_networks"]}
    assert set(extra) == {"public", "lonely"}
    assert extra["public"]["external"] is True and extra["public"]["subnets"] == [{"cidr": "203.0.113.0/24"}]

    # a data center's picture: the routers joined to its networks and their floating IPs only
    dc = read(world.ctx, reads, Scope(data_center_id=world.dc_id))
    assert [r["name"] for r in dc["routers"]] == ["edge"]
    assert [f["floating_ip_address"] for f in dc["floating_ips"]] == ["203.0.113.10"]
    assert [n["name"] for n in dc["provider_networks"]] == ["public"]
    other = datacenters.add_data_center(world.ctx, "dc2")
    assert read(world.ctx, reads, Scope(data_center_id=other.id))["routers"] == []
    # a provider's picture has all of its routers
    assert len(read(world.ctx, reads, Scope(provider_id=world.provider_id))["routers"]) == 2

    # routers that cannot be read: the rest of the picture stays, with the reason
    world.provider.fail_on["list_routers"] = 0
    failed = read(world.ctx, reads, Scope())
    assert failed["routers"] == [] and failed["providers"][0]["routing_error"].endswith(
        "list_routers failed (HTTP 500)."
    )
    assert failed["providers"][0]["error"] is None and {n["name"] for n in failed["nics"]} == {"nic1"}


def test_the_provider_page_reads_routers_and_floating_ips_live(world: World) -> None:
    assert provider_routing(world.ctx, "nope") is None
    assert provider_routing(world.ctx, world.provider_id) == {"routing": False, "reason": NO_ROUTING}
    ids = routed(world)

    data = provider_routing(world.ctx, world.provider_id)

    assert data is not None and data["routing"] is True
    edge, inner = data["routers"]
    assert (edge["name"], inner["name"]) == ("edge", "inner")
    assert edge["gateway"] == {
        "network": {"id": ids["public"], "name": "public", "engine": None},
        "ips": ["203.0.113.2"],
        "snat": True,
    }
    assert edge["interfaces"] == [
        {
            "port_id": "rp1",
            "status": "ACTIVE",
            "network": {
                "id": ids["red"],
                "name": "red",
                "engine": {"id": world.networks["red"], "name": "red"},
            },
            "subnet_id": "s-red",
            "cidr": "10.0.0.0/24",
            "ip_address": "10.0.0.1",
        }
    ]
    assert inner["interfaces"] == [] and inner["routes"] == [
        {"destination": "10.9.0.0/16", "nexthop": "10.0.0.254"}
    ]
    mapped, free = data["floating_ips"]
    assert mapped["vnic"] == {
        "id": mapped["vnic"]["id"],
        "name": "nic1",
        "vm_id": ids["web"],
        "vm_name": "web",
    }
    assert mapped["router"] == {"id": "r1", "name": "edge"} and mapped["fixed_ip_address"] == "10.0.0.5"
    assert (free["vnic"], free["router"], free["port_id"]) == (None, None, None)

    world.provider.down = True
    down = provider_routing(world.ctx, world.provider_id)
    assert down == {
        "routing": True,
        "error": "Failed to communicate with the external provider: cannot connect (refused).",
    }


def test_a_provider_is_read_once_per_ttl_renewed_behind_the_picture_and_missed_when_down(
    world: World,
) -> None:
    vm_id = world.vm("web", "red")
    now = [100.0]
    reads = ProviderReads(ttl=2.0, max_age=30.0, clock=lambda: now[0])
    world.provider.calls.clear()
    read(world.ctx, reads, Scope())
    read(world.ctx, reads, Scope(data_center_id=world.dc_id))
    assert world.provider.calls.count("list_ports") == 1
    assert set(world.provider.calls) == {
        "list_networks",
        "list_subnets",
        "list_ports",
        "agents",
        "extensions",
    }

    # older than ttl: the picture still gets the last view at once, and one read renews it behind
    vms.start_vm(world.ctx, vm_id)
    now[0] += 2.5
    [nic] = read(world.ctx, reads, Scope())["nics"]
    assert nic["addresses"] == []  # the view from before the port was made
    reads.wait()
    assert world.provider.calls.count("list_ports") == 2
    [nic] = read(world.ctx, reads, Scope())["nics"]
    assert nic["addresses"] == ["10.0.0.5"]

    # older than max_age, and the provider does not answer: its error, and what the engine recorded
    with world.ctx.uow() as uow:
        [stored] = uow.nics.list(vm_id=vm_id)
        stored.provisioning = stored.provisioning.with_provider_status("ACTIVE")
        uow.commit()
    now[0] += 31
    world.provider.down = True
    data = read(world.ctx, reads, Scope())
    [provider] = data["providers"]
    assert "Failed to communicate with the external provider" in provider["error"]
    [nic] = data["nics"]
    assert (nic["port_status"], nic["addresses"]) == ("ACTIVE", [])  # the last record, no addresses known
    assert by_name(data["networks"])["red"]["subnets"] == []
    assert all(h["agents"] == [] for h in data["hosts"])


def test_a_data_center_or_a_provider_narrows_the_picture_in_sql_that_does_not_grow(world: World) -> None:
    world.vm("web", "red")
    other = datacenters.add_data_center(world.ctx, "dc2")
    cluster = clusters.add_cluster(world.ctx, "dc2-c", Ref(id=other.id))
    vms.add_vm(world.ctx, "elsewhere", Ref(id=cluster.id))
    reads = ProviderReads(ttl=0, max_age=0)

    dc2 = read(world.ctx, reads, Scope(data_center_id=other.id))
    assert dc2["scope"] == {"kind": "data_center", "id": other.id, "name": "dc2"}
    assert [v["name"] for v in dc2["vms"]] == ["elsewhere"]
    assert dc2["hosts"] == [] and dc2["providers"] == [] and dc2["nics"] == []
    assert "red" not in by_name(dc2["networks"])

    default = read(world.ctx, reads, Scope(data_center_id=world.dc_id))
    assert {"web"} == {v["name"] for v in default["vms"]}
    assert {"red", "blue", "ovirtmgmt"} <= set(by_name(default["networks"]))

    prov = read(world.ctx, reads, Scope(provider_id=world.provider_id))
    assert set(by_name(prov["networks"])) == {"red", "blue"}
    assert [v["name"] for v in prov["vms"]] == ["web"]  # the VMs with a vNIC on its networks
    assert [n["name"] for n in prov["nics"]] == ["nic1"]

    with pytest.raises(NotFound, match="Data center 'nope' was not found"):
        read(world.ctx, reads, Scope(data_center_id="nope"))
    with pytest.raises(NotFound, match="Provider 'nope' was not found"):
        read(world.ctx, reads, Scope(provider_id="nope"))

    # the same number of SQL statements for 1 VM as for 12, in every scope
    counter = QueryCounter(world.read_db)
    scopes = [Scope(), Scope(data_center_id=world.dc_id), Scope(provider_id=world.provider_id)]

    def statements() -> list[int]:
        counts = []
        for scope in scopes:
            before = counter.count
            assert read(world.ctx, reads, scope)["vms"]
            counts.append(counter.count - before)
        return counts

    few = statements()
    for i in range(11):
        world.vm(f"vm-{i}", "red", "blue")
    assert statements() == few
    assert max(few) <= 10, few  # BEGIN, then one statement per kind of row
