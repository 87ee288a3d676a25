"""MAC pool math: parsing ranges and addresses, the next free address, the gap search, exhaustion."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from neutrino.engine.domain.errors import BadRequest, Conflict
from neutrino.engine.domain.macpool import (
    MacRange,
    int_to_mac,
    mac_to_int,
    next_free_mac,
    normalize_mac,
)

EXHAUSTED = "Cannot add Interface. Not enough MAC addresses left in MAC Address Pool."


def pool(text: str = "56:6f:00:00:00:00-56:6f:00:00:00:03") -> MacRange:
    return MacRange.parse(text)


def test_mac_int_round_trip() -> None:
    assert mac_to_int("56:6f:00:00:01:00") == 0x566F00000100
    assert int_to_mac(0x566F00000100) == "56:6f:00:00:01:00"
    assert int_to_mac(mac_to_int("00:00:00:00:00:01")) == "00:00:00:00:00:01"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("56:6F:1A:2B:3C:4D", "56:6f:1a:2b:3c:4d"),
        ("56-6f-1a-2b-3c-4d", "56:6f:1a:2b:3c:4d"),
        ("  02:00:00:00:00:01 ", "02:00:00:00:00:01"),
    ],
)
def test_normalize_mac(raw: str, expected: str) -> None:
    assert normalize_mac(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "56:6f:1a:2b:3c", "56:6f:1a:2b:3c:4d:5e", "56:6f:1a:2b:3c:zz", "566f1a2b3c4d"]
)
def test_normalize_mac_rejects_non_macs_naming_the_field(raw: str) -> None:
    with pytest.raises(BadRequest) as err:
        normalize_mac(raw)
    assert "'mac.address'" in err.value.message


def test_normalize_mac_rejects_multicast() -> None:
    with pytest.raises(BadRequest, match="multicast"):
        normalize_mac("01:00:5e:00:00:01")


def test_parse_range() -> None:
    r = MacRange.parse("56:6F:00:00:00:00-56:6f:00:00:00:ff")
    assert (r.start, r.end, r.size) == (0x566F00000000, 0x566F000000FF, 256)
    assert str(r) == "56:6f:00:00:00:00-56:6f:00:00:00:ff"
    assert MacRange.parse(str(r)) == r
    assert "56:6f:00:00:00:80" in r
    assert "56:6f:00:00:01:00" not in r
    assert 42 not in r


def test_single_address_range() -> None:
    assert MacRange.parse("56:6f:00:00:00:07-56:6f:00:00:00:07").size == 1


@pytest.mark.parametrize(
    "text",
    [
        "56:6f:00:00:00:ff-56:6f:00:00:00:00",  # reversed
        "56:6f:00:00:00:00",  # one end only
        "56:6f:00:00:00:00-56:6f:00:00:00:01-56:6f:00:00:00:02",
        "56:6f:00:00:00:00-nonsense",
        "01:00:00:00:00:00-01:00:00:00:00:ff",  # multicast
    ],
)
def test_parse_range_rejects(text: str) -> None:
    with pytest.raises(BadRequest):
        MacRange.parse(text)


def test_ovirt_default_range() -> None:
    r = MacRange.ovirt_default(random.Random(7))
    assert str(r).startswith("56:6f:")
    assert r.size == 65536
    assert int_to_mac(r.start).endswith(":00:00") and int_to_mac(r.end).endswith(":ff:ff")
    assert int_to_mac(r.start)[:11] == int_to_mac(r.end)[:11]


def test_next_free_in_an_empty_pool_is_the_first() -> None:
    assert next_free_mac(pool(), None, []) == "56:6f:00:00:00:00"


def test_next_free_follows_the_highest_used() -> None:
    assert next_free_mac(pool(), "56:6f:00:00:00:01", ["56:6f:00:00:00:01"]) == "56:6f:00:00:00:02"


def test_next_free_does_not_read_used_until_the_top_is_reached() -> None:
    class Untouchable:
        def __iter__(self) -> Iterator[str]:
            raise AssertionError("the used addresses were read although the pool's top is free")

    assert next_free_mac(pool(), "56:6f:00:00:00:00", Untouchable()) == "56:6f:00:00:00:01"


def test_next_free_searches_the_lowest_gap_once_the_top_is_used() -> None:
    used = ["56:6f:00:00:00:00", "56:6f:00:00:00:01", "56:6f:00:00:00:03"]
    assert next_free_mac(pool(), "56:6f:00:00:00:03", used) == "56:6f:00:00:00:02"
    used = ["56:6f:00:00:00:01", "56:6f:00:00:00:03"]
    assert next_free_mac(pool(), "56:6f:00:00:00:03", used) == "56:6f:00:00:00:00"


def test_highest_below_the_pool_starts_at_the_first() -> None:
    assert next_free_mac(pool(), "00:00:00:00:00:05", []) == "56:6f:00:00:00:00"


def test_exhausted_pool_is_a_conflict_with_ovirts_text() -> None:
    used = [int_to_mac(0x566F00000000 + i) for i in range(4)]
    with pytest.raises(Conflict) as err:
        next_free_mac(pool(), used[-1], used)
    assert err.value.message == EXHAUSTED


def test_filling_a_pool_hands_out_every_address_once() -> None:
    p = pool("56:6f:00:00:00:00-56:6f:00:00:00:0f")
    used: list[str] = []
    for _ in range(p.size):
        used.append(next_free_mac(p, max(used) if used else None, used))
    assert len(set(used)) == p.size
    assert all(m in p for m in used)
    with pytest.raises(Conflict):
        next_free_mac(p, max(used), used)
