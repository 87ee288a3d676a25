"""The agent's settings: one typed object per process, from arguments and ``NEUTRINO_AGENT_*``."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_VNIC_DRIVERS = {"LINUX_BRIDGE": "noop", "OPEN_VSWITCH": "noop"}


class AgentSettings(BaseSettings):
    """Everything the agent process is configured with.

    Environment variables are ``NEUTRINO_AGENT_<FIELD>`` (e.g. ``NEUTRINO_AGENT_TOKEN``); mapping
    and list fields take JSON there. Explicit arguments win over the environment.
    """

    model_config = SettingsConfigDict(env_prefix="NEUTRINO_AGENT_", extra="forbid")

    listen: str = Field(default="127.0.0.1:54321", description="HOST:PORT, or unix:PATH")
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
    provider_auth_url: str | None = Field(default=None, description="Keystone v3; default PROVIDER_URL/v3")
    provider_username: str = "admin"
    provider_password: SecretStr | None = None
    provider_project: str = "admin"
    provider_domain: str = "Default"
    report_interval: float = Field(default=30, gt=0)
    ovs_db: str | None = Field(
        default=None, description="OVSDB for open_vswitch, e.g. unix:/run/openvswitch/db.sock"
    )
    ovs_datapath_type: str | None = Field(default=None, description="br-int datapath type, e.g. netdev")

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

    def bind(self) -> dict[str, object]:
        """uvicorn's ``host``/``port`` or ``uds`` arguments for :attr:`listen`."""
        if self.listen.startswith("unix:"):
            return {"uds": self.listen[len("unix:") :]}
        host, _, port = self.listen.rpartition(":")
        return {"host": host.strip("[]"), "port": int(port)}
