"""Errors the agent's verbs raise, by category; the API maps each category to one HTTP status.

::

    AgentError
    ├── NotFound      404  VmNotFound, NicNotFound, NetworkNotFound, DhcpNotFound,
    │                      SecurityGroupNotFound
    ├── Conflict      409  VmExists, NicExists, NetworkInUse, SecurityGroupInUse
    ├── BadRequest    400  NoDriverForPluginType, NetworkNotCarried, SecurityGroupNotSet
    └── HostFailure   500  PlugFailed, UnplugFailed (host or driver errors, chained with ``from``)
"""

from __future__ import annotations


class AgentError(Exception):
    """Base of the agent's errors; ``code`` is the leaf class name, sent to clients."""

    status = 500

    @property
    def code(self) -> str:
        return type(self).__name__


class NotFound(AgentError):
    status = 404


class Conflict(AgentError):
    status = 409


class BadRequest(AgentError):
    status = 400


class HostFailure(AgentError):
    status = 500


class VmNotFound(NotFound):
    def __init__(self, vm_id: str) -> None:
        super().__init__(f"VM {vm_id} is not running on this host")


class NicNotFound(NotFound):
    def __init__(self, vm_id: str, nic_id: str) -> None:
        super().__init__(f"VM {vm_id} has no nic {nic_id}")


class NetworkNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"network {name} is not set up on this host")


class DhcpNotFound(NotFound):
    def __init__(self, network_id: str) -> None:
        super().__init__(f"this host serves no DHCP on network {network_id}")


class SecurityGroupNotFound(NotFound):
    def __init__(self, group_id: str) -> None:
        super().__init__(f"security group {group_id} is not known on this host")


class SecurityGroupInUse(Conflict):
    pass


class VmExists(Conflict):
    def __init__(self, vm_id: str) -> None:
        super().__init__(f"VM {vm_id} already runs on this host with another definition")


class NicExists(Conflict):
    pass


class NetworkInUse(Conflict):
    pass


class NoDriverForPluginType(BadRequest):
    def __init__(self, nic: str, plugin_type: str) -> None:
        super().__init__(f"vNIC {nic}: this host has no vNIC driver for plugin type {plugin_type}")


class NetworkNotCarried(BadRequest):
    def __init__(self, nic: str, network: str) -> None:
        super().__init__(f"vNIC {nic}: network {network} is not set up on this host")


class SecurityGroupNotSet(BadRequest):
    def __init__(self, nic: str, group_id: str, reason: str = "was not set on this host") -> None:
        super().__init__(f"vNIC {nic}: security group {group_id} {reason}")


class InvalidDeviceName(BadRequest):
    def __init__(self, what: str, name: str, problem: str) -> None:
        super().__init__(f"{what} {name!r} is no valid interface name: it {problem}")


class PlugFailed(HostFailure):
    pass


class UnplugFailed(HostFailure):
    pass
