"""The seed's limitations on external networks, through the real ovirtsdk4 and a real provider; and networks
created on, removed from and exported to the provider through the engine."""

from __future__ import annotations

from typing import Any

import httpx
import ovirtsdk4.types as types
import pytest

from tests.e2e.providers.conftest import ENGINE_PASSWORD, Engine, Member, Provider
from tests.e2e.providers.helpers import Site, add_provider, make_site, refused, unique
from tests.support.hosts import add_host
from tests.support.servers import RunningAgent


@pytest.fixture(scope="module")
def member(provider: Provider) -> Member:
    return provider.new_member()


@pytest.fixture(scope="module")
def registered(system: Any, provider: Provider, member: Member) -> types.OpenStackNetworkProvider:
    return add_provider(system, provider, member)


@pytest.fixture(scope="module")
def site(system: Any) -> Site:
    return make_site(system)


def _provider_names(provider: Provider, member: Member) -> list[str]:
    with provider.neutron(member) as neutron:
        return [n["name"] for n in neutron.get("/networks").json()["networks"]]


def _external(
    system: Any, site: Site, registered: types.OpenStackNetworkProvider, attach: bool = True, **kw: Any
) -> types.Network:
    """A network created on the provider through the engine, imported into the site's DC."""
    net = system.networks_service().add(
        types.Network(
            name=unique("ext"),
            data_center=types.DataCenter(id=site.dc.id),
            external_provider=types.OpenStackNetworkProvider(id=registered.id),
            **kw,
        )
    )
    if attach:
        system.clusters_service().cluster_service(site.cluster.id).networks_service().add(
            types.Network(id=net.id, required=False)
        )
    return net


def _internal(system: Any, site: Site) -> types.Network:
    net = system.networks_service().add(
        types.Network(
            name=unique("int"), data_center=types.DataCenter(id=site.dc.id), usages=[types.NetworkUsage.VM]
        )
    )
    system.clusters_service().cluster_service(site.cluster.id).networks_service().add(
        types.Network(id=net.id, required=False)
    )
    return net


def _profile(system: Any, net: types.Network) -> types.VnicProfile:
    [profile] = system.networks_service().network_service(net.id).vnic_profiles_service().list()
    return profile


def test_create_on_provider_and_remove_with_or_without_it(
    system: Any, provider: Provider, member: Member, site: Site, registered: types.OpenStackNetworkProvider
) -> None:
    net = _external(system, site, registered, attach=False)
    assert net.external_provider is not None and net.external_provider.id == registered.id
    assert net.name in _provider_names(provider, member)
    assert [
        p.name for p in system.networks_service().network_service(net.id).vnic_profiles_service().list()
    ] == [net.name]

    system.networks_service().network_service(net.id).remove(query={"remove_from_provider": "true"})
    assert net.id not in [n.id for n in system.networks_service().list()]
    assert net.name not in _provider_names(provider, member)

    kept = _external(system, site, registered, attach=False)
    system.networks_service().network_service(kept.id).remove()
    assert kept.id not in [n.id for n in system.networks_service().list()]
    assert kept.name in _provider_names(provider, member)


def test_create_on_a_read_only_provider_is_refused(
    system: Any, provider: Provider, member: Member, site: Site
) -> None:
    read_only = add_provider(system, provider, member, read_only=True)
    name = unique("ro")
    code, detail = refused(
        lambda: system.networks_service().add(
            types.Network(
                name=name,
                data_center=types.DataCenter(id=site.dc.id),
                external_provider=types.OpenStackNetworkProvider(id=read_only.id),
            )
        )
    )
    assert (code, detail) == (
        400,
        f"[Cannot add Network. External network provider {read_only.name} is read only.]",
    )
    assert name not in _provider_names(provider, member)
    assert name not in [n.name for n in system.networks_service().list()]


def test_not_a_display_network(system: Any, site: Site, registered: types.OpenStackNetworkProvider) -> None:
    net = _external(system, site, registered)
    cluster_net = (
        system.clusters_service().cluster_service(site.cluster.id).networks_service().network_service(net.id)
    )
    for change in (types.Network(usages=[types.NetworkUsage.DISPLAY]), types.Network(display=True)):
        code, detail = refused(lambda: cluster_net.update(change))  # noqa: B023
        assert code == 400 and "External network cannot be used as a display network." in detail, detail
    assert cluster_net.get().display is False

    other = _external(system, site, registered, attach=False)
    code, detail = refused(
        lambda: (
            system.clusters_service()
            .cluster_service(site.cluster.id)
            .networks_service()
            .add(types.Network(id=other.id, required=False, usages=[types.NetworkUsage.DISPLAY]))
        )
    )
    assert code == 400 and "External network cannot be used as a display network." in detail, detail


def test_not_a_non_vm_network(system: Any, site: Site, registered: types.OpenStackNetworkProvider) -> None:
    net = _external(system, site, registered)
    service = system.networks_service().network_service(net.id)
    code, detail = refused(lambda: service.update(types.Network(usages=[])))
    assert code == 400 and "An external network cannot be a non-VM network." in detail, detail
    assert types.NetworkUsage.VM in (service.get().usages or [])


@pytest.mark.parametrize(
    "change",
    [
        types.Network(vlan=types.Vlan(id=10)),
        types.Network(stp=True),
        types.Network(mtu=1400),
    ],
    ids=["vlan", "stp", "mtu"],
)
def test_details_cannot_be_edited(
    system: Any, site: Site, registered: types.OpenStackNetworkProvider, change: types.Network
) -> None:
    net = _external(system, site, registered, attach=False)
    service = system.networks_service().network_service(net.id)
    code, detail = refused(lambda: service.update(change))
    assert code == 400
    assert (
        "Cannot edit Network. External network details (except name and description) cannot be changed"
        in detail
    )
    got = service.get()
    assert (got.vlan, got.stp) == (None, False)


def test_name_and_description_can_be_edited(
    system: Any, site: Site, registered: types.OpenStackNetworkProvider
) -> None:
    net = _external(system, site, registered, attach=False)
    service = system.networks_service().network_service(net.id)
    new_name = unique("edited")
    got = service.update(types.Network(name=new_name, description="described"))
    assert (got.name, got.description) == (new_name, "described")


def test_no_port_mirroring_on_external_networks(
    system: Any, site: Site, registered: types.OpenStackNetworkProvider
) -> None:
    net = _external(system, site, registered)
    text = "External network cannot be used when port mirroring is set."
    code, detail = refused(
        lambda: system.vnic_profiles_service().add(
            types.VnicProfile(name=unique("mirror"), network=types.Network(id=net.id), port_mirroring=True)
        )
    )
    assert code == 400 and text in detail, detail
    profile = _profile(system, net)
    code, detail = refused(
        lambda: (
            system.vnic_profiles_service()
            .profile_service(profile.id)
            .update(types.VnicProfile(port_mirroring=True))
        )
    )
    assert code == 400 and text in detail, detail


def test_plugged_vnic_of_a_running_vm_is_not_rewired(
    system: Any, site: Site, registered: types.OpenStackNetworkProvider, host_agent: RunningAgent
) -> None:
    add_host(system, host_agent, site.cluster.id)
    external, internal = _external(system, site, registered), _internal(system, site)
    ext_profile, int_profile = _profile(system, external), _profile(system, internal)
    vm = system.vms_service().add(
        types.Vm(
            name=unique("vm"),
            cluster=types.Cluster(id=site.cluster.id),
            template=types.Template(name="Blank"),
        )
    )
    vm_service = system.vms_service().vm_service(vm.id)
    nics = vm_service.nics_service()
    to_ext = nics.add(types.Nic(name="nic1", vnic_profile=types.VnicProfile(id=int_profile.id)))
    from_ext = nics.add(types.Nic(name="nic2", vnic_profile=types.VnicProfile(id=ext_profile.id)))
    vm_service.start()
    assert vm_service.get().status == types.VmStatus.UP
    text = (
        "External network cannot be changed while plugged into a running virtual machine. Stop the VM or "
        "unplug the vNIC before editing."
    )
    try:
        code, detail = refused(
            lambda: nics.nic_service(to_ext.id).update(
                types.Nic(vnic_profile=types.VnicProfile(id=ext_profile.id))
            )
        )
        assert code in (400, 409) and text in detail, detail
        code, detail = refused(
            lambda: nics.nic_service(from_ext.id).update(
                types.Nic(vnic_profile=types.VnicProfile(id=int_profile.id))
            )
        )
        assert code in (400, 409) and text in detail, detail
        # or unplug it first, as the message says
        spare = nics.add(types.Nic(name="nic3", vnic_profile=types.VnicProfile(id=int_profile.id)))
        nics.nic_service(spare.id).deactivate()
        nics.nic_service(spare.id).update(types.Nic(vnic_profile=types.VnicProfile(id=ext_profile.id)))
        assert nics.nic_service(spare.id).get().vnic_profile.id == ext_profile.id
        nics.nic_service(spare.id).remove()
    finally:
        vm_service.stop()
    assert vm_service.get().status == types.VmStatus.DOWN
    nics.nic_service(to_ext.id).update(types.Nic(vnic_profile=types.VnicProfile(id=ext_profile.id)))
    nics.nic_service(from_ext.id).update(types.Nic(vnic_profile=types.VnicProfile(id=int_profile.id)))
    assert {n.name: n.vnic_profile.id for n in nics.list()} == {
        "nic1": ext_profile.id,
        "nic2": int_profile.id,
    }


def _export(engine: Engine, network_id: str, provider_id: str) -> httpx.Response:
    """POST /networks/{id}/export (ovirtsdk4 4.6.3 has no method for it)."""
    return httpx.post(
        f"{engine.url}/networks/{network_id}/export",
        auth=("admin@internal", ENGINE_PASSWORD),
        headers={"Content-Type": "application/xml", "Accept": "application/xml"},
        content=f'<action><external_provider id="{provider_id}"/></action>',
    )


def test_export_links_an_internal_network_keeping_profiles_and_nics(
    engine: Engine,
    system: Any,
    provider: Provider,
    member: Member,
    site: Site,
    registered: types.OpenStackNetworkProvider,
) -> None:
    internal = _internal(system, site)
    profile = _profile(system, internal)
    vm = system.vms_service().add(
        types.Vm(
            name=unique("vm"),
            cluster=types.Cluster(id=site.cluster.id),
            template=types.Template(name="Blank"),
        )
    )
    nic = (
        system.vms_service()
        .vm_service(vm.id)
        .nics_service()
        .add(types.Nic(name="nic1", vnic_profile=types.VnicProfile(id=profile.id)))
    )

    assert _export(engine, internal.id, registered.id).status_code == 200

    got = system.networks_service().network_service(internal.id).get()
    assert got.external_provider is not None and got.external_provider.id == registered.id
    assert internal.name in _provider_names(provider, member)
    assert [
        p.id for p in system.networks_service().network_service(internal.id).vnic_profiles_service().list()
    ] == [profile.id]
    [same] = system.vms_service().vm_service(vm.id).nics_service().list()
    assert (same.id, same.vnic_profile.id) == (nic.id, profile.id)
    listed = (
        system.openstack_network_providers_service().provider_service(registered.id).networks_service().list()
    )
    assert internal.name in [n.name for n in listed]
    again = _export(engine, internal.id, registered.id)
    assert again.status_code == 400 and "already an external network" in again.text, again.text


@pytest.mark.parametrize("violation", ["required", "display", "port_mirroring"])
def test_export_refuses_what_an_external_network_cannot_be(
    engine: Engine,
    system: Any,
    provider: Provider,
    member: Member,
    site: Site,
    registered: types.OpenStackNetworkProvider,
    violation: str,
) -> None:
    net = system.networks_service().add(
        types.Network(
            name=unique("int"), data_center=types.DataCenter(id=site.dc.id), usages=[types.NetworkUsage.VM]
        )
    )
    attached = system.clusters_service().cluster_service(site.cluster.id).networks_service()
    attached.add(types.Network(id=net.id, required=violation == "required"))
    if violation == "display":
        attached.network_service(net.id).update(types.Network(display=True))
    if violation == "port_mirroring":
        system.networks_service().network_service(net.id).vnic_profiles_service().add(
            types.VnicProfile(name=unique("mirror"), port_mirroring=True)
        )
    resp = _export(engine, net.id, registered.id)
    text = {
        "required": "External network cannot be set as required in the cluster.",
        "display": "External network cannot be used as a display network.",
        "port_mirroring": "External network cannot be used when port mirroring is set.",
    }[violation]
    assert resp.status_code == 400 and f"[Cannot export Network. {text}]" in resp.text, resp.text
    assert system.networks_service().network_service(net.id).get().external_provider is None
    assert net.name not in _provider_names(provider, member)


def test_create_on_provider_refuses_non_vm_and_vlan(
    system: Any, provider: Provider, member: Member, site: Site, registered: types.OpenStackNetworkProvider
) -> None:
    for extra, text in (
        ({"usages": []}, "An external network cannot be a non-VM network."),
        ({"vlan": types.Vlan(id=12)}, "External network details"),
    ):
        name = unique("refused")
        network = types.Network(
            name=name,
            data_center=types.DataCenter(id=site.dc.id),
            external_provider=types.OpenStackNetworkProvider(id=registered.id),
            **extra,
        )
        code, detail = refused(lambda net=network: system.networks_service().add(net))
        assert code == 400 and f"Cannot add Network. {text}" in detail, detail
        assert name not in _provider_names(provider, member)


def test_plugged_unlinked_vnic_on_an_external_network_is_refused(
    system: Any, site: Site, registered: types.OpenStackNetworkProvider
) -> None:
    profile = _profile(system, _external(system, site, registered))
    vm = system.vms_service().add(
        types.Vm(
            name=unique("vm"),
            cluster=types.Cluster(id=site.cluster.id),
            template=types.Template(name="Blank"),
        )
    )
    nics = system.vms_service().vm_service(vm.id).nics_service()
    text = "Plugged and unlinked VM network interface with external network is not supported."
    code, detail = refused(
        lambda: nics.add(
            types.Nic(name="nic1", vnic_profile=types.VnicProfile(id=profile.id), plugged=True, linked=False)
        )
    )
    assert code == 400 and text in detail, detail
    nic = nics.add(types.Nic(name="nic1", vnic_profile=types.VnicProfile(id=profile.id)))
    code, detail = refused(lambda: nics.nic_service(nic.id).update(types.Nic(linked=False)))
    assert code == 400 and text in detail, detail


def test_remove_from_provider_refusals_keep_the_engine_network(
    system: Any, provider: Provider, member: Member, site: Site, registered: types.OpenStackNetworkProvider
) -> None:
    # the provider refuses (a port is still on the network): the engine keeps its network
    busy = _external(system, site, registered, attach=False)
    [ext] = [
        n
        for n in system.openstack_network_providers_service()
        .provider_service(registered.id)
        .networks_service()
        .list()
        if n.name == busy.name
    ]
    with provider.neutron(member) as neutron:
        port = neutron.post("/ports", json={"port": {"network_id": ext.id}})
        port.raise_for_status()
        code, detail = refused(
            lambda: (
                system.networks_service()
                .network_service(busy.id)
                .remove(query={"remove_from_provider": "true"})
            )
        )
        assert code == 409 and "The external provider refused the request" in detail, detail
        assert busy.id in [n.id for n in system.networks_service().list()]
        neutron.delete(f"/ports/{port.json()['port']['id']}").raise_for_status()
    system.networks_service().network_service(busy.id).remove(query={"remove_from_provider": "true"})
    assert busy.name not in _provider_names(provider, member)

    # a read-only provider is not asked at all
    kept = _external(system, site, registered, attach=False)
    providers = system.openstack_network_providers_service()
    providers.provider_service(registered.id).update(types.OpenStackNetworkProvider(read_only=True))
    try:
        code, detail = refused(
            lambda: (
                system.networks_service()
                .network_service(kept.id)
                .remove(query={"remove_from_provider": "true"})
            )
        )
        assert (code, detail) == (
            400,
            f"[Cannot remove Network. External network provider {registered.name} is read only.]",
        )
        assert kept.id in [n.id for n in system.networks_service().list()]
        system.networks_service().network_service(kept.id).remove()
    finally:
        providers.provider_service(registered.id).update(types.OpenStackNetworkProvider(read_only=False))
    assert kept.name in _provider_names(provider, member)
