"""Networks of a provider in the engine: discover, import into a data center, create on the provider,
export an engine network to it, remove (optionally from the provider too), and the subnets.

The provider's networks are read live: a discovery lists them (one call), and what it listed is kept for a
short while (``commands.listings``) so that importing them one request each asks the provider nothing more;
a network no fresh listing holds is read with one call. Subnets are always read live."""

from __future__ import annotations

import ipaddress

from neutrino.engine.commands import events
from neutrino.engine.commands.common import EngineContext, Ref, get_or_404, require
from neutrino.engine.commands.networks import add_checked_network, drop_network, ensure_network_removable
from neutrino.engine.domain import model
from neutrino.engine.domain.audit import AuditType
from neutrino.engine.domain.errors import BadRequest, Conflict, cannot
from neutrino.engine.domain.rules import check_mtu, check_name, network_name_in_use
from neutrino.engine.provider_clients.base import ProviderNetwork, ProviderSubnet
from neutrino.engine.store.uow import UnitOfWork

TYPE = "Network"


def _provider(uow: UnitOfWork, provider_id: str) -> model.ExternalProvider:
    return get_or_404(uow.providers, provider_id, "Provider")


def _writable(provider: model.ExternalProvider, action: str, type_: str = TYPE) -> None:
    if provider.read_only:
        # oVirt's ACTION_TYPE_FAILED_EXTERNAL_PROVIDER_IS_READ_ONLY
        raise BadRequest(cannot(action, type_, f"External network provider {provider.name} is read only."))


def discover(ctx: EngineContext, provider_id: str) -> list[tuple[ProviderNetwork, list[str]]]:
    """The provider's networks, live, each with the ids of the data centers that imported it."""
    with ctx.reader() as uow:
        provider = _provider(uow, provider_id)
        imported: dict[str, list[str]] = {}
        for n in uow.networks.list(provider_id=provider.id):
            imported.setdefault(n.provider_network_id or "", []).append(n.data_center_id)
    networks = ctx.provider_client(provider).list_networks()
    ctx.listings.remember(provider.id, networks)
    return [(n, sorted(imported.get(n.id, []))) for n in sorted(networks, key=lambda n: (n.name, n.id))]


def provider_network(
    ctx: EngineContext, provider: str | model.ExternalProvider, network_id: str
) -> ProviderNetwork:
    """One of the provider's networks: as a discovery listed it moments ago (listed again if that listing went
    stale while being read from), else read live (one call).

    ``provider``: its id, or the provider the caller has just read.
    """
    if isinstance(provider, str):
        with ctx.reader() as uow:
            provider = _provider(uow, provider)
    ext = ctx.listings.recall(provider.id, network_id)
    if ext is None and ctx.listings.relist_due(provider.id):
        ctx.listings.remember(provider.id, ctx.provider_client(provider).list_networks())
        ext = ctx.listings.recall(provider.id, network_id)
    if ext is None:
        ext = ctx.provider_client(provider).get_network(network_id)
    if ext is None:
        raise _no_such_network(network_id)
    return ext


def importers(uow: UnitOfWork, provider_id: str, network_id: str) -> list[str]:
    """The ids of the data centers that imported the provider's network."""
    return sorted(
        n.data_center_id for n in uow.networks.list(provider_id=provider_id, provider_network_id=network_id)
    )


def _no_such_network(network_id: str) -> Exception:
    from neutrino.engine.domain.errors import NotFound

    return NotFound(f"The provider has no network '{network_id}'.")


def import_network(
    ctx: EngineContext,
    provider: str | model.ExternalProvider,
    network_id: str,
    data_center: Ref,
    name: str | None = None,
    ext: ProviderNetwork | None = None,
) -> model.Network:
    """A logical network linked to the provider's network; always a VM network, with a vNIC profile.

    ``provider``: its id, or the provider the caller has just read. ``ext``: the provider's network when the
    caller has just read it; else it is read as ``provider_network`` does (a fresh listing, or one call).
    """
    if isinstance(provider, str):
        with ctx.reader() as uow:
            provider = _provider(uow, provider)
    if ext is None or ext.id != network_id:
        ext = provider_network(ctx, provider, network_id)
    return _link(ctx, provider, ext, data_center, name or ext.name, action="import")


def _link(
    ctx: EngineContext,
    provider: model.ExternalProvider,
    ext: ProviderNetwork,
    data_center: Ref,
    name: str,
    action: str,
    description: str = "",
) -> model.Network:
    check_name(name)
    with ctx.uow() as uow:
        dc = require(uow.datacenters, data_center, "Data Center", "data_center")
        try:
            # once per data center, the name free: the table's unique constraints check both as the row is
            # written (no SELECT first); a refusal is explained below, as a lost race always was
            network = model.Network(
                name=name,
                data_center_id=dc.id,
                description=description,
                mtu=ext.mtu or 0,
                usages=[model.NetworkUsage.VM.value],
                provider_id=provider.id,
                provider_network_id=ext.id,
            )
            add_checked_network(uow, network)
            if action == "import":
                events.emit(
                    uow,
                    AuditType.NETWORK_IMPORT_EXTERNAL_NETWORK,
                    f"Successfully initiated import of external network {name} from provider {provider.name}.",
                    data_center=dc,
                    provider=provider,
                )
            else:
                events.emit(
                    uow,
                    AuditType.NETWORK_ADD_NETWORK,
                    f"Finished adding Network {name} to Data Center: {dc.name} (created on provider {provider.name})",
                    data_center=dc,
                    provider=provider,
                )
            uow.commit()
        except Conflict:
            # the network is imported already, or the name taken (now or by a concurrent request): say which
            # rather than a generic conflict
            with ctx.reader() as fresh:
                _check_not_imported(fresh, provider.id, ext.id, dc.id, action)
                if fresh.networks.first(data_center_id=dc.id, name=name):
                    raise network_name_in_use(action, name) from None
            raise
        return network


def _check_not_imported(uow: UnitOfWork, provider_id: str, ext_id: str, dc_id: str, action: str) -> None:
    existing = uow.networks.first(data_center_id=dc_id, provider_id=provider_id, provider_network_id=ext_id)
    if existing is not None:
        raise Conflict(
            cannot(
                action, TYPE, f"The external network already exists as '{existing.name}' in the data center."
            )
        )


def create_on_provider(
    ctx: EngineContext, name: str, data_center: Ref, provider: Ref, description: str = "", mtu: int = 0
) -> model.Network:
    """POST /networks with external_provider: create it on the provider, then import it.

    If the import fails, the network just created on the provider is deleted again.
    """
    check_name(name)
    check_mtu(mtu)
    with ctx.reader() as uow:
        prov = require(uow.providers, provider, "Provider", "external_provider")
        dc = require(uow.datacenters, data_center, "Data Center", "data_center")
        if uow.networks.first(data_center_id=dc.id, name=name):
            raise network_name_in_use("add", name)
    _writable(prov, "add")
    client = ctx.provider_client(prov)
    ext = client.create_network(name, mtu or None)
    ctx.listings.forget(prov.id)
    try:
        return _link(ctx, prov, ext, Ref(id=dc.id), name, action="add", description=description)
    except Exception:
        client.delete_network(ext.id)
        raise


def export_network(ctx: EngineContext, network_id: str, provider: Ref) -> model.Network:
    """Make an engine network external: created on the provider, linked, keeping its vNICs and profiles."""
    with ctx.reader() as uow:
        network = get_or_404(uow.networks, network_id, TYPE)
        prov = require(uow.providers, provider, "Provider", "provider")
        _check_exportable(uow, network)
    if network.is_external:
        raise BadRequest(cannot("export", TYPE, "The network is already an external network."))
    if not network.is_vm_network:
        raise BadRequest(cannot("export", TYPE, "An external network cannot be a non-VM network."))
    if model.NetworkUsage.MANAGEMENT.value in network.usages:
        raise BadRequest(cannot("export", TYPE, "The management network cannot be an external network."))
    _writable(prov, "export")
    client = ctx.provider_client(prov)
    ext = client.create_network(network.name, network.mtu or None)
    ctx.listings.forget(prov.id)
    try:
        with ctx.uow() as uow:
            fresh = get_or_404(uow.networks, network_id, TYPE)
            fresh.provider_id, fresh.provider_network_id = prov.id, ext.id
            fresh.vlan_id, fresh.stp = None, False
            fresh.mtu = ext.mtu or fresh.mtu
            events.emit(
                uow,
                AuditType.NETWORK_UPDATE_NETWORK,
                f"Network {fresh.name} was exported to provider {prov.name}. (User: {events.actor()})",
                data_center=uow.datacenters.get(fresh.data_center_id),
                provider=prov,
            )
            uow.commit()
            return fresh
    except Exception:
        client.delete_network(ext.id)
        raise


def _check_exportable(uow: UnitOfWork, network: model.Network) -> None:
    """What an external network may not be, it may not be when it becomes one: the seed's rules, oVirt's texts."""
    attachments = uow.attachments.list(network_id=network.id)
    if any(a.required for a in attachments):
        raise BadRequest(cannot("export", TYPE, "External network cannot be set as required in the cluster."))
    if any(a.display for a in attachments):
        raise BadRequest(cannot("export", TYPE, "External network cannot be used as a display network."))
    if any(p.port_mirroring for p in uow.profiles.list(network_id=network.id)):
        raise BadRequest(
            cannot("export", TYPE, "External network cannot be used when port mirroring is set.")
        )


def remove_external(ctx: EngineContext, network_id: str, remove_from_provider: bool) -> None:
    """Remove an external network from the engine, and from its provider when asked (provider first, so a
    provider failure leaves the engine as it was)."""

    with ctx.reader() as uow:
        network = get_or_404(uow.networks, network_id, TYPE)
        ensure_network_removable(uow, network)
        provider = uow.providers.get(network.provider_id or "")
    if remove_from_provider and provider is not None and network.provider_network_id:
        _writable(provider, "remove")
        ctx.provider_client(provider).delete_network(network.provider_network_id)
        ctx.listings.forget(provider.id)
        ctx.network_reads.forget(provider.id)
    with ctx.uow() as uow:
        fresh = get_or_404(uow.networks, network_id, TYPE)
        ensure_network_removable(uow, fresh)
        drop_network(uow, fresh, unplug_nics=False)
        gone = " (and from its provider)" if remove_from_provider else ""
        events.emit(
            uow,
            AuditType.NETWORK_REMOVE_NETWORK,
            f"Finished Network {fresh.name} removal from Data Center{gone}. (User: {events.actor()})",
            data_center=uow.datacenters.get(fresh.data_center_id),
            provider=provider,
        )
        uow.commit()


# --- subnets ------------------------------------------------------------------------------------


def list_subnets(ctx: EngineContext, provider_id: str, network_id: str) -> list[ProviderSubnet]:
    with ctx.reader() as uow:
        provider = _provider(uow, provider_id)
    return ctx.provider_client(provider).list_subnets(network_id)


def add_subnet(
    ctx: EngineContext,
    provider_id: str,
    network_id: str,
    name: str,
    cidr: str,
    ip_version: int = 4,
    gateway: str | None = None,
    dns_servers: list[str] | None = None,
) -> ProviderSubnet:
    check_name(name)
    try:
        net = ipaddress.ip_network(cidr, strict=True)
    except ValueError as exc:
        raise BadRequest(
            f"Invalid value for 'cidr': '{cidr}' is not a network address with a prefix, "
            f"e.g. 10.0.0.0/24 ({exc})."
        ) from None
    if net.version != ip_version:
        raise BadRequest(
            f"Invalid value for 'cidr': '{cidr}' is not an IPv{ip_version} network (ip_version is v{ip_version})."
        )
    if gateway:
        try:
            if ipaddress.ip_address(gateway) not in net:
                raise BadRequest(f"Invalid value for 'gateway': {gateway} is outside {cidr}.")
        except ValueError:
            raise BadRequest(f"Invalid value for 'gateway': '{gateway}' is not an IP address.") from None
    for dns in dns_servers or []:
        try:
            ipaddress.ip_address(dns)
        except ValueError:
            raise BadRequest(f"Invalid value for 'dns_servers': '{dns}' is not an IP address.") from None
    with ctx.reader() as uow:
        provider = _provider(uow, provider_id)
    _writable(provider, "add", "Subnet")
    subnet = ctx.provider_client(provider).create_subnet(
        network_id, name, str(net), ip_version, gateway, list(dns_servers or [])
    )
    with ctx.uow() as uow:
        events.emit(
            uow,
            AuditType.PROVIDER_SUBNET_ADDED,
            f"Subnet {name} ({net}) was added to network {network_id} of provider {provider.name}. (User: {events.actor()})",
            provider=provider,
        )
        uow.commit()
    return subnet


def remove_subnet(ctx: EngineContext, provider_id: str, subnet_id: str) -> None:
    with ctx.reader() as uow:
        provider = _provider(uow, provider_id)
    _writable(provider, "remove", "Subnet")
    ctx.provider_client(provider).delete_subnet(subnet_id)
    with ctx.uow() as uow:
        events.emit(
            uow,
            AuditType.PROVIDER_SUBNET_REMOVED,
            f"Subnet {subnet_id} was removed from provider {provider.name}. (User: {events.actor()})",
            provider=provider,
        )
        uow.commit()
