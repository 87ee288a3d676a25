"""Every entity sent back whole, as the SDK read it, is accepted and changes nothing — what automation does on
every update (Ansible's ovirt.ovirt modules send the whole entity): the read-only elements it carries (an
external network's VLAN, MTU and provider, a VM's status, a host's SPM status) are accepted when they hold
their current values."""

from __future__ import annotations

from typing import Any

import httpx
import ovirtsdk4.types as types
import pytest
from ovirtsdk4.writer import Writer

from tests.e2e.providers.conftest import ENGINE_PASSWORD, Engine, Member, Provider
from tests.e2e.providers.helpers import add_provider, make_site, provider_network_named, refused, unique
from tests.support.servers import RunningAgent

GIB = 1024**3


@pytest.fixture(scope="module")
def member(provider: Provider) -> Member:
    return provider.new_member()


def _xml(entity: Any) -> str:
    return str(Writer.write(entity))


def test_every_entity_sent_back_as_read_changes_nothing(
    system: Any, engine: Engine, provider: Provider, member: Member, host_agent: RunningAgent
) -> None:
    registered = add_provider(system, provider, member)
    site = make_site(system, registered.id)
    name = unique("ext")
    with provider.neutron(member) as neutron:
        neutron.post("/networks", json={"network": {"name": name}}).raise_for_status()
    ext = provider_network_named(system, registered.id, name)
    providers = system.openstack_network_providers_service()
    providers.provider_service(registered.id).networks_service().network_service(ext.id).import_(
        data_center=types.DataCenter(id=site.dc.id)
    )
    [external] = [n for n in system.networks_service().list() if n.name == name]
    clusters = system.clusters_service()
    clusters.cluster_service(site.cluster.id).networks_service().add(
        types.Network(id=external.id, required=False)
    )
    internal = system.networks_service().add(
        types.Network(name=unique("int"), data_center=types.DataCenter(id=site.dc.id), vlan=types.Vlan(id=7))
    )
    [profile] = system.networks_service().network_service(external.id).vnic_profiles_service().list()
    host = system.hosts_service().add(
        types.Host(
            name=unique("h"),
            address="127.0.0.1",
            port=host_agent.port,
            root_password=host_agent.token,
            cluster=types.Cluster(id=site.cluster.id),
        )
    )
    vm = system.vms_service().add(
        types.Vm(
            name=unique("vm"),
            cluster=types.Cluster(id=site.cluster.id),
            template=types.Template(name="Blank"),
            memory=GIB,
            cpu=types.Cpu(topology=types.CpuTopology(sockets=2, cores=2, threads=1)),
            memory_policy=types.MemoryPolicy(guaranteed=GIB // 2),
            placement_policy=types.VmPlacementPolicy(
                affinity=types.VmAffinity.PINNED, hosts=[types.Host(id=host.id)]
            ),
        )
    )
    vm_service = system.vms_service().vm_service(vm.id)
    nic = vm_service.nics_service().add(types.Nic(name="nic1", vnic_profile=types.VnicProfile(id=profile.id)))

    services = {
        "data center": system.data_centers_service().data_center_service(site.dc.id),
        "cluster": clusters.cluster_service(site.cluster.id),
        "provider": providers.provider_service(registered.id),
        "external network": system.networks_service().network_service(external.id),
        "internal network": system.networks_service().network_service(internal.id),
        "vNIC profile": system.vnic_profiles_service().profile_service(profile.id),
        "host": system.hosts_service().host_service(host.id),
        "VM": vm_service,
        "NIC": vm_service.nics_service().nic_service(nic.id),
    }
    for what, service in services.items():
        before = service.get()
        answer = service.update(before)
        assert _xml(answer) == _xml(before), f"{what}: the update's answer differs"
        assert _xml(service.get()) == _xml(before), f"{what}: sending it back changed it"

    read = vm_service.get()
    assert (read.cpu.topology.sockets, read.memory_policy.guaranteed, read.memory_policy.max) == (
        2,
        GIB // 2,
        4 * GIB,
    )
    assert [h.id for h in read.placement_policy.hosts] == [host.id]

    # query parameters the engine does not know are harmless, as in oVirt (the modules send all_content)
    with httpx.Client(
        auth=("admin@internal", ENGINE_PASSWORD), headers={"Accept": "application/json"}
    ) as http:
        plain = http.get(f"{engine.url}/vms/{vm.id}")
        odd = http.get(
            f"{engine.url}/vms/{vm.id}", params={"all_content": "true", "next_run": "false", "flux": "1"}
        )
    assert plain.status_code == odd.status_code == 200 and plain.json() == odd.json()

    # what the engine acts on: delete protection refuses a removal until it is turned off
    vm_service.update(types.Vm(delete_protected=True))
    code, detail = refused(vm_service.remove)
    assert code == 409
    assert (
        "Cannot remove VM. Delete protection is enabled. In order to delete, disable Delete protection first."
        in detail
    )
    vm_service.update(types.Vm(delete_protected=False))
    vm_service.remove()
