"""A vNIC's provisioning record: the transitions it allows, and its JSON form (what the store keeps)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from neutrino.engine.domain.errors import Conflict
from neutrino.engine.domain.provisioning import ALLOWED, IllegalTransition, NicState, Provisioning

AT = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)


def test_a_run_goes_preparing_port_ready_plugged_unplugged() -> None:
    record = Provisioning().begin()
    record = record.with_step("port created", "port p1", AT, NicState.PORT_READY, port_id="p1")
    record = record.with_step("plugged", "on host h1", AT, NicState.PLUGGED)
    record = record.with_step("unplugged", "the VM stopped", AT, NicState.UNPLUGGED)
    assert record.state == NicState.UNPLUGGED and record.port_id == "p1"
    assert [s.name for s in record.steps] == ["port created", "plugged", "unplugged"]


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (NicState.NONE, NicState.PLUGGED),
        (NicState.NONE, NicState.PORT_READY),
        (NicState.UNPLUGGED, NicState.PLUGGED),
        (NicState.UNPLUGGED, NicState.PORT_READY),
    ],
)
def test_an_illegal_transition_raises_and_changes_nothing(start: NicState, to: NicState) -> None:
    record = Provisioning(state=start)
    with pytest.raises(IllegalTransition, match=f"from {start.value} to {to.value}"):
        record.with_step("plugged", "", AT, to)
    assert record.state == start and record.steps == ()
    assert issubclass(IllegalTransition, Conflict)  # a clear 409 if it ever reached a user, never a 500


def test_begin_fail_and_release_are_allowed_from_every_state() -> None:
    for state in NicState:
        record = Provisioning(state=state)
        assert record.begin().state == NicState.PREPARING
        assert record.with_step("failed", "why", AT, NicState.FAILED, last_error="why").last_error == "why"
        assert record.with_step("port released", "", AT, NicState.NONE).state == NicState.NONE
    assert set(ALLOWED) == set(NicState), "every state says where it may go"


def test_a_new_state_other_than_failed_clears_the_last_error() -> None:
    failed = Provisioning().begin().with_step("failed", "boom", AT, NicState.FAILED, last_error="boom")
    assert failed.with_step("port found", "", AT, NicState.PORT_READY).last_error is None


def test_only_the_last_twenty_steps_are_kept() -> None:
    record = Provisioning().begin()
    for i in range(25):
        record = record.with_step(f"s{i}", "", AT)
    assert [s.name for s in record.steps] == [f"s{i}" for i in range(5, 25)]


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(TypeError, match="stat"):
        Provisioning().with_step("x", "", AT, stat="typo")  # type: ignore[arg-type]


def test_the_json_form_reads_back_and_keeps_what_a_newer_engine_wrote() -> None:
    record = (
        Provisioning()
        .begin()
        .with_step("port created", "p1", AT, NicState.PORT_READY, port_id="p1", binding_host="h1")
        .with_provider_status("ACTIVE")
    )
    data = record.to_json()
    assert data["state"] == "port_ready" and data["steps"][0]["time"] == "2026-12-02T07:00:00.000+00:00"
    assert Provisioning.from_json(data) == record
    newer = Provisioning.from_json({**data, "state": "teleported", "hops": 3})
    assert newer.state == NicState.NONE and newer.to_json()["hops"] == 3
    assert Provisioning.from_json(None) == Provisioning() and Provisioning().to_json() == {}
