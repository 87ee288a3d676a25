"""NetworkReads: the provider networks runs read, kept a couple of seconds per network; only what was found is
kept, and forgetting a provider drops its networks."""

from __future__ import annotations

from neutrino.engine.commands.listings import NetworkReads
from neutrino.engine.provider_clients.base import ProviderNetwork


class Provider:
    def __init__(self, *ids: str) -> None:
        self.networks = {i: ProviderNetwork(id=i, name=f"net-{i}") for i in ids}
        self.asked: list[list[str]] = []

    def get_networks(self, ids: list[str]) -> list[ProviderNetwork]:
        self.asked.append(ids)
        return [self.networks[i] for i in ids if i in self.networks]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_networks_read_within_the_window_are_not_asked_for_again() -> None:
    clock, provider = Clock(), Provider("a", "b")
    reads = NetworkReads(fresh_for=2.0, clock=clock)
    assert [n.id for n in reads.read("p1", ["a", "b"], provider.get_networks)] == ["a", "b"]
    clock.now += 1.5
    assert [n.id for n in reads.read("p1", ["b", "a"], provider.get_networks)] == ["b", "a"]
    assert provider.asked == [["a", "b"]]
    clock.now += 1.0  # the read is 2.5 s old now
    reads.read("p1", ["a"], provider.get_networks)
    assert provider.asked == [["a", "b"], ["a"]]


def test_only_the_networks_not_kept_are_asked_for() -> None:
    clock, provider = Clock(), Provider("a", "b")
    reads = NetworkReads(fresh_for=2.0, clock=clock)
    reads.read("p1", ["a"], provider.get_networks)
    found = reads.read("p1", ["a", "b"], provider.get_networks)
    assert sorted(n.id for n in found) == ["a", "b"]
    assert provider.asked == [["a"], ["b"]]


def test_a_missing_network_is_asked_for_every_time_and_providers_are_apart() -> None:
    clock, provider = Clock(), Provider("a")
    reads = NetworkReads(fresh_for=2.0, clock=clock)
    assert reads.read("p1", ["gone"], provider.get_networks) == []
    assert reads.read("p1", ["gone"], provider.get_networks) == []
    reads.read("p1", ["a"], provider.get_networks)
    reads.read("p2", ["a"], provider.get_networks)  # the same id on another provider is another network
    assert provider.asked == [["gone"], ["gone"], ["a"], ["a"]]


def test_forgetting_a_provider_drops_its_networks_only() -> None:
    clock, provider = Clock(), Provider("a")
    reads = NetworkReads(fresh_for=2.0, clock=clock)
    reads.read("p1", ["a"], provider.get_networks)
    reads.read("p2", ["a"], provider.get_networks)
    reads.forget("p1")
    reads.read("p1", ["a"], provider.get_networks)
    reads.read("p2", ["a"], provider.get_networks)
    assert provider.asked == [["a"], ["a"], ["a"]]
