"""MAC address pool math: ranges, parsing, and choosing the next free address."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass

from neutrino.engine.domain.errors import BadRequest, Conflict

_MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def mac_to_int(mac: str) -> int:
    return int(mac.replace(":", ""), 16)


def int_to_mac(value: int) -> str:
    raw = f"{value:012x}"
    return ":".join(raw[i : i + 2] for i in range(0, 12, 2))


def normalize_mac(mac: str, field: str = "mac.address") -> str:
    """Lower-case, colon-separated; BadRequest naming the field when it is not a unicast MAC."""
    value = mac.strip().lower().replace("-", ":")
    if not _MAC_RE.match(value):
        raise BadRequest(f"Invalid value for '{field}': '{mac}' is not a MAC address.")
    if int(value[:2], 16) & 1:
        raise BadRequest(f"Invalid value for '{field}': '{mac}' is a multicast MAC address.")
    return value


@dataclass(frozen=True)
class MacRange:
    start: int
    end: int

    @classmethod
    def parse(cls, text: str) -> MacRange:
        """``56:6f:1a:2b:00:00-56:6f:1a:2b:ff:ff``"""
        try:
            first, last = (normalize_mac(p, "mac_pool.range") for p in text.split("-"))
        except ValueError as exc:
            raise BadRequest(f"Invalid MAC range '{text}': expected FIRST-LAST.") from exc
        start, end = mac_to_int(first), mac_to_int(last)
        if end < start:
            raise BadRequest(f"Invalid MAC range '{text}': the last address comes before the first.")
        return cls(start, end)

    @classmethod
    def ovirt_default(cls, rng: random.Random | None = None) -> MacRange:
        """oVirt's default for a new installation: 56:6f:XX:XX:00:00-56:6f:XX:XX:ff:ff, XX random."""
        r = rng or random.SystemRandom()
        prefix = (0x566F << 32) | (r.randrange(256) << 24) | (r.randrange(256) << 16)
        return cls(prefix, prefix | 0xFFFF)

    def __str__(self) -> str:
        return f"{int_to_mac(self.start)}-{int_to_mac(self.end)}"

    def __contains__(self, mac: object) -> bool:
        return isinstance(mac, str) and self.start <= mac_to_int(mac) <= self.end

    @property
    def size(self) -> int:
        return self.end - self.start + 1


def pool_exhausted() -> Conflict:
    return Conflict("Cannot add Interface. Not enough MAC addresses left in MAC Address Pool.")


def next_free_mac(pool: MacRange, highest_used: str | None, used: Iterable[str]) -> str:
    """The address after the highest one in use, else the lowest gap; Conflict when the pool is full.

    ``used`` is only consulted when the pool's top end has been reached, so the common case does not
    need every address in use.
    """
    if highest_used is None or mac_to_int(highest_used) < pool.start:
        return int_to_mac(pool.start)
    nxt = mac_to_int(highest_used) + 1
    if nxt <= pool.end:
        return int_to_mac(nxt)
    taken = {mac_to_int(m) for m in used}
    for value in range(pool.start, pool.end + 1):
        if value not in taken:
            return int_to_mac(value)
    raise pool_exhausted()
