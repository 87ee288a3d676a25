"""What run, hot plug and migration share once a placement is planned: each vNIC's port ensured and bound to
the host, the host's report checked against what was sent, the outcome settled on the vNICs, and the ports an
operation created given up again when it is undone."""

from __future__ import annotations

import logging

from neutrino.agent_api import schema as wire
from neutrino.engine.commands import ports
from neutrino.engine.commands.common import EngineContext
from neutrino.engine.commands.placement import (
    Placement,
    binding_host,
    check_reported,
    nic_spec,
    reported_nics,
)
from neutrino.engine.domain import model
from neutrino.engine.domain.errors import EngineError, HostFailure, reworded
from neutrino.engine.domain.model import NicState
from neutrino.engine.hosts.agent_client import HostAgent
from neutrino.engine.store.uow import UnitOfWork

log = logging.getLogger(__name__)


def provision_ports(
    ctx: EngineContext, placement: Placement, host: model.Host, op: str, action: str
) -> list[wire.NicSpec]:
    """Each vNIC's agent spec, ensuring the ports of the external ones (bound to ``host``)."""
    specs = []
    for plan in placement.nics:
        ensured = None
        if plan.port is not None:
            try:
                ensured = ports.ensure_port(
                    ctx,
                    ctx.provider_client(plan.port.provider),
                    plan.port,
                    binding_host(host, plan.port.plugin_type),
                    op,
                )
            except EngineError as exc:
                ports.fail_nic(ctx, plan.nic_id, exc.message)
                raise reworded(exc, f"Cannot {action} VM. vNIC {plan.name}: {exc.message}") from exc
        specs.append(nic_spec(plan, ensured))
    return specs


def verify_on_host(
    client: HostAgent, vm_id: str, placement: Placement, specs: list[wire.NicSpec], action: str
) -> None:
    """The agent's list-VMs must report each vNIC plugged as sent; else HostFailure naming the vNIC."""
    listed = {v.vm_id: v for v in client.list_vms()}
    reported = reported_nics(listed.get(vm_id))
    if vm_id not in listed:
        raise HostFailure(f"Cannot {action} VM. The host does not report the VM after creating it.")
    for plan, spec in zip(placement.nics, specs, strict=True):
        why = check_reported(reported.get(plan.nic_id), spec)
        if why is not None:
            raise HostFailure(f"Cannot {action} VM. vNIC {plan.name}: {why}.")


def settle_nics(uow: UnitOfWork, vm_id: str, op: str, plugged: set[str], detail: str) -> None:
    """The operation ``op`` succeeded: the ports it created are the vNICs' for good, and the vNICs it plugged
    say so."""
    for nic in uow.nics.list(vm_id=vm_id):
        if nic.port_created_by == op:
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
