"""The engine's rules as a user meets them through the SDK: what is refused, with oVirt's texts, and what
removing an entity takes with it."""

from __future__ import annotations

from typing import Any

import ovirtsdk4 as sdk
import ovirtsdk4.types as types
import pytest

from tests.e2e.engine.helpers import make_site, make_vm, make_vm_network, unique
from tests.support.hosts import add_host
from tests.support.servers import RunningAgent


def refused(code: int, call: Any, *args: Any, **kw: Any) -> str:
    with pytest.raises(sdk.Error) as err:
        call(*args, **kw)
    assert err.value.code == code, str(err.value)
    return str(err.value)


def test_rename_to_a_used_name_is_409(system: Any) -> None:
    a, b = make_site(system), make_site(system)
    dcs = system.data_centers_service()
    text = refused(409, dcs.data_center_service(a.dc.id).update, types.DataCenter(name=b.dc.name))
    assert "Cannot edit Data Center. The Data Center name is already in use." in text
    text = refused(
        409,
        system.clusters_service().cluster_service(a.cluster.id).update,
        types.Cluster(name=b.cluster.name),
    )
    assert "Cannot edit Cluster. Cluster name is already in use." in text
    vm1, vm2 = make_vm(system, a), make_vm(system, a)
    text = refused(409, system.vms_service().vm_service(vm1.id).update, types.Vm(name=vm2.name))
    assert "Cannot edit VM. The VM name is already in use" in text
    assert dcs.data_center_service(a.dc.id).get().name == a.dc.name


def test_management_network_stays(system: Any) -> None:
    site = make_site(system)
    mgmt = system.data_centers_service().data_center_service(site.dc.id).networks_service().list()[0]
    assert mgmt.name == "ovirtmgmt"
    refused(409, system.networks_service().network_service(mgmt.id).remove)
    refused(
        409,
        system.clusters_service()
        .cluster_service(site.cluster.id)
        .networks_service()
        .network_service(mgmt.id)
        .remove,
    )


def test_cluster_with_vms_or_hosts_cannot_be_removed(system: Any) -> None:
    site = make_site(system)
    vm = make_vm(system, site)
    text = refused(409, system.clusters_service().cluster_service(site.cluster.id).remove)
    assert "Cannot remove Cluster. One or more VMs are still assigned to the Cluster" in text
    system.vms_service().vm_service(vm.id).remove()
    host = system.hosts_service().add(
        types.Host(name=unique("h"), address="192.0.2.7", cluster=types.Cluster(id=site.cluster.id))
    )
    text = refused(409, system.clusters_service().cluster_service(site.cluster.id).remove)
    assert "Cannot remove Cluster. Cluster contains one or more Hosts" in text
    system.hosts_service().host_service(host.id).remove()
    system.clusters_service().cluster_service(site.cluster.id).remove()


def test_profile_in_use_cannot_be_removed(system: Any) -> None:
    site = make_site(system)
    _, profile = make_vm_network(system, site)
    vm = make_vm(system, site)
    system.vms_service().vm_service(vm.id).nics_service().add(
        types.Nic(name="nic1", vnic_profile=types.VnicProfile(id=profile.id))
    )
    text = refused(409, system.vnic_profiles_service().profile_service(profile.id).remove)
    assert (
        f"Cannot remove VM network interface profile. This VM network interface profile is used by virtual "
        f"machine: {vm.name}" in text
    )


def test_network_used_by_nics_stays_a_vm_network(system: Any) -> None:
    site = make_site(system)
    net, profile = make_vm_network(system, site)
    vm = make_vm(system, site)
    system.vms_service().vm_service(vm.id).nics_service().add(
        types.Nic(name="nic1", vnic_profile=types.VnicProfile(id=profile.id))
    )
    refused(409, system.networks_service().network_service(net.id).update, types.Network(usages=[]))
    assert system.networks_service().network_service(net.id).get().usages == [types.NetworkUsage.VM]


def test_a_network_that_stops_being_a_vm_network_loses_its_profiles(system: Any) -> None:
    site = make_site(system)
    net, profile = make_vm_network(system, site)
    updated = system.networks_service().network_service(net.id).update(types.Network(usages=[]))
    assert not updated.usages
    assert system.networks_service().network_service(net.id).vnic_profiles_service().list() == []
    vm = make_vm(system, site)
    refused(
        404,
        system.vms_service().vm_service(vm.id).nics_service().add,
        types.Nic(name="nic1", vnic_profile=types.VnicProfile(id=profile.id)),
    )


def test_nic_mac_update_to_a_used_mac_is_409(system: Any) -> None:
    site = make_site(system)
    vm = make_vm(system, site)
    nics = system.vms_service().vm_service(vm.id).nics_service()
    a = nics.add(types.Nic(name="a"))
    b = nics.add(types.Nic(name="b"))
    text = refused(409, nics.nic_service(b.id).update, types.Nic(mac=types.Mac(address=a.mac.address)))
    assert f"MAC Address {a.mac.address} is already in use by VM or snapshot: {vm.name}." in text
    assert nics.nic_service(b.id).get().mac.address == b.mac.address
    # its own MAC is not "in use by another"
    assert (
        nics.nic_service(a.id).update(types.Nic(mac=types.Mac(address=a.mac.address))).mac.address
        == a.mac.address
    )


def test_removing_a_vm_frees_its_macs(system: Any) -> None:
    site = make_site(system)
    vm = make_vm(system, site)
    nic = system.vms_service().vm_service(vm.id).nics_service().add(types.Nic(name="nic1"))
    system.vms_service().vm_service(vm.id).snapshots_service().add(types.Snapshot(description="s"))
    system.vms_service().vm_service(vm.id).remove()
    other = make_vm(system, site)
    again = (
        system.vms_service()
        .vm_service(other.id)
        .nics_service()
        .add(types.Nic(name="nic1", mac=types.Mac(address=nic.mac.address)))
    )
    assert again.mac.address == nic.mac.address


def test_nic_of_another_vm_is_404(system: Any) -> None:
    site = make_site(system)
    a, b = make_vm(system, site), make_vm(system, site)
    nic = system.vms_service().vm_service(a.id).nics_service().add(types.Nic(name="nic1"))
    with pytest.raises(sdk.NotFoundError):
        system.vms_service().vm_service(b.id).nics_service().nic_service(nic.id).get()
    with pytest.raises(sdk.NotFoundError):
        system.vms_service().vm_service(b.id).nics_service().nic_service(nic.id).remove()
    assert system.vms_service().vm_service(a.id).nics_service().nic_service(nic.id).get().name == "nic1"


def test_snapshot_of_a_previewing_vm(system: Any) -> None:
    site = make_site(system)
    vm_service = system.vms_service().vm_service(make_vm(system, site).id)
    snap = vm_service.snapshots_service().add(types.Snapshot(description="s"))
    vm_service.preview_snapshot(snapshot=types.Snapshot(id=snap.id), restore_memory=False)
    refused(409, vm_service.snapshots_service().add, types.Snapshot(description="t"))
    refused(409, vm_service.snapshots_service().snapshot_service(snap.id).remove)
    vm_service.undo_snapshot()
    vm_service.snapshots_service().snapshot_service(snap.id).remove()


def test_preview_restores_a_nic_whose_profile_is_gone_unattached(system: Any) -> None:
    site = make_site(system)
    net, profile = make_vm_network(system, site)
    vm_service = system.vms_service().vm_service(make_vm(system, site).id)
    nics = vm_service.nics_service()
    nic = nics.add(types.Nic(name="nic1", vnic_profile=types.VnicProfile(id=profile.id)))
    snap = vm_service.snapshots_service().add(types.Snapshot(description="s"))
    nics.nic_service(nic.id).remove()
    system.networks_service().network_service(net.id).remove()
    vm_service.preview_snapshot(snapshot=types.Snapshot(id=snap.id), restore_memory=False)
    restored = nics.list()
    assert [(n.name, n.mac.address, n.vnic_profile) for n in restored] == [("nic1", nic.mac.address, None)]


def test_vm_moves_between_clusters_only_when_down(system: Any, host_agent: RunningAgent) -> None:
    site = make_site(system)
    other = system.clusters_service().add(
        types.Cluster(name=unique("cl"), data_center=types.DataCenter(id=site.dc.id))
    )
    add_host(system, host_agent, other.id)
    vm_service = system.vms_service().vm_service(make_vm(system, site).id)
    assert vm_service.update(types.Vm(cluster=types.Cluster(id=other.id))).cluster.id == other.id
    vm_service.start()
    refused(409, vm_service.update, types.Vm(cluster=types.Cluster(id=site.cluster.id)))
    vm_service.stop()


def test_vm_in_a_cluster_without_data_center_is_refused(system: Any) -> None:
    site = make_site(system)
    system.data_centers_service().data_center_service(site.dc.id).remove()
    refused(
        400, system.vms_service().add, types.Vm(name=unique("vm"), cluster=types.Cluster(id=site.cluster.id))
    )


def test_vnic_profile_custom_properties(system: Any) -> None:
    site = make_site(system)
    net, _ = make_vm_network(system, site)
    profiles = system.networks_service().network_service(net.id).vnic_profiles_service()
    sg = "8a5c3b6e-3d1f-4c8e-9f43-2f0c8b7a1e55"
    added = profiles.add(
        types.VnicProfile(
            name="secured", custom_properties=[types.CustomProperty(name="SecurityGroups", value=sg)]
        )
    )
    assert [(p.name, p.value) for p in added.custom_properties] == [("SecurityGroups", sg)]
    text = refused(
        400,
        profiles.add,
        types.VnicProfile(name="bad", custom_properties=[types.CustomProperty(name="Colour", value="red")]),
    )
    assert (
        "Cannot add VM network interface profile if some of the specified custom properties are not "
        "configured by the system. The keys are: Colour" in text
    )
    refused(409, profiles.add, types.VnicProfile(name="secured"))
    open_ = profiles.add(
        types.VnicProfile(
            name="open", custom_properties=[types.CustomProperty(name="PortSecurity", value="false")]
        )
    )
    assert [(p.name, p.value) for p in open_.custom_properties] == [("PortSecurity", "false")]
    both = [
        types.CustomProperty(name="PortSecurity", value="false"),
        types.CustomProperty(name="SecurityGroups", value=sg),
    ]
    text = refused(400, profiles.add, types.VnicProfile(name="both", custom_properties=both))
    assert (
        "Cannot add VM network interface profile if the custom property PortSecurity is false while" in text
    )


def test_data_center_with_a_running_vm_is_not_removed_even_forced(
    system: Any, host_agent: RunningAgent
) -> None:
    site = make_site(system)
    host = add_host(system, host_agent, site.cluster.id)
    vm_service = system.vms_service().vm_service(make_vm(system, site).id)
    vm_service.start()
    dc_service = system.data_centers_service().data_center_service(site.dc.id)
    for force in (False, True):
        text = refused(409, dc_service.remove, force=force)
        assert "Cannot remove Data Center." in text
    assert dc_service.get().name == site.dc.name
    vm_service.stop()
    system.hosts_service().host_service(host.id).remove()
    dc_service.remove(force=True)


def test_network_cannot_be_attached_to_a_cluster_of_another_data_center(system: Any) -> None:
    a, b = make_site(system), make_site(system)
    net = system.networks_service().add(
        types.Network(name=unique("n"), data_center=types.DataCenter(id=a.dc.id))
    )
    refused(
        400,
        system.clusters_service().cluster_service(b.cluster.id).networks_service().add,
        types.Network(id=net.id),
    )
    attached = system.clusters_service().cluster_service(a.cluster.id).networks_service()
    attached.add(types.Network(id=net.id))
    refused(409, attached.add, types.Network(id=net.id))


def test_no_profile_on_a_non_vm_network(system: Any) -> None:
    site = make_site(system)
    net = system.networks_service().add(
        types.Network(name=unique("n"), data_center=types.DataCenter(id=site.dc.id), usages=[])
    )
    profiles = system.networks_service().network_service(net.id).vnic_profiles_service()
    text = refused(409, profiles.add, types.VnicProfile(name="p"))
    assert (
        "Cannot add VM network interface profile. VM network interface profiles cannot be added to a non-VM "
        "network. Please make sure the network is a VM network." in text
    )
    assert profiles.list() == []


def test_oversized_fields_are_refused_naming_them(system: Any) -> None:
    """oVirt's own limits (a data center's name 40, a VM's description 255, a vNIC's name 50), 4,096 for a
    text it does not bound; each a 400 naming the field."""
    site = make_site(system)
    text = refused(400, system.data_centers_service().add, types.DataCenter(name="d" * 41, local=False))
    assert "'name': longer than 40 characters" in text
    vm = types.Vm(name=unique("long"), description="d" * 256, cluster=types.Cluster(id=site.cluster.id),
                  template=types.Template(name="Blank"))  # fmt: skip
    assert "'description': longer than 255 characters" in refused(400, system.vms_service().add, vm)
    made = make_vm(system, site)
    nics = system.vms_service().vm_service(made.id).nics_service()
    assert "'name': longer than 50 characters" in refused(400, nics.add, types.Nic(name="n" * 51))
    text = refused(
        400,
        system.data_centers_service().data_center_service(site.dc.id).update,
        types.DataCenter(comment="c" * 4001),
    )
    assert "'comment': longer than 4000 characters" in text
    # at the limit it is taken
    name = (unique("dc") + "d" * 40)[:40]
    renamed = (
        system.data_centers_service().data_center_service(site.dc.id).update(types.DataCenter(name=name))
    )
    assert renamed.name == name
