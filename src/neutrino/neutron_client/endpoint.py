"""Where Neutron is and how to prove who we are: the one place Keystone and TLS are configured."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

from keystoneauth1 import session as ksa_session
from keystoneauth1.identity import v2, v3
from keystoneauth1.identity.base import BaseIdentityPlugin

from neutrino.neutron_client.errors import InvalidEndpoint


@dataclass(frozen=True)
class Credentials:
    """A Keystone password login, scoped to a project. The auth URL's last segment picks the Keystone API:
    ``…/v3`` (user and project in domains) or ``…/v2.0`` (``project_name`` is the tenant; domains unused)."""

    auth_url: str
    username: str
    password: str = field(repr=False)
    project_name: str | None = None
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"


@dataclass(frozen=True)
class Endpoint:
    """How to reach one Neutron.

    ``url`` is Neutron's base URL, with or without ``/v2.0``; None takes the ``network`` endpoint of
    Keystone's catalog (``interface``, ``region_name``). Without ``credentials`` requests carry no token (a
    Neutron with ``auth_strategy = noauth``). ``ca_file`` is a PEM bundle that replaces the system's trust:
    every certificate in it is an anchor, a CA's or a server's own (as oVirt's imported certificates are).
    ``connect_retries`` retries a connection that failed or timed out (never an answered request).
    """

    url: str | None = None
    credentials: Credentials | None = None
    ca_file: str | None = None
    connect_timeout: float = 20.0
    read_timeout: float = 30.0
    connect_retries: int = 0
    interface: str = "public"
    region_name: str | None = None

    @property
    def where(self) -> str:
        """The URL to name in messages before Neutron's own is known."""
        return self.url or (self.credentials.auth_url if self.credentials else "")


def auth_plugin(credentials: Credentials | None) -> BaseIdentityPlugin | None:
    """keystoneauth1's password plugin for the credentials' Keystone version; it fetches a token on first
    use, again before it expires and after a 401."""
    if credentials is None:
        return None
    auth_url = credentials.auth_url.rstrip("/")
    if auth_url.endswith("/v3"):
        return v3.Password(
            auth_url=auth_url,
            username=credentials.username,
            password=credentials.password,
            project_name=credentials.project_name,
            user_domain_name=credentials.user_domain_name,
            project_domain_name=credentials.project_domain_name,
        )
    if auth_url.endswith("/v2.0"):
        return v2.Password(
            auth_url=auth_url,
            username=credentials.username,
            password=credentials.password,
            tenant_name=credentials.project_name,
        )
    raise InvalidEndpoint(f"the authentication URL '{credentials.auth_url}' ends neither in /v3 nor in /v2.0")


class ImportedTrust(ksa_session.TCPKeepAliveAdapter):
    """HTTPS that trusts exactly the certificates of a CA file, each one as an anchor.

    NOTE: OpenSSL only accepts a self-signed root as an anchor unless X509_V_FLAG_PARTIAL_CHAIN is set; oVirt's
    Java trust store accepts any imported certificate, so importing just a provider's own (CA-signed) certificate
    works there and must work here.
    """

    def __init__(self, ca_file: str) -> None:
        self._context = ssl.create_default_context(cafile=ca_file)
        self._context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)
