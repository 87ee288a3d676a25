"""Invariants the database itself keeps (unique MACs, network names per data center), races that end in one
row and a clean Conflict, and the MAC pool on a real database."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from neutrino.engine.bootstrap import Engine
from neutrino.engine.commands import datacenters, networks, nics, vms
from neutrino.engine.commands.common import Ref
from neutrino.engine.domain import model
from neutrino.engine.domain.errors import Conflict, EngineError
from tests.integration.engine.conftest import TINY_POOL

EXHAUSTED = "Cannot add Interface. Not enough MAC addresses left in MAC Address Pool."


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _vm(engine: Engine, name: str = "vm1") -> model.Vm:
    return vms.add_vm(engine.ctx, name, Ref(name="Default"))


def _race(n: int, fn: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    """Run ``fn(i)`` in n threads released together; (results, errors)."""
    barrier = threading.Barrier(n)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        barrier.wait()
        try:
            value = fn(i)
        except BaseException as exc:  # collected and checked by the test
            with lock:
                errors.append(exc)
        else:
            with lock:
                results.append(value)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    return results, errors


# --- constraints ------------------------------------------------------------------------------------


def test_two_nics_with_one_mac_are_refused_by_the_database(shared_engine: Engine) -> None:
    a, b = _vm(shared_engine, unique("a")), _vm(shared_engine, unique("b"))
    with shared_engine.ctx.uow() as uow:
        uow.nics.add(model.VmNic(name="nic1", vm_id=a.id, mac="02:00:00:00:00:01"))
        uow.commit()
    with pytest.raises(Conflict), shared_engine.ctx.uow() as uow:  # bypassing the command's own check
        uow.nics.add(model.VmNic(name="nic1", vm_id=b.id, mac="02:00:00:00:00:01"))
        uow.commit()
    with shared_engine.ctx.uow() as uow:
        assert [n.vm_id for n in uow.nics.list(mac="02:00:00:00:00:01")] == [a.id]


def test_duplicate_mac_through_the_command_names_the_vm(shared_engine: Engine) -> None:
    a, b = _vm(shared_engine, unique("a")), _vm(shared_engine, unique("b"))
    nics.add_nic(shared_engine.ctx, a.id, "nic1", mac="02:00:00:00:00:02")
    with pytest.raises(Conflict) as err:
        nics.add_nic(shared_engine.ctx, b.id, "nic1", mac="02:00:00:00:00:02")
    assert (
        err.value.message == f"MAC Address 02:00:00:00:00:02 is already in use by VM or snapshot: {a.name}."
    )


def test_network_name_is_unique_per_data_center_in_the_database(shared_engine: Engine) -> None:
    dc1 = datacenters.add_data_center(shared_engine.ctx, unique("dc"))
    dc2 = datacenters.add_data_center(shared_engine.ctx, unique("dc"))
    net = unique("net")
    networks.add_network(shared_engine.ctx, net, Ref(id=dc1.id))
    networks.add_network(shared_engine.ctx, net, Ref(id=dc2.id))  # another data center: fine
    with pytest.raises(Conflict), shared_engine.ctx.uow() as uow:
        uow.networks.add(model.Network(name=net, data_center_id=dc1.id, usages=[]))
        uow.commit()
    with pytest.raises(Conflict) as err:
        networks.add_network(shared_engine.ctx, net, Ref(id=dc1.id))
    assert err.value.message.startswith(
        f"Cannot add Network. The name of the logical network '{net}' is already used"
    )
    with shared_engine.ctx.uow() as uow:
        assert len(uow.networks.list(name=net)) == 2


# --- races --------------------------------------------------------------------------------------------


def test_concurrent_adds_of_one_network_name_leave_one_row(shared_engine: Engine) -> None:
    dc = datacenters.add_data_center(shared_engine.ctx, unique("race-dc"))
    results, errors = _race(
        6, lambda i: networks.add_network(shared_engine.ctx, "racer", Ref(id=dc.id), description=str(i))
    )
    assert len(results) == 1
    assert len(errors) == 5
    assert all(isinstance(e, Conflict) for e in errors), errors
    with shared_engine.ctx.uow() as uow:
        assert len(uow.networks.list(data_center_id=dc.id, name="racer")) == 1
        # and its profile exists exactly once
        net = uow.networks.first(data_center_id=dc.id, name="racer")
        assert net is not None
        assert len(uow.profiles.list(network_id=net.id)) == 1


def test_concurrent_adds_of_one_data_center_name_leave_one_row(shared_engine: Engine) -> None:
    name = unique("race")
    results, errors = _race(6, lambda i: datacenters.add_data_center(shared_engine.ctx, name))
    assert len(results) == 1
    assert len(errors) == 5 and all(isinstance(e, Conflict) for e in errors), errors
    with shared_engine.ctx.uow() as uow:
        dcs = uow.datacenters.list(name=name)
        assert len(dcs) == 1
        assert [n.name for n in uow.networks.list(data_center_id=dcs[0].id)] == ["ovirtmgmt"]


def test_concurrent_nic_adds_get_distinct_macs(make_engine: Callable[..., Engine]) -> None:
    engine = make_engine(mac_pool_range="56:6f:00:00:01:00-56:6f:00:00:01:ff")
    vm_ids = [_vm(engine, f"vm{i}").id for i in range(6)]
    results, errors = _race(6, lambda i: nics.add_nic(engine.ctx, vm_ids[i], "nic1"))
    assert errors == []
    macs = [n.mac for n in results]
    assert len(set(macs)) == 6
    assert all(m.startswith("56:6f:00:00:01:") for m in macs)


# --- the MAC pool -------------------------------------------------------------------------------------


def test_mac_pool_hands_out_the_configured_range_then_is_exhausted(engine: Engine) -> None:
    vm = _vm(engine)
    first, last = TINY_POOL.split("-")
    added = [nics.add_nic(engine.ctx, vm.id, f"nic{i}") for i in range(3)]
    assert [n.mac for n in added] == ["56:6f:00:00:00:00", "56:6f:00:00:00:01", "56:6f:00:00:00:02"]
    with pytest.raises(Conflict) as err:
        nics.add_nic(engine.ctx, vm.id, "nic3")
    assert err.value.message == EXHAUSTED
    with engine.ctx.uow() as uow:
        assert len(uow.nics.list(vm_id=vm.id)) == 3

    # a freed address in the middle is found again
    nics.remove_nic(engine.ctx, vm.id, added[1].id)
    assert nics.add_nic(engine.ctx, vm.id, "nic4").mac == "56:6f:00:00:00:01"


def test_explicit_macs_outside_the_pool_do_not_use_it(engine: Engine) -> None:
    vm = _vm(engine)
    nics.add_nic(engine.ctx, vm.id, "outside", mac="02:00:00:00:00:09")
    assert nics.add_nic(engine.ctx, vm.id, "inside").mac == "56:6f:00:00:00:00"


def test_the_pool_range_is_kept_across_restarts(make_engine: Callable[..., Engine]) -> None:
    first = make_engine()
    chosen = str(first.ctx.mac_pool)
    assert chosen.startswith("56:6f:")
    first.dispose()
    assert str(make_engine().ctx.mac_pool) == chosen
    assert str(make_engine(mac_pool_range=TINY_POOL).ctx.mac_pool) == TINY_POOL


def test_snapshot_preview_reallocates_a_mac_taken_meanwhile(engine: Engine) -> None:
    from neutrino.engine.commands import snapshots

    a, b = _vm(engine, "a"), _vm(engine, "b")
    nic = nics.add_nic(engine.ctx, a.id, "nic1")
    snap = snapshots.add_snapshot(engine.ctx, a.id, "s")
    nics.remove_nic(engine.ctx, a.id, nic.id)
    taken = nics.add_nic(engine.ctx, b.id, "nic1", mac=nic.mac)
    snapshots.preview_snapshot(engine.ctx, a.id, snap.id)
    with engine.ctx.uow() as uow:
        restored = uow.nics.list(vm_id=a.id)
    assert [n.name for n in restored] == ["nic1"]
    assert restored[0].mac != taken.mac


def test_errors_are_engine_errors() -> None:
    assert issubclass(Conflict, EngineError)


def test_preview_needing_a_mac_from_a_full_pool_is_refused_and_changes_nothing(engine: Engine) -> None:
    from neutrino.engine.commands import snapshots

    a, b = _vm(engine, "a"), _vm(engine, "b")
    nic = nics.add_nic(engine.ctx, a.id, "nic1")
    snap = snapshots.add_snapshot(engine.ctx, a.id, "s")
    nics.remove_nic(engine.ctx, a.id, nic.id)
    for i in range(3):  # b takes the whole pool, nic1's MAC included
        nics.add_nic(engine.ctx, b.id, f"nic{i}")
    with pytest.raises(Conflict) as err:
        snapshots.preview_snapshot(engine.ctx, a.id, snap.id)
    assert err.value.message == "Cannot preview Snapshot. Not enough MAC addresses left in MAC Address Pool."
    with engine.ctx.uow() as uow:
        assert uow.nics.list(vm_id=a.id) == []
        assert [
            s.status for s in uow.snapshots.list(vm_id=a.id, snapshot_type=model.SnapshotType.REGULAR)
        ] == [model.SnapshotStatus.OK]
        assert uow.snapshots.list(vm_id=a.id, snapshot_type=model.SnapshotType.PREVIEW) == []
