"""The engine's settings: one typed object per process, from options and NEUTRINO_* environment."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class EngineSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEUTRINO_", extra="ignore")

    # HTTPS (plain HTTP with insecure_http) on listen; the PKI resource alone over plain HTTP on http_listen
    listen: str = "127.0.0.1:8443"
    http_listen: str = "127.0.0.1:8080"
    data_dir: Path = Path("data")
    # the server certificate chain and key; default: the engine's own, issued by its CA (data_dir/pki)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # NEUTRINO_INSECURE_HTTP: serve plain HTTP and call the host agents over plain HTTP (oVirt's
    # EncryptHostCommunication=false); only when asked for
    insecure_http: bool = False
    # PEM certificates trusted for host agents besides the engine's CA
    agent_ca_file: Path | None = None
    # SQLAlchemy URL; default: SQLite file in the data dir
    db: str | None = None
    # first start only: the admin@internal password (else generated and printed once)
    admin_password: str | None = None
    # MAC pool range, FIRST-LAST; default chosen once at first start (oVirt's 56:6f:XX:XX:00:00 style)
    mac_pool_range: str | None = None
    # Fernet key for stored secrets; default: data_dir/secret.key
    secret_key: str | None = Field(default=None, repr=False)
    # calls to network providers: connection and read timeouts, seconds
    provider_connect_timeout: float = 20.0
    provider_timeout: float = 30.0
    # seconds between two synchronizations with each provider (auto-sync, missing networks)
    provider_sync_interval: float = 300.0
    # seconds between two janitor runs (deleting provider ports the engine gave up), and between two looks at
    # each host's agent; calls to host agents time out after agent_timeout seconds
    janitor_interval: float = 60.0
    host_monitor_interval: float = 10.0
    agent_timeout: float = 30.0
    # seconds an SSO bearer token stays valid after login (oVirt's default: 10 hours)
    sso_token_lifetime: float = Field(default=36_000.0, gt=0)
    # seconds the engine waits after a host agent's certificate renewal failed before it tries (and writes a
    # failure event) again
    cert_renewal_retry: float = Field(default=3600.0, gt=0)
    # failed logins (HTTP Basic, SSO) allowed per user, and per client address, in any login_failure_window
    # seconds; past that, logins are refused unchecked (401, Retry-After) until the window moves on (0: no limit)
    login_max_failures_per_user: int = Field(default=5, ge=0)
    login_max_failures_per_address: int = Field(default=30, ge=0)
    login_failure_window: float = Field(default=300.0, gt=0)
    # days the audit log (/events) keeps an event (oVirt's AuditLogAgingThreshold: 30), and seconds between two
    # prunings of older ones
    event_retention_days: float = Field(default=30.0, gt=0)
    event_prune_interval: float = Field(default=3600.0, gt=0)
    # the largest request body the API takes, in bytes (a larger one is answered 413)
    max_body_bytes: int = Field(default=1 << 20, gt=0)

    @property
    def db_url(self) -> str:
        return self.db or f"sqlite:///{(self.data_dir / 'engine.db').resolve()}"

    @property
    def host_port(self) -> tuple[str, int]:
        return _host_port(self.listen)

    @property
    def http_host_port(self) -> tuple[str, int] | None:
        """Where the plain-HTTP PKI listener serves: None when there is none (insecure_http serves all
        over HTTP on listen; an empty http_listen turns it off)."""
        if self.insecure_http or not self.http_listen:
            return None
        return _host_port(self.http_listen)

    @property
    def scheme(self) -> str:
        return "http" if self.insecure_http else "https"

    @model_validator(mode="after")
    def _tls_pair(self) -> Self:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key: give both (or neither, for the engine's own certificate)")
        return self


def _host_port(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)
