"""Compatibility versions of data centers and clusters through the real ovirtsdk4: the supported range
(4.2 to 4.7), a cluster never below its data center, a data center never above its clusters; oVirt's texts."""

from __future__ import annotations

from typing import Any

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as types
import pytest

from tests.e2e.engine.conftest import RunningEngine
from tests.e2e.engine.helpers import unique


def refused(code: int, call: Any, *args: Any, **kw: Any) -> str:
    with pytest.raises(sdk.Error) as err:
        call(*args, **kw)
    assert err.value.code == code, str(err.value)
    return str(err.value)


def version(major: int, minor: int) -> types.Version:
    return types.Version(major=major, minor=minor)


def add_dc(system: Any, major: int, minor: int) -> types.DataCenter:
    return system.data_centers_service().add(
        types.DataCenter(name=unique("ver-dc"), local=False, version=version(major, minor))
    )


def add_cluster(system: Any, dc: types.DataCenter, v: types.Version | None = None) -> types.Cluster:
    return system.clusters_service().add(
        types.Cluster(
            name=unique("ver-cl"),
            data_center=types.DataCenter(id=dc.id),
            version=v,
            cpu=types.Cpu(architecture=types.Architecture.X86_64, type="Intel Nehalem Family"),
        )
    )


def dc_version(system: Any, dc: types.DataCenter) -> tuple[int, int]:
    v = system.data_centers_service().data_center_service(dc.id).get().version
    return v.major, v.minor


def cluster_version(system: Any, cluster: types.Cluster) -> tuple[int, int]:
    v = system.clusters_service().cluster_service(cluster.id).get().version
    return v.major, v.minor


@pytest.mark.parametrize(("major", "minor"), [(3, 99), (3, 6), (4, 1), (4, 8), (5, 0)])
def test_unsupported_versions_are_400_and_nothing_is_added(system: Any, major: int, minor: int) -> None:
    name = unique("ver-bad")
    text = refused(
        400,
        system.data_centers_service().add,
        types.DataCenter(name=name, local=False, version=version(major, minor)),
    )
    assert (
        f"Cannot create Data Center. Selected Compatibility Version is not supported "
        f"(version {major}.{minor}; supported: 4.2 to 4.7)."
    ) in text
    assert system.data_centers_service().list(search=f"name={name}") == []
    dc = add_dc(system, 4, 2)
    text = refused(
        400,
        system.clusters_service().add,
        types.Cluster(name=name, data_center=types.DataCenter(id=dc.id), version=version(major, minor)),
    )
    assert "Cannot create Cluster. Selected Compatibility Version is not supported" in text
    assert system.clusters_service().list(search=f"name={name}") == []


@pytest.mark.parametrize("minor", range(2, 8))
def test_every_supported_version_is_accepted(system: Any, minor: int) -> None:
    dc = add_dc(system, 4, minor)
    assert dc_version(system, dc) == (4, minor)
    assert cluster_version(system, add_cluster(system, dc, version(4, minor))) == (4, minor)


def test_editing_to_an_unsupported_version_is_400_and_changes_nothing(system: Any) -> None:
    dc = add_dc(system, 4, 5)
    cluster = add_cluster(system, dc)
    dc_service = system.data_centers_service().data_center_service(dc.id)
    text = refused(400, dc_service.update, types.DataCenter(version=version(4, 99)))
    assert "Cannot edit Data Center. Selected Compatibility Version is not supported" in text
    text = refused(
        400,
        system.clusters_service().cluster_service(cluster.id).update,
        types.Cluster(version=version(3, 6)),
    )
    assert "Cannot edit Cluster. Selected Compatibility Version is not supported" in text
    assert dc_version(system, dc) == (4, 5)
    assert cluster_version(system, cluster) == (4, 5)


def test_a_cluster_added_without_a_version_gets_its_data_centers(system: Any) -> None:
    dc = add_dc(system, 4, 4)
    assert cluster_version(system, add_cluster(system, dc)) == (4, 4)


def test_a_cluster_cannot_be_added_below_its_data_center(system: Any) -> None:
    dc = add_dc(system, 4, 5)
    name = unique("ver-low")
    text = refused(
        400,
        system.clusters_service().add,
        types.Cluster(name=name, data_center=types.DataCenter(id=dc.id), version=version(4, 4)),
    )
    assert (
        "Cannot add Cluster with Compatibility Version that is lower than the Data Center Compatibility "
        "Version.\n-Please upgrade your Cluster to a later Compatibility version first."
    ) in text
    assert system.clusters_service().list(search=f"name={name}") == []
    assert cluster_version(system, add_cluster(system, dc, version(4, 6))) == (4, 6)


def test_a_cluster_cannot_be_lowered_beneath_its_data_center(system: Any) -> None:
    dc = add_dc(system, 4, 5)
    cluster = add_cluster(system, dc, version(4, 7))
    service = system.clusters_service().cluster_service(cluster.id)
    text = refused(400, service.update, types.Cluster(version=version(4, 4)))
    assert "Cannot decrease cluster compatibility version beneath data center compatibility version." in text
    assert cluster_version(system, cluster) == (4, 7)
    service.update(types.Cluster(version=version(4, 5)))  # down to the data center's own: fine
    assert cluster_version(system, cluster) == (4, 5)


def test_a_data_center_cannot_be_raised_above_its_clusters(system: Any) -> None:
    dc = add_dc(system, 4, 4)
    low, high = add_cluster(system, dc, version(4, 4)), add_cluster(system, dc, version(4, 7))
    dc_service = system.data_centers_service().data_center_service(dc.id)
    text = refused(409, dc_service.update, types.DataCenter(version=version(4, 6)))
    assert (
        "Cannot update Data Center compatibility version to a value that is greater than its Cluster's "
        f"version. The following clusters should be upgraded {low.name}."
    ) in text
    assert high.name not in text
    assert dc_version(system, dc) == (4, 4)
    system.clusters_service().cluster_service(low.id).update(types.Cluster(version=version(4, 6)))
    dc_service.update(types.DataCenter(version=version(4, 6)))
    assert dc_version(system, dc) == (4, 6)


def test_a_data_center_is_lowered_only_while_it_has_just_its_management_network(system: Any) -> None:
    dc = add_dc(system, 4, 7)
    dc_service = system.data_centers_service().data_center_service(dc.id)
    dc_service.update(types.DataCenter(version=version(4, 6)))
    assert dc_version(system, dc) == (4, 6)
    system.networks_service().add(types.Network(name=unique("vnet"), data_center=types.DataCenter(id=dc.id)))
    text = refused(409, dc_service.update, types.DataCenter(version=version(4, 5)))
    assert "Cannot decrease data center compatibility version." in text
    assert dc_version(system, dc) == (4, 6)
    dc_service.update(types.DataCenter(version=version(4, 7)))  # raising stays possible
    assert dc_version(system, dc) == (4, 7)


def test_renaming_leaves_the_version_alone(system: Any) -> None:
    dc = add_dc(system, 4, 3)
    cluster = add_cluster(system, dc)
    new_name = unique("ver-renamed")
    system.data_centers_service().data_center_service(dc.id).update(types.DataCenter(name=new_name))
    system.clusters_service().cluster_service(cluster.id).update(types.Cluster(description="renamed"))
    assert dc_version(system, dc) == (4, 3)
    assert cluster_version(system, cluster) == (4, 3)


def test_a_version_that_is_not_a_number_is_400_naming_the_element(
    shared_engine: RunningEngine, shared_connection: Any
) -> None:
    token = shared_connection.authenticate()
    body = (
        f"<data_center><name>{unique('ver-nan')}</name><version><major>four</major></version></data_center>"
    )
    r = httpx.post(
        f"{shared_engine.url}/datacenters",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/xml"},
    )
    assert r.status_code == 400
    assert "version.major" in r.text
