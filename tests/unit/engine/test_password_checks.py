"""The engine's password gate: throttling per user and per address, one hash for an unknown user, none while
locked, none for recently verified credentials. Hash calls are counted at the ``verify`` seam; time is a fake
clock (nothing here waits)."""

from __future__ import annotations

import pytest

from neutrino.engine.commands.passwords import (
    LOCKED_TEXT,
    LoginLocked,
    PasswordChecks,
    Verified,
    hash_password,
    verify_password,
)
from neutrino.login_throttle import ThrottleLimits

STORED = hash_password("right")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingVerify:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, password: str, stored: str) -> bool:
        self.calls += 1
        return verify_password(password, stored)


def _checks(**limits: float) -> tuple[PasswordChecks, CountingVerify, Clock]:
    verify, clock = CountingVerify(), Clock()
    checks = PasswordChecks(ThrottleLimits(**limits), verify=verify, clock=clock)  # type: ignore[arg-type]
    return checks, verify, clock


def test_an_unknown_user_costs_one_hash_like_a_known_one() -> None:
    checks, verify, _ = _checks()
    assert not checks.check("ghost@internal", "right", None, "10.0.0.1")
    assert not checks.check("admin@internal", "wrong", STORED, "10.0.0.1")
    assert checks.check("admin@internal", "right", STORED, "10.0.0.1")
    assert verify.calls == 3


def test_a_user_locked_by_failures_is_refused_without_hashing_until_the_window_moves() -> None:
    checks, verify, clock = _checks(max_failures_per_user=3, window_seconds=60)
    for _ in range(3):
        clock.now += 1
        assert not checks.check("Admin@internal", "wrong", STORED, "10.0.0.1")
    with pytest.raises(LoginLocked) as locked:
        checks.check(
            "admin@internal", "right", STORED, "10.0.0.2"
        )  # names differ only by case; another address
    assert str(locked.value) == LOCKED_TEXT
    assert locked.value.retry_after == 58  # the first failure (at 1001) leaves the window at 1061
    assert verify.calls == 3
    assert checks.check("other@internal", "right", STORED, "10.0.0.1")  # other users are not locked
    clock.now += 58
    assert checks.check("admin@internal", "right", STORED, "10.0.0.1")
    assert checks.check("admin@internal", "right", STORED, "10.0.0.1")


def test_an_address_spraying_many_names_is_locked_for_every_name() -> None:
    checks, verify, clock = _checks(max_failures_per_user=3, max_failures_per_address=4, window_seconds=60)
    for name in ("a", "b", "c", "d"):
        assert not checks.check(f"{name}@internal", "guess", None, "10.9.9.9")
    with pytest.raises(LoginLocked):
        checks.check("admin@internal", "right", STORED, "10.9.9.9")
    assert checks.check("admin@internal", "right", STORED, "10.0.0.1")  # from elsewhere: fine
    assert verify.calls == 5


def test_a_success_clears_the_users_failures() -> None:
    checks, _, _ = _checks(max_failures_per_user=3, window_seconds=60)
    for _ in range(2):
        checks.check("admin@internal", "wrong", STORED, "a")
    assert checks.check("admin@internal", "right", STORED, "a")
    for _ in range(2):
        checks.check("admin@internal", "wrong", STORED, "a")
    assert checks.check("admin@internal", "right", STORED, "a")  # 2 + 2 failures, never 3 in a row


def test_zero_turns_a_limit_off() -> None:
    checks, _, _ = _checks(max_failures_per_user=0, max_failures_per_address=0)
    for _ in range(8):
        assert not checks.check("admin@internal", "wrong", STORED, "a")
    assert checks.check("admin@internal", "right", STORED, "a")


def test_verified_credentials_are_remembered_for_a_while_and_a_bounded_number() -> None:
    verify, clock = CountingVerify(), Clock()
    checks = PasswordChecks(cache_seconds=60, cache_size=2, verify=verify, clock=clock)
    who = Verified("u1", "admin@internal")
    checks.remember("admin@internal", "right", who)
    assert checks.recent("admin@internal", "right") == who
    assert checks.recent("admin@internal", "wrong") is None  # keyed by the password too
    clock.now += 60
    assert checks.recent("admin@internal", "right") is None
    for name in ("a", "b", "c"):
        checks.remember(name, "pw", Verified(name, name))
    assert [checks.recent(name, "pw") is not None for name in ("a", "b", "c")] == [False, True, True]
    assert verify.calls == 0


def test_failing_on_purpose_does_not_lock_a_user_out_where_it_logged_in_before() -> None:
    checks, _, _ = _checks(max_failures_per_user=3, max_failures_per_address=10, window_seconds=60)
    assert checks.check("engine@internal", "right", STORED, "10.0.0.5")  # the service, as usual
    for _ in range(3):
        assert not checks.check("engine@internal", "guess", STORED, "10.6.6.6")  # someone else
    with pytest.raises(LoginLocked):
        checks.check("engine@internal", "right", STORED, "10.6.6.6")
    with pytest.raises(LoginLocked):
        checks.check("engine@internal", "right", STORED, "10.0.0.7")  # a new address is locked too
    assert checks.check("engine@internal", "right", STORED, "10.0.0.5")  # where it logged in: still fine


def test_failures_of_others_at_a_shared_address_do_not_lock_a_user_out_where_it_logged_in() -> None:
    """One machine: the engine's user and an attacker both log in from 127.0.0.1. The attacker's failures lock
    the address for everyone else, not for a user proven good there; guessing that user's password from there
    is still bounded, at the per-user limit, and locks only that user there."""
    checks, verify, clock = _checks(max_failures_per_user=3, max_failures_per_address=5, window_seconds=60)
    assert checks.check("engine@internal", "right", STORED, "127.0.0.1")
    for name in ("a", "b", "c", "d", "e"):
        assert not checks.check(f"{name}@internal", "guess", STORED, "127.0.0.1")
    with pytest.raises(LoginLocked):
        checks.check("admin@internal", "right", STORED, "127.0.0.1")  # the address is locked for others
    assert checks.check("engine@internal", "right", STORED, "127.0.0.1")  # not for the proven-good user

    for _ in range(3):
        assert not checks.check("engine@internal", "guess", STORED, "127.0.0.1")
    calls = verify.calls
    with pytest.raises(LoginLocked) as locked:
        checks.check("engine@internal", "right", STORED, "127.0.0.1")  # its own guesses from there: locked
    assert verify.calls == calls and locked.value.retry_after == 60
    with pytest.raises(LoginLocked):
        checks.check("engine@internal", "right", STORED, "10.0.0.9")  # they count for the user elsewhere too
    clock.now += 60
    assert checks.check("engine@internal", "right", STORED, "127.0.0.1")
