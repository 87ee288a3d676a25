"""What a provider's network listing said, kept for a short while.

Discovering a provider's networks is one list call; importing them, one request per network as oVirt's
clients do, would ask the provider again for each network it has just listed. ``NetworkListings`` keeps each
provider's last listing for ``fresh_for`` seconds, so an import (or a GET of one provider network) within
that time reads the network from it: no provider call. A listing that goes stale while it is being read from
(a long import) is renewed by listing again (one call); otherwise, or for a network the listing did not hold,
the caller reads the network live (one call).

What this trades: a network changed on the provider after the listing (renamed, deleted) is imported as it
was listed, at most ``fresh_for`` seconds late. That is the race an import always has with a later change on
the provider, which the provider synchroniser reports or follows (a network gone is marked missing). The
engine's own changes to a provider's networks (create, export, delete) forget the listing at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from neutrino.engine.provider_clients.base import ProviderNetwork

FRESH_SECONDS = 60.0
T = TypeVar("T")


class NetworkListings:
    def __init__(self, fresh_for: float = FRESH_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.fresh_for = fresh_for
        self._clock = clock
        self._lock = threading.Lock()  # API calls arrive on the thread pool
        # provider id -> [clock time of the listing, clock time it was last read from, network id -> network]
        self._listed: dict[str, tuple[float, float, dict[str, ProviderNetwork]]] = {}

    def remember(self, provider_id: str, networks: Iterable[ProviderNetwork]) -> None:
        """The provider's whole listing, as of now (it replaces the previous one)."""
        by_id = {n.id: n for n in networks}
        now = self._clock()
        with self._lock:
            self._listed[provider_id] = (now, now, by_id)

    def recall(self, provider_id: str, network_id: str) -> ProviderNetwork | None:
        """The network as the provider's fresh listing holds it; None if no fresh listing holds it."""
        now = self._clock()
        with self._lock:
            found = self._listed.get(provider_id)
            if found is None or now - found[0] > self.fresh_for:
                return None
            self._listed[provider_id] = (found[0], now, found[2])
            return found[2].get(network_id)

    def relist_due(self, provider_id: str) -> bool:
        """Whether the provider's listing went stale while it was being read from (a long import of what it
        listed): then listing the provider again (one call) serves the rest, where reading each network would
        take one call per network."""
        now = self._clock()
        with self._lock:
            found = self._listed.get(provider_id)
            return found is not None and now - found[0] > self.fresh_for and now - found[1] <= self.fresh_for

    def forget(self, provider_id: str) -> None:
        """The provider's networks changed (or may have): the next read asks it."""
        with self._lock:
            self._listed.pop(provider_id, None)


AGENTS_FRESH_SECONDS = 2.0


class AgentListings:
    """Each provider's agent list (their health, a hint for scheduling), kept for ``fresh_for`` seconds: runs
    started together ask the provider once instead of once each. A run never fails on the list, and an agent
    that dies is seen at most ``fresh_for`` seconds late, as it would be by a run that read the list just
    before it died. A failed read is not kept."""

    def __init__(
        self, fresh_for: float = AGENTS_FRESH_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.fresh_for = fresh_for
        self._clock = clock
        self._lock = threading.Lock()
        self._listed: dict[str, tuple[float, object]] = {}  # provider id -> (clock time, what was read)

    def read(self, provider_id: str, list_agents: Callable[[], T]) -> T:
        """The provider's fresh agent list, or (``list_agents``: one call) a new one."""
        now = self._clock()
        with self._lock:
            found = self._listed.get(provider_id)
        if found is not None and now - found[0] <= self.fresh_for:
            return found[1]  # type: ignore[return-value]
        listed = list_agents()
        with self._lock:
            self._listed[provider_id] = (now, listed)
        return listed

    def forget(self, provider_id: str) -> None:
        with self._lock:
            self._listed.pop(provider_id, None)


NETWORKS_FRESH_SECONDS = 2.0


class NetworkReads:
    """The provider networks runs read (each vNIC's network must exist; its type, segment and MTU go to the
    host), kept for ``fresh_for`` seconds per network: runs started together ask the provider once, not once
    each. A network is kept only as found, never as missing, so a run never fails on what is kept; one changed
    or deleted on the provider is seen at most ``fresh_for`` seconds late, as a run that read it just before
    the change sees it (a port then asked for on a deleted network fails, naming the vNIC). The engine's own
    deletes forget the provider's networks at once."""

    def __init__(
        self, fresh_for: float = NETWORKS_FRESH_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.fresh_for = fresh_for
        self._clock = clock
        self._lock = threading.Lock()
        self._read: dict[
            tuple[str, str], tuple[float, ProviderNetwork]
        ] = {}  # (provider, network) -> when, what

    def read(
        self,
        provider_id: str,
        network_ids: list[str],
        get_networks: Callable[[list[str]], list[ProviderNetwork]],
    ) -> list[ProviderNetwork]:
        """The networks of ``network_ids`` the provider has: the fresh ones kept, the others (``get_networks``:
        one call for all of them) read now."""
        now = self._clock()
        with self._lock:
            kept = [self._read.get((provider_id, n)) for n in network_ids]
        fresh = [k[1] for k in kept if k is not None and now - k[0] <= self.fresh_for]
        if len(fresh) == len(network_ids):
            return fresh
        have = {n.id for n in fresh}
        got = get_networks([n for n in network_ids if n not in have])
        with self._lock:
            for network in got:
                self._read[(provider_id, network.id)] = (now, network)
        return [*fresh, *got]

    def forget(self, provider_id: str) -> None:
        with self._lock:
            for key in [k for k in self._read if k[0] == provider_id]:
                del self._read[key]
