"""Keeping the engine in step with its providers.

For every provider: networks gone from the provider are marked as such (and unmarked when they come
back). For a provider with auto-sync on, in the data centers of the clusters whose default network
provider it is: new provider networks are imported (attached non-required to those clusters), names and
MTU follow the provider, and networks gone from the provider are removed after unplugging the vNICs that
used them. Each step is an event; a 401 turns auto-sync off, and says so.
"""

from __future__ import annotations

import logging

from neutrino.engine.commands.common import EngineContext
from neutrino.engine.commands.events import emit
from neutrino.engine.commands.networks import create_network, drop_network
from neutrino.engine.domain import model
from neutrino.engine.domain.audit import AuditType
from neutrino.engine.domain.errors import ProviderFailure
from neutrino.engine.domain.model import EventSeverity
from neutrino.engine.provider_clients.base import ProviderNetwork
from neutrino.engine.provider_clients.neutron import ProviderAuthFailure
from neutrino.engine.store.uow import UnitOfWork

log = logging.getLogger(__name__)


def synchronize_all(ctx: EngineContext) -> None:
    with ctx.reader() as uow:
        ids = [p.id for p in uow.providers.list()]
    for provider_id in ids:
        try:
            synchronize(ctx, provider_id)
        except Exception:
            # one provider's trouble (e.g. a concurrent import winning a unique constraint) must not keep the
            # others from being synchronized; the next round retries it
            log.exception("synchronization with provider %s failed", provider_id)


def synchronize(ctx: EngineContext, provider_id: str) -> None:
    with ctx.reader() as uow:
        provider = uow.providers.get(provider_id)
    if provider is None or provider.unmanaged:
        return
    try:
        external = {n.id: n for n in ctx.provider_client(provider).list_networks()}
    except ProviderAuthFailure as exc:
        with ctx.uow() as uow:
            fresh = uow.providers.get(provider_id)
            if fresh is not None and fresh.auto_sync:
                fresh.auto_sync = False
                emit(
                    uow,
                    AuditType.PROVIDER_SYNCHRONIZED_DISABLED,
                    f"Auto-sync of provider '{fresh.name}' was turned off: {exc.message}",
                    provider=fresh,
                )
                uow.commit()
        return
    except ProviderFailure as exc:
        if provider.auto_sync:
            with ctx.uow() as uow:
                # once per failure, not once per interval: the event says it again only when the cause changes
                if uow.settings.get(_failed_key(provider_id)) != exc.message:
                    emit(
                        uow,
                        AuditType.PROVIDER_SYNCHRONIZED_FAILED,
                        f"Auto-sync of provider '{provider.name}' failed: {exc.message}",
                        provider=provider,
                    )
                    uow.settings.put(_failed_key(provider_id), exc.message)
                uow.commit()
        return
    with ctx.uow() as uow:
        provider = uow.providers.get(provider_id)
        if provider is None:
            return
        try:
            _confirm_unlisted(ctx, uow, provider, external)
        except ProviderFailure:
            return  # not sure what is gone: nothing is marked or removed this round
        if uow.settings.get(_failed_key(provider_id)):
            uow.settings.put(_failed_key(provider_id), "")
            emit(
                uow,
                AuditType.PROVIDER_SYNCHRONIZED,
                f"Auto-sync of provider '{provider.name}' works again.",
                provider=provider,
            )
        _mark_missing(uow, provider, external)
        if provider.auto_sync:
            _auto_sync(uow, provider, external)
        uow.commit()


def _confirm_unlisted(
    ctx: EngineContext,
    uow: UnitOfWork,
    provider: model.ExternalProvider,
    external: dict[str, ProviderNetwork],
) -> None:
    """Ask the provider again, one network at a time, for the engine's networks its listing did not hold, and
    add those it still has to ``external``: a network the engine created on the provider after the listing
    (and committed before this unit of work) is not gone. Rare, so the calls are made holding the unit."""
    client = ctx.provider_client(provider)
    for network in uow.networks.list(provider_id=provider.id):
        if network.provider_network_id and network.provider_network_id not in external:
            found = client.get_network(network.provider_network_id)
            if found is not None:
                external[found.id] = found


def _failed_key(provider_id: str) -> str:
    return f"sync_failed:{provider_id}"


def _mark_missing(
    uow: UnitOfWork, provider: model.ExternalProvider, external: dict[str, ProviderNetwork]
) -> None:
    for network in uow.networks.list(provider_id=provider.id):
        missing = network.provider_network_id not in external
        if missing != network.external_missing:
            network.external_missing = missing
            state = "no longer exists" if missing else "exists again"
            kind = AuditType.NETWORK_EXTERNAL_MISSING if missing else AuditType.NETWORK_EXTERNAL_BACK
            emit(
                uow,
                kind,
                f"Network '{network.name}' {state} on provider '{provider.name}'.",
                provider=provider,
                data_center=uow.datacenters.get(network.data_center_id),
            )


def _auto_sync(
    uow: UnitOfWork, provider: model.ExternalProvider, external: dict[str, ProviderNetwork]
) -> None:
    clusters = uow.clusters.list(default_provider_id=provider.id)
    by_dc: dict[str, list[model.Cluster]] = {}
    for cluster in clusters:
        if cluster.data_center_id:
            by_dc.setdefault(cluster.data_center_id, []).append(cluster)
    for dc_id, dc_clusters in by_dc.items():
        imported = {
            n.provider_network_id: n for n in uow.networks.list(data_center_id=dc_id, provider_id=provider.id)
        }
        for ext in sorted(external.values(), key=lambda n: n.name):
            network = imported.get(ext.id)
            if network is None:
                _import(uow, provider, ext, dc_id, dc_clusters)
            else:
                _follow(uow, provider, ext, network)
        for ext_id, network in imported.items():
            if ext_id not in external:
                _remove_gone(uow, provider, network)


def _import(
    uow: UnitOfWork,
    provider: model.ExternalProvider,
    ext: ProviderNetwork,
    dc_id: str,
    clusters: list[model.Cluster],
) -> None:
    if not ext.name.strip():
        # an engine network needs a name; Neutron's are optional. Importing by hand (with a name) still works.
        log.debug("auto-sync skips unnamed network %s of provider %s", ext.id, provider.id)
        return
    if uow.networks.first(data_center_id=dc_id, name=ext.name):
        text = (
            f"Auto-sync could not import network '{ext.name}' of provider '{provider.name}': the data center "
            "already has a network of that name."
        )
        # said once, not at every round while the clash lasts
        if not uow.events.count(provider_id=provider.id, data_center_id=dc_id, description=text):
            emit(
                uow,
                AuditType.NETWORK_IMPORT_EXTERNAL_NETWORK_FAILED,
                text,
                severity=EventSeverity.WARNING,
                provider=provider,
                data_center=uow.datacenters.get(dc_id),
            )
        return
    network = create_network(
        uow,
        model.Network(
            name=ext.name,
            data_center_id=dc_id,
            mtu=ext.mtu or 0,
            usages=[model.NetworkUsage.VM.value],
            provider_id=provider.id,
            provider_network_id=ext.id,
        ),
    )
    for cluster in clusters:
        uow.attachments.add(
            model.NetworkAttachment(network_id=network.id, cluster_id=cluster.id, required=False)
        )
    uow.flush()
    names = ", ".join(c.name for c in clusters)
    emit(
        uow,
        AuditType.NETWORK_IMPORT_EXTERNAL_NETWORK_INTERNAL,
        f"Auto-sync imported network '{ext.name}' of provider '{provider.name}' and attached it to cluster(s) {names}.",
        provider=provider,
        data_center=uow.datacenters.get(dc_id),
    )


def _follow(
    uow: UnitOfWork, provider: model.ExternalProvider, ext: ProviderNetwork, network: model.Network
) -> None:
    changes = []
    if (
        ext.name
        and ext.name != network.name
        and not uow.networks.first(data_center_id=network.data_center_id, name=ext.name)
    ):
        changes.append(f"name '{network.name}' -> '{ext.name}'")
        network.name = ext.name
    if ext.mtu and ext.mtu != network.mtu:
        changes.append(f"MTU {network.mtu} -> {ext.mtu}")
        network.mtu = ext.mtu
    if changes:
        emit(
            uow,
            AuditType.NETWORK_UPDATE_NETWORK,
            f"Auto-sync updated network '{network.name}' from provider '{provider.name}': {', '.join(changes)}.",
            provider=provider,
            data_center=uow.datacenters.get(network.data_center_id),
        )


def _remove_gone(uow: UnitOfWork, provider: model.ExternalProvider, network: model.Network) -> None:
    profiles = uow.profiles.list(network_id=network.id)
    nics = list(uow.nics.using_profiles([p.id for p in profiles])) if profiles else []
    drop_network(uow, network, unplug_nics=True)
    uow.flush()
    unplugged = f" after unplugging {len(nics)} vNIC(s)" if nics else ""
    emit(
        uow,
        AuditType.NETWORK_REMOVE_NETWORK,
        f"Auto-sync removed network '{network.name}', gone from provider '{provider.name}'{unplugged}.",
        severity=EventSeverity.WARNING,
        provider=provider,
        data_center=uow.datacenters.get(network.data_center_id),
    )
