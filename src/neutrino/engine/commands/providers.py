"""External network providers: register, edit, remove, test, and trust their certificates."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from neutrino.engine.commands import events
from neutrino.engine.commands.common import UNSET, EngineContext, Unset, apply_specified, get_or_404
from neutrino.engine.domain import model
from neutrino.engine.domain.audit import AuditType
from neutrino.engine.domain.errors import BadRequest, EngineError, InUse, cannot, name_in_use
from neutrino.engine.domain.rules import check_name
from neutrino.engine.provider_clients import certificates
from neutrino.engine.store.uow import UnitOfWork

TYPE = "provider"
AUTH_URL = re.compile(r"^https?://[^/]*:\d+/(v3|v2\.0)/?$")
NEUTRON_AUTH = "An Openstack Neutron provider with authentication enabled requires"


@dataclass(frozen=True)
class ProviderChanges:
    """What an edit of a provider sets; a field left UNSET keeps its value. ``type`` cannot change (a
    different one is refused); an empty ``password`` keeps the stored one."""

    name: str | Unset = UNSET
    description: str | Unset = UNSET
    comment: str | Unset = UNSET
    type: model.ProviderType | Unset = UNSET
    url: str | Unset = UNSET
    requires_authentication: bool | Unset = UNSET
    username: str | None | Unset = UNSET
    password: str | None | Unset = UNSET
    authentication_url: str | None | Unset = UNSET
    tenant_name: str | None | Unset = UNSET
    project_name: str | None | Unset = UNSET
    project_domain_name: str | None | Unset = UNSET
    user_domain_name: str | None | Unset = UNSET
    plugin_type: str | None | Unset = UNSET
    external_plugin_type: str | None | Unset = UNSET
    read_only: bool | Unset = UNSET
    auto_sync: bool | Unset = UNSET
    unmanaged: bool | Unset = UNSET
    custom_properties: dict[str, str] | Unset = UNSET


def validate(p: model.ExternalProvider, has_password: bool, action: str) -> None:
    """oVirt's provider rules, each refused with its own message."""
    check_name(p.name)
    url = urlsplit(p.url or "")
    if url.scheme not in ("http", "https") or not url.hostname:
        raise BadRequest(cannot(action, TYPE, f"The provider URL '{p.url}' is not an http(s) URL."))
    if p.type == model.ProviderType.NEUTRON and not (p.plugin_type or p.external_plugin_type):
        raise BadRequest(cannot(action, TYPE, "Openstack Neutron provider requires a plugin type."))
    if not p.requires_authentication:
        return
    if not p.username:
        raise BadRequest(cannot(action, TYPE, f"{NEUTRON_AUTH} a user name."))
    if not has_password:
        raise BadRequest(cannot(action, TYPE, f"{NEUTRON_AUTH} a password."))
    if not p.authentication_url:
        raise BadRequest(cannot(action, TYPE, f"{NEUTRON_AUTH} an authentication url."))
    if not AUTH_URL.match(p.authentication_url):
        raise BadRequest(
            cannot(
                action,
                TYPE,
                f"The Provider has an invalid authentication URL {p.authentication_url}. The authentication URL must "
                'have the following format: "https://hostname:port/v3" or "http://hostname:port/v3".',
            )
        )
    if not (p.tenant_name or p.project_name or p.user_domain_name):
        raise BadRequest(cannot(action, TYPE, f"{NEUTRON_AUTH} a tenant name or a user domain name."))


def add_provider(
    ctx: EngineContext,
    name: str,
    password: str | None = None,
    *,
    type: model.ProviderType = model.ProviderType.NEUTRON,
    url: str = "",
    description: str = "",
    comment: str = "",
    requires_authentication: bool = False,
    username: str | None = None,
    authentication_url: str | None = None,
    tenant_name: str | None = None,
    project_name: str | None = None,
    project_domain_name: str | None = None,
    user_domain_name: str | None = None,
    plugin_type: str | None = None,
    external_plugin_type: str | None = None,
    read_only: bool = False,
    auto_sync: bool = False,
    unmanaged: bool = False,
    custom_properties: Mapping[str, str] | None = None,
) -> model.ExternalProvider:
    """Register a provider (its password kept encrypted), refused unless it passes oVirt's rules."""
    provider = model.ExternalProvider(
        name=name,
        type=type,
        url=url,
        description=description,
        comment=comment,
        requires_authentication=requires_authentication,
        username=username,
        authentication_url=authentication_url,
        tenant_name=tenant_name,
        project_name=project_name,
        project_domain_name=project_domain_name,
        user_domain_name=user_domain_name,
        plugin_type=plugin_type,
        external_plugin_type=external_plugin_type,
        read_only=read_only,
        auto_sync=auto_sync,
        unmanaged=unmanaged,
        custom_properties=dict(custom_properties or {}),
    )
    validate(provider, bool(password), "add")
    with ctx.uow() as uow:
        if uow.providers.first(name=name):
            raise name_in_use("add", TYPE)
        if password:
            provider.password_encrypted = ctx.secrets.encrypt(password)
        uow.providers.add(provider)
        events.emit(
            uow,
            AuditType.PROVIDER_ADDED,
            f"Provider {provider.name} was added. (User: {events.actor()})",
            provider=provider,
        )
        uow.commit()
        return provider


def update_provider(ctx: EngineContext, provider_id: str, changes: ProviderChanges) -> model.ExternalProvider:
    with ctx.uow() as uow:
        provider = get_or_404(uow.providers, provider_id, "Provider")
        if changes.type is not UNSET and changes.type != provider.type:
            raise BadRequest(cannot("edit", TYPE, "The provider type cannot be changed."))
        if (
            changes.name is not UNSET
            and changes.name != provider.name
            and uow.providers.first(name=changes.name)
        ):
            raise name_in_use("edit", TYPE)
        apply_specified(provider, changes, skip={"type", "password"})
        if changes.password is not UNSET and changes.password:  # empty: keep the stored one
            provider.password_encrypted = ctx.secrets.encrypt(changes.password)
        validate(provider, bool(provider.password_encrypted), "edit")
        events.emit(
            uow,
            AuditType.PROVIDER_UPDATED,
            f"Provider {provider.name} was updated. (User: {events.actor()})",
            provider=provider,
        )
        uow.commit()
        return provider


def remove_provider(ctx: EngineContext, provider_id: str) -> None:
    """Refused while VMs use its networks or a cluster has it as default; its other networks go with it
    (from the engine only: the provider keeps them)."""
    from neutrino.engine.commands.networks import drop_network

    with ctx.uow() as uow:
        provider = get_or_404(uow.providers, provider_id, "Provider")
        networks = uow.networks.list(provider_id=provider.id)
        used = sorted({n.name for n in networks if _used_by_vms(uow, n)})
        if used:
            # oVirt's PROVIDER_NETWORKS_USED_ONCE / _MULTIPLE_TIMES
            subject = (
                "External network is used"
                if len(used) == 1
                else f"Several external networks ({len(used)}) are being used"
            )
            raise InUse(
                cannot(
                    "remove",
                    TYPE,
                    f"{subject} by virtual machines and/or templates:\n"
                    + "\n".join(used)
                    + "\n - Please resolve the external networks usage first and try again.",
                )
            )
        clusters = sorted(c.name for c in uow.clusters.list(default_provider_id=provider.id))
        if clusters:
            raise InUse(
                cannot(
                    "remove",
                    TYPE,
                    "External network provider is used as default network provider in the following cluster/s:\n"
                    + "\n".join(clusters)
                    + "\n - Please change default network provider first and try again.",
                )
            )
        for network in networks:
            drop_network(uow, network, unplug_nics=False)
        uow.flush()
        uow.providers.delete(provider)
        events.emit(
            uow,
            AuditType.PROVIDER_REMOVED,
            f"Provider {provider.name} was removed. (User: {events.actor()})",
            provider=provider,
        )
        uow.commit()


def _used_by_vms(uow: UnitOfWork, network: model.Network) -> bool:
    profiles = uow.profiles.list(network_id=network.id)
    return bool(profiles) and bool(uow.nics.using_profiles([p.id for p in profiles]))


def test_connectivity(ctx: EngineContext, provider_id: str) -> None:
    with ctx.reader() as uow:
        provider = get_or_404(uow.providers, provider_id, "Provider")
    try:
        ctx.provider_client(provider).test_connectivity()
    except EngineError as exc:
        with ctx.uow() as uow:
            events.emit(
                uow,
                AuditType.PROVIDER_TEST_FAILED,
                f"Connection test of provider {provider.name} failed: {exc.message} (User: {events.actor()})",
                provider=provider,
            )
            uow.commit()
        raise
    with ctx.uow() as uow:
        events.emit(
            uow,
            AuditType.PROVIDER_TEST_SUCCEEDED,
            f"Connection test of provider {provider.name} succeeded. (User: {events.actor()})",
            provider=provider,
        )
        uow.commit()


def test_unsaved(ctx: EngineContext, provider: model.ExternalProvider, password: str | None) -> None:
    """The UI's Test button: try a provider's settings (an entity never stored) before saving them."""
    validate(provider, bool(password), "test")
    ctx.provider_client(provider, password).test_connectivity()


def presented_certificates(ctx: EngineContext, provider_id: str) -> list[certificates.Certificate]:
    with ctx.reader() as uow:
        provider = get_or_404(uow.providers, provider_id, "Provider")
    return certificates.fetch_chain(provider.url)


def import_certificates(ctx: EngineContext, provider_id: str, pems: list[str]) -> model.ExternalProvider:
    """Trust these certificates (and only these) for the provider's HTTPS endpoint."""
    if not pems:
        raise BadRequest("Incomplete parameters: 'certificates' must hold at least one certificate.")
    for pem in pems:
        try:
            certificates.describe(pem)
        except ValueError as exc:
            raise BadRequest(
                f"Invalid value for 'certificates.certificate.content': not a PEM certificate ({exc})."
            ) from exc
    with ctx.uow() as uow:
        provider = get_or_404(uow.providers, provider_id, "Provider")
        provider.ca_certificates = list(pems)
        events.emit(
            uow,
            AuditType.PROVIDER_CERTIFICATE_IMPORTED,
            f"Certificate for provider {provider.name} was imported. (User: {events.actor()})",
            provider=provider,
        )
        uow.commit()
        return provider
