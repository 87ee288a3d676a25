"""Provider ports of vNICs on external networks: find or create them, record every step on the vNIC, and
release them — never blocking on a provider that is down.

A port belongs to a vNIC through ``device_id`` = the vNIC's id and ``device_owner`` = ``oVirt``, so finding it
again after a crash is one query. Releasing a port writes an orphan row in the same transaction that changes
the vNIC (the intent), then tries to delete it; what the provider does not take now, the janitor deletes later.

A port the engine creates carries its instance id as a tag (``tags`` in the create request where the provider
offers ``tag-ports-during-bulk-creation``; a ``PUT .../tags/{tag}`` after it where it has only
``standard-attr-tag``): the janitor's sweep deletes only ports with that tag, so engines sharing one provider
never delete each other's ports. A provider without tags gets untagged ports and the sweep of before, said
once in the log.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
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
    PortResult,
    ProviderPort,
    Tagging,
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


@dataclass
class PortWork:
    """One external vNIC's port through an operation, in phases its caller places (architecture: "Ports and
    intent"): looked up on the provider (``look_up``: a read, one call for all the vNICs of a provider), the
    intent written (``write_intent``, in the transaction that records the operation's step, before any provider
    write), acted on (``act``: a stale port deleted, the port created or updated) and recorded on the vNIC
    (``write_result``, in the transaction of the next step). Each step carries the time it happened."""

    plan: PortPlan
    host_id: str | None = None  # the binding host (``binding:host_id``)
    found: ProviderPort | None = None
    looked_up: bool = False
    taken_back: bool = False  # the found port was waiting for the janitor: the vNIC takes it back
    stale: str = ""  # why the found port cannot serve (another network or MAC): deleted, then a new one
    steps: list[tuple[str, str, datetime]] = field(default_factory=list)  # not yet on the vNIC
    result: EnsuredPort | None = None
    how: str = ""  # port created / found / updated
    tag: str = ""  # the engine's instance id, set when looked up: the tag a port it creates carries

    @property
    def network_id(self) -> str:
        assert self.plan.network.provider_network_id is not None
        return self.plan.network.provider_network_id

    @property
    def creates(self) -> bool:
        return self.found is None or bool(self.stale)

    def request(self) -> PortRequest:
        plan = self.plan
        return PortRequest(
            network_id=self.network_id,
            mac_address=plan.mac.lower(),
            name=plan.nic_name,
            device_id=plan.nic_id,
            host_id=self.host_id,
            # no port security, no groups: said explicitly, so a port that had some loses them with it
            security_groups=() if plan.port_security is False else plan.security_groups,
            port_security=plan.port_security,
        )


def look_up(ctx: EngineContext, client: NetworkProvider, works: list[PortWork]) -> None:
    """Find the ports of ``works`` (vNICs of one provider) with one call: device_id any of theirs, device_owner
    oVirt. Whether a found port waits for the janitor is read from the store."""
    at = utcnow()
    found = client.find_ports([w.plan.nic_id for w in works])
    seen(ctx, works, found, at)


def seen(ctx: EngineContext, works: list[PortWork], found: list[ProviderPort], at: datetime) -> None:
    """What ``look_up`` found (``found``: the ports the provider listed at ``at``), into the works."""
    by_device: dict[str | None, ProviderPort] = {}
    for listed in found:
        by_device.setdefault(listed.device_id, listed)
    orphaned: set[str] = set()
    ids = [p.id for p in by_device.values()]
    if ids:
        provider_id = works[0].plan.provider.id
        with ctx.reader() as uow:
            orphaned = {o.port_id for o in uow.orphan_ports.list(provider_id=provider_id, port_id=ids)}
    for work in works:
        plan = work.plan
        port = by_device.get(plan.nic_id)
        work.looked_up, work.found, work.tag = True, port, ctx.instance_id
        work.steps.append(("looking up port", f"device_id={plan.nic_id} on {plan.provider.name}", at))
        if port is None:
            continue
        if port.id in orphaned:
            # the engine gave this port up (e.g. a snapshot preview while the provider refused deletions) and
            # the vNIC wants it again: take it back before the janitor deletes it under the running VM
            work.taken_back = True
            work.steps.append(("port taken back", f"port {port.id} was waiting for the janitor", at))
        if port.network_id != work.network_id or port.mac_address != plan.mac.lower():
            # the vNIC moved to another network or changed its MAC: its old port cannot serve it
            work.stale = "network" if port.network_id != work.network_id else "MAC address"


def write_intent(uow: UnitOfWork, work: PortWork, operation_id: str) -> None:
    """Before any provider write, in the caller's transaction: a port taken back is nobody's orphan any more,
    and a port about to be created is marked as the operation's (so a crash from here on leaves a port the
    convergence can find by device_id)."""
    plan = work.plan
    if work.found is not None and (work.taken_back or work.stale):
        for orphan in uow.orphan_ports.list(provider_id=plan.provider.id, port_id=work.found.id):
            uow.orphan_ports.delete(orphan)
    nic = uow.nics.get(plan.nic_id)
    if nic is None:
        return
    for name, detail, at in work.steps:
        step(nic, name, detail, at=at)
    work.steps = []
    if work.creates:
        nic.port_provider_id, nic.port_network_id = plan.provider.id, work.network_id
        nic.port_created_by = operation_id
        if not work.stale:
            step(nic, "creating port", f"on network {work.network_id}")


def act(client: NetworkProvider, work: PortWork) -> None:
    """The provider writes: a stale port deleted, then the port created, or the found one updated where it
    differs from what the vNIC needs (binding host, groups, port security)."""
    port, request = work.found, work.request()
    if port is not None and work.stale:
        client.delete_port(port.id)
        work.steps.append(("stale port deleted", f"port {port.id} had another {work.stale}", utcnow()))
        work.steps.append(("creating port", f"on network {work.network_id}", utcnow()))
        port = None
    if port is None:
        result = _create(client, work, request)
        work.result, work.how = EnsuredPort(result.port, True, result.binding_refused), "port created"
        return
    plan = work.plan
    differs = (
        (work.host_id and port.host_id != work.host_id)
        or (request.security_groups is not None and set(port.security_groups) != set(request.security_groups))
        or (plan.port_security is not None and port.port_security_enabled != plan.port_security)
    )
    if differs:
        result = client.update_port(port.id, request)
        work.result, work.how = EnsuredPort(result.port, False, result.binding_refused), "port updated"
    else:
        work.result, work.how = EnsuredPort(port, False, False), "port found"


def _create(client: NetworkProvider, work: PortWork, request: PortRequest) -> PortResult:
    """Create the port tagged with the engine's instance id, as the provider allows (module docstring).

    Created then tagged, a crash in between leaves an untagged port the vNIC's intent names (``write_intent``
    recorded ``port_created_by`` first): the operation's convergence finds it by device_id, and the sweep tags
    every port of this engine's vNICs that lacks the tag. A failed tag call is recorded, not fatal, for the
    same reason."""
    tagging = client.tagging() if work.tag else Tagging.NONE
    if tagging is Tagging.ON_CREATE:
        return client.create_port(replace(request, tags=(work.tag,)))
    result = client.create_port(request)
    if tagging is Tagging.AFTER_CREATE:
        try:
            client.tag_port(result.port.id, work.tag)
        except EngineError as exc:
            work.steps.append(("port not tagged", f"{exc.message}; the janitor tags it later", utcnow()))
    elif work.tag:
        say_untagged(work.plan.provider)
    return result


_untagged_said: set[str] = set()
_untagged_lock = threading.Lock()


def say_untagged(provider: model.ExternalProvider) -> None:
    """Log once per provider (per process) that it takes no tags, so ports are untagged."""
    with _untagged_lock:
        if provider.id in _untagged_said:
            return
        _untagged_said.add(provider.id)
    log.warning(
        "provider %s offers no port tags (standard-attr-tag): the engine's ports on it are untagged and its "
        "janitor deletes any oVirt port whose vNIC this engine does not know; do not share this provider "
        "between engines",
        provider.name,
    )


def write_result(
    uow: UnitOfWork, work: PortWork, operation_id: str, scope: events.EventScope | None = None
) -> None:
    """The port on the vNIC, in the caller's transaction (whatever fails next, the undo knows which port to
    delete): its steps, the port, its binding, and the audit event of a port created or updated (naming
    ``scope``'s cluster and data center, read once by the operation, or else read here)."""
    plan = work.plan
    nic = uow.nics.get(plan.nic_id)
    if nic is None:
        return
    for name, detail, at in work.steps:
        step(nic, name, detail, at=at)
    work.steps = []
    if work.result is None:  # it failed before: the steps it took are shown all the same
        return
    port = work.result.port
    nic.port_provider_id, nic.port_id, nic.port_network_id = plan.provider.id, port.id, work.network_id
    if work.result.created:
        nic.port_created_by = operation_id
    ips = ", ".join(ip for _, ip in port.fixed_ips)
    step(
        nic,
        work.how,
        f"port {port.id}" + (f" ({ips})" if ips else ""),
        NicState.PORT_READY,
        port_id=port.id,
        provider_status=port.status,
        binding_host=port.host_id,
    )
    _bound(uow, nic, plan.provider, port, work.host_id, work.result.binding_refused, work.how, scope)


def ensure_port(
    ctx: EngineContext, client: NetworkProvider, plan: PortPlan, host_id: str | None, operation_id: str
) -> EnsuredPort:
    """Find the vNIC's port (device_id = vNIC id, device_owner oVirt), else create it; update what differs:
    every phase of ``PortWork`` for one vNIC, the intent and the result each committed at once."""
    work = PortWork(plan, host_id)
    look_up(ctx, client, [work])
    with ctx.uow() as uow:
        write_intent(uow, work, operation_id)
        uow.commit()
    act(client, work)
    with ctx.uow() as uow:
        write_result(uow, work, operation_id)
        uow.commit()
    assert work.result is not None
    return work.result


def _bound(
    uow: UnitOfWork,
    nic: model.VmNic,
    provider: model.ExternalProvider,
    port: ProviderPort,
    host_id: str | None,
    refused: bool,
    how: str,
    scope: events.EventScope | None = None,
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
        **(scope or events.EventScope()).links(),
    )


def _is_orphan(ctx: EngineContext, provider_id: str, port_id: str) -> bool:
    with ctx.reader() as uow:
        return uow.orphan_ports.first(provider_id=provider_id, port_id=port_id) is not None


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
    exists (e.g. an engine crash between creating a port and recording it) are deleted. Returns how many.

    Where the provider has tags, only ports carrying this engine's tag are deleted (another engine's, or one
    nobody tagged, are left alone), and a port of one of this engine's vNICs that lacks the tag (created then
    not tagged: a crash or a failed tag call; or made before tags) gets it. Without tags: as before, said once."""
    with ctx.reader() as uow:
        providers = list(uow.providers.list())
    deleted = 0
    for provider in providers:
        if provider.unmanaged:
            continue
        try:
            client = ctx.provider_client(provider)
            tagging = client.tagging() if ctx.instance_id else Tagging.NONE
            ports = client.list_ports(DEVICE_OWNER)
        except EngineError as exc:
            log.info("janitor: provider %s not reachable: %s", provider.name, exc.message)
            continue
        if tagging is Tagging.NONE and ctx.instance_id:
            say_untagged(provider)
        with ctx.reader() as uow:
            known = set(uow.nics.by_ids(p.device_id for p in ports))
        for port in ports:
            if not port.device_id:
                continue
            mine = tagging is Tagging.NONE or ctx.instance_id in port.tags
            try:
                if port.device_id not in known and mine:
                    client.delete_port(port.id)
                    deleted += 1
                elif port.device_id in known and not mine:
                    client.tag_port(port.id, ctx.instance_id)
            except EngineError as exc:
                log.info("janitor: cannot clean up port %s on %s: %s", port.id, provider.name, exc.message)
    return deleted


def janitor(ctx: EngineContext) -> None:
    reaped = reap(ctx)
    swept = sweep(ctx)
    if reaped or swept:
        log.info("janitor: deleted %d orphaned and %d unowned provider ports", reaped, swept)


def provider_of(uow: UnitOfWork, network: model.Network | None) -> model.ExternalProvider | None:
    return uow.providers.get(network.provider_id) if network is not None and network.provider_id else None


def check_groups_supported(extensions: set[str], provider: model.ExternalProvider, nic_name: str) -> None:
    if "security-group" not in extensions:
        raise BadRequest(
            f"vNIC {nic_name}: its profile sets security groups, but provider {provider.name} does not "
            "offer the security-group extension."
        )


def check_port_security_supported(
    extensions: set[str], provider: model.ExternalProvider, nic_name: str
) -> None:
    if "port-security" not in extensions:
        raise BadRequest(
            f"vNIC {nic_name}: its profile sets PortSecurity, but provider {provider.name} does not "
            "offer the port-security extension."
        )
