"""The engine tags the provider ports it creates with its instance id, and its janitor deletes only ports with
that tag (issue 18): in the create request where the provider offers ``tag-ports-during-bulk-creation``,
created then tagged where it has only ``standard-attr-tag`` (a crash in between converged), untagged with the
old janitor (said once in the log) where it has no tags. Provider and agents are the fakes at the engine's
seams; the store is real (SQLite; the janitor's case on PostgreSQL too)."""

from __future__ import annotations

import logging
import uuid

import pytest

from neutrino.engine.commands import converge as convergence
from neutrino.engine.commands import ports, vms
from neutrino.engine.domain.model import VmStatus
from neutrino.engine.provider_clients.base import PortRequest, ProviderPort
from tests.integration.engine import test_lifecycle as lifecycle

World = lifecycle.World
world = lifecycle.world

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
TAG_ON_CREATE = {"standard-attr-tag", "tag-ports-during-bulk-creation"}
OTHER_ENGINE = "0b7c8a52-3d55-4f0e-9a51-2f6a1c9e8d01"


class Killed(BaseException):
    """The engine process died here (nothing catches it: the open transaction rolls back, no undo runs)."""


def stray(world: World, tags: tuple[str, ...], device_id: str | None = None) -> ProviderPort:
    """A port with device_owner oVirt on the provider, as some engine made it (its vNIC unknown here)."""
    port = world.provider.create_port(
        PortRequest(
            network_id=next(iter(world.provider.networks)),
            mac_address=f"56:6f:99:00:00:{len(world.provider.ports):02x}",
            name="stray",
            device_id=device_id or str(uuid.uuid4()),
            tags=tags,
        )
    ).port
    return port


def instance_id(world: World) -> str:
    with world.ctx.reader() as uow:
        stored = uow.settings.get("instance_id")
    assert stored and world.ctx.instance_id == stored
    return stored


@SQLITE
def test_ports_are_tagged_with_the_instance_id_in_the_create_request(world: World) -> None:
    world.provider.exts |= TAG_ON_CREATE
    vm_id, (n1, n2) = world.vm("vm1", world.profiles[0], world.profiles[1])
    assert vms.start_vm(world.ctx, vm_id).status == VmStatus.UP
    for nic_id in (n1, n2):
        [port] = world.provider.ports_of(nic_id)
        assert port.tags == (instance_id(world),)
    assert "tag_port" not in world.provider.calls  # in the POST itself: no second call


@SQLITE
def test_a_provider_with_tags_but_not_on_create_gets_the_port_created_then_tagged(world: World) -> None:
    world.provider.exts |= {"standard-attr-tag"}
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    assert vms.start_vm(world.ctx, vm_id).status == VmStatus.UP
    [port] = world.provider.ports_of(n1)
    assert port.tags == (instance_id(world),)
    calls = world.provider.calls
    assert calls.index("tag_port") == calls.index("create_port") + 1


@SQLITE
def test_an_engine_killed_between_create_and_tag_converges(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The vNIC's intent (``port_created_by``) was committed before the create: convergence finds the untagged
    port by device_id and releases it with the run it undoes; the next run creates a tagged one."""
    world.provider.exts |= {"standard-attr-tag"}
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])

    def die(port_id: str, tag: str) -> None:
        raise Killed("between create and tag")

    monkeypatch.setattr(world.provider, "tag_port", die)
    with pytest.raises(Killed):
        vms.start_vm(world.ctx, vm_id)
    [untagged] = world.provider.ports_of(n1)
    assert untagged.tags == ()
    assert world.nic(n1).port_created_by is not None and world.nic(n1).port_id is None
    monkeypatch.undo()
    world.ctx.active_operations.clear()  # a new process
    assert convergence.converge(world.ctx) == 1
    assert world.get_vm(vm_id).status == VmStatus.DOWN
    assert world.provider.ports_of(n1) == [], "the untagged port of the interrupted run is deleted"
    assert vms.start_vm(world.ctx, vm_id).status == VmStatus.UP
    [port] = world.provider.ports_of(n1)
    assert port.tags == (instance_id(world),)


@SQLITE
def test_a_failed_tag_call_is_recorded_and_the_janitor_tags_the_port(world: World) -> None:
    world.provider.exts |= {"standard-attr-tag"}
    world.provider.fail_on["tag_port"] = 0
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    assert vms.start_vm(world.ctx, vm_id).status == VmStatus.UP  # the port serves untagged meanwhile
    [port] = world.provider.ports_of(n1)
    assert port.tags == ()
    [step] = [s for s in world.nic(n1).provisioning.steps if s.name == "port not tagged"]
    assert "the janitor tags it later" in step.detail
    del world.provider.fail_on["tag_port"]
    assert ports.sweep(world.ctx) == 0
    assert world.provider.ports[port.id].tags == (instance_id(world),)


def test_the_janitor_deletes_only_ports_with_its_own_tag(world: World) -> None:
    """Two engines on one provider: this one's sweep deletes its own tagged port whose vNIC is gone, and leaves
    another engine's, an untagged one, and the ports of its own vNICs."""
    world.provider.exts |= TAG_ON_CREATE
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    vms.start_vm(world.ctx, vm_id)
    [used] = world.provider.ports_of(n1)
    mine = stray(world, (instance_id(world),))
    theirs = stray(world, (OTHER_ENGINE,))
    untagged = stray(world, ())
    assert ports.sweep(world.ctx) == 1
    assert mine.id not in world.provider.ports
    assert {theirs.id, untagged.id, used.id} <= set(world.provider.ports)
    assert ports.sweep(world.ctx) == 0


@SQLITE
def test_a_provider_without_tags_keeps_todays_janitor_and_says_so_once(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    assert "standard-attr-tag" not in world.provider.exts
    caplog.set_level(logging.WARNING, logger=ports.__name__)
    vm_id, (n1, n2) = world.vm("vm1", world.profiles[0], world.profiles[1])
    vms.start_vm(world.ctx, vm_id)
    assert all(p.tags == () for p in world.provider.ports.values())
    gone = stray(world, ())
    assert ports.sweep(world.ctx) == 1 and gone.id not in world.provider.ports  # as before tags
    ports.sweep(world.ctx)
    said = [r for r in caplog.records if "offers no port tags" in r.getMessage()]
    assert len(said) == 1, [r.getMessage() for r in said]
    assert "osp" in said[0].getMessage()
