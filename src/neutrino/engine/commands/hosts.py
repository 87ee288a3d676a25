"""Hosts of a cluster: each is a host agent (address, port, and its token given as ``root_password``, the
secret oVirt enrolls a host with). Adding a host reads its agent's capabilities and sets up the cluster's
internal networks on it; the host monitor keeps doing so (Up / NonResponsive)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from neutrino.engine.commands import events, operations
from neutrino.engine.commands.common import (
    UNSET,
    EngineContext,
    Ref,
    Unset,
    apply_specified,
    get_or_404,
    require,
)
from neutrino.engine.commands.monitoring import mark_unreachable, refresh_host
from neutrino.engine.domain import model
from neutrino.engine.domain.audit import AuditType
from neutrino.engine.domain.errors import BadRequest, Conflict, HostFailure, cannot, name_in_use
from neutrino.engine.domain.options import HostOptions, check_host_options
from neutrino.engine.domain.rules import check_name

TYPE = "Host"
DEFAULT_AGENT_PORT = 54321


@dataclass(frozen=True)
class HostChanges:
    """What an edit of a host sets; a field left UNSET keeps its value. A new ``address``, ``port``,
    ``cluster`` or ``root_password`` (the agent's token; empty: none) makes the engine read the agent again."""

    name: str | Unset = UNSET
    description: str | Unset = UNSET
    comment: str | Unset = UNSET
    address: str | Unset = UNSET
    port: int | Unset = UNSET
    cluster: Ref | Unset = UNSET
    root_password: str | None | Unset = UNSET
    # oVirt's settings (domain.options.HostOptions), by option name: only those the client sent
    options: Mapping[str, Any] | Unset = UNSET


def add_host(
    ctx: EngineContext,
    name: str,
    address: str,
    cluster: Ref,
    port: int | None = None,
    root_password: str | None = None,
    *,
    description: str = "",
    comment: str = "",
    options: Mapping[str, Any] | None = None,
) -> model.Host:
    check_name(name)
    check_address(address)
    settings = HostOptions().changed(options or {})
    check_host_options(settings, "add")
    port = DEFAULT_AGENT_PORT if port is None else port
    if not 1 <= port <= 65535:
        raise BadRequest(f"Invalid value for 'port': {port} is not between 1 and 65535.")
    with ctx.uow() as uow:
        cl = require(uow.clusters, cluster, "Cluster", "cluster")
        if uow.hosts.first(name=name):
            raise name_in_use("add", TYPE)
        host = uow.hosts.add(
            model.Host(
                name=name,
                address=address,
                cluster_id=cl.id,
                port=port,
                agent_token=ctx.secrets.encrypt(root_password) if root_password else "",
                status=model.HostStatus.INSTALLING,
                description=description,
                comment=comment,
                options=settings,
            )
        )
        events.emit(
            uow,
            AuditType.USER_ADD_VDS,
            f"Host {host.name} was added by {events.actor()}.",
            host=host,
            cluster=cl,
        )
        uow.commit()
    try:
        ctx.enroll_agent(host)  # as oVirt's host deploy: the agent gets a certificate of the engine's CA
    except HostFailure as exc:
        return mark_unreachable(ctx, host.id, exc.message) or host
    return refresh_host(ctx, host.id, sync_networks=True) or host


def enroll_certificate(ctx: EngineContext, host_id: str) -> model.Host:
    """Certify the host's agent again (a new certificate from the engine's CA for its current address), as
    oVirt's enrollcertificate: only in Maintenance."""
    with ctx.reader() as uow:
        host = get_or_404(uow.hosts, host_id, TYPE)
    if host.status != model.HostStatus.MAINTENANCE:
        raise Conflict(cannot("enroll certificate", TYPE, "Host must be in Maintenance status."))
    ctx.enroll_agent(host, renew=True)
    return host


def check_address(address: str | None) -> None:
    """A host name or an IP address: the agent's port has a field of its own."""
    if not address:
        raise BadRequest("Incomplete parameters: 'address' is required.")
    if any(c in address for c in "/ ?#@") or (address.count(":") == 1):
        raise BadRequest(
            f"Invalid value for 'address': '{address}' is not a host name or an IP address "
            "(give the agent's port as 'port')."
        )


def update_host(ctx: EngineContext, host_id: str, changes: HostChanges) -> model.Host:
    with ctx.uow() as uow:
        host = get_or_404(uow.hosts, host_id, TYPE)
        if changes.name is not UNSET and changes.name != host.name:
            check_name(changes.name)
            if uow.hosts.first(name=changes.name):
                raise name_in_use("edit", TYPE)
        # the agent is read again when what reaches it changed (sending the current values changes nothing)
        moved = False
        if changes.cluster is not UNSET:
            cluster_id = require(uow.clusters, changes.cluster, "Cluster", "cluster").id
            if cluster_id != host.cluster_id and uow.vms.count(host_id=host.id):
                raise Conflict(cannot("edit", TYPE, "There are VMs running on the Host."))
            moved = cluster_id != host.cluster_id
            host.cluster_id = cluster_id
        if changes.address is not UNSET:
            check_address(changes.address)
            moved = moved or changes.address != host.address
        if changes.port is not UNSET:
            moved = moved or changes.port != host.port
        if changes.root_password is not UNSET:
            secret = changes.root_password or ""
            if secret != _stored_token(ctx, host):
                moved = True
                host.agent_token = ctx.secrets.encrypt(secret) if secret else ""
        if changes.options is not UNSET:
            settings = host.options.changed(changes.options)
            check_host_options(settings, "edit")
            host.options = settings
        apply_specified(host, changes, skip={"cluster", "root_password", "options"})
        events.emit(
            uow,
            AuditType.USER_UPDATE_VDS,
            f"Host {host.name} configuration was updated by {events.actor()}.",
            host=host,
        )
        uow.commit()
    return (refresh_host(ctx, host.id, sync_networks=True) or host) if moved else host


def _stored_token(ctx: EngineContext, host: model.Host) -> str | None:
    """The agent token the host has now; None when it cannot be read (another engine key)."""
    try:
        return ctx.secrets.decrypt(host.agent_token) if host.agent_token else ""
    except ValueError:
        return None


def remove_host(ctx: EngineContext, host_id: str) -> None:
    with ctx.uow() as uow:
        host = get_or_404(uow.hosts, host_id, TYPE)
        if uow.vms.count(host_id=host.id) or operations.running_to(uow, host.id):
            raise Conflict(cannot("remove", TYPE, "There are VMs running on the Host."))
        pinned = [
            vm.name
            for vm in uow.vms.list(cluster_id=host.cluster_id)
            if host.id in vm.options.placement_hosts
        ]
        if pinned:
            raise Conflict(
                cannot("remove", TYPE, f"The placement policy of VM(s) {', '.join(sorted(pinned))} names it.")
            )
        uow.hosts.delete(host)
        events.emit(
            uow, AuditType.USER_REMOVE_VDS, f"Host {host.name} was removed by {events.actor()}.", host=host
        )
        uow.commit()


def deactivate_host(ctx: EngineContext, host_id: str) -> model.Host:
    """Maintenance: the scheduler puts nothing on the host (refused while VMs run there: Neutrino does not
    migrate them away by itself)."""
    with ctx.uow() as uow:
        host = get_or_404(uow.hosts, host_id, TYPE)
        if uow.vms.count(host_id=host.id) or operations.running_to(uow, host.id):
            raise Conflict(
                cannot(
                    "switch to Maintenance mode",
                    TYPE,
                    "There are VMs running on the Host; stop or migrate them first.",
                )
            )
        host.status, host.status_detail = model.HostStatus.MAINTENANCE, ""
        events.emit(
            uow,
            AuditType.USER_VDS_MAINTENANCE_WITHOUT_REASON,
            f"Host {host.name} was switched to Maintenance mode by {events.actor()}.",
            host=host,
        )
        uow.commit()
        return host


def activate_host(ctx: EngineContext, host_id: str) -> model.Host:
    """Out of Maintenance: the host is Up again once its agent answers."""
    with ctx.uow() as uow:
        host = get_or_404(uow.hosts, host_id, TYPE)
        if host.status == model.HostStatus.MAINTENANCE:
            host.status = model.HostStatus.INSTALLING
        events.emit(
            uow,
            AuditType.VDS_ACTIVATE,
            f"Activation of host {host.name} initiated by {events.actor()}.",
            host=host,
        )
        uow.commit()
    return refresh_host(ctx, host_id, sync_networks=True) or host
