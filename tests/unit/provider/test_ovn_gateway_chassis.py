"""Which chassis a router's gateway is bound to on OVN (``backends/ovn/routing.gateway_chassis``)."""

from __future__ import annotations

from neutrino.provider.backends.ovn.routing import Chassis, gateway_chassis


def chassis(name: str, physnets: str = "", gateway: bool = False, alive: bool = True) -> Chassis:
    return Chassis(name, frozenset(physnets.split()), gateway, alive)


def test_chassis_offering_themselves_as_gateways_come_first() -> None:
    every = [chassis("a", "physnet1"), chassis("b", "other", gateway=True)]
    assert gateway_chassis("r1", "physnet1", every) == ("b",)


def test_without_offers_a_chassis_mapping_the_physical_network() -> None:
    every = [chassis("a", "physnet1"), chassis("b", "physnet2"), chassis("c", "physnet1 physnet2")]
    picked = {gateway_chassis(f"router-{n}", "physnet2", every) for n in range(40)}
    assert picked == {("b",), ("c",)}  # routers spread over the candidates, never onto "a"
    assert gateway_chassis("router-1", "physnet2", every) == gateway_chassis("router-1", "physnet2", every)
    assert gateway_chassis("r", None, every) in {("a",), ("b",), ("c",)}  # an overlay external network: any


def test_the_alive_ones_when_any_is_and_none_without_candidates() -> None:
    every = [chassis("a", "physnet1", alive=False), chassis("b", "physnet1")]
    assert {gateway_chassis(f"r{n}", "physnet1", every) for n in range(20)} == {("b",)}
    asleep = [chassis("a", "physnet1", alive=False)]
    assert gateway_chassis("r", "physnet1", asleep) == ("a",)  # better a sleeping one than none
    assert gateway_chassis("r", "physnet9", every) == ()
    assert gateway_chassis("r", "physnet1", []) == ()
