"""Discovery documents: ``GET /`` (versions), ``GET /v2.0`` (resources), ``/v2.0/extensions``.

The routing extensions (:data:`ROUTING_EXTENSIONS`) and the DHCP ones (:data:`DHCP_EXTENSIONS`) need a
datapath behind them: they are listed
when the app's backend implements them. A backend says which it implements with an
``extensions`` attribute (a collection of aliases); one without the attribute is taken to
implement them all. :data:`BACKEND_EXTENSIONS` (one datapath's own, e.g. the builtin backend's
``l3_agent_scheduler``) are listed only when the backend names them.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from neutrino.provider import errors
from neutrino.provider.api.resource import guarded

UPDATED = "2026-11-23T00:00:00-00:00"

#: (alias, name, description) of every extension this server implements.
EXTENSIONS: tuple[tuple[str, str, str], ...] = (
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external application"),
    ("provider", "Provider Network", "Expose mapping of virtual networks to physical networks"),
    ("security-group", "security-group", "The security groups extension."),
    ("port-security", "Port Security", "Provides port security"),
    ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"),
    ("extra_dhcp_opt", "Neutron Extra DHCP options", "Extra options configuration for DHCP. For example PXE boot options to DHCP clients can be specified (e.g. tftp-server, server-ip-address, bootfile-name)"),
    ("dns-integration", "DNS Integration", "Provides integration with DNS."),
    ("dns-domain-ports", "dns_domain for ports", "Allows the DNS domain to be specified for a network port."),
    ("subnet_allocation", "Subnet Allocation", "Enables allocation of subnets from a subnet pool"),
    ("default-subnetpools", "Default Subnetpools", "Provides ability to mark and use a subnetpool as the default."),
    ("subnetpool-prefix-ops", "Subnet Pool Prefix Operations", "Provides support for adjusting the prefix list of subnet pools"),
    ("standard-attr-tag", "Tag support for resources with standard attribute: network, subnet, subnetpool, port, security_group, router, floatingip", "Enables to set tag on resources with standard attribute."),
    ("tag-ports-during-bulk-creation", "Tag Ports During Bulk Creation", "Allow to tag ports during bulk creation"),
    ("revision-if-match", "If-Match constraints based on revision_number", "Extension indicating that If-Match based on revision_number is supported."),
    ("rbac-policies", "RBAC Policies", "Allows creation and modification of policies that control project access to resources."),
    ("quotas", "Quota management support", "Expose functions for quotas management per project"),
    ("quota_details", "Quota details management support", "Expose functions for quotas usage statistics per project"),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    ("net-mtu-writable", "Network MTU (writable)", "Provides a writable MTU attribute for a network resource."),
    ("project-id", "project_id field enabled", "Extension that indicates that project_id field is enabled."),
    ("standard-attr-description", "standard-attr-description", "Extension to add descriptions to standard attributes"),
    ("standard-attr-revisions", "Resource revision numbers", "This extension will display the revision number of neutron resources."),
    ("standard-attr-timestamp", "Resource timestamps", "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes."),
    ("stateful-security-group", "Stateful security group", "Indicates if the security group is stateful or not"),
    ("pagination", "Pagination support", "Extension that indicates that pagination is enabled."),
    ("sorting", "Sorting support", "Extension that indicates that sorting is enabled."),
    ("filter-validation", "Filter parameters validation", "Provides validation on filter parameters."),
    ("agent", "agent", "The agent management extension."),
    ("neutrino-agent-report", "Neutrino agent reports", "Host agents report liveness, capabilities and port status (POST /v2.0/agent-reports)."),
    ("external-net", "Neutron external network", "Adds external network attribute to network resource."),
    ("subnet-external-network", "Subnet External Network", "Informs if the subnet is associated to an external network."),
    ("router", "Neutron L3 Router", "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway."),
    ("ext-gw-mode", "Neutron L3 Configurable external gateway mode", "Extension of the router abstraction for specifying whether SNAT should occur on the external gateway"),
    ("extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router"),
    ("l3_agent_scheduler", "L3 Agent Scheduler", "Schedule routers among l3 agents"),
    ("neutrino-changes", "Neutrino change feed", "Agents wait for what changed after a cursor instead of polling (GET /v2.0/changes)."),
)  # fmt: skip

#: Extensions listed only when the backend implements them (see the module's docstring).
ROUTING_EXTENSIONS = frozenset(
    {"external-net", "subnet-external-network", "router", "ext-gw-mode", "extraroute"}
)
#: Extensions a backend's DHCP must serve: listed like the routing ones (when the backend implements them).
DHCP_EXTENSIONS = frozenset({"extra_dhcp_opt", "dns-integration", "dns-domain-ports"})
#: The attributes each optional extension adds, per collection: left out where it is not offered.
EXTENSION_ATTRIBUTES: dict[str, dict[str, frozenset[str]]] = {
    "extra_dhcp_opt": {"ports": frozenset({"extra_dhcp_opts"})},
    "dns-integration": {
        "ports": frozenset({"dns_name", "dns_assignment"}),
        "networks": frozenset({"dns_domain"}),
    },
    "dns-domain-ports": {"ports": frozenset({"dns_domain"})},
}
#: Extensions of one backend's datapath: listed only when the backend names them in ``extensions``.
BACKEND_EXTENSIONS = frozenset({"l3_agent_scheduler"})

RESOURCES = (("network", "networks"), ("subnet", "subnets"), ("subnetpool", "subnetpools"), ("port", "ports"),
             ("security_group", "security-groups"), ("security_group_rule", "security-group-rules"),
             ("router", "routers"), ("floatingip", "floatingips"), ("rbac_policy", "rbac-policies"),
             ("quota", "quotas"))  # fmt: skip


def _base(request: Request) -> str:
    public = request.app.state.provider.settings.public_url
    return (public or str(request.base_url)).rstrip("/")


def _extension(alias: str, name: str, description: str) -> dict[str, Any]:
    return {"alias": alias, "name": name, "description": description, "updated": UPDATED, "links": []}


async def versions(request: Request) -> Response:
    return JSONResponse(
        {
            "versions": [
                {
                    "id": "v2.0",
                    "status": "CURRENT",
                    "links": [{"href": _base(request) + "/v2.0/", "rel": "self"}],
                }
            ]
        }
    )


async def v2_resources(request: Request) -> Response:
    base = _base(request) + "/v2.0"
    return JSONResponse(
        {
            "resources": [
                {
                    "name": name,
                    "collection": path.replace("-", "_"),
                    "links": [{"href": f"{base}/{path}", "rel": "self"}],
                }
                for name, path in RESOURCES
            ]
        }
    )


def offered(backend: object) -> tuple[tuple[str, str, str], ...]:
    """The extensions this server lists with ``backend`` behind it."""
    implemented = getattr(backend, "extensions", None)
    if implemented is None:
        return tuple(e for e in EXTENSIONS if e[0] not in BACKEND_EXTENSIONS)
    optional = ROUTING_EXTENSIONS | DHCP_EXTENSIONS | BACKEND_EXTENSIONS
    return tuple(e for e in EXTENSIONS if e[0] not in optional or e[0] in implemented)


def unoffered_attributes(backend: object, collection: str) -> frozenset[str]:
    """The attributes of ``collection`` that extensions not offered with ``backend`` would add."""
    offered_aliases = {alias for alias, _, _ in offered(backend)}
    return frozenset().union(
        *(
            attrs.get(collection, ())
            for alias, attrs in EXTENSION_ATTRIBUTES.items()
            if alias not in offered_aliases
        )
    )


async def list_extensions(request: Request) -> Response:
    provider = request.app.state.provider
    provider.context_of(request)
    return JSONResponse({"extensions": [_extension(*e) for e in offered(provider.backend)]})


async def show_extension(request: Request) -> Response:
    provider = request.app.state.provider
    provider.context_of(request)
    alias = request.path_params["alias"]
    for ext in offered(provider.backend):
        if ext[0] == alias:
            return JSONResponse({"extension": _extension(*ext)})
    raise errors.ResourceNotFound()


def routes() -> list[Route]:
    return [
        Route("/", guarded(versions), methods=["GET"]),
        Route("/v2.0", guarded(v2_resources), methods=["GET"]),
        Route("/v2.0/", guarded(v2_resources), methods=["GET"]),
        Route("/v2.0/extensions", guarded(list_extensions), methods=["GET"]),
        Route("/v2.0/extensions/{alias}", guarded(show_extension), methods=["GET"]),
    ]
