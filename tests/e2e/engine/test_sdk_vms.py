"""VMs, their NICs and snapshots, and the power actions, through the real ovirtsdk4."""

from __future__ import annotations

from typing import Any

import ovirtsdk4 as sdk
import ovirtsdk4.types as types
import pytest

from tests.e2e.engine.conftest import SHARED_MAC_POOL
from tests.e2e.engine.helpers import API_PATH, Site, make_site, make_vm, make_vm_network, unique
from tests.support.hosts import add_host
from tests.support.servers import RunningAgent

BLANK = "00000000-0000-0000-0000-000000000000"
POOL_FIRST, POOL_LAST = SHARED_MAC_POOL.split("-")
NOT_IN_PREVIEW = (
    "Cannot revert to Snapshot to a Snapshot that is not being previewed. Please select the correct "
    "Snapshot to restore to: Either the one being previewed, or the one before the preview."
)


@pytest.fixture(scope="module")
def site(system: Any, host_agent: RunningAgent) -> Site:
    site = make_site(system, "vms")
    add_host(system, host_agent, site.cluster.id)
    return site


@pytest.fixture(scope="module")
def profiles(system: Any, site: Site) -> list[types.VnicProfile]:
    return [make_vm_network(system, site)[1] for _ in range(2)]


def _nic_state(nics_service: Any) -> dict[str, tuple[str, str | None, bool]]:
    return {
        n.name: (n.mac.address, n.vnic_profile.id if n.vnic_profile else None, n.plugged)
        for n in nics_service.list()
    }


def test_vm_from_blank(system: Any, site: Site) -> None:
    vms = system.vms_service()
    name = unique("vm")
    vm = vms.add(
        types.Vm(
            name=name,
            cluster=types.Cluster(id=site.cluster.id),
            template=types.Template(id=BLANK),
            description="d",
            memory=2 * 1024**3,
        )
    )
    assert vm.id and vm.href == f"{API_PATH}/vms/{vm.id}"
    assert (vm.name, vm.description, vm.memory) == (name, "d", 2 * 1024**3)
    assert vm.status == types.VmStatus.DOWN
    assert (vm.cluster.id, vm.template.id) == (site.cluster.id, BLANK)
    assert vm.creation_time is not None

    service = vms.vm_service(vm.id)
    assert service.update(types.Vm(description="e")).description == "e"
    assert service.get().description == "e"
    with pytest.raises(sdk.Error) as err:
        vms.add(
            types.Vm(name=name, cluster=types.Cluster(id=site.cluster.id), template=types.Template(id=BLANK))
        )
    assert err.value.code == 409
    assert "Cannot add VM. The VM name is already in use, please choose a unique name and try again." in str(
        err.value
    )
    service.remove()
    with pytest.raises(sdk.NotFoundError):
        service.get()


def test_power_actions_change_state(system: Any, site: Site) -> None:
    service = system.vms_service().vm_service(make_vm(system, site).id)
    service.stop()  # stopping a VM that is down succeeds, as in oVirt
    assert service.get().status == types.VmStatus.DOWN
    service.start()
    running = service.get()
    assert running.status == types.VmStatus.UP
    assert running.start_time is not None
    with pytest.raises(sdk.Error) as err:
        service.start()
    assert err.value.code == 409
    assert "Cannot run VM because the VM is in Up status." in str(err.value)

    with pytest.raises(sdk.Error) as err:
        service.remove()
    assert err.value.code == 409
    assert "[Cannot remove VM. VM is running.]" in str(err.value)
    assert service.get().status == types.VmStatus.UP

    service.shutdown()
    assert service.get().status == types.VmStatus.DOWN
    service.start()
    service.stop()
    assert service.get().status == types.VmStatus.DOWN
    service.remove()


def test_nics_mac_from_pool_explicit_and_duplicate(
    system: Any, site: Site, profiles: list[types.VnicProfile]
) -> None:
    vm = make_vm(system, site)
    nics = system.vms_service().vm_service(vm.id).nics_service()
    nic = nics.add(types.Nic(name="nic1", vnic_profile=types.VnicProfile(id=profiles[0].id)))
    assert nic.href == f"{API_PATH}/vms/{vm.id}/nics/{nic.id}"
    assert nic.interface == types.NicInterface.VIRTIO
    assert (nic.plugged, nic.linked) == (True, True)
    assert nic.vnic_profile.id == profiles[0].id
    assert POOL_FIRST <= nic.mac.address <= POOL_LAST

    second = nics.add(types.Nic(name="nic2", interface=types.NicInterface.E1000))
    assert second.mac.address != nic.mac.address
    assert POOL_FIRST <= second.mac.address <= POOL_LAST
    assert second.vnic_profile is None
    assert second.interface == types.NicInterface.E1000

    explicit = nics.add(types.Nic(name="nic3", mac=types.Mac(address="02:00:00:AA:BB:CC")))
    assert explicit.mac.address == "02:00:00:aa:bb:cc"

    other = make_vm(system, site)
    with pytest.raises(sdk.Error) as err:
        system.vms_service().vm_service(other.id).nics_service().add(
            types.Nic(name="nic1", mac=types.Mac(address=nic.mac.address))
        )
    assert err.value.code == 409
    assert f"MAC Address {nic.mac.address} is already in use by VM or snapshot: {vm.name}." in str(err.value)
    assert system.vms_service().vm_service(other.id).nics_service().list() == []

    with pytest.raises(sdk.Error) as err:
        nics.add(types.Nic(name="nic1"))
    assert err.value.code == 409

    # activate / deactivate change `plugged`
    nic_service = nics.nic_service(nic.id)
    nic_service.deactivate()
    assert nic_service.get().plugged is False
    nic_service.activate()
    assert nic_service.get().plugged is True

    updated = nic_service.update(types.Nic(vnic_profile=types.VnicProfile(id=profiles[1].id), linked=False))
    assert (updated.vnic_profile.id, updated.linked) == (profiles[1].id, False)
    nic_service.remove()
    assert sorted(n.name for n in nics.list()) == ["nic2", "nic3"]


def test_nic_profile_must_be_on_the_vm_cluster(system: Any, site: Site) -> None:
    elsewhere = make_site(system)
    _, foreign_profile = make_vm_network(system, elsewhere)
    vm = make_vm(system, site)
    with pytest.raises(sdk.Error) as err:
        system.vms_service().vm_service(vm.id).nics_service().add(
            types.Nic(name="nic1", vnic_profile=types.VnicProfile(id=foreign_profile.id))
        )
    assert err.value.code == 400


def test_snapshots_preview_undo_commit(system: Any, site: Site, profiles: list[types.VnicProfile]) -> None:
    vm = make_vm(system, site)
    vm_service = system.vms_service().vm_service(vm.id)
    nics = vm_service.nics_service()
    snapshots = vm_service.snapshots_service()
    nics.add(types.Nic(name="nic1", vnic_profile=types.VnicProfile(id=profiles[0].id)))
    captured = _nic_state(nics)

    snap = snapshots.add(types.Snapshot(description="with one nic"))
    assert snap.href == f"{API_PATH}/vms/{vm.id}/snapshots/{snap.id}"
    # the snapshot shows the NICs it captured
    snap_nics = snapshots.snapshot_service(snap.id).nics_service().list()
    assert {n.name: (n.mac.address, n.vnic_profile.id, n.plugged) for n in snap_nics} == captured
    assert snap_nics[0].href == f"{API_PATH}/vms/{vm.id}/snapshots/{snap.id}/nics/{snap_nics[0].id}"
    assert snap.description == "with one nic"
    assert snap.snapshot_type == types.SnapshotType.REGULAR
    descriptions = [s.description for s in snapshots.list()]
    assert "with one nic" in descriptions

    # change the NICs after the snapshot
    nic1 = next(n for n in nics.list() if n.name == "nic1")
    nics.nic_service(nic1.id).update(types.Nic(vnic_profile=types.VnicProfile(id=profiles[1].id)))
    nics.add(types.Nic(name="nic2"))
    before_preview = _nic_state(nics)
    assert before_preview != captured

    for not_previewing in (vm_service.undo_snapshot, vm_service.commit_snapshot):
        with pytest.raises(sdk.Error) as err:
            not_previewing()
        assert err.value.code == 409
        assert NOT_IN_PREVIEW in str(err.value)
    assert _nic_state(nics) == before_preview

    vm_service.preview_snapshot(snapshot=types.Snapshot(id=snap.id), restore_memory=False)
    assert _nic_state(nics) == captured
    assert snapshots.snapshot_service(snap.id).get().snapshot_status == types.SnapshotStatus.IN_PREVIEW
    with pytest.raises(sdk.Error) as err:
        vm_service.preview_snapshot(snapshot=types.Snapshot(id=snap.id), restore_memory=False)
    assert "Cannot preview Snapshot. VM is previewing a Snapshot." in str(err.value)

    vm_service.undo_snapshot()
    assert _nic_state(nics) == before_preview
    assert snapshots.snapshot_service(snap.id).get().snapshot_status == types.SnapshotStatus.OK

    vm_service.preview_snapshot(snapshot=types.Snapshot(id=snap.id), restore_memory=False)
    vm_service.commit_snapshot()
    assert _nic_state(nics) == captured
    assert snapshots.snapshot_service(snap.id).get().snapshot_status == types.SnapshotStatus.OK
    with pytest.raises(sdk.Error) as err:
        vm_service.commit_snapshot()
    assert NOT_IN_PREVIEW in str(err.value)

    snapshots.snapshot_service(snap.id).remove()
    assert "with one nic" not in [s.description for s in snapshots.list()]


def test_preview_needs_a_down_vm(system: Any, site: Site) -> None:
    vm_service = system.vms_service().vm_service(make_vm(system, site).id)
    snap = vm_service.snapshots_service().add(types.Snapshot(description="s"))
    vm_service.start()
    with pytest.raises(sdk.Error) as err:
        vm_service.preview_snapshot(snapshot=types.Snapshot(id=snap.id), restore_memory=False)
    assert err.value.code == 409
    assert "At least one of the VMs is not down." in str(err.value)
    vm_service.stop()


def test_follow_links(shared_connection: Any, system: Any, site: Site) -> None:
    vm = make_vm(system, site)
    vm_service = system.vms_service().vm_service(vm.id)
    vm_service.nics_service().add(types.Nic(name="nic1"))
    vm_service.snapshots_service().add(types.Snapshot(description="s1"))
    got = vm_service.get()
    assert [n.name for n in shared_connection.follow_link(got.nics)] == ["nic1"]
    assert "s1" in [s.description for s in shared_connection.follow_link(got.snapshots)]
    assert shared_connection.follow_link(got.permissions) == []
    assert shared_connection.follow_link(got.disk_attachments) == []
    assert shared_connection.follow_link(got.reported_devices) == []
    cluster = shared_connection.follow_link(got.cluster)
    assert cluster.id == site.cluster.id


def test_list_with_follow_nics(system: Any, site: Site) -> None:
    vm = make_vm(system, site)
    system.vms_service().vm_service(vm.id).nics_service().add(types.Nic(name="nic1"))
    listed = system.vms_service().list(search=f"name={vm.name}", follow="nics")
    assert [n.name for n in listed[0].nics] == ["nic1"]
