"""The unit of work on a real database: it rolls back unless committed, and constraints end in a Conflict."""

from __future__ import annotations

import pytest

from neutrino.engine.bootstrap import Engine
from neutrino.engine.domain import model
from neutrino.engine.domain.errors import Conflict


class Boom(Exception):
    pass


def _names(shared_engine: Engine) -> set[str]:
    with shared_engine.ctx.uow() as uow:
        return {dc.name for dc in uow.datacenters.list()}


def test_commit_persists(shared_engine: Engine) -> None:
    with shared_engine.ctx.uow() as uow:
        uow.datacenters.add(model.DataCenter(name="kept"))
        uow.commit()
    assert "kept" in _names(shared_engine)


def test_rolls_back_on_an_exception_inside(shared_engine: Engine) -> None:
    with pytest.raises(Boom), shared_engine.ctx.uow() as uow:
        uow.datacenters.add(model.DataCenter(name="lost-on-error"))
        uow.flush()  # written to the transaction, not committed
        raise Boom()
    assert "lost-on-error" not in _names(shared_engine)


def test_rolls_back_when_left_without_commit(shared_engine: Engine) -> None:
    with shared_engine.ctx.uow() as uow:
        uow.datacenters.add(model.DataCenter(name="lost-uncommitted"))
        uow.flush()
    assert "lost-uncommitted" not in _names(shared_engine)


def test_explicit_rollback(shared_engine: Engine) -> None:
    with shared_engine.ctx.uow() as uow:
        uow.datacenters.add(model.DataCenter(name="rolled-back"))
        uow.flush()
        uow.rollback()
        uow.datacenters.add(model.DataCenter(name="after-rollback"))
        uow.commit()
    names = _names(shared_engine)
    assert "rolled-back" not in names and "after-rollback" in names


def test_only_the_committed_part_of_a_command_survives(shared_engine: Engine) -> None:
    with pytest.raises(Boom), shared_engine.ctx.uow() as uow:
        uow.datacenters.add(model.DataCenter(name="first"))
        uow.commit()
        uow.datacenters.add(model.DataCenter(name="second"))
        uow.flush()
        raise Boom()
    names = _names(shared_engine)
    assert "first" in names and "second" not in names


def test_integrity_error_on_commit_is_a_conflict_and_writes_nothing(shared_engine: Engine) -> None:
    with pytest.raises(Conflict), shared_engine.ctx.uow() as uow:
        uow.datacenters.add(model.DataCenter(name="dup"))
        uow.datacenters.add(model.DataCenter(name="dup"))
        uow.commit()
    assert "dup" not in _names(shared_engine)


def test_integrity_error_on_flush_is_a_conflict(shared_engine: Engine) -> None:
    with shared_engine.ctx.uow() as uow:
        uow.datacenters.add(model.DataCenter(name="once"))
        uow.commit()
    with pytest.raises(Conflict), shared_engine.ctx.uow() as uow:
        uow.datacenters.add(model.DataCenter(name="once"))
        uow.flush()


def test_what_a_unit_of_work_read_stays_readable_after_it_ends(shared_engine: Engine) -> None:
    with shared_engine.ctx.uow() as uow:
        dc = uow.datacenters.first(name="Default")
    assert dc is not None and dc.name == "Default"


def test_a_command_that_changes_nothing_returns_a_readable_entity(shared_engine: Engine) -> None:
    from neutrino.engine.commands import vms
    from neutrino.engine.commands.common import Ref

    vm = vms.add_vm(shared_engine.ctx, "idle", Ref(name="Default"))
    stopped = vms.stop_vm(shared_engine.ctx, vm.id)  # already down: no commit
    assert (stopped.name, stopped.status) == ("idle", model.VmStatus.DOWN)


def test_timestamps_come_back_in_utc_with_their_offset(shared_engine: Engine) -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from neutrino.engine.commands import vms
    from neutrino.engine.commands.common import Ref

    vm = vms.add_vm(shared_engine.ctx, "timed", Ref(name="Default"))
    with shared_engine.ctx.uow() as uow:
        snap = uow.snapshots.add(
            model.Snapshot(
                vm_id=vm.id,
                description="t",
                date=datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))),
            )
        )
        uow.commit()
    with shared_engine.ctx.reader() as uow:
        loaded_vm = uow.vms.get(vm.id)
        loaded_snap = uow.snapshots.get(snap.id)
    assert loaded_vm is not None and loaded_snap is not None
    assert loaded_vm.creation_time.utcoffset() == timedelta(0)
    assert loaded_snap.date == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
