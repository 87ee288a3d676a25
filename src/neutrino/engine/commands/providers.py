"""External network providers: register, edit, remove, test, and trust their certificates."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from neutrino.engine.commands.common import EngineContext, apply_changes, get_or_404
from neutrino.engine.domain import model
from neutrino.engine.domain.errors import BadRequest, InUse, cannot, name_in_use
from neutrino.engine.domain.rules import check_name
from neutrino.engine.providers import certificates
from neutrino.engine.store.uow import UnitOfWork

TYPE = "provider"
AUTH_URL = re.compile(r"^https?://[^/]*:\d+/(v3|v2\.0)/?$")
EDITABLE = {
    "name",
    "description",
    "comment",
    "url",
    "requires_authentication",
    "username",
    "authentication_url",
    "tenant_name",
    "project_name",
    "project_domain_name",
    "user_domain_name",
    "plugin_type",
    "external_plugin_type",
    "read_only",
    "auto_sync",
    "unmanaged",
    "custom_properties",
}
NEUTRON_AUTH = "An Openstack Neutron provider with authentication enabled requires"


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
    ctx: EngineContext, name: str, password: str | None = None, **fields: Any
) -> model.ExternalProvider:
    provider = model.ExternalProvider(name=name, **fields)
    validate(provider, bool(password), "add")
    with ctx.uow() as uow:
        if uow.providers.first(name=name):
            raise name_in_use("add", TYPE)
        if password:
            provider.password_encrypted = ctx.secrets.encrypt(password)
        uow.providers.add(provider)
        uow.commit()
        return provider


def update_provider(
    ctx: EngineContext, provider_id: str, changes: dict[str, Any], password: str | None = None
) -> model.ExternalProvider:
    with ctx.uow() as uow:
        provider = get_or_404(uow.providers, provider_id, "Provider")
        if "type" in changes and changes.pop("type") != provider.type:
            raise BadRequest(cannot("edit", TYPE, "The provider type cannot be changed."))
        if (
            "name" in changes
            and changes["name"] != provider.name
            and uow.providers.first(name=changes["name"])
        ):
            raise name_in_use("edit", TYPE)
        apply_changes(provider, changes, EDITABLE)
        if password:
            provider.password_encrypted = ctx.secrets.encrypt(password)
        validate(provider, bool(provider.password_encrypted), "edit")
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
        uow.commit()


def _used_by_vms(uow: UnitOfWork, network: model.Network) -> bool:
    profiles = uow.profiles.list(network_id=network.id)
    return bool(profiles) and bool(uow.nics.using_profiles([p.id for p in profiles]))


def test_connectivity(ctx: EngineContext, provider_id: str) -> None:
    with ctx.reader() as uow:
        provider = get_or_404(uow.providers, provider_id, "Provider")
    ctx.provider_client(provider).test_connectivity()


def test_unsaved(ctx: EngineContext, password: str | None, **fields: Any) -> None:
    """The UI's Test button: try a provider's settings before saving them."""
    provider = model.ExternalProvider(**fields)
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
        uow.commit()
        return provider
