"""The client side of the Neutron v2.0 + Keystone contract: one package the engine and the host agent share.

It speaks only the wire contract and imports nothing from ``neutrino.engine``, ``neutrino.agent`` or
``neutrino.provider``; it works against Neutrino's embedded provider and a real OpenStack Neutron.

Why keystoneauth1 sessions (over requests) and not httpx: Keystone is the hard half of the contract, and
keystoneauth1 is what openstacksdk, the ``openstack`` CLI and every OpenStack service use for it. It gives
password auth for Keystone v3 and v2.0, a token cached and renewed before it expires and once after a 401,
the service catalog (Neutron's URL when only Keystone's is known), connection retries, and TLS verification
against a CA file, all maintained by the people who maintain Keystone. On httpx we would write and keep each
of those ourselves, which is what the agent had to do (a v3-only token flow). The cost is the synchronous
requests stack: both users call Neutron from worker threads, so nothing is lost.

Configure one :class:`Endpoint` (Neutron's URL, :class:`Credentials`, the CA file, timeouts, retries), make
a :class:`NeutronClient`, and call it::

    client = NeutronClient(Endpoint(url, Credentials(f"{url}/v3", "admin", password, "admin")))
    ports = client.list_ports(network_id=[net_a, net_b], device_owner="network:dhcp")
    result = client.create_port(PortCreate(net_a, device_owner="network:dhcp", host_id="host-1"))

Results are frozen dataclasses (``resources``), requests typed objects whose unset fields are not sent
(``payloads``), failures a small exception tree (``errors``).
"""

from neutrino.neutron_client.client import (
    CHANGES_EXTENSION,
    REPORT_EXTENSION,
    ROUTER_INTERFACE,
    Changed,
    Changes,
    Filter,
    NeutronClient,
    PortResult,
)
from neutrino.neutron_client.endpoint import Credentials, Endpoint
from neutrino.neutron_client.errors import (
    AuthFailed,
    BadRequest,
    BadResponse,
    Conflict,
    Forbidden,
    InvalidEndpoint,
    KeystoneError,
    NeutronClientError,
    NotFound,
    ServerError,
    StatusError,
    Unreachable,
)
from neutrino.neutron_client.payloads import (
    UNSET,
    AgentReport,
    AgentReportAnswer,
    FixedIpRequest,
    FloatingIpStatus,
    NetworkCreate,
    PortCreate,
    PortStatus,
    PortUpdate,
    SubnetCreate,
    Unset,
)
from neutrino.neutron_client.resources import (
    AGENTS,
    FLOATING_IPS,
    NETWORKS,
    PORTS,
    ROUTERS,
    SECURITY_GROUP_RULES,
    SECURITY_GROUPS,
    SUBNETS,
    AddressPair,
    ExternalGateway,
    FixedIp,
    FloatingIp,
    Network,
    NetworkAgent,
    Port,
    Resource,
    Route,
    Router,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
)

__all__ = [
    "AGENTS",
    "FLOATING_IPS",
    "NETWORKS",
    "PORTS",
    "REPORT_EXTENSION",
    "ROUTERS",
    "ROUTER_INTERFACE",
    "SECURITY_GROUPS",
    "SECURITY_GROUP_RULES",
    "SUBNETS",
    "UNSET",
    "AddressPair",
    "AgentReport",
    "AgentReportAnswer",
    "AuthFailed",
    "BadRequest",
    "BadResponse",
    "Conflict",
    "Credentials",
    "Endpoint",
    "ExternalGateway",
    "Filter",
    "FixedIp",
    "FixedIpRequest",
    "FloatingIp",
    "FloatingIpStatus",
    "Forbidden",
    "InvalidEndpoint",
    "KeystoneError",
    "CHANGES_EXTENSION",
    "Changed",
    "Changes",
    "Network",
    "NetworkAgent",
    "NetworkCreate",
    "NeutronClient",
    "NeutronClientError",
    "NotFound",
    "Port",
    "PortCreate",
    "PortResult",
    "PortStatus",
    "PortUpdate",
    "Resource",
    "Route",
    "Router",
    "SecurityGroup",
    "SecurityGroupRule",
    "ServerError",
    "StatusError",
    "Subnet",
    "SubnetCreate",
    "Unreachable",
    "Unset",
]
