"""How `neutrino up` registers its embedded provider in the engine, by backend: once, as the Default
cluster's provider, with the backend's plugin type (LINUX_BRIDGE for builtin, OPEN_VSWITCH for OVN); a
data dir started again with the other backend gets that backend's plugin type, while a plugin type the
user chose is kept."""

from __future__ import annotations

from collections.abc import Callable

from neutrino import up
from neutrino.engine.bootstrap import Engine
from neutrino.engine.commands import providers


def registered(engine: Engine) -> tuple[str | None, bool]:
    """The provider's plugin type, and whether it is the Default cluster's provider."""
    with engine.ctx.reader() as uow:
        provider = uow.providers.first(name=up.PROVIDER_NAME)
        cluster = uow.clusters.first(name="Default")
        assert provider is not None and cluster is not None
        return provider.effective_plugin_type, cluster.default_provider_id == provider.id


def test_the_provider_follows_the_backend_unless_the_user_chose_its_plugin_type(
    make_engine: Callable[..., Engine],
) -> None:
    engine = make_engine()
    up._register_provider(engine.ctx, "127.0.0.1:9696", "pw", up.PLUGIN_TYPES["ovn"])
    assert registered(engine) == ("OPEN_VSWITCH", True)

    up._register_provider(engine.ctx, "127.0.0.1:9696", "pw", up.PLUGIN_TYPES["ovn"])  # a restart: no change
    up._register_provider(engine.ctx, "127.0.0.1:9696", "pw", up.PLUGIN_TYPES["builtin"])
    assert registered(engine)[0] == "LINUX_BRIDGE"

    with engine.ctx.reader() as uow:
        provider = uow.providers.first(name=up.PROVIDER_NAME)
    assert provider is not None
    providers.update_provider(
        engine.ctx, provider.id, providers.ProviderChanges(external_plugin_type="MY_SWITCH")
    )
    up._register_provider(engine.ctx, "127.0.0.1:9696", "pw", up.PLUGIN_TYPES["ovn"])
    assert registered(engine)[0] == "MY_SWITCH"


def test_the_provider_url_and_its_trusted_ca_follow_tls(make_engine: Callable[..., Engine]) -> None:
    engine = make_engine()
    ca_pem = engine.pki.ca_pem()

    def provider() -> tuple[str, str | None, list[str]]:
        with engine.ctx.reader() as uow:
            found = uow.providers.first(name=up.PROVIDER_NAME)
            assert found is not None
            return found.url, found.authentication_url, found.ca_certificates

    up._register_provider(engine.ctx, "127.0.0.1:9696", "pw", ca_pem=ca_pem)
    assert provider() == ("https://127.0.0.1:9696", "https://127.0.0.1:9696/v3", [ca_pem])
    up._register_provider(engine.ctx, "127.0.0.1:9696", "pw")  # a start with --insecure-http
    assert provider()[:2] == ("http://127.0.0.1:9696", "http://127.0.0.1:9696/v3")
    up._register_provider(engine.ctx, "127.0.0.1:9696", "pw", ca_pem=ca_pem)
    assert provider()[0] == "https://127.0.0.1:9696"
