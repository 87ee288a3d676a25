"""The whole external provider flow through the real ovirtsdk4, against a real `neutrino provider` that the
engine reaches with Keystone v3 as a non-admin project user."""

from __future__ import annotations

from typing import Any

import httpx
import ovirtsdk4.types as types
import pytest

from tests.e2e.providers.conftest import ENGINE_PASSWORD, Engine, Member, Provider
from tests.e2e.providers.helpers import (
    add_provider,
    engine_networks,
    make_site,
    provider_network_named,
    refused,
    unique,
)


@pytest.fixture(scope="module")
def member(provider: Provider) -> Member:
    return provider.new_member()


@pytest.fixture(scope="module")
def registered(system: Any, provider: Provider, member: Member) -> types.OpenStackNetworkProvider:
    return add_provider(system, provider, member)


def _service(system: Any, provider_id: str) -> Any:
    return system.openstack_network_providers_service().provider_service(provider_id)


def _make_provider_network(provider: Provider, member: Member) -> str:
    name = unique("ext")
    with provider.neutron(member) as neutron:
        neutron.post("/networks", json={"network": {"name": name}}).raise_for_status()
    return name


def test_connectivity_as_a_project_member(system: Any, registered: types.OpenStackNetworkProvider) -> None:
    assert registered.password is None  # write-only
    assert registered.external_plugin_type == "LINUX_BRIDGE"
    _service(system, registered.id).test_connectivity()


def test_wrong_password_fails_test_connectivity_clearly(
    system: Any, provider: Provider, member: Member
) -> None:
    bad = add_provider(system, provider, member, password="not-the-password")
    code, detail = refused(lambda: _service(system, bad.id).test_connectivity())
    assert code == 400
    assert "Failed to communicate with the external provider" in detail
    assert "authentication failed" in detail and "401" in detail
    _service(system, bad.id).remove()


def test_import_attach_and_the_required_rule(
    engine: Engine,
    system: Any,
    provider: Provider,
    member: Member,
    registered: types.OpenStackNetworkProvider,
) -> None:
    name = _make_provider_network(provider, member)
    ext = provider_network_named(system, registered.id, name)
    site = make_site(system)
    _service(system, registered.id).networks_service().network_service(ext.id).import_(
        data_center=types.DataCenter(id=site.dc.id)
    )

    [net] = [n for n in engine_networks(system, site.dc.id) if n.name == name]
    assert net.external_provider is not None and net.external_provider.id == registered.id
    profiles = system.networks_service().network_service(net.id).vnic_profiles_service().list()
    assert [p.name for p in profiles] == [name]

    cluster_nets = system.clusters_service().cluster_service(site.cluster.id).networks_service()
    code, detail = refused(lambda: cluster_nets.add(types.Network(id=net.id, required=True)))
    assert code == 400 and "External network cannot be set as required in the cluster." in detail
    cluster_nets.add(types.Network(id=net.id, required=False))
    assert [(n.name, n.required) for n in cluster_nets.list() if n.id == net.id] == [(name, False)]
    code, detail = refused(lambda: cluster_nets.network_service(net.id).update(types.Network(required=True)))
    assert code == 400 and "External network cannot be set as required in the cluster." in detail

    # Neutrino's addition: the provider's network lists the data centers that imported it
    xml = httpx.get(
        f"{engine.url}/openstacknetworkproviders/{registered.id}/networks/{ext.id}",
        auth=("admin@internal", ENGINE_PASSWORD),
        headers={"Accept": "application/xml"},
    ).text
    assert (
        f'<data_centers><data_center href="/ovirt-engine/api/datacenters/{site.dc.id}" id="{site.dc.id}"/>'
        in xml
    )


def test_reimport_is_409_and_a_second_dc_works(
    system: Any, provider: Provider, member: Member, registered: types.OpenStackNetworkProvider
) -> None:
    name = _make_provider_network(provider, member)
    ext = provider_network_named(system, registered.id, name)
    one, two = make_site(system), make_site(system)
    svc = _service(system, registered.id).networks_service().network_service(ext.id)
    svc.import_(data_center=types.DataCenter(id=one.dc.id))
    code, detail = refused(lambda: svc.import_(data_center=types.DataCenter(id=one.dc.id)))
    assert code == 409
    assert f"The external network already exists as '{name}' in the data center." in detail
    svc.import_(data_center=types.DataCenter(id=two.dc.id))
    assert [n.name for n in engine_networks(system, one.dc.id) if n.name == name] == [name]
    assert [n.name for n in engine_networks(system, two.dc.id) if n.name == name] == [name]


def test_subnets(
    system: Any, provider: Provider, member: Member, registered: types.OpenStackNetworkProvider
) -> None:
    name = _make_provider_network(provider, member)
    ext = provider_network_named(system, registered.id, name)
    subnets = _service(system, registered.id).networks_service().network_service(ext.id).subnets_service()

    made = subnets.add(
        types.OpenStackSubnet(
            name="sub1", cidr="10.77.0.0/24", ip_version="v4", gateway="10.77.0.1", dns_servers=["192.0.2.53"]
        )
    )
    assert (made.name, made.cidr, made.ip_version, made.gateway, made.dns_servers) == (
        "sub1",
        "10.77.0.0/24",
        "v4",
        "10.77.0.1",
        ["192.0.2.53"],
    )
    assert [(s.id, s.cidr) for s in subnets.list()] == [(made.id, "10.77.0.0/24")]
    assert subnets.subnet_service(made.id).get().gateway == "10.77.0.1"
    assert _service(system, registered.id).networks_service().network_service(ext.id).get().name == name

    code, detail = refused(
        lambda: subnets.add(types.OpenStackSubnet(name="bad", cidr="10.77.0.300/24", ip_version="v4"))
    )
    assert code == 400 and "Invalid value for 'cidr'" in detail and "10.77.0.300/24" in detail
    code, detail = refused(
        lambda: subnets.add(types.OpenStackSubnet(name="over", cidr="10.77.0.0/25", ip_version="v4"))
    )
    assert code in (400, 409) and "overlap" in detail.lower(), detail

    providers = system.openstack_network_providers_service()
    providers.provider_service(registered.id).update(types.OpenStackNetworkProvider(read_only=True))
    try:
        code, detail = refused(
            lambda: subnets.add(types.OpenStackSubnet(name="ro", cidr="10.78.0.0/24", ip_version="v4"))
        )
        assert (code, detail) == (
            400,
            f"[Cannot add Subnet. External network provider {registered.name} is read only.]",
        )
        code, detail = refused(lambda: subnets.subnet_service(made.id).remove())
        assert (code, detail) == (
            400,
            f"[Cannot remove Subnet. External network provider {registered.name} is read only.]",
        )
    finally:
        providers.provider_service(registered.id).update(types.OpenStackNetworkProvider(read_only=False))

    v6 = subnets.add(types.OpenStackSubnet(name="sub6", cidr="fd00:77::/64", ip_version="v6"))
    assert (v6.cidr, v6.ip_version) == ("fd00:77::/64", "v6")
    code, detail = refused(
        lambda: subnets.add(types.OpenStackSubnet(name="mixed", cidr="fd00:78::/64", ip_version="v4"))
    )
    assert code == 400 and "Invalid value for 'cidr'" in detail, detail

    subnets.subnet_service(made.id).remove()
    subnets.subnet_service(v6.id).remove()
    assert subnets.list() == []


def _import_and_use(
    system: Any, provider: Provider, member: Member, provider_id: str, site: Any, vm: types.Vm
) -> tuple[str, types.Nic]:
    """A provider network imported into the site's DC, attached to its cluster, with a NIC of ``vm`` on it."""
    name = _make_provider_network(provider, member)
    ext = provider_network_named(system, provider_id, name)
    _service(system, provider_id).networks_service().network_service(ext.id).import_(
        data_center=types.DataCenter(id=site.dc.id)
    )
    [net] = [n for n in engine_networks(system, site.dc.id) if n.name == name]
    system.clusters_service().cluster_service(site.cluster.id).networks_service().add(
        types.Network(id=net.id, required=False)
    )
    [profile] = system.networks_service().network_service(net.id).vnic_profiles_service().list()
    nic = (
        system.vms_service()
        .vm_service(vm.id)
        .nics_service()
        .add(types.Nic(name=unique("nic"), vnic_profile=types.VnicProfile(id=profile.id)))
    )
    return name, nic


def test_remove_provider_refused_while_vm_nics_use_its_networks(
    system: Any, provider: Provider, member: Member
) -> None:
    own = add_provider(system, provider, member)
    site = make_site(system)
    vm = system.vms_service().add(
        types.Vm(
            name=unique("vm"),
            cluster=types.Cluster(id=site.cluster.id),
            template=types.Template(name="Blank"),
        )
    )
    nics = system.vms_service().vm_service(vm.id).nics_service()
    first, first_nic = _import_and_use(system, provider, member, own.id, site, vm)

    code, detail = refused(lambda: _service(system, own.id).remove())
    assert (code, detail) == (
        409,
        "[Cannot remove provider. External network is used by virtual machines and/or "
        f"templates:\n{first}\n - Please resolve the external networks usage first and "
        "try again.]",
    )
    second, second_nic = _import_and_use(system, provider, member, own.id, site, vm)
    code, detail = refused(lambda: _service(system, own.id).remove())
    names = "\n".join(sorted([first, second]))
    assert (code, detail) == (
        409,
        "[Cannot remove provider. Several external networks (2) are being used by "
        f"virtual machines and/or templates:\n{names}\n - Please resolve the external "
        "networks usage first and try again.]",
    )

    nics.nic_service(first_nic.id).remove()
    nics.nic_service(second_nic.id).remove()
    _service(system, own.id).remove()
    assert own.id not in [p.id for p in system.openstack_network_providers_service().list()]
    assert not {first, second} & {n.name for n in engine_networks(system, site.dc.id)}
    # the provider keeps its networks
    with provider.neutron(member) as neutron:
        assert {first, second} <= {n["name"] for n in neutron.get("/networks").json()["networks"]}


def test_remove_provider_refused_while_it_is_a_cluster_default(
    system: Any, provider: Provider, member: Member
) -> None:
    own = add_provider(system, provider, member)
    site = make_site(system, provider_id=own.id)
    code, detail = refused(lambda: _service(system, own.id).remove())
    assert code == 409
    assert detail == (
        "[Cannot remove provider. External network provider is used as default network provider in "
        f"the following cluster/s:\n{site.cluster.name}\n - Please change default network provider "
        "first and try again.]"
    )


# --- test 2: authentication URLs and plugin types -------------------------------------------------------


def test_keystone_v2_auth_url_works(system: Any, provider: Provider, member: Member) -> None:
    name = _make_provider_network(provider, member)
    v2 = add_provider(system, provider, member, auth_path="/v2.0")
    _service(system, v2.id).test_connectivity()
    assert name in [n.name for n in _service(system, v2.id).networks_service().list()]
    _service(system, v2.id).remove()


def test_keystone_v3_with_project_name(system: Any, provider: Provider, member: Member) -> None:
    by_project = add_provider(system, provider, member, tenant_name=None, project_name=member.project)
    _service(system, by_project.id).test_connectivity()
    _service(system, by_project.id).remove()


@pytest.mark.parametrize("auth_url", ["{url}", "{url}/v2", "{url}/identity", "127.0.0.1/v3"])
def test_invalid_auth_url_is_refused_at_add(
    system: Any, provider: Provider, member: Member, auth_url: str
) -> None:
    bad = auth_url.format(url=provider.url)
    code, detail = refused(lambda: add_provider(system, provider, member, authentication_url=bad))
    assert code == 400
    assert detail == (
        f"[Cannot add provider. The Provider has an invalid authentication URL {bad}. The "
        'authentication URL must have the following format: "https://hostname:port/v3" or '
        '"http://hostname:port/v3".]'
    )


def test_neutron_provider_without_plugin_type_is_refused(
    system: Any, provider: Provider, member: Member
) -> None:
    code, detail = refused(lambda: add_provider(system, provider, member, external_plugin_type=None))
    assert code == 400 and "Openstack Neutron provider requires a plugin type." in detail
    ovs = add_provider(
        system, provider, member, external_plugin_type=None, plugin_type=types.NetworkPluginType.OPEN_VSWITCH
    )
    assert ovs.plugin_type == types.NetworkPluginType.OPEN_VSWITCH
    _service(system, ovs.id).remove()
