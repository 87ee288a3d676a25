"""Clusters, and the logical networks attached to them (required / display)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from neutrino.engine.commands import events
from neutrino.engine.commands.common import (
    UNSET,
    EngineContext,
    Ref,
    Unset,
    apply_specified,
    get_or_404,
    or_current,
    require,
)
from neutrino.engine.commands.monitoring import sync_cluster_hosts
from neutrino.engine.domain import model
from neutrino.engine.domain.audit import AuditType
from neutrino.engine.domain.errors import BadRequest, Conflict, InUse, cannot
from neutrino.engine.domain.options import ClusterOptions, check_cluster_options
from neutrino.engine.domain.rules import check_cluster_version, check_external_attachment, check_name
from neutrino.engine.store.uow import UnitOfWork

TYPE = "Cluster"


@dataclass(frozen=True)
class ClusterChanges:
    """What an edit of a cluster sets; a field left UNSET keeps its value. ``default_provider`` None: none."""

    name: str | Unset = UNSET
    description: str | Unset = UNSET
    comment: str | Unset = UNSET
    cpu_architecture: model.Architecture | Unset = UNSET
    cpu_type: str | Unset = UNSET
    version_major: int | Unset = UNSET
    version_minor: int | Unset = UNSET
    default_provider: Ref | None | Unset = UNSET
    # oVirt's settings (domain.options.ClusterOptions), by option name: only those the client sent
    options: Mapping[str, Any] | Unset = UNSET


@dataclass(frozen=True)
class AttachmentChanges:
    """What an edit of a network's attachment to a cluster sets."""

    required: bool | Unset = UNSET
    display: bool | Unset = UNSET


def add_cluster(
    ctx: EngineContext,
    name: str,
    data_center: Ref,
    *,
    description: str = "",
    comment: str = "",
    cpu_architecture: model.Architecture = model.Architecture.X86_64,
    cpu_type: str = "",
    version_major: int | None = None,
    version_minor: int | None = None,
    default_provider: Ref | None = None,
    options: Mapping[str, Any] | None = None,
) -> model.Cluster:
    """Add a cluster to a data center; without a version it gets the data center's, as oVirt's API does.
    ``options``: oVirt's settings that differ from their defaults (``ClusterOptions``), by name."""
    check_name(name)
    settings = ClusterOptions().changed(options or {})
    check_cluster_options(settings, "add")
    with ctx.uow() as uow:
        dc = require(uow.datacenters, data_center, "Data Center", "data_center")
        if uow.clusters.first(name=name):
            raise Conflict(cannot("add", TYPE, "Cluster name is already in use."))
        version = (
            dc.version_major if version_major is None else version_major,
            dc.version_minor if version_minor is None else version_minor,
        )
        check_cluster_version("create", version, (dc.version_major, dc.version_minor))
        provider_id = (
            require(uow.providers, default_provider, "Provider", "external_network_providers").id
            if default_provider
            else None
        )
        cluster = uow.clusters.add(
            model.Cluster(
                name=name,
                data_center_id=dc.id,
                description=description,
                comment=comment,
                cpu_architecture=cpu_architecture,
                cpu_type=cpu_type,
                version_major=version[0],
                version_minor=version[1],
                default_provider_id=provider_id,
                options=settings,
            )
        )
        uow.flush()
        # oVirt attaches the management network to every new cluster of the data center
        for network in uow.networks.list(data_center_id=dc.id):
            if model.NetworkUsage.MANAGEMENT.value in network.usages:
                uow.attachments.add(model.NetworkAttachment(network_id=network.id, cluster_id=cluster.id))
        events.emit(
            uow,
            AuditType.USER_ADD_CLUSTER,
            f"Cluster {cluster.name} was added by {events.actor()}",
            cluster=cluster,
            data_center=dc,
        )
        uow.commit()
        return cluster


def update_cluster(ctx: EngineContext, cluster_id: str, changes: ClusterChanges) -> model.Cluster:
    with ctx.uow() as uow:
        cluster = get_or_404(uow.clusters, cluster_id, TYPE)
        if changes.name is not UNSET and changes.name != cluster.name:
            check_name(changes.name)
            if uow.clusters.first(name=changes.name):
                raise Conflict(cannot("edit", TYPE, "Cluster name is already in use."))
        current = (cluster.version_major, cluster.version_minor)
        version = (
            or_current(changes.version_major, current[0]),
            or_current(changes.version_minor, current[1]),
        )
        if version != current:
            dc = uow.datacenters.get(cluster.data_center_id) if cluster.data_center_id else None
            check_cluster_version(
                "edit", version, (dc.version_major, dc.version_minor) if dc else None, current
            )
        if changes.default_provider is not UNSET:
            ref = changes.default_provider
            cluster.default_provider_id = (
                require(uow.providers, ref, "Provider", "external_network_providers").id if ref else None
            )
        if changes.options is not UNSET:
            settings = cluster.options.changed(changes.options)
            if settings != cluster.options:
                check_cluster_options(settings, "edit")
                cluster.options = settings
        apply_specified(cluster, changes, skip={"default_provider", "options"})
        events.emit(
            uow,
            AuditType.USER_UPDATE_CLUSTER,
            f"Host cluster {cluster.name} was updated by {events.actor()}",
            cluster=cluster,
        )
        uow.commit()
        return cluster


def remove_cluster(ctx: EngineContext, cluster_id: str) -> None:
    with ctx.uow() as uow:
        cluster = get_or_404(uow.clusters, cluster_id, TYPE)
        if uow.vms.count(cluster_id=cluster.id):
            raise InUse(cannot("remove", TYPE, "One or more VMs are still assigned to the Cluster"))
        if uow.hosts.count(cluster_id=cluster.id):
            raise InUse(cannot("remove", TYPE, "Cluster contains one or more Hosts"))
        for attachment in uow.attachments.list(cluster_id=cluster.id):
            uow.attachments.delete(attachment)
        uow.flush()
        uow.clusters.delete(cluster)
        events.emit(
            uow,
            AuditType.USER_REMOVE_CLUSTER,
            f"Host cluster {cluster.name} was removed by {events.actor()}",
            cluster=cluster,
        )
        uow.commit()


def attach_network(
    ctx: EngineContext, cluster_id: str, network: Ref, required: bool | None = None, display: bool = False
) -> tuple[model.Network, model.NetworkAttachment]:
    """Attach a network; ``required`` defaults to true, and to false for an external network (never required)."""
    with ctx.uow() as uow:
        cluster = get_or_404(uow.clusters, cluster_id, TYPE)
        net = require(uow.networks, network, "Network", "network")
        if required is None:
            required = not net.is_external
        check_external_attachment(net.is_external, required, display, "attach")
        if net.data_center_id != cluster.data_center_id:
            raise BadRequest(
                cannot(
                    "attach", "Logical Network", "The network does not belong to the Cluster's data center."
                )
            )
        if uow.attachments.first(network_id=net.id, cluster_id=cluster.id):
            raise Conflict(
                cannot("attach", "Logical Network", "The network is already attached to the Cluster.")
            )
        attachment = model.NetworkAttachment(network_id=net.id, cluster_id=cluster.id, required=required)
        _set_display(uow, attachment, display)
        uow.attachments.add(attachment)
        events.emit(
            uow,
            AuditType.NETWORK_ATTACH_NETWORK_TO_CLUSTER,
            f"Network {net.name} attached to Cluster {cluster.name}",
            cluster=cluster,
        )
        uow.commit()
    if not net.is_external:  # the cluster's hosts set up a bridge for it now
        sync_cluster_hosts(ctx, cluster_id)
    return net, attachment


def update_attachment(
    ctx: EngineContext, cluster_id: str, network_id: str, changes: AttachmentChanges
) -> tuple[model.Network, model.NetworkAttachment]:
    with ctx.uow() as uow:
        attachment = _attachment(uow, cluster_id, network_id)
        # loaded before the commit: what is loaded after it is expired by the unit of work's closing rollback
        network = get_or_404(uow.networks, network_id, "Network")
        check_external_attachment(
            network.is_external,
            or_current(changes.required, attachment.required),
            or_current(changes.display, attachment.display),
            "edit",
        )
        if changes.required is not UNSET:
            attachment.required = changes.required
        if changes.display is not UNSET:
            _set_display(uow, attachment, changes.display)
        cluster = get_or_404(uow.clusters, cluster_id, TYPE)
        events.emit(
            uow,
            AuditType.NETWORK_UPDTAE_NETWORK_ON_CLUSTER,
            f"Network {network.name} on Cluster {cluster.name} updated.",
            cluster=cluster,
        )
        uow.commit()
        return network, attachment


def detach_network(ctx: EngineContext, cluster_id: str, network_id: str) -> None:
    with ctx.uow() as uow:
        attachment = _attachment(uow, cluster_id, network_id)
        network = get_or_404(uow.networks, network_id, "Network")
        if model.NetworkUsage.MANAGEMENT.value in network.usages:
            raise InUse(cannot("detach", "Logical Network", "The management network cannot be detached."))
        uow.attachments.delete(attachment)
        cluster = get_or_404(uow.clusters, cluster_id, TYPE)
        events.emit(
            uow,
            AuditType.NETWORK_DETACH_NETWORK_TO_CLUSTER,
            f"Network {network.name} detached from Cluster {cluster.name}",
            cluster=cluster,
        )
        uow.commit()
    if not network.is_external:
        sync_cluster_hosts(ctx, cluster_id)


def _attachment(uow: UnitOfWork, cluster_id: str, network_id: str) -> model.NetworkAttachment:
    get_or_404(uow.clusters, cluster_id, TYPE)
    attachment = uow.attachments.first(cluster_id=cluster_id, network_id=network_id)
    if attachment is None:
        raise BadRequest(f"Network '{network_id}' is not attached to Cluster '{cluster_id}'.")
    return attachment


def _set_display(uow: UnitOfWork, attachment: model.NetworkAttachment, display: bool) -> None:
    """One display network per cluster: choosing one clears the flag on the others."""
    if display:
        for other in uow.attachments.list(cluster_id=attachment.cluster_id):
            if other is not attachment:
                other.display = False
    attachment.display = display
