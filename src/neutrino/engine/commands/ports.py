"""Provider ports of vNICs on external networks: find or create them, record every step on the vNIC, and
release them — never blocking on a provider that is down.

A port belongs to a vNIC through ``device_id`` = the vNIC's id and ``device_owner`` = ``oVirt``, so finding it
again after a crash is one query. Releasing a port writes an orphan row in the same transaction that changes
the vNIC (the intent), then tries to delete it; what the provider does not take now, the janitor deletes later.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from neutrino.engine.commands import events
from neutrino.engine.commands.common import EngineContext
from neutrino.engine.domain import model
from neutrino.engine.domain.audit import AuditType
from neutrino.engine.domain.errors import BadRequest, EngineError, ProviderFailure
from neutrino.engine.domain.model import NicState, utcnow
from neutrino.engine.provider_clients.base import (
    DEVICE_OWNER,
    NetworkProvider,
    PortRequest,
    ProviderPort,
)
from neutrino.engine.store.uow import UnitOfWork

log = logging.getLogger(__name__)

SECURITY_GROUPS_PROPERTY = "SecurityGroups"
PORT_SECURITY_PROPERTY = "PortSecurity"


def security_groups_of(profile: model.VnicProfile | None) -> tuple[str, ...] | None:
    """The profile's ``SecurityGroups``: absent -> None (the provider's default), empty -> (), else the ids."""
    if profile is None or SECURITY_GROUPS_PROPERTY not in profile.custom_properties:
        return None
    raw = profile.custom_properties[SECURITY_GROUPS_PROPERTY] or ""
    return tuple(g.strip() for g in raw.split(",") if g.strip())


def port_security_of(profile: model.VnicProfile | None) -> bool | None:
    """The profile's ``PortSecurity``: absent or empty -> None (the network's default), else true/false."""
    if profile is None:
        return None
    raw = (profile.custom_properties.get(PORT_SECURITY_PROPERTY) or "").strip().lower()
    return None if not raw else raw == "true"


# --- provisioning record on the vNIC ------------------------------------------------------------------


def step(
    nic: model.VmNic,
    name: str,
    detail: str = "",
    state: NicState | None = None,
    at: datetime | None = None,
    **fields: str | None,
) -> None:
    """Record a provisioning step on ``nic`` (moving it to ``state`` if given: an illegal move raises)."""
    nic.provisioning = nic.provisioning.with_step(name, detail, at or utcnow(), state, **fields)


def fail(nic: model.VmNic, error: str) -> None:
    step(nic, "failed", error, NicState.FAILED, last_error=error)


def begin(nic: model.VmNic) -> None:
    """A new attempt: the steps of the previous one are replaced."""
    nic.provisioning = nic.provisioning.begin()


def nic_state(nic: model.VmNic) -> NicState:
    return nic.provisioning.state


# --- the port of one vNIC -----------------------------------------------------------------------------


@dataclass
class PortPlan:
    """What one external vNIC needs from its provider."""

    nic_id: str
    nic_name: str
    mac: str
    provider: model.ExternalProvider
    network: model.Network  # the engine's external network
    security_groups: tuple[str, ...] | None
    plugin_type: str
    #: the profile's PortSecurity (None: the network's default)
    port_security: bool | None = None


@dataclass
class EnsuredPort:
    port: ProviderPort
    created: bool
    binding_refused: bool


def ensure_port(
    ctx: EngineContext, client: NetworkProvider, plan: PortPlan, host_id: str | None, operation_id: str
) -> EnsuredPort:
    """Find the vNIC's port (device_id = vNIC id, device_owner oVirt), else create it; update what differs.

    Steps are recorded on the vNIC with the time each happened, committed at the points that matter (before a
    create: the intent; after it: the port), so a user or the UI watching the vNIC sees the run progress. A port
    this call creates is marked as created by ``operation_id`` until the operation ends, so a failure or a crash
    can delete it.
    """
    assert plan.network.provider_network_id is not None
    network_id = plan.network.provider_network_id
    pending: list[tuple[str, str, datetime]] = [
        ("looking up port", f"device_id={plan.nic_id} on {plan.provider.name}", utcnow())
    ]
    port = client.find_port(plan.nic_id)
    if port is not None and _is_orphan(ctx, plan.provider.id, port.id):
        # the engine gave this port up (e.g. a snapshot preview while the provider refused deletions) and the
        # vNIC wants it again: take it back before the janitor deletes it under the running VM
        _drop_orphan(ctx, plan.provider.id, port.id)
        pending.append(("port taken back", f"port {port.id} was waiting for the janitor", utcnow()))
    if port is not None and (port.network_id != network_id or port.mac_address != plan.mac.lower()):
        # the vNIC moved to another network or changed its MAC: its old port cannot serve it
        why = "network" if port.network_id != network_id else "MAC address"
        client.delete_port(port.id)
        _drop_orphan(ctx, plan.provider.id, port.id)
        pending.append(("stale port deleted", f"port {port.id} had another {why}", utcnow()))
        port = None
    request = PortRequest(
        network_id=network_id,
        mac_address=plan.mac.lower(),
        name=plan.nic_name,
        device_id=plan.nic_id,
        host_id=host_id,
        # no port security, no groups: said explicitly, so a port that had some loses them with it
        security_groups=() if plan.port_security is False else plan.security_groups,
        port_security=plan.port_security,
    )
    created = refused = False
    if port is None:
        with ctx.uow() as uow:  # the intent: a crash from here on leaves a port the convergence can find
            nic = uow.nics.get(plan.nic_id)
            if nic is not None:
                nic.port_provider_id, nic.port_network_id = plan.provider.id, network_id
                nic.port_created_by = operation_id
                for name, detail, at in pending:
                    step(nic, name, detail, at=at)
                step(nic, "creating port", f"on network {network_id}")
            uow.commit()
        pending = []
        result = client.create_port(request)
        port, created, refused = result.port, True, result.binding_refused
        name = "port created"
    else:
        differs = (
            (host_id and port.host_id != host_id)
            or (
                request.security_groups is not None
                and set(port.security_groups) != set(request.security_groups)
            )
            or (plan.port_security is not None and port.port_security_enabled != plan.port_security)
        )
        name = "port found"
        if differs:
            result = client.update_port(port.id, request)
            port, refused = result.port, result.binding_refused
            name = "port updated"
    with ctx.uow() as uow:  # at once: whatever fails next, the undo knows which port to delete
        nic = uow.nics.get(plan.nic_id)
        if nic is not None:
            for pending_name, detail, at in pending:
                step(nic, pending_name, detail, at=at)
            nic.port_provider_id, nic.port_id, nic.port_network_id = plan.provider.id, port.id, network_id
            if created:
                nic.port_created_by = operation_id
            ips = ", ".join(ip for _, ip in port.fixed_ips)
            step(
                nic,
                name,
                f"port {port.id}" + (f" ({ips})" if ips else ""),
                NicState.PORT_READY,
                port_id=port.id,
                provider_status=port.status,
                binding_host=port.host_id,
            )
            _bound(uow, nic, plan.provider, port, host_id, refused, name)
        uow.commit()
    return EnsuredPort(port, created, refused)


def _bound(
    uow: UnitOfWork,
    nic: model.VmNic,
    provider: model.ExternalProvider,
    port: ProviderPort,
    host_id: str | None,
    refused: bool,
    how: str,
) -> None:
    """The binding's step on the vNIC, and the audit event of a port created or updated (``how``)."""
    if refused:
        step(nic, "binding refused", "the provider's policy forbids binding:host_id; port left unbound")
    elif host_id:
        step(nic, "bound", f"binding:host_id={port.host_id or host_id}")
    if how == "port found":
        return
    created = how == "port created"
    vm = uow.vms.get(nic.vm_id)
    kind, did = (
        (AuditType.VNIC_PORT_CREATED, "created") if created else (AuditType.VNIC_PORT_REBOUND, "updated")
    )
    where = f"binding:host_id={port.host_id or 'none'}"
    events.emit(
        uow,
        kind,
        f"Port {port.id} of vNIC {nic.name} of VM {vm.name if vm else nic.vm_id} was {did} on provider {provider.name} ({where}).",
        vm=vm,
        provider=provider,
    )


def _is_orphan(ctx: EngineContext, provider_id: str, port_id: str) -> bool:
    with ctx.reader() as uow:
        return uow.orphan_ports.first(provider_id=provider_id, port_id=port_id) is not None


def _drop_orphan(ctx: EngineContext, provider_id: str, port_id: str) -> None:
    with ctx.uow() as uow:
        for orphan in uow.orphan_ports.list(provider_id=provider_id, port_id=port_id):
            uow.orphan_ports.delete(orphan)
        uow.commit()


def fail_nic(ctx: EngineContext, nic_id: str, error: str) -> None:
    """Record on the vNIC why the operation failed (its own transaction: it outlives the undo)."""
    with ctx.uow() as uow:
        nic = uow.nics.get(nic_id)
        if nic is not None:
            fail(nic, error)
            vm = uow.vms.get(nic.vm_id)
            events.emit(
                uow,
                AuditType.VNIC_PORT_FAILED,
                f"vNIC {nic.name} of VM {vm.name if vm else nic.vm_id} failed: {error}",
                vm=vm,
            )
            uow.commit()


# --- releasing ports -----------------------------------------------------------------------------------


def release(uow: UnitOfWork, nic: model.VmNic, reason: str) -> model.OrphanPort | None:
    """Give up ``nic``'s port: an orphan row (committed with the caller's change) the caller then reaps."""
    if not (nic.port_id and nic.port_provider_id):
        nic.forget_port()
        return None
    orphan = None
    if uow.orphan_ports.first(provider_id=nic.port_provider_id, port_id=nic.port_id) is None:
        orphan = uow.orphan_ports.add(
            model.OrphanPort(
                provider_id=nic.port_provider_id, port_id=nic.port_id, reason=reason, nic_id=nic.id
            )
        )
    nic.forget_port()
    if nic.provisioning:
        step(
            nic, "port released", reason, NicState.NONE, port_id=None, provider_status=None, binding_host=None
        )
    return orphan


def reap(ctx: EngineContext, orphan_ids: Iterable[str] | None = None) -> int:
    """Delete orphaned ports on their providers (all of them, or ``orphan_ids``); returns how many went.

    A provider that fails keeps its rows (attempts and last error recorded) for the next janitor run.
    """
    with ctx.reader() as uow:
        wanted = list(orphan_ids) if orphan_ids is not None else None
        if wanted is not None and not wanted:
            return 0
        orphans = list(
            uow.orphan_ports.list(order_by="since", **({"id": wanted} if wanted is not None else {}))
        )
        providers = uow.providers.by_ids(o.provider_id for o in orphans)
        # a port a vNIC holds again is nobody's orphan: its row goes, the port stays
        in_use = (
            {n.port_id for n in uow.nics.list(port_id=[o.port_id for o in orphans])} if orphans else set()
        )
        held = {o.id for o in orphans if o.port_id in in_use}
    if held:
        with ctx.uow() as uow:
            for orphan in uow.orphan_ports.list(id=list(held)):
                uow.orphan_ports.delete(orphan)
            uow.commit()
        orphans = [o for o in orphans if o.id not in held]
    done, failed = _delete_orphans(ctx, orphans, providers)
    if done or failed:
        with ctx.uow() as uow:
            for orphan in uow.orphan_ports.list(id=[*done, *failed]):
                provider = providers.get(orphan.provider_id)
                where = provider.name if provider else orphan.provider_id
                if orphan.id in done:
                    uow.orphan_ports.delete(orphan)
                    events.emit(
                        uow,
                        AuditType.VNIC_PORT_DELETED,
                        f"Port {orphan.port_id} was deleted from provider {where} ({orphan.reason}).",
                        provider=provider,
                    )
                else:
                    if not orphan.attempts:  # said once; the janitor keeps trying
                        events.emit(
                            uow,
                            AuditType.REMOVE_PORT_FROM_EXTERNAL_PROVIDER_FAILED,
                            f"Failed to remove port {orphan.port_id} from external network provider {where}: {failed[orphan.id]}. The janitor will retry.",
                            provider=provider,
                        )
                    orphan.attempts += 1
                    orphan.last_error = failed[orphan.id]
            uow.commit()
    return len(done)


def _delete_orphans(
    ctx: EngineContext, orphans: list[model.OrphanPort], providers: dict[str, model.ExternalProvider]
) -> tuple[list[str], dict[str, str]]:
    """Ask each orphan's provider to delete it: the orphan ids done, and the failed ones with the error. A
    provider that fails is not asked again this round."""
    done: list[str] = []
    failed: dict[str, str] = {}
    broken: dict[str, str] = {}  # provider id -> error: skip its other ports this round
    for orphan in orphans:
        provider = providers.get(orphan.provider_id)
        if provider is None:
            done.append(orphan.id)  # the provider itself is gone: nothing left to ask
            continue
        if orphan.provider_id in broken:
            failed[orphan.id] = broken[orphan.provider_id]
            continue
        if not _is_orphan(ctx, orphan.provider_id, orphan.port_id):
            continue  # taken back by its vNIC meanwhile
        try:
            ctx.provider_client(provider).delete_port(orphan.port_id)
            done.append(orphan.id)
        except EngineError as exc:
            failed[orphan.id] = exc.message
            if isinstance(exc, ProviderFailure):
                broken[orphan.provider_id] = exc.message
    return done, failed


def sweep(ctx: EngineContext) -> int:
    """The janitor's second half: ports with device_owner ``oVirt`` on each provider whose vNIC no longer
    exists (e.g. an engine crash between creating a port and recording it) are deleted. Returns how many."""
    with ctx.reader() as uow:
        providers = list(uow.providers.list())
    deleted = 0
    for provider in providers:
        if provider.unmanaged:
            continue
        try:
            client = ctx.provider_client(provider)
            ports = client.list_ports(DEVICE_OWNER)
        except EngineError as exc:
            log.info("janitor: provider %s not reachable: %s", provider.name, exc.message)
            continue
        with ctx.reader() as uow:
            known = set(uow.nics.by_ids(p.device_id for p in ports))
        for port in ports:
            if port.device_id and port.device_id not in known:
                try:
                    client.delete_port(port.id)
                    deleted += 1
                except EngineError as exc:
                    log.info("janitor: cannot delete port %s on %s: %s", port.id, provider.name, exc.message)
    return deleted


def janitor(ctx: EngineContext) -> None:
    reaped = reap(ctx)
    swept = sweep(ctx)
    if reaped or swept:
        log.info("janitor: deleted %d orphaned and %d unowned provider ports", reaped, swept)


def provider_of(uow: UnitOfWork, network: model.Network | None) -> model.ExternalProvider | None:
    return uow.providers.get(network.provider_id) if network is not None and network.provider_id else None


def check_groups_supported(client: NetworkProvider, provider: model.ExternalProvider, nic_name: str) -> None:
    if "security-group" not in client.extensions():
        raise BadRequest(
            f"vNIC {nic_name}: its profile sets security groups, but provider {provider.name} does not "
            "offer the security-group extension."
        )


def check_port_security_supported(
    client: NetworkProvider, provider: model.ExternalProvider, nic_name: str
) -> None:
    if "port-security" not in client.extensions():
        raise BadRequest(
            f"vNIC {nic_name}: its profile sets PortSecurity, but provider {provider.name} does not "
            "offer the port-security extension."
        )
