"""Build the client for one registered provider: its password decrypted, its imported CA certificates as
the only TLS trust, the engine's timeouts."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from neutrino.engine.domain import model
from neutrino.engine.providers.base import NetworkProvider
from neutrino.engine.providers.neutron import NeutronProvider
from neutrino.neutron_client import Credentials, Endpoint


class ProviderClients:
    """``clients(provider)`` -> a NetworkProvider speaking to it.

    Clients of saved providers are kept while the provider's connection settings stay the same, so their
    Keystone token is reused (a token costs the provider a password check; a network import should not).
    """

    def __init__(
        self, secrets: object, ca_dir: Path, connect_timeout: float = 20.0, read_timeout: float = 30.0
    ) -> None:
        self.secrets = secrets
        self.ca_dir = ca_dir
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._clients: dict[str, tuple[tuple[object, ...], NetworkProvider]] = {}
        self._lock = threading.Lock()

    def __call__(self, provider: model.ExternalProvider, password: str | None = None) -> NetworkProvider:
        """A client for ``provider``; ``password`` overrides the stored one (a provider not saved yet)."""
        if password is not None:
            return self._build(provider, password)
        key = (
            provider.url,
            provider.requires_authentication,
            provider.authentication_url,
            provider.username,
            provider.password_encrypted,
            provider.project_name,
            provider.tenant_name,
            provider.user_domain_name,
            provider.project_domain_name,
            tuple(provider.ca_certificates),
        )
        with self._lock:
            cached = self._clients.get(provider.id)
            if cached is not None and cached[0] == key:
                return cached[1]
        client = self._build(provider, None)
        with self._lock:
            self._clients[provider.id] = (key, client)
        return client

    def _build(self, provider: model.ExternalProvider, password: str | None) -> NetworkProvider:
        if password is None and provider.password_encrypted:
            password = self.secrets.decrypt(provider.password_encrypted)  # type: ignore[attr-defined]
        credentials = None
        if provider.requires_authentication:
            credentials = Credentials(
                auth_url=provider.authentication_url or "",
                username=provider.username or "",
                password=password or "",
                project_name=provider.project_name or provider.tenant_name,
                user_domain_name=provider.user_domain_name or "Default",
                project_domain_name=provider.project_domain_name or "Default",
            )
        return NeutronProvider(
            Endpoint(
                url=provider.url,
                credentials=credentials,
                ca_file=self._ca_file(provider.ca_certificates),
                connect_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
            )
        )

    def _ca_file(self, pems: list[str]) -> str | None:
        """The imported certificates as a bundle file (content-addressed, written once)."""
        if not pems:
            return None
        bundle = "".join(p if p.endswith("\n") else p + "\n" for p in pems).encode()
        path = self.ca_dir / f"{hashlib.sha256(bundle).hexdigest()[:32]}.pem"
        if not path.exists():
            self.ca_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(bundle)
            tmp.replace(path)
        return str(path)
