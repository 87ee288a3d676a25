"""Who this host is to the engine and to the network provider."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class HostIdentity:
    """The host's name, its ``binding:host_id`` per plugin type and its tunnel (VXLAN) address."""

    host_name: str
    binding_host_ids: dict[str, str] = field(default_factory=dict)  # plugin type -> id; default host_name
    tunnel_ip: str | None = None

    def binding_host_id(self, plugin_type: str) -> str:
        """The ``binding:host_id`` of this host's ports of ``plugin_type``."""
        return self.binding_host_ids.get(plugin_type, self.host_name)
