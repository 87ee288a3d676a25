"""Live migration between hosts, as an operation (``commands.operations``): each external port is rebound to
the destination (``binding:host_id``), the VM is created and verified there, and only then removed from its
source. Any failure before that keeps the VM on its source with its ports bound back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from neutrino.agent_api import schema as wire
from neutrino.engine.commands import events
from neutrino.engine.commands.common import EngineContext, Ref, get_or_404, require
from neutrino.engine.commands.operations import OperationLog, Step, perform
from neutrino.engine.commands.placement import MIB, Placement, choose_host, plan_vm, resolve
from neutrino.engine.commands.provisioning import provision_ports, settle_nics, verify_report
from neutrino.engine.domain import model
from neutrino.engine.domain.audit import AuditType
from neutrino.engine.domain.errors import Conflict, EngineError, HostFailure
from neutrino.engine.domain.model import VmStatus
from neutrino.engine.domain.operations import Operation, OperationKind, OperationState, StepName
from neutrino.engine.domain.options import VmAffinity
from neutrino.engine.store.uow import UnitOfWork

log = logging.getLogger(__name__)


def migrate_vm(ctx: EngineContext, vm_id: str, host_ref: Ref | None = None) -> model.Vm:
    with ctx.uow() as uow:
        vm = uow.vms.lock(vm_id) or get_or_404(uow.vms, vm_id, "VM")
        if vm.status != VmStatus.UP or vm.operation_id is not None or vm.host_id is None:
            raise Conflict(
                "Cannot migrate VM. VM is not running."
                if not vm.is_running
                else f"Cannot migrate VM. The VM is in {vm.status.value} status."
            )
        if vm.options.affinity == VmAffinity.PINNED:
            raise Conflict("Cannot migrate VM. VM is non migratable.")  # pinned to its host
        source = get_or_404(uow.hosts, vm.host_id, "Host")
        wanted = require(uow.hosts, host_ref, "Host", "host") if host_ref else None
        if wanted is not None and wanted.id == source.id:
            raise Conflict("Cannot migrate VM. The VM is already running on the destination Host.")
        if wanted is not None and wanted.cluster_id != vm.cluster_id:
            raise Conflict("Cannot migrate VM. The destination Host is not in the VM's Cluster.")
        placement = plan_vm(uow, vm, "migrate")
        vm.status = VmStatus.MIGRATING
        oplog = OperationLog.claim(ctx, uow, vm, OperationKind.MIGRATE, source_host_id=source.id)
        uow.commit()
        spec = wire.VmSpec(vm_id=vm_id, name=vm.name, memory_mb=max(1, vm.memory // MIB))
    return perform(ctx, Migrate(ctx, oplog, vm_id, spec, placement, source, wanted))


class Migrate:
    """Destination chosen (claimed) → ports bound to it → the VM created there → verified → off its source."""

    def __init__(
        self,
        ctx: EngineContext,
        log: OperationLog,
        vm_id: str,
        spec: wire.VmSpec,
        placement: Placement,
        source: model.Host,
        wanted: model.Host | None,
    ) -> None:
        self.ctx, self.log, self.vm_id, self.spec, self.placement = ctx, log, vm_id, spec, placement
        self.source, self.wanted = source, wanted
        self.dest: model.Host | None = None
        self.on_dest = False  # from the create-VM call on, the destination may hold the VM
        self.nic_specs: list[wire.NicSpec] = []
        self.reported: wire.VmState | None = None  # the destination's answer to create-VM: its report
        self.warning = ""

    def steps(self) -> Iterator[Step]:
        yield Step(StepName.CLAIMED, self._choose)
        yield Step(StepName.PORTS, self._ports, on_enter=self._destination)
        yield Step(StepName.ON_HOST, self._create)
        yield Step(StepName.VERIFIED, self._verify, write_ahead=False)
        yield Step(StepName.SOURCE_OFF, self._source_off)

    def _choose(self) -> None:
        resolve(self.ctx, self.placement, "migrate")
        wanted = self.wanted
        with self.ctx.reader() as uow:
            self.dest = choose_host(
                uow, self.placement, "migrate", prefer=wanted.id if wanted else None, exclude=self.source.id
            )
        if wanted is not None and self.dest.id != wanted.id:
            raise Conflict(f"Cannot migrate VM. Host {wanted.name} cannot run it.")

    def _destination(self, uow: UnitOfWork, op: Operation) -> None:
        assert self.dest is not None
        vm = get_or_404(uow.vms, self.vm_id, "VM")  # read before anything changes: one flush, at the commit
        op.target_host_id = self.dest.id
        events.emit(
            uow,
            AuditType.VM_MIGRATION_START,
            f"Migration started (VM: {vm.name}, Source: {self.source.name}, Destination: {self.dest.name}, User: {events.actor()}).",
            vm=vm,
            host=self.source,
        )

    def _ports(self) -> None:
        assert self.dest is not None
        self.nic_specs = provision_ports(self.ctx, self.placement, self.dest, self.log.op_id, "migrate")

    def _create(self) -> None:
        assert self.dest is not None
        self.on_dest = True
        self.reported = self.ctx.agent_client(self.dest).create_vm(
            self.spec.model_copy(update={"nics": self.nic_specs})
        )

    def _verify(self) -> None:
        verify_report(self.reported, self.placement, self.nic_specs, "migrate")

    def _source_off(self) -> None:
        try:
            self.ctx.agent_client(self.source).destroy_vm(self.vm_id)
        except EngineError as exc:
            self.warning = f" The source host could not remove it: {exc.message}"

    def finish(self) -> model.Vm:
        assert self.dest is not None
        return finish_migration(
            self.ctx, self.log, self.vm_id, self.placement, self.source, self.dest, self.warning
        )

    def undo(self, error: str) -> None:
        undo_migration(
            self.ctx,
            self.log,
            self.vm_id,
            self.placement,
            self.source,
            self.dest if self.on_dest else None,
            error,
        )

    def failure(self, error: str) -> EngineError:
        return HostFailure(f"Cannot migrate VM. {error}")


def finish_migration(
    ctx: EngineContext,
    oplog: OperationLog,
    vm_id: str,
    placement: Placement,
    source: model.Host,
    dest: model.Host,
    warning: str = "",
) -> model.Vm:
    with ctx.uow() as uow:
        vm = get_or_404(uow.vms, vm_id, "VM")
        vm.status, vm.host_id = VmStatus.UP, dest.id
        settle_nics(
            uow, vm.id, oplog.op_id, {p.nic_id for p in placement.nics}, f"migrated to host {dest.name}"
        )
        severity = model.EventSeverity.WARNING if warning else None
        events.emit(
            uow,
            AuditType.VM_MIGRATION_DONE,
            f"Migration completed (VM: {vm.name}, Source: {source.name}, Destination: {dest.name}).{warning}",
            severity=severity,
            vm=vm,
            host=dest,
        )
        oplog.close(uow, OperationState.DONE)
        uow.commit()
        return vm


def undo_migration(
    ctx: EngineContext,
    oplog: OperationLog,
    vm_id: str,
    placement: Placement,
    source: model.Host,
    dest: model.Host | None,
    error: str,
) -> None:
    """The VM keeps running on the source: off the destination, ports bound back to the source."""
    if dest is not None:
        try:
            ctx.agent_client(dest).destroy_vm(vm_id)
        except EngineError as exc:
            log.warning("migration undo: cannot remove VM %s from %s: %s", vm_id, dest.name, exc.message)
    if oplog.step != StepName.CLAIMED:  # the ports were (being) rebound: back to the source
        try:
            provision_ports(ctx, placement, source, oplog.op_id, "migrate")
        except EngineError as exc:
            log.warning(
                "migration undo: cannot rebind the ports of VM %s to %s: %s", vm_id, source.name, exc.message
            )
    with ctx.uow() as uow:
        vm = uow.vms.get(vm_id)
        oplog.close(uow, OperationState.UNDONE, error)
        if vm is None:
            uow.commit()
            return
        vm.status = VmStatus.UP
        settle_nics(
            uow,
            vm.id,
            oplog.op_id,
            {p.nic_id for p in placement.nics},
            f"migration failed; still on host {source.name}",
        )
        events.emit(
            uow,
            AuditType.VM_MIGRATION_FAILED,
            f"Migration failed: {error} (VM: {vm.name}, Source: {source.name}).",
            vm=vm,
            host=source,
        )
        uow.commit()
