"""Data centers, clusters, logical networks, hosts and templates through the real ovirtsdk4."""

from __future__ import annotations

from typing import Any

import ovirtsdk4 as sdk
import ovirtsdk4.types as types
import pytest

from tests.e2e.engine.helpers import API_PATH, make_site, make_vm, make_vm_network, unique

BLANK = "00000000-0000-0000-0000-000000000000"


def _has_identity(entity: Any, collection: str) -> None:
    assert entity.id
    assert entity.href.startswith(f"{API_PATH}/")
    assert entity.href.endswith(f"/{collection}/{entity.id}")


# --- data centers ------------------------------------------------------------------------------------


def test_data_center_lifecycle(system: Any) -> None:
    dcs = system.data_centers_service()
    name = unique("dc")
    dc = dcs.add(
        types.DataCenter(name=name, description="first", local=False, version=types.Version(major=4, minor=7))
    )
    _has_identity(dc, "datacenters")
    assert (dc.name, dc.description, dc.local) == (name, "first", False)
    assert dc.status == types.DataCenterStatus.UNINITIALIZED
    assert (dc.version.major, dc.version.minor) == (4, 7)
    assert name in [d.name for d in dcs.list()]

    service = dcs.data_center_service(dc.id)
    updated = service.update(types.DataCenter(description="second"))
    assert (updated.name, updated.description) == (name, "second")
    assert service.get().description == "second"

    # oVirt gives every new data center its management network
    assert [n.name for n in service.networks_service().list()] == ["ovirtmgmt"]

    service.remove()
    assert name not in [d.name for d in dcs.list()]
    with pytest.raises(sdk.NotFoundError):
        service.get()


def test_duplicate_data_center_name_is_409(system: Any) -> None:
    name = unique("dc")
    system.data_centers_service().add(types.DataCenter(name=name, local=False))
    with pytest.raises(sdk.Error) as err:
        system.data_centers_service().add(types.DataCenter(name=name, local=False))
    assert err.value.code == 409
    assert "Cannot add Data Center. The Data Center name is already in use." in str(err.value)


def test_default_data_center_and_cluster_exist(system: Any) -> None:
    assert "Default" in [d.name for d in system.data_centers_service().list()]
    default = system.clusters_service().list(search="name=Default")
    assert [c.name for c in default] == ["Default"]
    assert default[0].data_center is not None


# --- clusters --------------------------------------------------------------------------------------


def test_cluster_by_data_center_name_and_id(system: Any) -> None:
    dc = system.data_centers_service().add(types.DataCenter(name=unique("dc"), local=False))
    clusters = system.clusters_service()
    by_name = clusters.add(
        types.Cluster(
            name=unique("cl"),
            data_center=types.DataCenter(name=dc.name),
            cpu=types.Cpu(architecture=types.Architecture.X86_64, type="Intel Nehalem Family"),
        )
    )
    by_id = clusters.add(types.Cluster(name=unique("cl"), data_center=types.DataCenter(id=dc.id)))
    for cl in (by_name, by_id):
        _has_identity(cl, "clusters")
        assert cl.data_center.id == dc.id
    assert by_name.cpu.type == "Intel Nehalem Family"
    assert by_name.cpu.architecture == types.Architecture.X86_64
    assert {
        c.name for c in system.data_centers_service().data_center_service(dc.id).clusters_service().list()
    } == {by_name.name, by_id.name}
    # the data center's management network is attached to each new cluster
    attached = clusters.cluster_service(by_id.id).networks_service().list()
    assert [n.name for n in attached] == ["ovirtmgmt"]

    updated = clusters.cluster_service(by_id.id).update(
        types.Cluster(description="d", cpu=types.Cpu(type="X"))
    )
    assert (updated.description, updated.cpu.type) == ("d", "X")
    clusters.cluster_service(by_id.id).remove()
    with pytest.raises(sdk.NotFoundError):
        clusters.cluster_service(by_id.id).get()


def test_cluster_of_unknown_data_center_is_404(system: Any) -> None:
    with pytest.raises(sdk.NotFoundError):
        system.clusters_service().add(
            types.Cluster(name=unique("cl"), data_center=types.DataCenter(name="nope"))
        )


# --- logical networks ------------------------------------------------------------------------------


def test_network_lifecycle(system: Any) -> None:
    site = make_site(system)
    networks = system.networks_service()
    name = unique("net")
    net = networks.add(
        types.Network(
            name=name,
            data_center=types.DataCenter(name=site.dc.name),
            vlan=types.Vlan(id=10),
            mtu=1400,
            stp=True,
            usages=[types.NetworkUsage.VM],
        )
    )
    _has_identity(net, "networks")
    assert (net.vlan.id, net.mtu, net.stp) == (10, 1400, True)
    assert net.usages == [types.NetworkUsage.VM]
    assert net.data_center.id == site.dc.id
    # a VM network gets a vNIC profile with its name
    profiles = networks.network_service(net.id).vnic_profiles_service().list()
    assert [p.name for p in profiles] == [name]
    assert profiles[0].network.id == net.id
    assert name in [p.name for p in system.vnic_profiles_service().list()]

    updated = networks.network_service(net.id).update(types.Network(mtu=9000, vlan=types.Vlan(id=20)))
    assert (updated.mtu, updated.vlan.id, updated.stp) == (9000, 20, True)

    networks.network_service(net.id).remove()
    with pytest.raises(sdk.NotFoundError):
        networks.network_service(net.id).get()
    assert name not in [p.name for p in system.vnic_profiles_service().list()]


def test_non_vm_network_has_no_profile(system: Any) -> None:
    site = make_site(system)
    net = system.networks_service().add(
        types.Network(name=unique("net"), data_center=types.DataCenter(id=site.dc.id), usages=[])
    )
    assert not net.usages
    assert system.networks_service().network_service(net.id).vnic_profiles_service().list() == []


def test_network_name_is_unique_per_data_center(system: Any) -> None:
    a, b = make_site(system), make_site(system)
    name = unique("net")
    system.networks_service().add(types.Network(name=name, data_center=types.DataCenter(id=a.dc.id)))
    system.networks_service().add(types.Network(name=name, data_center=types.DataCenter(id=b.dc.id)))
    with pytest.raises(sdk.Error) as err:
        system.networks_service().add(types.Network(name=name, data_center=types.DataCenter(id=a.dc.id)))
    assert err.value.code == 409
    assert (
        f"Cannot add Network. The name of the logical network '{name}' is already used by an existing logical "
        "network in the same data-center."
    ) in str(err.value)


def test_invalid_vlan_and_mtu_are_400(system: Any) -> None:
    site = make_site(system)
    for bad in (
        types.Network(
            name=unique("n"), data_center=types.DataCenter(id=site.dc.id), vlan=types.Vlan(id=5000)
        ),
        types.Network(name=unique("n"), data_center=types.DataCenter(id=site.dc.id), mtu=10),
    ):
        with pytest.raises(sdk.Error) as err:
            system.networks_service().add(bad)
        assert err.value.code == 400


def test_cluster_network_required_and_display(system: Any) -> None:
    site = make_site(system)
    a, _ = make_vm_network(system, site)
    b, _ = make_vm_network(system, site)
    cluster_networks = system.clusters_service().cluster_service(site.cluster.id).networks_service()
    by_name = {n.name: n for n in cluster_networks.list()}
    assert set(by_name) == {"ovirtmgmt", a.name, b.name}
    assert by_name[a.name].required is False
    assert by_name["ovirtmgmt"].required is True
    assert by_name[a.name].href == f"{API_PATH}/clusters/{site.cluster.id}/networks/{a.id}"

    shown = cluster_networks.network_service(a.id).update(types.Network(display=True, required=True))
    assert (shown.display, shown.required) == (True, True)
    # display moves: only one display network per cluster
    shown = cluster_networks.network_service(b.id).update(types.Network(display=True))
    assert shown.display is True
    flags = {n.name: n.display for n in cluster_networks.list()}
    assert flags == {"ovirtmgmt": False, a.name: False, b.name: True}

    cluster_networks.network_service(a.id).remove()
    assert a.name not in [n.name for n in cluster_networks.list()]
    with pytest.raises(sdk.NotFoundError):
        cluster_networks.network_service(a.id).get()


def test_attach_with_display_moves_the_display_network(system: Any) -> None:
    site = make_site(system)
    cluster_networks = system.clusters_service().cluster_service(site.cluster.id).networks_service()
    nets = [
        system.networks_service().add(
            types.Network(name=unique("n"), data_center=types.DataCenter(id=site.dc.id))
        )
        for _ in range(2)
    ]
    first = cluster_networks.add(types.Network(id=nets[0].id, display=True, required=False))
    assert (first.display, first.required) == (True, False)
    second = cluster_networks.add(types.Network(name=nets[1].name, display=True))
    assert second.display is True
    assert {n.name: n.display for n in cluster_networks.list()}[nets[0].name] is False


# --- hosts and templates -----------------------------------------------------------------------------


def test_host_lifecycle_never_renders_root_password(system: Any, shared_connection: Any) -> None:
    site = make_site(system)
    hosts = system.hosts_service()
    name = unique("host")
    host = hosts.add(
        types.Host(
            name=name,
            address="192.0.2.10",
            port=54321,
            root_password="s3cret-root",
            cluster=types.Cluster(name=site.cluster.name),
        )
    )
    _has_identity(host, "hosts")
    assert (host.address, host.port, host.cluster.id) == ("192.0.2.10", 54321, site.cluster.id)
    assert host.root_password is None
    assert host.status is not None
    got = hosts.host_service(host.id).get()
    assert got.root_password is None
    assert [h.name for h in hosts.list(search=f"name={name}")] == [name]
    updated = hosts.host_service(host.id).update(types.Host(description="rack 4", root_password="other"))
    assert updated.description == "rack 4"

    import httpx

    raw = httpx.get(
        shared_connection.url + f"/hosts/{host.id}",
        headers={"Authorization": f"Bearer {shared_connection.authenticate()}"},
    )
    assert "root_password" not in raw.text and "s3cret" not in raw.text
    hosts.host_service(host.id).remove()
    with pytest.raises(sdk.NotFoundError):
        hosts.host_service(host.id).get()


def test_blank_template(system: Any) -> None:
    templates = system.templates_service().list()
    blank = [t for t in templates if t.name == "Blank"]
    assert len(blank) == 1
    assert blank[0].id == BLANK
    _has_identity(blank[0], "templates")
    assert system.templates_service().template_service(BLANK).get().name == "Blank"


# --- removing what is in use -------------------------------------------------------------------------


def test_network_used_by_a_vm_nic_cannot_be_removed(system: Any) -> None:
    site = make_site(system)
    net, profile = make_vm_network(system, site)
    vm = make_vm(system, site)
    system.vms_service().vm_service(vm.id).nics_service().add(
        types.Nic(name="nic1", vnic_profile=types.VnicProfile(id=profile.id))
    )
    with pytest.raises(sdk.Error) as err:
        system.networks_service().network_service(net.id).remove()
    assert err.value.code == 409
    assert (
        f"Cannot remove Network. This logical network is used by virtual machine: {vm.name}\n"
        " - Please remove it from this virtual machine and try again."
    ) in str(err.value)
    assert system.networks_service().network_service(net.id).get().name == net.name


def test_remove_data_center_without_and_with_force(system: Any) -> None:
    site = make_site(system)
    net, profile = make_vm_network(system, site)
    vm = make_vm(system, site)
    nics = system.vms_service().vm_service(vm.id).nics_service()
    nic = nics.add(types.Nic(name="nic1", vnic_profile=types.VnicProfile(id=profile.id)))
    dc_service = system.data_centers_service().data_center_service(site.dc.id)
    with pytest.raises(sdk.Error) as err:
        dc_service.remove()
    assert err.value.code == 409
    assert vm.name in str(err.value)
    assert dc_service.get().name == site.dc.name  # nothing was removed
    assert system.networks_service().network_service(net.id).get().name == net.name

    dc_service.remove(force=True)
    with pytest.raises(sdk.NotFoundError):
        dc_service.get()
    with pytest.raises(sdk.NotFoundError):
        system.networks_service().network_service(net.id).get()
    left = nics.nic_service(nic.id).get()
    assert left.vnic_profile is None
    assert left.mac.address == nic.mac.address


def test_remove_empty_data_center_detaches_its_clusters(system: Any) -> None:
    site = make_site(system)
    system.data_centers_service().data_center_service(site.dc.id).remove()
    cluster = system.clusters_service().cluster_service(site.cluster.id).get()
    assert cluster.data_center is None


# --- search ------------------------------------------------------------------------------------------


def test_search(system: Any) -> None:
    tag = unique("s")
    site = make_site(system, tag)
    other = make_site(system, tag)
    vms = system.vms_service()
    names = [f"{tag}-alpha", f"{tag}-beta", f"{tag}-gamma"]
    for n in names:
        vms.add(
            types.Vm(name=n, cluster=types.Cluster(id=site.cluster.id), template=types.Template(name="Blank"))
        )
    vms.add(
        types.Vm(
            name=f"{tag}-omega",
            cluster=types.Cluster(id=other.cluster.id),
            template=types.Template(name="Blank"),
        )
    )

    assert [v.name for v in vms.list(search=f"name={tag}-beta")] == [f"{tag}-beta"]
    assert sorted(v.name for v in vms.list(search=f"name={tag}-*a")) == sorted([*names, f"{tag}-omega"])
    assert [v.name for v in vms.list(search=f"name={tag}-* and cluster={other.cluster.name}")] == [
        f"{tag}-omega"
    ]
    assert sorted(v.name for v in vms.list(search=f"Clusters.name={site.cluster.name}")) == names
    assert sorted(v.name for v in vms.list(search=f"datacenter={site.dc.name}")) == names
    assert [c.name for c in system.clusters_service().list(search=f"datacenter={other.dc.name}")] == [
        other.cluster.name
    ]
    assert [n.name for n in system.networks_service().list(search=f"datacenter={other.dc.name}")] == [
        "ovirtmgmt"
    ]
    assert [d.name for d in system.data_centers_service().list(search=f"name={site.dc.name}")] == [
        site.dc.name
    ]

    # case-insensitive on request
    assert vms.list(search=f"name={tag.upper()}-ALPHA") == []
    assert [v.name for v in vms.list(search=f"name={tag.upper()}-ALPHA", case_sensitive=False)] == [
        f"{tag}-alpha"
    ]

    # paging: `page N` with max
    first = vms.list(search=f"name={tag}-* and cluster={site.cluster.name} page 1", max=2)
    second = vms.list(search=f"name={tag}-* and cluster={site.cluster.name} page 2", max=2)
    assert [v.name for v in first] == names[:2]
    assert [v.name for v in second] == names[2:]
    assert len(vms.list(search=f"name={tag}-*", max=1)) == 1


def test_unknown_search_field_is_400(system: Any) -> None:
    with pytest.raises(sdk.Error) as err:
        system.vms_service().list(search="colour=blue")
    assert err.value.code == 400


# --- empty collections, references by name -------------------------------------------------------


def test_storage_domains_and_disks_are_empty(system: Any) -> None:
    assert system.storage_domains_service().list() == []
    assert system.disks_service().list() == []
    # the audit log answers; what it holds depends on what other tests did (hosts, VMs)
    assert all(e.description for e in system.events_service().list())


def test_references_by_name(system: Any) -> None:
    site = make_site(system)
    net = system.networks_service().add(
        types.Network(name=unique("n"), data_center=types.DataCenter(name=site.dc.name))
    )
    system.clusters_service().cluster_service(site.cluster.id).networks_service().add(
        types.Network(name=net.name, required=False)
    )
    vm = system.vms_service().add(
        types.Vm(
            name=unique("vm"),
            cluster=types.Cluster(name=site.cluster.name),
            template=types.Template(name="Blank"),
        )
    )
    assert vm.cluster.id == site.cluster.id
    assert vm.template.id == BLANK
    host = system.hosts_service().add(
        types.Host(name=unique("h"), address="192.0.2.1", cluster=types.Cluster(name=site.cluster.name))
    )
    assert host.cluster.id == site.cluster.id
