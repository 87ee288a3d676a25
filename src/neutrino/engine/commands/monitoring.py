"""Host monitoring: read each host agent's capabilities (Up / NonResponsive), keep the internal networks of its
cluster set up on it, and notice VMs that are no longer where the engine believes they run.

``refresh_host`` runs when a host is added, when its cluster's networks change, and every monitor interval.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from neutrino.agent_api import schema as wire
from neutrino.engine.commands import events
from neutrino.engine.commands.common import EngineContext
from neutrino.engine.commands.converge import converge_host
from neutrino.engine.commands.ports import step
from neutrino.engine.domain import model
from neutrino.engine.domain.audit import AuditType
from neutrino.engine.domain.errors import EngineError, HostFailure
from neutrino.engine.domain.model import (
    HostStatus,
    NicState,
    VmStatus,
    bridge_name,
    utcnow,
)
from neutrino.engine.hosts.agent_client import HostAgent
from neutrino.engine.store.uow import UnitOfWork

log = logging.getLogger(__name__)


def internal_networks_for(uow: UnitOfWork, cluster_id: str) -> list[wire.NetworkSyncItem]:
    """The internal (non-external) VM networks attached to a cluster: what each of its hosts must carry."""
    wanted = []
    attached = {a.network_id for a in uow.attachments.list(cluster_id=cluster_id)}
    for network in uow.networks.by_ids(attached).values():
        if network.is_external or not network.is_vm_network:
            continue
        bridge = bridge_name(network)
        wanted.append(
            wire.NetworkSyncItem(
                network=network.name,
                bridge=bridge if bridge != network.name else None,
                mtu=network.mtu or None,
            )
        )
    return sorted(wanted, key=lambda n: n.network)


def refresh_host(ctx: EngineContext, host_id: str, sync_networks: bool = False) -> model.Host | None:
    """Talk to the host's agent: capabilities, the cluster's internal networks, and the VMs it runs."""
    with ctx.reader() as uow:
        host = uow.hosts.get(host_id)
        if host is None:
            return None
        wanted = internal_networks_for(uow, host.cluster_id)
    try:
        client = ctx.agent_client(host)
        caps = client.capabilities()
        carried = {n.network for n in caps.networks.internal}
        if sync_networks or carried != {n.network for n in wanted}:
            client.sync_networks(wanted)
            caps = client.capabilities()
        if caps.certificate is not None and caps.certificate.renewal_due:
            _renew_certificate(ctx, host, caps.certificate)
        running = {vm.vm_id for vm in client.list_vms()}
        gone, strays = _disagreements(ctx, client, host, running)
    except EngineError as exc:
        return _mark(ctx, host_id, None, set(), exc.message)
    for vm_id in strays:
        _remove_stray(ctx, client, host, vm_id)
    marked = _mark(ctx, host_id, caps.model_dump(mode="json"), gone, "")
    converge_host(ctx, host_id)  # operations that waited for this agent to answer again
    return marked


def _renew_certificate(ctx: EngineContext, host: model.Host, old: wire.CertificateState) -> None:
    """The agent asks for a new certificate (the engine's expires soon): the CA signs its key again for the
    host's address, sent over the mutual-TLS channel. Refused or failed, the agent keeps serving the old one
    (still valid), so the host stays as it is; a pass ``ctx.cert_renewal_retry`` seconds
    after the failure tries again."""
    with ctx.reader() as uow:
        failed = uow.events.last_time(AuditType.HOST_CERTIFICATE_RENEWAL_FAILED, host.id)
    if failed is not None and utcnow() - failed < timedelta(seconds=ctx.cert_renewal_retry):
        return
    try:
        ctx.enroll_agent(host, renew=True)
    except EngineError as exc:
        log.warning("host %s: certificate renewal failed: %s", host.name, exc.message)
        kind = AuditType.HOST_CERTIFICATE_RENEWAL_FAILED
        text = (
            f"Failed to renew the certificate of host {host.name} (it expires {old.not_after:%Y-%m-%d %H:%M} UTC): "
            f"{exc.message.rstrip('.')}."
        )
    else:
        log.warning("host %s: certificate renewed (the old one, serial %s, expires %s)",
                    host.name, old.serial_number, old.not_after.isoformat())  # fmt: skip
        kind = AuditType.HOST_CERTIFICATE_RENEWED
        text = f"The certificate of host {host.name} was renewed (the old one expires {old.not_after:%Y-%m-%d %H:%M} UTC)."
    with ctx.uow() as uow:
        events.emit(uow, kind, text, host=host)
        uow.commit()


def mark_unreachable(ctx: EngineContext, host_id: str, error: str) -> model.Host | None:
    """The host's agent could not be dealt with (e.g. its certificate enrollment failed): as if it did not
    answer, with ``error`` as the reason."""
    return _mark(ctx, host_id, None, set(), error)


def _disagreements(
    ctx: EngineContext, client: HostAgent, host: model.Host, running: set[str]
) -> tuple[set[str], set[str]]:
    """VMs the engine believes Up here that the agent does not run (asked again one by one, after the store was
    read: a run that just finished is not mistaken for a crash), and VMs of this engine the agent runs that the
    engine believes Down or elsewhere, with nothing in flight (e.g. a create-VM that landed after its run was
    undone, or an agent that came back with old state). VMs the engine does not know are left alone: they are
    someone else's (oVirt calls them external VMs)."""
    with ctx.reader() as uow:
        up_here = {
            vm.id for vm in uow.vms.list(host_id=host.id, status=VmStatus.UP) if vm.operation_id is None
        }
        known = uow.vms.by_ids(running)
        strays = {vm.id for vm in known.values() if _not_here(vm, host.id)}
    gone = {vm_id for vm_id in up_here - running if client.get_vm(vm_id) is None}
    return gone, strays


def _not_here(vm: model.Vm, host_id: str) -> bool:
    return (
        vm.operation_id is None
        and vm.host_id != host_id
        and (vm.status == VmStatus.DOWN or vm.host_id is not None)
    )


def _remove_stray(ctx: EngineContext, client: HostAgent, host: model.Host, vm_id: str) -> None:
    with ctx.reader() as uow:  # once more, right before acting: a run may have started meanwhile
        vm = uow.vms.get(vm_id)
        if vm is None or not _not_here(vm, host.id):
            return
        name = vm.name
    try:
        client.destroy_vm(vm_id)
    except EngineError as exc:
        log.warning("cannot remove VM %s from host %s: %s", name, host.name, exc.message)
        return
    with ctx.uow() as uow:
        events.emit(
            uow,
            AuditType.VM_STRAY_POWERED_OFF,
            f"VM {name} was running on host {host.name} although it is not supposed to run there; it was powered off there.",
            host=host,
            vm=uow.vms.get(vm_id),
        )
        uow.commit()


def _mark(
    ctx: EngineContext, host_id: str, caps: dict[str, Any] | None, gone: set[str], error: str
) -> model.Host | None:
    with ctx.uow() as uow:
        host = uow.hosts.get(host_id)
        if host is None:
            return None
        before = host.status
        if (
            before == HostStatus.MAINTENANCE
        ):  # the user's choice holds until activate; what it can do is noted
            if caps is not None:
                host.capabilities, host.last_seen = caps, utcnow()
        elif caps is None:
            host.status, host.status_detail = HostStatus.NON_RESPONSIVE, error
            if before != HostStatus.NON_RESPONSIVE:
                events.emit(
                    uow, AuditType.VDS_FAILURE, f"Host {host.name} is non responsive: {error}", host=host
                )
        else:
            host.capabilities, host.last_seen = caps, utcnow()
            host.status, host.status_detail = HostStatus.UP, ""
            if before != HostStatus.UP:
                events.emit(
                    uow, AuditType.VDS_DETECTED, f"Status of host {host.name} was set to Up.", host=host
                )
        _mark_down(uow, host, gone)
        uow.commit()
        return host


def _mark_down(uow: UnitOfWork, host: model.Host, gone: set[str]) -> None:
    """VMs the host's agent no longer runs went down (they crashed, or the host restarted without its state):
    Down, their vNICs unplugged (their ports stay, as on any stop)."""
    for vm in uow.vms.by_ids(gone).values():
        if vm.host_id != host.id or vm.status != VmStatus.UP or vm.operation_id is not None:
            continue  # it changed since the agent was asked
        vm.status, vm.host_id, vm.stop_time = VmStatus.DOWN, None, utcnow()
        for nic in uow.nics.list(vm_id=vm.id):
            if nic.provisioning.state == NicState.PLUGGED:
                step(nic, "unplugged", f"the VM is no longer running on host {host.name}", NicState.UNPLUGGED)
        events.emit(
            uow,
            AuditType.VM_DOWN_ERROR,
            f"VM {vm.name} is down with error: host {host.name} no longer runs it.",
            vm=vm,
            host=host,
        )


def monitor_all(ctx: EngineContext) -> None:
    with ctx.reader() as uow:
        ids = [h.id for h in uow.hosts.list()]
    for host_id in ids:
        try:
            refresh_host(ctx, host_id)
        except Exception:  # one broken host must not stop the others' monitoring
            log.exception("monitoring host %s failed", host_id)
    try:
        refresh_port_status(ctx)
    except Exception:
        log.exception("reading port statuses failed")


def refresh_port_status(ctx: EngineContext) -> int:
    """Show each vNIC's port status as its provider reports it (ACTIVE/DOWN): one port list per provider.

    The status is shown, never acted on: a real Neutron without agents never marks a port ACTIVE."""
    with ctx.reader() as uow:
        provider_ids = {n.port_provider_id for n in uow.nics.with_ports()}
        providers = uow.providers.by_ids(p for p in provider_ids if p)
    statuses: dict[str, str | None] = {}
    for provider in providers.values():
        try:
            statuses.update({p.id: p.status for p in ctx.provider_client(provider).list_ports()})
        except EngineError as exc:
            log.info("port statuses: provider %s not reachable: %s", provider.name, exc.message)
    changed = 0
    with ctx.uow() as uow:
        for nic in uow.nics.list(port_id=list(statuses)) if statuses else []:
            status = statuses.get(nic.port_id or "")
            if nic.provisioning.provider_status != status:
                nic.provisioning = nic.provisioning.with_provider_status(status)
                changed += 1
        uow.commit()
    return changed


def sync_cluster_hosts(ctx: EngineContext, cluster_id: str) -> None:
    """The cluster's networks changed: bring each of its hosts in line now (failures show on the host)."""
    with ctx.reader() as uow:
        ids = [h.id for h in uow.hosts.list(cluster_id=cluster_id)]
    for host_id in ids:
        refresh_host(ctx, host_id, sync_networks=True)


def agent_or_fail(ctx: EngineContext, host: model.Host) -> HostAgent:
    if not host.agent_token and not host.address:
        raise HostFailure(f"Host {host.name} has no agent connection.")
    return ctx.agent_client(host)
