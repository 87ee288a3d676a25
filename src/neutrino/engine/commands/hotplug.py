"""vNIC hot plug and hot unplug on a running VM, as operations (``commands.operations``).

The caller (``commands.nics``) claims the VM with ``claim`` in the transaction that changes the vNIC's
``plugged``; ``hotplug`` / ``hotunplug`` then perform it. Hot plug ensures the vNIC's port like a run does and
has the agent plug it; a failure undoes the port it created and leaves the vNIC unplugged. Hot unplug keeps the
port; a failure leaves the vNIC plugged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from neutrino.agent_api import schema as wire
from neutrino.engine.commands import events, ports
from neutrino.engine.commands.common import EngineContext, get_or_404
from neutrino.engine.commands.operations import OperationLog, Step, perform
from neutrino.engine.commands.placement import NicPlan, Placement, check_reported, plan_nic, resolve
from neutrino.engine.commands.provisioning import (
    act_on_ports,
    bind_ports,
    nic_specs,
    ports_created_unrecorded,
    release_created,
    settle_nics,
    write_intents,
    write_results,
)
from neutrino.engine.domain import model
from neutrino.engine.domain.audit import AuditType
from neutrino.engine.domain.errors import Conflict, EngineError, HostFailure, reworded
from neutrino.engine.domain.model import NicState, VmStatus
from neutrino.engine.domain.operations import Operation, OperationKind, OperationState, StepName
from neutrino.engine.store.repository import Placed
from neutrino.engine.store.uow import UnitOfWork

log = logging.getLogger(__name__)


def claim(
    ctx: EngineContext,
    uow: UnitOfWork,
    vm: model.Vm,
    action: str,
    kind: OperationKind,
    nic_id: str | None = None,
) -> OperationLog:
    """Claim the running VM (its row locked by the caller's unit of work) for a hot plug or unplug: one
    operation at a time. Returns the operation's log, its record committed with the caller's change."""
    if vm.operation_id is not None:
        raise Conflict(
            f"Cannot {action}. Another operation is in progress on the VM; try again when it ends."
        )
    if vm.status != VmStatus.UP or vm.host_id is None:
        raise Conflict(f"Cannot {action}. The VM is not Up (it is {vm.status.value}).")
    return OperationLog.claim(ctx, uow, vm, kind, nic_id=nic_id, source_host_id=vm.host_id)


def begin_plug(uow: UnitOfWork, op: str, nic: model.VmNic, *, added: bool = False) -> None:
    """In the transaction that claims the VM for hot plugging ``nic``: a vNIC with a network begins a new
    provisioning attempt, and (``added``: a vNIC added by that transaction, which had no id when the VM was
    claimed) the record learns its vNIC. The hot plug's first step then only reads."""
    if added:
        record = uow.operations.get(op)
        if record is not None:
            record.nic_id = nic.id
    if nic.vnic_profile_id:
        ports.begin(nic)


def _claimed_host(uow: UnitOfWork, vm_id: str, op: str, action: str) -> model.Host:
    """The VM's host, checking the claim still holds (a read: the claim's own transaction wrote the rest)."""
    vm = get_or_404(uow.vms, vm_id, "VM")
    if vm.operation_id != op or vm.host_id is None:
        raise Conflict(f"Cannot {action}. The VM changed meanwhile (it is {vm.status.value}).")
    return get_or_404(uow.hosts, vm.host_id, "Host")


# --- hot plug ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """What a hot plug's first step reads (the VM's host, the vNIC's plan, what its events name), read by the
    transaction that claims the VM instead of a reader of the step's own."""

    host: model.Host
    plan: NicPlan | None
    scope: events.EventScope
    vm: model.Vm  # as the claim commits it: the steps attach it instead of reading it (see RunVm._vm)


def prepare(uow: UnitOfWork, placed: Placed, nic: model.VmNic) -> Prepared | None:
    """``Prepared`` for hot plugging ``nic`` into the VM (as the claim's transaction locked it with its host
    and scope); None when it cannot be read (no host, a plan that fails): the step then reads it itself and
    fails as any step does, undone."""
    if placed.host is None:
        return None
    try:
        plan = plan_nic(uow, nic, "hot plug")
    except EngineError:
        return None
    return Prepared(placed.host, plan, events.EventScope(placed.cluster, placed.data_center), placed.vm)


def hotplug(
    ctx: EngineContext, vm_id: str, nic_id: str, op: OperationLog, prepared: Prepared | None = None
) -> None:
    """Plug a vNIC (already marked plugged in the store) into the running VM on its host; ``op``: the operation
    the caller claimed in the transaction that marked it plugged (and ``prepared`` there, if it did)."""
    perform(ctx, HotPlug(ctx, op, vm_id, nic_id, prepared))


class HotPlug:
    """Planned and resolved (claimed) → its port bound to the VM's host → plugged there → the report verified."""

    def __init__(
        self, ctx: EngineContext, log: OperationLog, vm_id: str, nic_id: str, prepared: Prepared | None = None
    ) -> None:
        self.ctx, self.log, self.vm_id, self.nic_id = ctx, log, vm_id, nic_id
        self.prepared = prepared
        self.vm = prepared.vm if prepared is not None else None
        self.host: model.Host | None = None
        self.plan: NicPlan | None = None
        self.placement: Placement | None = None
        self.spec: wire.NicSpec | None = None
        self.reported: wire.NicState | None = None  # the agent's answer to the plug: its report of the vNIC
        self.scope = events.EventScope()  # the cluster and data center its events name
        self.plugged_on_host = (
            False  # from the agent call on, the host may hold the device: the undo unplugs it
        )

    def steps(self) -> Iterator[Step]:
        yield Step(StepName.CLAIMED, self._prepare)
        if self.plan is None:  # a vNIC without a network: nothing to plug on the host
            return
        # as a run's: the ports step's record goes with the port intent, the host step's with the port
        yield Step(StepName.PORTS, self._ports, on_enter=self._intent)
        yield Step(StepName.ON_HOST, self._plug, on_enter=self._port)
        yield Step(StepName.VERIFIED, self._verify, write_ahead=False)

    def _prepare(self) -> None:
        action = "activate VM network interface"
        # the claim still holds; its transaction began the vNIC's attempt (``begin_plug``)
        if self.prepared is not None:  # read by the claim's transaction
            self.host, self.plan, self.scope = self.prepared.host, self.prepared.plan, self.prepared.scope
        else:
            with self.ctx.reader() as uow:
                self.host = _claimed_host(uow, self.vm_id, self.log.op_id, action)
                nic = get_or_404(uow.nics, self.nic_id, "VM network interface")
                self.plan = plan_nic(uow, nic, "hot plug")
                vm = get_or_404(uow.vms, self.vm_id, "VM")  # read by _claimed_host: no statement
                self.scope = events.EventScope.of(uow, vm.cluster_id)
        if self.plan is not None:
            self.placement = Placement([self.plan], frozenset(), [self.host])
            # no scheduling: the VM's host is known, so only the network and the port are read, at once
            resolve(self.ctx, self.placement, "hot plug", agents=False, look_up=True)
            bind_ports(self.placement, self.host)

    def _intent(self, uow: UnitOfWork, op: Operation) -> None:
        assert self.placement is not None
        write_intents(uow, self.placement, self.log.op_id)

    def _ports(self) -> None:
        assert self.placement is not None
        act_on_ports(self.ctx, self.placement, self.log.op_id, "hot plug")

    def _port(self, uow: UnitOfWork, op: Operation) -> None:
        assert self.placement is not None
        self._attach_vm(uow)  # first: the port events below name it
        write_results(uow, self.placement, self.log.op_id, self.scope)

    def _attach_vm(self, uow: UnitOfWork) -> None:
        """The VM into ``uow`` as the claim or the last step committed it, else read (a later read of it in
        ``uow`` finds it there)."""
        self.vm = uow.vms.held(self.vm, self.vm_id)

    def _plug(self) -> None:
        assert self.host is not None and self.plan is not None and self.placement is not None
        [self.spec] = nic_specs(self.placement)
        self.plugged_on_host = True
        try:
            self.reported = self.ctx.agent_client(self.host).hotplug_nic(self.vm_id, self.spec)
        except EngineError as exc:
            raise reworded(exc, f"Cannot hot plug vNIC {self.plan.name}: {exc.message}") from exc

    def _verify(self) -> None:
        """The agent's answer to the plug is its report of the vNIC (made under the lock that stored it, as
        ``GET /vms/{id}`` makes it): it must show the vNIC plugged as sent."""
        assert self.plan is not None and self.spec is not None
        why = check_reported(self.reported, self.spec)
        if why is not None:
            raise HostFailure(f"Cannot hot plug vNIC {self.plan.name}: {why}.")

    def finish(self) -> None:
        with self.ctx.uow() as uow:
            self._attach_vm(uow)
            self.log.close(uow, OperationState.DONE)  # first: the VM is then written once
            if self.plan is not None and self.host is not None:
                settle_nics(
                    uow, self.vm_id, self.log.op_id, {self.nic_id}, f"hot plugged on host {self.host.name}"
                )
            plugged_event(
                uow,
                AuditType.NETWORK_ACTIVATE_VM_INTERFACE_SUCCESS,
                self.vm_id,
                self.nic_id,
                self.host,
                scope=self.scope,
            )
            uow.commit()

    def undo(self, error: str) -> None:
        undo_hotplug(
            self.ctx, self.log, self.vm_id, self.nic_id, error, self.host if self.plugged_on_host else None
        )

    def failure(self, error: str) -> EngineError:
        return HostFailure(f"Cannot hot plug the VM network interface: {error}")


def undo_hotplug(
    ctx: EngineContext, oplog: OperationLog, vm_id: str, nic_id: str, error: str, host: model.Host | None
) -> None:
    """The vNIC ends unplugged: out of the host if it may be there, its port released if the hot plug made it."""
    if host is not None:
        try:
            ctx.agent_client(host).hotunplug_nic(vm_id, nic_id)
        except EngineError as exc:
            log.warning("hot plug undo: cannot unplug vNIC %s of VM %s: %s", nic_id, vm_id, exc.message)
    found = ports_created_unrecorded(ctx, vm_id, oplog.op_id)
    orphans = []
    with ctx.uow() as uow:
        oplog.close(uow, OperationState.UNDONE, error)
        nic = uow.nics.get(nic_id)
        if nic is not None:
            nic.plugged = False
            orphan = release_created(uow, nic, oplog.op_id, "the hot plug that created it failed", found)
            orphans += [orphan] if orphan else []
            ports.fail(nic, error)
        plugged_event(uow, AuditType.NETWORK_ACTIVATE_VM_INTERFACE_FAILURE, vm_id, nic_id, host, error)
        uow.commit()
    ports.reap(ctx, orphans)


# --- hot unplug --------------------------------------------------------------------------------------------


def hotunplug(ctx: EngineContext, vm_id: str, nic_id: str, op: OperationLog) -> None:
    """Unplug a vNIC from the running VM; its port stays. On failure the vNIC stays plugged."""
    perform(ctx, HotUnplug(ctx, op, vm_id, nic_id))


class HotUnplug:
    def __init__(self, ctx: EngineContext, log: OperationLog, vm_id: str, nic_id: str) -> None:
        self.ctx, self.log, self.vm_id, self.nic_id = ctx, log, vm_id, nic_id
        self.host: model.Host | None = None

    def steps(self) -> Iterator[Step]:
        yield Step(StepName.CLAIMED, self._check)
        yield Step(StepName.ON_HOST, self._unplug)

    def _check(self) -> None:
        with self.ctx.reader() as uow:
            self.host = _claimed_host(uow, self.vm_id, self.log.op_id, "deactivate VM network interface")

    def _unplug(self) -> None:
        assert self.host is not None
        try:
            self.ctx.agent_client(self.host).hotunplug_nic(self.vm_id, self.nic_id)
        except EngineError as exc:
            raise reworded(exc, f"Cannot hot unplug the VM network interface: {exc.message}") from exc

    def finish(self) -> None:
        assert self.host is not None
        finish_hotunplug(self.ctx, self.log, self.nic_id, self.host)

    def undo(self, error: str) -> None:
        with self.ctx.uow() as uow:
            nic = uow.nics.get(self.nic_id)
            if nic is not None:
                nic.plugged = True
            plugged_event(
                uow,
                AuditType.NETWORK_DEACTIVATE_VM_INTERFACE_FAILURE,
                self.vm_id,
                self.nic_id,
                self.host,
                error,
            )
            self.log.close(uow, OperationState.UNDONE, error)
            uow.commit()

    def failure(self, error: str) -> EngineError:
        return HostFailure(f"Cannot hot unplug the VM network interface: {error}")


def finish_hotunplug(ctx: EngineContext, log: OperationLog, nic_id: str, host: model.Host) -> None:
    with ctx.uow() as uow:
        nic = uow.nics.get(nic_id)
        if nic is not None:
            nic.plugged = False
            if nic.provisioning.recorded:
                ports.step(
                    nic,
                    "unplugged",
                    f"hot unplugged from host {host.name}; its port is kept",
                    NicState.UNPLUGGED,
                )
            plugged_event(uow, AuditType.NETWORK_DEACTIVATE_VM_INTERFACE_SUCCESS, nic.vm_id, nic_id, host)
        log.close(uow, OperationState.DONE)
        uow.commit()


_PLUG_TEXTS = {
    AuditType.NETWORK_ACTIVATE_VM_INTERFACE_SUCCESS: "Network Interface {nic} was plugged to VM {vm}",
    AuditType.NETWORK_ACTIVATE_VM_INTERFACE_FAILURE: "Failed to plug Network Interface {nic} to VM {vm}",
    AuditType.NETWORK_DEACTIVATE_VM_INTERFACE_SUCCESS: "Network Interface {nic} was unplugged from VM {vm}",
    AuditType.NETWORK_DEACTIVATE_VM_INTERFACE_FAILURE: "Failed to unplug Network Interface {nic} from VM {vm}",
}


def plugged_event(
    uow: UnitOfWork,
    kind: AuditType,
    vm_id: str,
    nic_id: str,
    host: model.Host | None,
    error: str = "",
    scope: events.EventScope | None = None,
) -> None:
    """The audit event of a vNIC plugged or unplugged (or not), in oVirt's words (naming ``scope``'s cluster
    and data center when the caller read them)."""
    vm, nic = uow.vms.get(vm_id), uow.nics.get(nic_id)
    if vm is None or nic is None:
        return
    what = _PLUG_TEXTS[kind].format(nic=f"{nic.name} ({nic.interface.value})", vm=vm.name)
    why = f": {error}" if error else ""
    links = (scope or events.EventScope()).links()
    events.emit(uow, kind, f"{what}{why}. (User: {events.actor()})", vm=vm, host=host, **links)
