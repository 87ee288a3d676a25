"""Provider errors, by category, rendered as Neutron's ``NeutronError`` bodies.

Exception tree (the leaf's class name is the ``type`` clients see, as in Neutron)::

    ProviderError
     ├── BadRequest (400)        InvalidInput, HTTPBadRequest, InvalidIpForNetwork, InvalidRoutes, ...
     ├── NotAuthorized (401)     Unauthorized
     ├── Forbidden (403)         PolicyNotAuthorized
     ├── NotFound (404)          NetworkNotFound, SubnetNotFound, PortNotFound, RouterNotFound, ...
     ├── Conflict (409)          IpAddressGenerationFailure, IpAddressInUse, ...
     │    └── InUse (409)        NetworkInUse, SubnetInUse, RouterInUse, ServicePortInUse, ...
     ├── PreconditionFailed (412) RevisionNumberConstraintFailed
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


class PreconditionFailed(ProviderError):
    message = "Precondition failed."


class ServiceUnavailable(ProviderError):
    message = "Service unavailable."


STATUS_BY_CATEGORY: tuple[tuple[type[ProviderError], int], ...] = (
    (BadRequest, 400),
    (NotAuthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),  # InUse is a Conflict
    (PreconditionFailed, 412),
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


class SecurityGroupInvalidPortValue(InvalidInput):
    message = "Invalid value for port %(port)s"


class SecurityGroupInvalidProtocolForPort(InvalidInput):
    message = "Ports cannot be specified for protocol %(protocol)s. Ports are only supported for %(valid_port_protocols)s."


class SecurityGroupMissingIcmpType(InvalidInput):
    message = "ICMP code (port-range-max) %(value)s is provided but ICMP type (port-range-min) is missing."


class SecurityGroupEthertypeConflictWithProtocol(InvalidInput):
    message = "Invalid ethertype %(ethertype)s for protocol %(protocol)s."


class SecurityGroupInvalidIcmpValue(InvalidInput):
    message = "Invalid value for ICMP %(field)s (%(attr)s) %(value)s. It must be 0 to 255."


class SecurityGroupRuleParameterConflict(InvalidInput):
    message = "Conflicting value ethertype %(ethertype)s for CIDR %(cidr)s"


class SecurityGroupDefaultAlreadyExists(InUse):
    message = "Default security group already exists."


class SecurityGroupConflict(Conflict):
    message = "Error %(reason)s while attempting the operation."


class SubnetMismatchForPort(BadRequest):
    message = "Subnet on port %(port_id)s does not match the requested subnet %(subnet_id)s."


class InvalidRoutes(InvalidInput):
    message = "Invalid format for routes: %(routes)s, %(reason)s"


class ExternalIpAddressExhausted(BadRequest):
    message = "Unable to find any IP address on external network %(net_id)s."


# --- 401 / 403 ---------------------------------------------------------------------------------


class Unauthorized(NotAuthorized):
    message = "%(msg)s"


class AccountLocked(NotAuthorized):
    """Too many failed logins (Keystone's text); ``retry_after`` seconds until the next attempt counts."""

    message = "The account is locked for user: %(user)s."

    def __init__(self, *, user: str, retry_after: int) -> None:
        super().__init__(user=user)
        self.retry_after = retry_after


class PolicyNotAuthorized(Forbidden):
    message = "(rule:%(action)s) is disallowed by policy."


class FixedRoles(Forbidden):
    """Keystone lets an admin define roles; Neutrino's policies know three, so the roles are fixed."""

    message = "The roles are fixed: admin, member and reader (%(action)s refused)."


# --- 404 ---------------------------------------------------------------------------------------


class ResourceNotFound(NotFound):
    message = "The resource could not be found."

    @property
    def type_name(self) -> str:
        return "HTTPNotFound"


class TokenNotFound(NotFound):
    message = "Could not find token: %(token_id)s."


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


class DomainNotFound(NotFound):
    message = "Could not find domain: %(domain)s."


class RoleNotFound(NotFound):
    message = "Could not find role: %(role)s."


class RoleAssignmentNotFound(NotFound):
    message = (
        "Could not find role assignment with role: %(role)s, user or group: %(user)s, "
        "project, domain, or system: %(project)s."
    )


class RouterNotFound(NotFound):
    message = "Router %(router_id)s could not be found"


class RouterInterfaceNotFound(NotFound):
    message = "Router %(router_id)s does not have an interface with id %(port_id)s"


class RouterInterfaceNotFoundForSubnet(NotFound):
    message = "Router %(router_id)s has no interface on subnet %(subnet_id)s"


class FloatingIPNotFound(NotFound):
    message = "Floating IP %(floatingip_id)s could not be found"


class InvalidL3Agent(NotFound):
    message = "Agent %(id)s is not a L3 Agent or has been disabled"


class ExternalGatewayForFloatingIPNotFound(NotFound):
    message = (
        "External network %(external_network_id)s is not reachable from subnet %(subnet_id)s.  "
        "Therefore, cannot associate Port %(port_id)s with a Floating IP."
    )


# --- 409 ---------------------------------------------------------------------------------------


class IpAddressGenerationFailure(Conflict):
    message = "No more IP addresses available on network %(net_id)s."


class IpAddressInUse(InUse):
    message = "Unable to complete operation for network %(net_id)s. The IP address %(ip_address)s is in use."


class MacAddressInUse(InUse):
    message = "Unable to complete operation for network %(net_id)s. The mac address %(mac)s is in use."


class NetworkInUse(InUse):
    message = "Unable to complete operation on network %(net_id)s. There are one or more ports still in use on the network."


class NetworkMTUSubnetConflict(Conflict):
    message = "MTU of %(net_id)s is not valid, subnet requires a minimum of %(mtu)s"


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


class PortInUse(InUse):
    message = "Unable to complete operation on port %(port_id)s for network %(net_id)s. Port already has an attached device %(device_id)s."


class ServicePortInUse(InUse):
    message = "Port %(port_id)s cannot be deleted directly via the port API: %(reason)s."


class GatewayIpInUse(InUse):
    message = "Current gateway ip %(ip_address)s already in use by port %(port_id)s. Unable to update."


class ExternalNetworkInUse(InUse):
    message = "External network %(net_id)s cannot be updated to be made non-external, since it has existing gateway ports."


class RouterInUse(InUse):
    message = "Router %(router_id)s %(reason)s"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("reason", "still has ports")
        super().__init__(**kwargs)


class RouterInterfaceInUseByFloatingIP(InUse):
    message = "Router interface for subnet %(subnet_id)s on router %(router_id)s cannot be deleted, as it is required by one or more floating IPs."


class RouterInterfaceInUseByRoute(InUse):
    message = "Router interface for subnet %(subnet_id)s on router %(router_id)s cannot be deleted, as it is required by one or more routes."


class RouterExternalGatewayInUseByFloatingIp(InUse):
    message = "Gateway cannot be updated for router %(router_id)s, since a gateway to external network %(net_id)s is required by one or more floating IPs."


class FloatingIPPortAlreadyAssociated(InUse):
    message = "Cannot associate floating IP %(floating_ip_address)s (%(fip_id)s) with port %(port_id)s using fixed IP %(fixed_ip)s, as that fixed IP already has a floating IP on external network %(net_id)s."


class RouterHostedByL3Agent(Conflict):
    message = "The router %(router_id)s has been already hosted by the L3 Agent %(agent_id)s."


class RouterNotHostedByL3Agent(Conflict):
    message = "The router %(router_id)s is not hosted by L3 agent %(agent_id)s."


class DuplicateName(Conflict):
    message = (
        "Conflict occurred attempting to store %(type)s - "
        "Duplicate entry found with name %(name)s at domain ID default."
    )


class DBConflict(Conflict):
    message = "A concurrent change conflicted with this request; retry it."


# --- 503 ---------------------------------------------------------------------------------------


class NoNetworkAvailable(ServiceUnavailable):
    message = "Unable to create the network. No tenant network is available for allocation."


def neutron_body(exc: ProviderError) -> dict[str, Any]:
    return {"NeutronError": {"type": exc.type_name, "message": exc.msg, "detail": ""}}


# --- extensions (issue 18): tags, revision-if-match, allowed address pairs --------------------


class TagResourceNotFound(NotFound):
    message = "Resource %(resource)s %(resource_id)s could not be found."


class TagNotFound(NotFound):
    message = "Tag %(tag)s could not be found."


class RevisionNumberConstraintFailed(PreconditionFailed):
    """``If-Match: revision_number=N`` and the resource is at another revision."""

    message = "Constrained to %(expected)s, but current revision is %(current)s"


class AllowedAddressPairsMissingIP(InvalidInput):
    message = "AllowedAddressPair must contain ip_address"


class DuplicateAddressPairInRequest(InvalidInput):
    message = (
        "Request contains duplicate address pair: mac_address %(mac_address)s ip_address %(ip_address)s."
    )


class DNSNameServersExhausted(BadRequest):
    message = "Unable to complete operation for %(subnet_id)s. The number of DNS nameservers exceeds the limit %(quota)s."


class HostRoutesExhausted(BadRequest):
    message = "Unable to complete operation for %(subnet_id)s. The number of host routes exceeds the limit %(quota)s."


class RoutesExhausted(BadRequest):
    message = (
        "Unable to complete operation for %(router_id)s. The number of routes exceeds the maximum %(quota)s."
    )


class AllowedAddressPairExhausted(BadRequest):
    message = "The number of allowed address pair exceeds the maximum %(quota)s."


class AddressPairAndPortSecurityRequired(Conflict):
    message = "Port Security must be enabled in order to have allowed address pairs on a port."


# --- quotas and RBAC (issue 18) ----------------------------------------------------------------


class OverQuota(Conflict):
    message = "Quota exceeded for resources: %(overs)s."


class QuotaMissingTenant(BadRequest):
    message = "Tenant-id was missing from Quota request."


class TenantQuotaNotFound(NotFound):
    message = "Quota for tenant %(tenant_id)s could not be found."


class RbacPolicyNotFound(NotFound):
    message = "RBAC policy of type %(object_type)s with ID %(id)s not found"


class RbacPolicyInUse(Conflict):
    message = "RBAC policy on object %(object_id)s cannot be removed because other objects depend on it.\nDetails: %(details)s"


class DuplicateRbacPolicy(Conflict):
    message = "An RBAC policy already exists with those values."


class InvalidActionForType(InvalidInput):
    message = (
        "Invalid action '%(action)s' for object type '%(object_type)s'. Valid actions: %(valid_actions)s"
    )


class InvalidSharedSetting(Conflict):
    message = "Unable to reconfigure sharing settings for network %(network)s. Multiple tenants are using it."


# --- subnet pools (issue 18): subnet_allocation, default-subnetpools ----------------------------


class SubnetPoolNotFound(NotFound):
    message = "Subnet pool %(subnetpool_id)s could not be found."


class AddressScopeNotFound(NotFound):
    message = "Address scope %(address_scope_id)s could not be found."


class EmptySubnetPoolPrefixList(BadRequest):
    message = "Empty subnet pool prefix list."


class PrefixVersionMismatch(BadRequest):
    message = "Cannot mix IPv4 and IPv6 prefixes in a subnet pool."


class IllegalSubnetPoolPrefixBounds(BadRequest):
    message = "Illegal prefix bounds: %(prefix_type)s=%(prefixlen)s, %(base_prefix_type)s=%(base_prefixlen)s."


class IllegalSubnetPoolPrefixUpdate(BadRequest):
    message = "Illegal update to prefixes: %(msg)s."


class MinPrefixSubnetAllocationError(BadRequest):
    message = "Unable to allocate subnet with prefix length %(prefixlen)s, minimum allowed prefix is %(min_prefixlen)s."


class MaxPrefixSubnetAllocationError(BadRequest):
    message = "Unable to allocate subnet with prefix length %(prefixlen)s, maximum allowed prefix is %(max_prefixlen)s."


class NetworkSubnetPoolAffinityError(BadRequest):
    message = "Subnets hosted on the same network must be allocated from the same subnet pool."


class SubnetPoolDeleteError(BadRequest):
    message = "Unable to delete subnet pool: %(reason)s."


class SubnetAllocationError(Conflict):
    """Neutron's type and wording; Neutron answers 500 (a NeutronException outside its fault map), a pool
    without room for the request is a conflict with the pool's state, so 409 here."""

    message = "Failed to allocate subnet: %(reason)s."


class SubnetPoolQuotaExceeded(OverQuota):
    message = "Per-project subnet pool prefix quota exceeded."
