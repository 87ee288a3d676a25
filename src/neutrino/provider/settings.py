"""The provider's one typed settings object, built once per process and passed explicitly."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ProviderSettings(BaseSettings):
    """Everything `neutrino provider` can be told; environment variables use the NEUTRINO_PROVIDER_ prefix."""

    model_config = SettingsConfigDict(env_prefix="NEUTRINO_PROVIDER_", extra="forbid", populate_by_name=True)

    listen_host: str = "127.0.0.1"
    listen_port: int = 9696
    #: HTTPS: the server certificate chain and its key (PEM).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: Serve plain HTTP instead (passwords and tokens in clear): only when asked for.
    insecure_http: bool = Field(
        default=False,
        validation_alias=AliasChoices("NEUTRINO_INSECURE_HTTP", "NEUTRINO_PROVIDER_INSECURE_HTTP"),
    )
    data_dir: Path = Path("/var/lib/neutrino/provider")
    #: SQLAlchemy URL; a SQLite file in ``data_dir`` when empty.
    db_url: str = ""
    #: Serve everything without tokens, acting as admin (like Neutron's noauth strategy).
    no_auth: bool = False
    #: Project owning resources created in no-auth mode without a project_id in the body.
    default_project_id: str = "admin"
    #: Password of the first `admin` user; generated and printed once when empty.
    admin_password: str = Field(
        default="",
        validation_alias=AliasChoices("NEUTRINO_ADMIN_PASSWORD", "NEUTRINO_PROVIDER_ADMIN_PASSWORD"),
    )
    #: Base URL advertised in the Keystone catalog; taken from each request when empty.
    public_url: str = ""
    region: str = "RegionOne"
    #: Lifetime of a Keystone token (Keystone's ``[token] expiration``, one hour by default).
    token_ttl_seconds: int = Field(default=3600, gt=0)
    #: The token signing key (0600); ``keystone-signing.key`` in ``data_dir`` when unset.
    token_key_file: Path | None = None
    #: Failed logins (Keystone password auth) allowed per user name, and per client address, in any
    #: ``login_failure_window`` seconds before further attempts are refused unchecked (0: no limit).
    login_max_failures_per_user: int = Field(default=5, ge=0)
    login_max_failures_per_address: int = Field(default=30, ge=0)
    login_failure_window: float = Field(default=300.0, gt=0)
    #: Tenant segmentation ranges (inclusive).
    vni_min: int = 1
    vni_max: int = 65535
    vlan_physical_network: str = "physnet1"
    vlan_min: int = 1
    vlan_max: int = 4094
    default_network_type: str = "vxlan"
    global_physnet_mtu: int = 1500
    #: binding:vif_type reported for ports bound to a host; empty: the backend's (builtin: ``bridge``,
    #: OVN: ``ovs``; see ``neutrino.provider.api.port_binding``).
    vif_type: str = ""
    db_pool_size: int = 20
    #: Neutron's list limits (its options of the same names and defaults): a subnet's DNS servers and host
    #: routes, a router's extra routes; more is a 400 (``DNSNameServersExhausted`` and the like).
    max_dns_nameservers: int = Field(default=5, ge=0)
    max_subnet_host_routes: int = Field(default=20, ge=0)
    max_routes: int = Field(default=30, ge=0)
    #: Neutron's ``dns_domain``: the domain of the ports' ``dns_assignment`` fqdn, and what a guest is told
    #: when neither its port nor its network has a ``dns_domain``.
    dns_domain: str = Field(
        default="openstacklocal", pattern=r"^([A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*\.?)?$"
    )
    #: The largest request body taken, in bytes (a larger one is answered 413).
    max_body_bytes: int = Field(default=1 << 20, gt=0)
    #: Per-project quotas (Neutron's ``[QUOTAS] quota_<resource>``): how many of each a project may
    #: create unless an admin set its own limit; -1 is unlimited (the embedded default; Neutron's
    #: own defaults are 100 networks, 100 subnets, 500 ports, 10 routers, 50 floating IPs,
    #: 10 security groups, 100 rules and 10 RBAC policies).
    quota_network: int = Field(default=-1, ge=-1)
    quota_subnet: int = Field(default=-1, ge=-1)
    quota_subnetpool: int = Field(default=-1, ge=-1)
    quota_port: int = Field(default=-1, ge=-1)
    quota_router: int = Field(default=-1, ge=-1)
    quota_floatingip: int = Field(default=-1, ge=-1)
    quota_security_group: int = Field(default=-1, ge=-1)
    quota_security_group_rule: int = Field(default=-1, ge=-1)
    quota_rbac_policy: int = Field(default=-1, ge=-1)
    #: Let project members set and see binding:host_id / binding:profile (Neutron's default
    #: policy keeps them to admins); for an engine that connects as a project user.
    member_port_binding: bool = False

    #: Where the network state goes after the database: nowhere else (the agents read the provider),
    #: or OVN's northbound database.
    backend: Literal["builtin", "ovn"] = "builtin"
    #: OVSDB connection of OVN's northbound (``tcp:IP:PORT``, ``ssl:IP:PORT``, ``unix:PATH``).
    ovn_nb_connection: str = ""
    #: OVSDB connection of OVN's southbound: its chassis are listed as agents.
    ovn_sb_connection: str = ""
    #: Client key, certificate and CA certificate for ``ssl:`` connections.
    ovn_nb_private_key: Path | None = None
    ovn_nb_certificate: Path | None = None
    ovn_ca_cert: Path | None = None
    #: Seconds between two maintenance passes (northbound drift repair).
    ovn_maintenance_interval: float = Field(default=300.0, gt=0)
    #: Seconds between two reads of the southbound's chassis (the agents list and their liveness).
    ovn_chassis_interval: float = Field(default=5.0, gt=0)
    #: Seconds an OVSDB transaction may take.
    ovn_ovsdb_timeout: float = Field(default=10.0, gt=0)
    #: Seconds without a report after which an agent is not alive (Neutron's ``agent_down_time``).
    agent_down_time: float = Field(default=75.0, gt=0)
    #: builtin backend: seconds between two passes of the L3 scheduler's check (routers of agents
    #: that are not alive move to live ones; routers without an agent get one).
    l3_schedule_interval: float = Field(default=10.0, gt=0)
    #: Seconds between two looks at the agents for the change feed (an agent that appeared, left,
    #: stopped or started reporting, or moved its tunnel address: the agents' VXLAN peers).
    agent_watch_interval: float = Field(default=2.0, gt=0)

    @model_validator(mode="after")
    def _check_ovn(self) -> Self:
        for name in ("ovn_nb_connection", "ovn_sb_connection"):
            value: str = getattr(self, name)
            if value and not value.startswith(("tcp:", "ssl:", "unix:")):
                raise ValueError(f"{name}: {value!r} is not an OVSDB connection (tcp:, ssl: or unix:)")
        if self.backend == "ovn" and not self.ovn_nb_connection:
            raise ValueError("ovn_nb_connection: required with backend 'ovn'")
        for db in ("northbound", "southbound"):
            if getattr(self, f"ovn_{db[0]}b_connection").startswith("ssl:"):
                for name in ("ovn_nb_private_key", "ovn_nb_certificate", "ovn_ca_cert"):
                    if getattr(self, name) is None:
                        raise ValueError(f"{name}: required for an ssl: {db} connection")
        return self

    def token_key_path(self) -> Path:
        return self.token_key_file or self.data_dir / "keystone-signing.key"

    def tls_options(self) -> dict[str, str]:
        """uvicorn's certificate options; none with insecure_http. A ValueError naming the options when
        neither HTTPS nor plain HTTP was chosen: the provider never falls back to clear text by itself."""
        if self.insecure_http:
            return {}
        if self.tls_cert is None or self.tls_key is None:
            raise ValueError(
                "tls_cert and tls_key: required to serve HTTPS (--tls-cert, --tls-key); "
                "--insecure-http serves plain HTTP instead"
            )
        return {"ssl_certfile": str(self.tls_cert), "ssl_keyfile": str(self.tls_key)}

    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.data_dir / 'provider.db'}"
