"""Small builders shared by the engine's e2e tests: unique names, and a data center with a cluster."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import ovirtsdk4.types as types

API_PATH = "/ovirt-engine/api"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class Site:
    """A data center with one cluster, as most tests need."""

    dc: types.DataCenter
    cluster: types.Cluster


def make_site(system: Any, prefix: str = "t") -> Site:
    dc = system.data_centers_service().add(types.DataCenter(name=unique(f"{prefix}-dc"), local=False))
    cluster = system.clusters_service().add(
        types.Cluster(
            name=unique(f"{prefix}-cl"),
            data_center=types.DataCenter(id=dc.id),
            cpu=types.Cpu(architecture=types.Architecture.X86_64, type="Intel Nehalem Family"),
        )
    )
    return Site(dc, cluster)


def make_vm_network(
    system: Any, site: Site, name: str | None = None
) -> tuple[types.Network, types.VnicProfile]:
    """A VM network of the site's data center, attached to its cluster; with its vNIC profile."""
    net = system.networks_service().add(
        types.Network(
            name=name or unique("net"),
            data_center=types.DataCenter(id=site.dc.id),
            usages=[types.NetworkUsage.VM],
        )
    )
    system.clusters_service().cluster_service(site.cluster.id).networks_service().add(
        types.Network(id=net.id, required=False)
    )
    profiles = system.networks_service().network_service(net.id).vnic_profiles_service().list()
    assert [p.name for p in profiles] == [net.name]
    return net, profiles[0]


def make_vm(system: Any, site: Site, name: str | None = None) -> types.Vm:
    return system.vms_service().add(
        types.Vm(
            name=name or unique("vm"),
            cluster=types.Cluster(id=site.cluster.id),
            template=types.Template(name="Blank"),
        )
    )
