"""The agent's settings: one typed object per process, from arguments, ``NEUTRINO_AGENT_*`` and
a TOML config file (``--config``), in that order of precedence.

The config file holds the same options as the arguments, by field name (``provider_url`` or
``provider-url``), mapping and list options as TOML tables and arrays, e.g.::

    listen = "127.0.0.1:54321"
    tunnel_ip = "192.0.2.11"
    vnic_drivers = { LINUX_BRIDGE = "linux_bridge", OPEN_VSWITCH = "open_vswitch" }
    physical_interface_mappings = { physnet1 = "eth1" }
    provider_url = "http://192.0.2.1:9696"

An unknown option in the file is an error naming it (see ``contrib/systemd/agent.toml.example``).
"""

from __future__ import annotations

import socket
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_VNIC_DRIVERS = {"LINUX_BRIDGE": "noop", "OPEN_VSWITCH": "noop"}


#: the options read from the config file while :meth:`AgentSettings.from_file` builds settings
_FILE_OPTIONS: ContextVar[dict[str, Any] | None] = ContextVar("agent_config_file", default=None)


class _ConfigFile(PydanticBaseSettingsSource):
    """The config file as a settings source, below the environment."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return (_FILE_OPTIONS.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_FILE_OPTIONS.get() or {})


class AgentSettings(BaseSettings):
    """Everything the agent process is configured with.

    Environment variables are ``NEUTRINO_AGENT_<FIELD>`` (e.g. ``NEUTRINO_AGENT_TOKEN``); mapping
    and list fields take JSON there. Explicit arguments win over the environment, the environment
    over the config file (:meth:`from_file`).
    """

    model_config = SettingsConfigDict(env_prefix="NEUTRINO_AGENT_", extra="forbid", populate_by_name=True)

    listen: str = Field(default="127.0.0.1:54321", description="HOST:PORT, or unix:PATH")
    tls_cert: Path | None = Field(default=None, description="HTTPS: the certificate chain (PEM)")
    tls_key: Path | None = Field(default=None, description="HTTPS: the key of tls_cert (PEM)")
    insecure_http: bool = Field(
        default=False,
        validation_alias=AliasChoices("NEUTRINO_INSECURE_HTTP", "NEUTRINO_AGENT_INSECURE_HTTP"),
        description="serve plain HTTP on a TCP listen address (the token in clear): only when asked for",
    )
    cert_renew_days: float = Field(
        default=30.0,
        gt=0,
        le=3650,
        description="ask the engine for a new certificate once the one it issued has fewer days left than this",
    )
    data_dir: Path = Path("/var/lib/neutrino/agent")
    token: SecretStr | None = None
    host_name: str = Field(default_factory=socket.gethostname)
    vnic_drivers: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_VNIC_DRIVERS))
    binding_host_ids: dict[str, str] = Field(default_factory=dict)
    vm_backend: Literal["libvirt", "netns"] = "libvirt"
    host_net: Literal["kernel", "memory"] = "kernel"
    tunnel_ip: str | None = None
    vxlan_peers: list[str] = Field(default_factory=list)
    vxlan_port: int = 4789
    underlay_dev: str | None = None
    underlay_mtu: int = Field(default=1500, ge=576)
    physical_interface_mappings: dict[str, str] = Field(default_factory=dict)
    netns_prefix: str = "nvm-"
    guest_dhcp: bool = True
    firewall: Literal["iptables", "none"] = "iptables"
    provider_url: str | None = Field(default=None, description="the network provider's Neutron endpoint")
    provider_auth_url: str | None = Field(
        default=None, description="Keystone, ending in /v3 or /v2.0; default PROVIDER_URL/v3"
    )
    provider_username: str = "admin"
    provider_password: SecretStr | None = None
    provider_project: str = "admin"
    provider_domain: str = "Default"
    provider_ca_file: Path | None = Field(
        default=None, description="PEM file of the certificates to trust for https provider and Keystone URLs"
    )
    report_interval: float = Field(default=30, gt=0)
    max_body_bytes: int = Field(
        default=1 << 20, gt=0, description="the largest request body taken (else 413)"
    )
    sync_interval: float = Field(
        default=2,
        gt=0,
        description="seconds between syncs with a provider without a change feed (a real Neutron)",
    )
    change_feed: bool = Field(
        default=True,
        description="follow the provider's change feed when it has one (False: poll every sync_interval)",
    )
    resync_interval: float = Field(
        default=300,
        gt=0,
        description="seconds between full syncs with a provider whose change feed the agent follows",
    )
    feed_wait: float = Field(
        default=300,
        gt=0,
        le=300,
        description="seconds one long poll of the provider's change feed waits for a change",
    )
    provider_dhcp: bool = Field(
        default=True, description="serve DHCP on provider networks (False: the provider's own DHCP agents do)"
    )
    l3_agent: bool = Field(
        default=True,
        description="with a provider link and a linux_bridge driver: run the routers the provider schedules here",
    )
    ovs_db: str | None = Field(
        default=None, description="OVSDB for open_vswitch, e.g. unix:/run/openvswitch/db.sock"
    )
    ovs_datapath_type: str | None = Field(default=None, description="br-int datapath type, e.g. netdev")
    integration_bridge: str = Field(
        default="br-int",
        pattern=r"^[A-Za-z0-9_.-]{1,15}$",
        description="the OVS bridge of OPEN_VSWITCH vNICs",
    )
    ovs_rundir: Path = Field(
        default=Path("/run/openvswitch"),
        description="Open vSwitch's run dir: its db.sock (unless ovs_db) and the bridges' mgmt sockets",
    )
    ovn_remote: str | None = Field(
        default=None, description="OVN mode: the OVN southbound DB, e.g. tcp:192.0.2.1:6642"
    )
    ovn_encap_ip: str | None = Field(default=None, description="OVN mode: this chassis' tunnel address")
    ovn_encap_type: Literal["geneve", "vxlan"] = "geneve"
    ovn_bridge_mappings: dict[str, str] = Field(
        default_factory=dict, description="OVN mode: physical network -> OVS bridge"
    )
    ovn_rundir: Path = Field(
        default=Path("/run/ovn"), description="where the system's ovn-controller keeps its pid file"
    )
    ovn_private_key: Path | None = Field(
        default=None, description="OVN mode, ssl: remote: this chassis' private key (PEM)"
    )
    ovn_certificate: Path | None = Field(
        default=None, description="OVN mode, ssl: remote: this chassis' certificate (PEM), signed by the CA"
    )
    ovn_ca_cert: Path | None = Field(
        default=None,
        description="OVN mode, ssl: remote: the CA certificate the southbound's is checked against",
    )

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        if value.startswith("unix:"):
            if len(value) <= len("unix:"):
                raise ValueError("unix: needs a socket path")
            return value
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError("listen must be HOST:PORT or unix:PATH")
        return value

    @field_validator("ovn_remote")
    @classmethod
    def _ovn_remote(cls, value: str | None) -> str | None:
        for remote in (value or "").split(","):
            if value is not None and not remote.startswith(("tcp:", "ssl:", "unix:")):
                raise ValueError(f"ovn_remote {remote!r} must be tcp:IP:PORT, ssl:IP:PORT or unix:PATH")
        return value

    @model_validator(mode="after")
    def _ovn_mode(self) -> AgentSettings:
        if self.ovn_remote and not self.ovn_encap_ip:
            raise ValueError("ovn_encap_ip: OVN mode (ovn_remote) needs this chassis' tunnel address")
        ssl = any(remote.startswith("ssl:") for remote in (self.ovn_remote or "").split(","))
        for name in ("ovn_private_key", "ovn_certificate", "ovn_ca_cert"):
            path: Path | None = getattr(self, name)
            if ssl and path is None:
                raise ValueError(f"{name}: required for an ssl: ovn_remote")
            if path is not None and not path.is_file():
                raise ValueError(f"{name}: {path} is not a file")
        return self

    @property
    def ovn(self) -> bool:
        """Whether the agent runs in OVN mode (the host is an OVN chassis)."""
        return bool(self.ovn_remote)

    @property
    def ovsdb(self) -> str | None:
        """The OVSDB the agent talks to: ``ovs_db``, else in OVN mode the one in ``ovs_rundir``."""
        if self.ovs_db or not self.ovn:
            return self.ovs_db
        return f"unix:{self.ovs_rundir / 'db.sock'}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _ConfigFile(settings_cls))

    @classmethod
    def from_file(cls, path: Path, **given: Any) -> AgentSettings:
        """Settings from the TOML file at ``path``, overridden by the environment and ``given``.
        Raises ``OSError`` (unreadable), ``ValueError`` (not TOML, an unknown option) or
        ``pydantic.ValidationError``."""
        token = _FILE_OPTIONS.set(read_config(path))
        try:
            return cls(**given)
        finally:
            _FILE_OPTIONS.reset(token)

    @property
    def tls_mode(self) -> Literal["unix", "insecure", "files", "enroll"]:
        """How the agent API is served: on a unix socket (its file's permissions guard it), plain HTTP
        (insecure_http), HTTPS with tls_cert/tls_key, or HTTPS with the certificate the engine issues when it
        adds the host (``neutrino.agent.enrollment``; a bootstrap one until then)."""
        if self.listen.startswith("unix:"):
            return "unix"
        if self.insecure_http:
            return "insecure"
        return "files" if self.tls_cert is not None else "enroll"

    def bind(self) -> dict[str, object]:
        """uvicorn's ``host``/``port`` (and certificate files with tls_cert) or ``uds`` for :attr:`listen`."""
        if self.listen.startswith("unix:"):
            return {"uds": self.listen[len("unix:") :]}
        host, _, port = self.listen.rpartition(":")
        bind: dict[str, object] = {"host": host.strip("[]"), "port": int(port)}
        if self.tls_mode != "files":
            return bind
        return {**bind, "ssl_certfile": str(self.tls_cert), "ssl_keyfile": str(self.tls_key)}

    @model_validator(mode="after")
    def _tls_pair(self) -> AgentSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError(
                "tls_cert and tls_key: give both (or neither, for the engine to enroll the agent)"
            )
        return self


def read_config(path: Path) -> dict[str, Any]:
    """The options of a TOML config file, keys normalized to field names."""
    with open(path, "rb") as fh:
        try:
            raw = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: {exc}") from exc
    options = {key.replace("-", "_"): value for key, value in raw.items()}
    unknown = sorted(set(options) - set(AgentSettings.model_fields))
    if unknown:
        raise ValueError(f"{path}: unknown option(s) {', '.join(unknown)}")
    return options
