"""Provider errors, by category, rendered as Neutron's ``NeutronError`` bodies.

Exception tree (the leaf's class name is the ``type`` clients see, as in Neutron)::

    ProviderError
     ├── BadRequest (400)        InvalidInput, HTTPBadRequest, InvalidIpForNetwork, ...
     ├── NotAuthorized (401)     Unauthorized
     ├── Forbidden (403)         PolicyNotAuthorized
     ├── NotFound (404)          NetworkNotFound, SubnetNotFound, PortNotFound, ...
     ├── Conflict (409)          IpAddressGenerationFailure, IpAddressInUse, ...
     │    └── InUse (409)        NetworkInUse, SubnetInUse, MacAddressInUse, ...
     └── ServiceUnavailable (503) NoNetworkAvailable

One table, :data:`STATUS_BY_CATEGORY`, maps a category to its HTTP status.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ProviderError(Exception):
    message: ClassVar[str] = "An unknown exception occurred."

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        try:
            self.msg = self.message % kwargs
        except (KeyError, TypeError, ValueError):
            self.msg = self.message
        super().__init__(self.msg)

    @property
    def type_name(self) -> str:
        return type(self).__name__


class BadRequest(ProviderError):
    message = "Bad %(resource)s request: %(msg)s."


class NotAuthorized(ProviderError):
    message = "Not authorized."


class Forbidden(ProviderError):
    message = "Forbidden."


class NotFound(ProviderError):
    message = "An unknown exception occurred."


class Conflict(ProviderError):
    message = "A conflict occurred."


class InUse(Conflict):
    message = "The resource is in use."


class ServiceUnavailable(ProviderError):
    message = "Service unavailable."


STATUS_BY_CATEGORY: tuple[tuple[type[ProviderError], int], ...] = (
    (BadRequest, 400),
    (NotAuthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),  # InUse is a Conflict
    (ServiceUnavailable, 503),
)


def status_of(exc: ProviderError) -> int:
    for category, status in STATUS_BY_CATEGORY:
        if isinstance(exc, category):
            return status
    return 500


# --- 400 ---------------------------------------------------------------------------------------


class HTTPBadRequest(BadRequest):
    message = "%(msg)s"


class InvalidInput(BadRequest):
    message = "Invalid input for operation: %(error_message)s."


class InvalidAttribute(HTTPBadRequest):
    """A value an attribute rejects; Neutron reports these as HTTPBadRequest."""

    message = "Invalid input for %(attr)s. Reason: %(reason)s."

    @property
    def type_name(self) -> str:
        return "HTTPBadRequest"


class InvalidIpForNetwork(BadRequest):
    message = "IP address %(ip_address)s is not a valid IP for any of the subnets on the specified network."


class InvalidIpForSubnet(BadRequest):
    message = "IP address %(ip_address)s is not a valid IP for the specified subnet."


class PortSecurityAndIPRequiredForSecurityGroups(InvalidInput):
    message = (
        "Port security must be enabled and port must have an IP address in order to use security groups."
    )


class SecurityGroupRuleInvalidProtocol(InvalidInput):
    message = "Security group rule protocol %(protocol)s not supported. Only protocol values %(values)s and integer representations [0 to 255] are supported."


class SecurityGroupRemoteGroupAndRemoteIpPrefix(InvalidInput):
    message = "Only remote_ip_prefix or remote_group_id may be provided."


class SecurityGroupProtocolRequiredWithPorts(InvalidInput):
    message = "Must also specify protocol if port range is given."


class SecurityGroupInvalidPortRange(InvalidInput):
    message = "For TCP/UDP protocols, port_range_min must be <= port_range_max"


class SecurityGroupInvalidIcmpValue(InvalidInput):
    message = "Invalid value for ICMP %(field)s (%(attr)s) %(value)s. It must be 0 to 255."


class SecurityGroupRuleParameterConflict(InvalidInput):
    message = "Conflicting value ethertype %(ethertype)s for CIDR %(cidr)s"


class SecurityGroupDefaultAlreadyExists(InUse):
    message = "Default security group already exists."


# --- 401 / 403 ---------------------------------------------------------------------------------


class Unauthorized(NotAuthorized):
    message = "%(msg)s"


class PolicyNotAuthorized(Forbidden):
    message = "(rule:%(action)s) is disallowed by policy."


# --- 404 ---------------------------------------------------------------------------------------


class ResourceNotFound(NotFound):
    message = "The resource could not be found."

    @property
    def type_name(self) -> str:
        return "HTTPNotFound"


class NetworkNotFound(NotFound):
    message = "Network %(net_id)s could not be found."


class SubnetNotFound(NotFound):
    message = "Subnet %(subnet_id)s could not be found."


class PortNotFound(NotFound):
    message = "Port %(port_id)s could not be found."


class SecurityGroupNotFound(NotFound):
    message = "Security group %(id)s does not exist"


class SecurityGroupRuleNotFound(NotFound):
    message = "Security group rule %(id)s does not exist"


class AgentNotFound(NotFound):
    message = "Agent %(id)s could not be found."


class ProjectNotFound(NotFound):
    message = "Could not find project: %(project)s."


class UserNotFound(NotFound):
    message = "Could not find user: %(user)s."


# --- 409 ---------------------------------------------------------------------------------------


class IpAddressGenerationFailure(Conflict):
    message = "No more IP addresses available on network %(net_id)s."


class IpAddressInUse(InUse):
    message = "Unable to complete operation for network %(net_id)s. The IP address %(ip_address)s is in use."


class MacAddressInUse(InUse):
    message = "Unable to complete operation for network %(net_id)s. The mac address %(mac)s is in use."


class NetworkInUse(InUse):
    message = "Unable to complete operation on network %(net_id)s. There are one or more ports still in use on the network."


class SubnetInUse(InUse):
    message = "Unable to complete operation on subnet %(subnet_id)s: %(reason)s."


class SecurityGroupInUse(InUse):
    message = "Security Group %(id)s in use."


class SecurityGroupCannotRemoveDefault(InUse):
    message = "Insufficient rights for removing default security group."


class SecurityGroupCannotUpdateDefault(InUse):
    message = "Updating default security group not allowed."


class PortSecurityPortHasSecurityGroup(InUse):
    message = "Port has security group associated. Cannot disable port security or ip address until security group is removed"


class SecurityGroupRuleExists(InUse):
    message = "Security group rule already exists. Rule id is %(rule_id)s."


class TunnelIdInUse(InUse):
    message = "Unable to create the network. The tunnel ID %(tunnel_id)s is in use."


class VlanIdInUse(InUse):
    message = "Unable to create the network. The VLAN %(vlan_id)s on physical network %(physical_network)s is in use."


class FlatNetworkInUse(InUse):
    message = "Unable to create the flat network. Physical network %(physical_network)s is in use."


class DuplicateName(Conflict):
    message = "Conflict occurred attempting to store %(type)s - Duplicate entry %(name)s."


class DBConflict(Conflict):
    message = "A concurrent change conflicted with this request; retry it."


# --- 503 ---------------------------------------------------------------------------------------


class NoNetworkAvailable(ServiceUnavailable):
    message = "Unable to create the network. No tenant network is available for allocation."


def neutron_body(exc: ProviderError) -> dict[str, Any]:
    return {"NeutronError": {"type": exc.type_name, "message": exc.msg, "detail": ""}}
