"""Importing what a discovery has just listed asks the provider nothing more (commands.listings); what no fresh
listing holds is read live, and the engine's own changes to the provider's networks forget the listing. The
import rules hold either way (one import per data center, the name free)."""

from __future__ import annotations

import pytest

from neutrino.engine.bootstrap import Engine
from neutrino.engine.commands import providers
from neutrino.engine.commands.common import Ref
from neutrino.engine.commands.external_networks import (
    create_on_provider,
    discover,
    import_network,
    provider_network,
    remove_external,
)
from neutrino.engine.commands.listings import NetworkListings
from neutrino.engine.domain.errors import Conflict, NotFound
from tests.support.fakes import FakeProvider


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world(engine: Engine) -> tuple[Engine, FakeProvider, str, Clock]:
    fake = FakeProvider()
    engine.ctx.provider_client = lambda provider, password=None: fake
    clock = Clock()
    engine.ctx.listings = NetworkListings(fresh_for=60.0, clock=clock)
    provider = providers.add_provider(
        engine.ctx, "lst-prov", url="http://p.invalid:9696", external_plugin_type="X"
    )
    return engine, fake, provider.id, clock


def test_imports_after_a_discovery_make_no_provider_call(
    world: tuple[Engine, FakeProvider, str, Clock],
) -> None:
    engine, fake, pid, _ = world
    nets = [fake.add_network(f"lst-{i}") for i in range(3)]
    discover(engine.ctx, pid)
    fake.calls.clear()
    for net in nets:
        import_network(engine.ctx, pid, net.id, Ref(name="Default"))
    assert fake.calls == []
    # the rules are the database's, not the listing's: the same network again in the same data center is refused
    with pytest.raises(Conflict, match="The external network already exists as 'lst-0' in the data center."):
        import_network(engine.ctx, pid, nets[0].id, Ref(name="Default"))
    assert fake.calls == []


def test_what_no_fresh_listing_holds_is_read_live(world: tuple[Engine, FakeProvider, str, Clock]) -> None:
    engine, fake, pid, clock = world
    listed = fake.add_network("lst-listed")
    discover(engine.ctx, pid)
    later = fake.add_network("lst-later")  # made on the provider after the listing
    fake.calls.clear()
    assert provider_network(engine.ctx, pid, later.id).name == "lst-later"
    assert fake.calls == ["get_network"]
    with pytest.raises(NotFound, match="The provider has no network 'nope'."):
        provider_network(engine.ctx, pid, "nope")
    clock.now += 61  # the listing is stale: read live again
    fake.calls.clear()
    import_network(engine.ctx, pid, listed.id, Ref(name="Default"))
    assert fake.calls == ["get_network"]


def test_the_engines_own_changes_forget_the_listing(world: tuple[Engine, FakeProvider, str, Clock]) -> None:
    engine, fake, pid, _ = world
    gone = fake.add_network("lst-gone")
    discover(engine.ctx, pid)
    made = create_on_provider(engine.ctx, "lst-made", Ref(name="Default"), Ref(id=pid))
    fake.calls.clear()
    assert provider_network(engine.ctx, pid, gone.id).name == "lst-gone"
    assert fake.calls == ["get_network"]  # the create forgot the listing
    discover(engine.ctx, pid)
    remove_external(engine.ctx, made.id, remove_from_provider=True)
    fake.calls.clear()
    with pytest.raises(NotFound):
        provider_network(engine.ctx, pid, made.provider_network_id or "")
    assert fake.calls == ["get_network"]  # the delete forgot it too: no import of a network just deleted


def test_a_listing_gone_stale_during_a_long_import_is_listed_again_once(
    world: tuple[Engine, FakeProvider, str, Clock],
) -> None:
    engine, fake, pid, clock = world
    nets = [fake.add_network(f"lst-long-{i}") for i in range(4)]
    discover(engine.ctx, pid)
    fake.calls.clear()
    for net in nets:
        clock.now += 25  # the listing is 100 s old by the last import, read from all along
        import_network(engine.ctx, pid, net.id, Ref(name="Default"))
    assert fake.calls == ["list_networks"]


def test_a_refused_import_writes_nothing(world: tuple[Engine, FakeProvider, str, Clock]) -> None:
    """The rules are the tables' unique constraints, met as the row is written: a refusal names the rule (the
    network imported already wins over the name taken) and leaves no network, profile or event behind."""
    engine, fake, pid, _ = world
    first, other = fake.add_network("lst-once"), fake.add_network("lst-other")
    discover(engine.ctx, pid)
    import_network(engine.ctx, pid, first.id, Ref(name="Default"))

    def written() -> tuple[int, int, int]:
        with engine.ctx.reader() as uow:
            return uow.networks.count(), uow.profiles.count(), uow.events.count()

    before = written()
    with pytest.raises(
        Conflict, match="The external network already exists as 'lst-once' in the data center."
    ):
        import_network(engine.ctx, pid, first.id, Ref(name="Default"), name="lst-renamed")
    with pytest.raises(
        Conflict, match="The external network already exists as 'lst-once' in the data center."
    ):
        import_network(engine.ctx, pid, first.id, Ref(name="Default"))  # its name taken too: by itself
    with pytest.raises(Conflict, match="The name of the logical network 'lst-once' is already used"):
        import_network(engine.ctx, pid, other.id, Ref(name="Default"), name="lst-once")
    with pytest.raises(NotFound, match="Data Center 'nowhere' was not found"):
        import_network(engine.ctx, pid, other.id, Ref(name="nowhere"))
    assert written() == before
    # and the network refused under a taken name imports under its own
    assert import_network(engine.ctx, pid, other.id, Ref(name="Default")).name == "lst-other"
    assert written() == (before[0] + 1, before[1] + 1, before[2] + 1)
