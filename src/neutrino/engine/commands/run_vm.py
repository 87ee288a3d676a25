"""Run and stop VMs on hosts (DESIGN §2): validate, schedule, find or create each external vNIC's port, have
the host agent create the VM, and call it Up only once the agent's list-VMs reports every plugged vNIC with the
port, plugin type, MAC and groups the engine sent.

Any failure undoes what the run created (its new ports, the VM on the host); the VM ends Down and the error names
the vNIC and the cause. Ports survive VM stop (oVirt 3.3.1 and later). ``converge`` finishes or undoes whatever
a killed engine left in flight.
"""

from __future__ import annotations

import logging

from neutrino.engine.commands import events, ports
from neutrino.engine.commands.common import EngineContext, get_or_404
from neutrino.engine.commands.placement import (
    MIB,
    NicPlan,
    Placement,
    binding_host,
    check_reported,
    choose_host,
    nic_spec,
    plan_vm,
    reported_nics,
    resolve,
)
from neutrino.engine.domain import model
from neutrino.engine.domain.errors import Conflict, EngineError, HostFailure, reworded
from neutrino.engine.domain.model import (
    EVENT_VM,
    TRANSIENT_VM_STATUSES,
    HostStatus,
    NicState,
    VmStatus,
    new_id,
    utcnow,
)
from neutrino.engine.store.uow import UnitOfWork

log = logging.getLogger(__name__)
TYPE = "VM"


def _status_name(status: VmStatus) -> str:
    return {
        "wait_for_launch": "WaitForLaunch",
        "powering_up": "PoweringUp",
        "powering_down": "PoweringDown",
        "not_responding": "NotResponding",
        "image_locked": "ImageLocked",
    }.get(status.value, status.value.title())


def run_vm(ctx: EngineContext, vm_id: str) -> model.Vm:
    op = new_id()
    with ctx.uow() as uow:
        vm = uow.vms.lock(vm_id) or get_or_404(uow.vms, vm_id, TYPE)
        if vm.is_running:
            raise Conflict(f"Cannot run VM because the VM is in {_status_name(vm.status)} status.")
        placement = plan_vm(uow, vm)
        vm.status, vm.operation_id = VmStatus.WAIT_FOR_LAUNCH, op
        for nic in uow.nics.list(vm_id=vm.id):
            if any(p.nic_id == nic.id for p in placement.nics):
                ports.begin(nic)
        uow.commit()
    host: model.Host | None = None
    on_host = False
    try:
        resolve(ctx, placement)
        with ctx.uow() as uow:
            host = choose_host(uow, placement, "run")
            vm = get_or_404(uow.vms, vm_id, TYPE)
            vm.host_id = host.id
            uow.commit()
        specs = provision_ports(ctx, placement, host, op, "run")
        _set_status(ctx, vm_id, VmStatus.POWERING_UP)
        client = ctx.agent_client(host)
        on_host = True
        try:
            client.create_vm(
                {"vm_id": vm_id, "name": vm.name, "memory_mb": max(1, vm.memory // MIB), "nics": specs}
            )
            verify_on_host(client, vm_id, placement, specs, "run")
        except HostFailure as exc:
            if exc.message.startswith("Cannot run VM."):
                raise
            raise HostFailure(f"Cannot run VM. {exc.message}") from exc
    except Exception as exc:  # whatever went wrong, the run is undone and the user gets a clear fault
        error = exc.message if isinstance(exc, EngineError) else f"internal error: {exc}"
        undo_run(ctx, vm_id, op, host if on_host else None, error)
        if isinstance(exc, EngineError):
            raise
        raise HostFailure(f"Cannot run VM. {error}") from exc
    return _finish_run(ctx, vm_id, op, host)


def provision_ports(
    ctx: EngineContext, placement: Placement, host: model.Host, op: str, action: str
) -> list[dict[str, object]]:
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
    client: object, vm_id: str, placement: Placement, specs: list[dict[str, object]], action: str
) -> None:
    """The agent's list-VMs must report each vNIC plugged as sent; else HostFailure naming the vNIC."""
    listed = {str(v.get("vm_id")): v for v in client.list_vms()}  # type: ignore[attr-defined]
    reported = reported_nics(listed.get(vm_id))
    if vm_id not in listed:
        raise HostFailure(f"Cannot {action} VM. The host does not report the VM after creating it.")
    for plan, spec in zip(placement.nics, specs, strict=True):
        why = check_reported(reported.get(plan.nic_id), spec)
        if why is not None:
            raise HostFailure(f"Cannot {action} VM. vNIC {plan.name}: {why}.")


def _finish_run(ctx: EngineContext, vm_id: str, op: str, host: model.Host) -> model.Vm:
    with ctx.uow() as uow:
        vm = get_or_404(uow.vms, vm_id, TYPE)
        vm.status, vm.start_time, vm.operation_id = VmStatus.UP, utcnow(), None
        settle_nics(uow, vm.id, op, None, f"on host {host.name}")
        events.record(
            uow, f"VM {vm.name} started on Host {host.name}", code=EVENT_VM, cluster_id=vm.cluster_id
        )
        uow.commit()
        return vm


def settle_nics(uow: UnitOfWork, vm_id: str, op: str, plugged: set[str] | None, detail: str) -> None:
    """The operation ``op`` succeeded: the ports it created are the vNICs' for good, and the vNICs it plugged
    (``plugged``; None: every plugged vNIC with a profile) say so."""
    for nic in uow.nics.list(vm_id=vm_id):
        if nic.port_created_by == op:
            nic.port_created_by = None
        if (nic.id in plugged) if plugged is not None else (nic.plugged and nic.vnic_profile_id is not None):
            ports.step(nic, "plugged", detail, NicState.PLUGGED)


def _set_status(ctx: EngineContext, vm_id: str, status: VmStatus) -> None:
    with ctx.uow() as uow:
        vm = get_or_404(uow.vms, vm_id, TYPE)
        vm.status = status
        uow.commit()


def undo_run(ctx: EngineContext, vm_id: str, op: str, host: model.Host | None, error: str) -> None:
    """Undo a failed (or abandoned) run: the VM off the host, the ports the run created deleted, the VM Down."""
    warnings = []
    if host is not None:
        try:
            ctx.agent_client(host).destroy_vm(vm_id)
        except EngineError as exc:
            warnings.append(exc.message)
    created = _ports_created_unrecorded(ctx, vm_id, op)
    orphans = []
    with ctx.uow() as uow:
        vm = uow.vms.get(vm_id)
        if vm is None:
            return
        vm.status, vm.host_id, vm.operation_id, vm.migrating_to_host_id = VmStatus.DOWN, None, None, None
        for nic in uow.nics.list(vm_id=vm.id):
            if nic.id in created and nic.port_id is None:
                nic.port_id = created[nic.id]
        for nic in uow.nics.list(vm_id=vm.id):
            if nic.port_created_by == op:
                orphan = ports.release(uow, nic, "the run that created it failed")
                if orphan is not None:
                    orphans.append(orphan.id)
                nic.port_created_by = None
            if ports.nic_state(nic) in (NicState.PREPARING, NicState.PORT_READY, NicState.PLUGGED):
                ports.step(nic, "rolled back", error, NicState.UNPLUGGED)
        detail = f" ({'; '.join(warnings)})" if warnings else ""
        events.record(
            uow,
            f"Failed to run VM {vm.name}: {error}{detail}",
            model.EventSeverity.ERROR,
            EVENT_VM,
            cluster_id=vm.cluster_id,
        )
        uow.commit()
    ports.reap(ctx, orphans)


def _ports_created_unrecorded(ctx: EngineContext, vm_id: str, op: str) -> dict[str, str]:
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


def stop_vm(ctx: EngineContext, vm_id: str, action: str = "stop") -> model.Vm:
    """Power the VM off on its host. Its vNICs' ports stay (oVirt 3.3.1+); only the devices go."""
    with ctx.uow() as uow:
        vm = uow.vms.lock(vm_id) or get_or_404(uow.vms, vm_id, TYPE)
        if not vm.is_running:
            return vm  # as oVirt: stopping a VM that is down succeeds and changes nothing
        if vm.operation_id is not None:
            raise Conflict(f"Cannot {action} VM because the VM is in {_status_name(vm.status)} status.")
        host = uow.hosts.get(vm.host_id) if vm.host_id else None
        before = vm.status
        vm.status = VmStatus.POWERING_DOWN
        uow.commit()
    warning = ""
    if host is not None:
        try:
            ctx.agent_client(host).destroy_vm(vm_id)
        except HostFailure as exc:
            if host.status == HostStatus.UP:
                _set_status(ctx, vm_id, before)
                raise HostFailure(f"Cannot {action} VM. {exc.message}") from exc
            warning = f" Host {host.name} is not responding ({exc.message}); the VM is considered down."
    with ctx.uow() as uow:
        vm = get_or_404(uow.vms, vm_id, TYPE)
        vm.status, vm.stop_time, vm.host_id = VmStatus.DOWN, utcnow(), None
        for nic in uow.nics.list(vm_id=vm.id):
            if ports.nic_state(nic) in (NicState.PLUGGED, NicState.PORT_READY):
                ports.step(nic, "unplugged", "the VM stopped; its port is kept", NicState.UNPLUGGED)
        events.record(
            uow,
            f"VM {vm.name} is down.{warning}",
            model.EventSeverity.WARNING if warning else model.EventSeverity.NORMAL,
            EVENT_VM,
            cluster_id=vm.cluster_id,
        )
        uow.commit()
        return vm


# --- convergence after a crash ----------------------------------------------------------------------------


def converge(ctx: EngineContext) -> int:
    """Finish or undo what was in flight when the engine stopped: no VM stays in a transient state, no port the
    run created stays without a running VM, no vNIC is believed plugged that is not. Returns the VMs touched."""
    with ctx.reader() as uow:
        stuck = [vm.id for vm in uow.vms.list() if vm.operation_id or vm.status in TRANSIENT_VM_STATUSES]
    for vm_id in stuck:
        try:
            _converge_vm(ctx, vm_id)
        except Exception:
            log.exception("converging VM %s failed", vm_id)
    return len(stuck)


def _converge_vm(ctx: EngineContext, vm_id: str) -> None:
    """What was in flight, told by what the store holds: a migration (a destination is set), a NIC operation on
    an Up VM (hot plug or unplug), a stop (PoweringDown), or a run."""
    with ctx.reader() as uow:
        vm = uow.vms.get(vm_id)
        if vm is None:
            return
        host = uow.hosts.get(vm.host_id) if vm.host_id else None
        target = uow.hosts.get(vm.migrating_to_host_id) if vm.migrating_to_host_id else None
        op, status = vm.operation_id or "", vm.status
        try:
            placement = plan_vm(uow, vm, "run") if host is not None else None
        except EngineError as exc:  # e.g. its network left the provider meanwhile: nothing can be finished
            log.warning("converge: VM %s cannot be planned again: %s", vm_id, exc.message)
            placement = None
    if target is not None and host is not None and placement is not None:
        _converge_migration(ctx, vm_id, op, host, target, placement)
        return
    report = _ask(ctx, host, vm_id)
    if status == VmStatus.POWERING_DOWN and host is not None:
        _converge_stop(ctx, vm_id, host)
        return
    if status == VmStatus.UP and host is not None and report is not None:
        _converge_nics(ctx, vm_id, op, host, report)
        return
    if host is not None and placement is not None and report is not None and _complete(report, placement):
        _finish_run(ctx, vm_id, op, host)
        _note(ctx, vm_id, f"the VM runs on {host.name} as intended")
        return
    undo_run(
        ctx,
        vm_id,
        op,
        host if report is not None else None,
        "the engine stopped before the operation finished",
    )


def _ask(ctx: EngineContext, host: model.Host | None, vm_id: str) -> dict[str, object] | None:
    if host is None:
        return None
    try:
        return ctx.agent_client(host).get_vm(vm_id)
    except EngineError as exc:
        log.warning("converge: cannot ask host %s about VM %s: %s", host.name, vm_id, exc.message)
        return None


def _note(ctx: EngineContext, vm_id: str, what: str) -> None:
    with ctx.uow() as uow:
        vm = uow.vms.get(vm_id)
        if vm is not None:
            vm.migrating_to_host_id = vm.operation_id = None
            events.record(
                uow,
                f"VM {vm.name}: the engine restarted during an operation; {what}.",
                code=EVENT_VM,
                cluster_id=vm.cluster_id,
            )
        uow.commit()


def _converge_migration(
    ctx: EngineContext, vm_id: str, op: str, source: model.Host, target: model.Host, placement: Placement
) -> None:
    """Finish a migration that reached its destination; else the VM stays on its source, ports bound back."""
    report = _ask(ctx, target, vm_id)
    if report is not None and _complete(report, placement):
        try:
            ctx.agent_client(source).destroy_vm(vm_id)
        except EngineError as exc:
            log.warning("converge: cannot remove VM %s from %s: %s", vm_id, source.name, exc.message)
        with ctx.uow() as uow:
            vm = get_or_404(uow.vms, vm_id, TYPE)
            vm.status, vm.host_id = VmStatus.UP, target.id
            settle_nics(uow, vm_id, op, {p.nic_id for p in placement.nics}, f"migrated to host {target.name}")
            uow.commit()
        _note(ctx, vm_id, f"its migration to {target.name} is complete")
        return
    try:
        ctx.agent_client(target).destroy_vm(vm_id)
    except EngineError as exc:
        log.warning("converge: cannot remove VM %s from %s: %s", vm_id, target.name, exc.message)
    try:
        provision_ports(ctx, placement, source, op, "migrate")  # bound back to the source
    except EngineError as exc:
        log.warning(
            "converge: cannot bind the ports of VM %s back to %s: %s", vm_id, source.name, exc.message
        )
    if _ask(ctx, source, vm_id) is None:
        undo_run(ctx, vm_id, op, None, "the engine stopped during a migration and the VM runs nowhere")
        return
    with ctx.uow() as uow:
        vm = get_or_404(uow.vms, vm_id, TYPE)
        vm.status = VmStatus.UP
        settle_nics(uow, vm_id, op, {p.nic_id for p in placement.nics}, f"still on host {source.name}")
        uow.commit()
    _note(ctx, vm_id, f"its migration did not finish; it stays on {source.name}")


def _converge_stop(ctx: EngineContext, vm_id: str, host: model.Host) -> None:
    try:
        ctx.agent_client(host).destroy_vm(vm_id)
    except EngineError as exc:
        log.warning("converge: cannot finish stopping VM %s on %s: %s", vm_id, host.name, exc.message)
        return  # the next start of the engine tries again
    with ctx.uow() as uow:
        vm = get_or_404(uow.vms, vm_id, TYPE)
        vm.status, vm.stop_time, vm.host_id = VmStatus.DOWN, utcnow(), None
        for nic in uow.nics.list(vm_id=vm_id):
            if ports.nic_state(nic) in (NicState.PLUGGED, NicState.PORT_READY):
                ports.step(nic, "unplugged", "the VM stopped; its port is kept", NicState.UNPLUGGED)
        uow.commit()
    _note(ctx, vm_id, "its stop is finished")


def _converge_nics(
    ctx: EngineContext, vm_id: str, op: str, host: model.Host, report: dict[str, object]
) -> None:
    """A hot plug or unplug was in flight on a running VM: each vNIC ends as the host has it — one the host
    does not have is unplugged (its port released if the operation made it), one the engine unplugged is taken
    out of the host (or, if that fails, plugged again in the engine)."""
    on_host = reported_nics(report)
    client = ctx.agent_client(host)
    unplug_failed: set[str] = set()
    with ctx.reader() as uow:
        wanted_off = [n.id for n in uow.nics.list(vm_id=vm_id) if not n.plugged and n.id in on_host]
    for nic_id in wanted_off:
        try:
            client.hotunplug_nic(vm_id, nic_id)
        except EngineError:
            unplug_failed.add(nic_id)
    released = _ports_created_unrecorded(ctx, vm_id, op)
    orphans = []
    with ctx.uow() as uow:
        for nic in uow.nics.list(vm_id=vm_id):
            if nic.id in unplug_failed:
                nic.plugged = True
            elif nic.plugged and nic.vnic_profile_id and nic.id not in on_host:
                nic.plugged = False
                if nic.port_created_by == op:
                    nic.port_id = nic.port_id or released.get(nic.id)
                    orphan = ports.release(uow, nic, "the hot plug that created it did not finish")
                    orphans += [orphan.id] if orphan else []
                ports.fail(nic, "the engine stopped before the hot plug finished")
            elif not nic.plugged and ports.nic_state(nic) == NicState.PLUGGED:
                ports.step(nic, "unplugged", f"hot unplugged from host {host.name}", NicState.UNPLUGGED)
            if nic.port_created_by == op:
                nic.port_created_by = None
        uow.commit()
    ports.reap(ctx, orphans)
    _note(ctx, vm_id, "its vNICs are as its host has them")


def _complete(report: dict[str, object], placement: Placement) -> bool:
    nics = reported_nics(report)
    return report.get("status") == "Up" and all(
        _plugged_as_planned(nics.get(p.nic_id), p) for p in placement.nics
    )


def _plugged_as_planned(state: dict[str, object] | None, plan: NicPlan) -> bool:
    return state is not None and state.get("state") == "plugged"


def release_vm_ports(uow: UnitOfWork, vm_id: str, reason: str) -> list[str]:
    """Release every port of a VM's vNICs (the VM or its NICs are going); returns the orphan row ids to reap."""
    found = []
    for nic in uow.nics.list(vm_id=vm_id):
        orphan = ports.release(uow, nic, reason)
        if orphan is not None:
            found.append(orphan.id)
    return found
