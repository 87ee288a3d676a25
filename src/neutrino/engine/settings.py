"""The engine's settings: one typed object per process, from options and NEUTRINO_* environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class EngineSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEUTRINO_", extra="ignore")

    listen: str = "127.0.0.1:8080"
    data_dir: Path = Path("data")
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
        host, _, port = self.listen.rpartition(":")
        return host or "127.0.0.1", int(port)
