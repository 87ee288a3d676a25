"""What run, hot plug and migration share once a placement is planned: each vNIC's port ensured and bound to
the host, the host's report checked against what was sent, the outcome settled on the vNICs, and the ports an
operation created given up again when it is undone."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import NoReturn

from neutrino.agent_api import schema as wire
from neutrino.engine.commands import events, ports
from neutrino.engine.commands.common import EngineContext
from neutrino.engine.commands.placement import (
    NicPlan,
    Placement,
    agent_accepts,
    binding_host,
    check_reported,
    nic_spec,
    reported_nics,
)
from neutrino.engine.domain import model
from neutrino.engine.domain.errors import EngineError, HostFailure, reworded
from neutrino.engine.domain.model import NicState
from neutrino.engine.store.uow import UnitOfWork

log = logging.getLogger(__name__)


def bind_ports(placement: Placement, host: model.Host) -> list[ports.PortWork]:
    """The port works of the external vNICs (as ``resolve`` looked them up, or new), bound to ``host``."""
    works = []
    for plan in placement.nics:
        if plan.port is not None:
            if plan.work is None:
                plan.work = ports.PortWork(plan.port)
            plan.work.host_id = binding_host(host, plan.port.plugin_type)
            plan.port_lease = agent_accepts(host, wire.PORT_LEASE)
            works.append(plan.work)
    return works


def look_up_ports(ctx: EngineContext, placement: Placement, action: str) -> None:
    """Find the ports not looked up yet: one call per provider; a failure fails the first vNIC it concerns."""
    pending: dict[str, list[NicPlan]] = {}
    for plan in placement.nics:
        if plan.work is not None and not plan.work.looked_up:
            pending.setdefault(plan.work.plan.provider.id, []).append(plan)
    for plans in pending.values():
        try:
            works = [p.work for p in plans if p.work is not None]
            ports.look_up(ctx, ctx.provider_client(works[0].plan.provider), works)
        except EngineError as exc:
            _failed(ctx, placement, plans[0], exc, action)


def write_intents(uow: UnitOfWork, placement: Placement, op: str) -> None:
    """Every vNIC's port intent, in the caller's transaction (the one that records the ports step)."""
    uow.nics.by_ids(p.nic_id for p in placement.nics if p.work is not None)  # one read for all of them
    for plan in placement.nics:
        if plan.work is not None:
            ports.write_intent(uow, plan.work, op)


def act_on_ports(ctx: EngineContext, placement: Placement, op: str, action: str) -> None:
    """Each port's provider writes, one vNIC after the other. On a failure what was done is recorded at once
    (the undo then releases those ports by id), the vNIC says why, and the error names it."""
    for plan in placement.nics:
        if plan.work is None:
            continue
        try:
            ports.act(ctx.provider_client(plan.work.plan.provider), plan.work)
        except EngineError as exc:
            with ctx.uow() as uow:
                write_results(uow, placement, op)
                uow.commit()
            _failed(ctx, placement, plan, exc, action)


def write_results(
    uow: UnitOfWork, placement: Placement, op: str, scope: events.EventScope | None = None
) -> None:
    """Every vNIC's port as acted on, in the caller's transaction (before the host is asked); the events of
    ports created or updated name ``scope``'s cluster and data center."""
    uow.nics.by_ids(p.nic_id for p in placement.nics if p.work is not None)  # one read for all of them
    for plan in placement.nics:
        if plan.work is not None:
            ports.write_result(uow, plan.work, op, scope)


def nic_specs(placement: Placement) -> list[wire.NicSpec]:
    """Each vNIC's agent spec, its port as acted on."""
    return [nic_spec(plan, plan.work.result if plan.work else None) for plan in placement.nics]


def _failed(
    ctx: EngineContext, placement: Placement, plan: NicPlan, exc: EngineError, action: str
) -> NoReturn:
    ports.fail_nic(ctx, plan.nic_id, exc.message)
    raise reworded(exc, f"Cannot {action} VM. vNIC {plan.name}: {exc.message}") from exc


def provision_ports(
    ctx: EngineContext, placement: Placement, host: model.Host, op: str, action: str
) -> list[wire.NicSpec]:
    """Each vNIC's agent spec, ensuring the ports of the external ones (bound to ``host``) in one go: looked
    up, the intents committed, acted on, the results committed (migration; run and hot plug place these
    phases in their steps' own transactions)."""
    for plan in placement.nics:  # looked up afresh: a migration's undo binds back what it rebound
        plan.work = None
    bind_ports(placement, host)
    look_up_ports(ctx, placement, action)
    with ctx.uow() as uow:
        write_intents(uow, placement, op)
        uow.commit()
    act_on_ports(ctx, placement, op, action)
    with ctx.uow() as uow:
        write_results(uow, placement, op)
        uow.commit()
    return nic_specs(placement)


def verify_report(
    found: wire.VmState | None, placement: Placement, specs: list[wire.NicSpec], action: str
) -> None:
    """The agent's report of the VM must show each vNIC plugged as sent; else HostFailure naming the vNIC.
    ``found``: its answer to create-VM, which is that report (the document ``GET /vms/{id}`` gives, made
    under the same lock once the VM is stored), so no second call asks for it."""
    if found is None:
        raise HostFailure(f"Cannot {action} VM. The host does not report the VM after creating it.")
    reported = reported_nics(found)
    for plan, spec in zip(placement.nics, specs, strict=True):
        why = check_reported(reported.get(plan.nic_id), spec)
        if why is not None:
            raise HostFailure(f"Cannot {action} VM. vNIC {plan.name}: {why}.")


def settle_nics(
    uow: UnitOfWork,
    vm_id: str,
    op: str,
    plugged: set[str],
    detail: str,
    *,
    nics: Sequence[model.VmNic] | None = None,
    found: dict[str, str] | None = None,
) -> None:
    """The operation ``op`` succeeded: the ports it created are the vNICs' for good (``found``: those it
    created but never recorded, by vNIC), and the vNICs it plugged say so. ``nics``: the VM's, when the caller
    read them already."""
    for nic in uow.nics.list(vm_id=vm_id) if nics is None else nics:
        if nic.port_created_by == op:
            nic.port_id = nic.port_id or (found or {}).get(nic.id)
            nic.port_created_by = None
        if nic.id in plugged:
            ports.step(nic, "plugged", detail, NicState.PLUGGED)


def ports_created_unrecorded(ctx: EngineContext, vm_id: str, op: str) -> dict[str, str]:
    """Ports the operation asked for but never recorded (it stopped between the provider's answer and its own
    commit): found again by device_id, so they can be released like the others."""
    with ctx.reader() as uow:
        pending = [
            (n.id, uow.providers.get(n.port_provider_id))
            for n in uow.nics.list(vm_id=vm_id)
            if n.port_created_by == op and n.port_id is None and n.port_provider_id
        ]
    found = {}
    for nic_id, provider in pending:
        if provider is None:
            continue
        try:
            port = ctx.provider_client(provider).find_port(nic_id)
        except EngineError as exc:
            log.warning("cannot look up the port of vNIC %s: %s", nic_id, exc.message)
            continue
        if port is not None:
            found[nic_id] = port.id
    return found


def release_created(
    uow: UnitOfWork, nic: model.VmNic, op: str, reason: str, found: dict[str, str]
) -> str | None:
    """Give up ``nic``'s port if operation ``op`` created it (``found``: ports it created but never recorded);
    returns the orphan row id to reap."""
    if nic.port_created_by != op:
        return None
    nic.port_id = nic.port_id or found.get(nic.id)
    orphan = ports.release(uow, nic, reason)
    nic.port_created_by = None
    return orphan.id if orphan is not None else None


def release_vm_ports(uow: UnitOfWork, vm_id: str, reason: str) -> list[str]:
    """Release every port of a VM's vNICs (the VM or its NICs are going); returns the orphan row ids to reap."""
    found = []
    for nic in uow.nics.list(vm_id=vm_id):
        orphan = ports.release(uow, nic, reason)
        if orphan is not None:
            found.append(orphan.id)
    return found
