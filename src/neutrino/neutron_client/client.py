"""The Neutron v2.0 calls, typed: generic ``query`` / ``get`` / ``delete`` over a :class:`Resource`, and the
creates and updates the engine and the host agent make."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from types import TracebackType
from urllib.parse import quote

import requests

from neutrino.neutron_client.endpoint import Endpoint
from neutrino.neutron_client.errors import BadResponse, Forbidden, NotFound
from neutrino.neutron_client.payloads import (
    UNSET,
    AgentReport,
    AgentReportAnswer,
    NetworkCreate,
    PortCreate,
    PortUpdate,
    SubnetCreate,
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
    FloatingIp,
    JsonObject,
    Network,
    NetworkAgent,
    Port,
    Resource,
    Router,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    T,
)
from neutrino.neutron_client.transport import Transport

#: A filter's value: one value, or several (the key repeated: Neutron reads it as "any of").
Filter = str | int | bool | Collection[str]

#: The collection path of Neutrino's agent reports (extension alias :data:`REPORT_EXTENSION`).
REPORT_PATH = "agent-reports"
REPORT_EXTENSION = "neutrino-agent-report"
#: The ``device_owner`` of a router's interface ports (``device_id``: the router).
ROUTER_INTERFACE = "network:router_interface"
#: Neutrino's change feed (extension :data:`CHANGES_EXTENSION`).
CHANGES_PATH = "changes"
CHANGES_EXTENSION = "neutrino-changes"


@dataclass(frozen=True)
class Changed:
    """What changed of one kind: the resources' ids (None: too many to list, any may have), and
    what they belong to now where the provider tells (None: it cannot, any may)."""

    ids: frozenset[str] | None = None
    network_ids: frozenset[str] | None = frozenset()
    security_group_ids: frozenset[str] | None = frozenset()


@dataclass(frozen=True)
class Changes:
    """An answer of Neutrino's change feed: the new cursor and, per kind (the collection:
    ``ports``, ``security_group_rules``, ``agents``, ``l3_agents``...), what changed after the
    cursor asked about; ``changed`` None when it cannot be told (everything may have)."""

    cursor: str
    changed: dict[str, Changed] | None = None
    #: asked without a cursor: a digest of the provider's state, equal while nothing was written
    state: str | None = None

    def kinds(self) -> frozenset[str] | None:
        return None if self.changed is None else frozenset(self.changed)


@dataclass(frozen=True)
class PortResult:
    port: Port
    binding_refused: bool = False  # Neutron's policy forbade binding:host_id; the port was written without it


class NeutronClient:
    """Neutron v2.0 for one :class:`Endpoint`. Thread-safe; ``close()`` (or ``with``) ends its connections.

    Every call raises a :class:`~neutrino.neutron_client.errors.NeutronClientError`; construction raises
    ``InvalidEndpoint`` for an endpoint that cannot work. ``adapter`` replaces the network for every URL
    (Keystone's and Neutron's, http and https): the seam where tests serve canned answers.
    """

    #: pages of one list followed at most (``<collection>_links`` rel ``next``)
    MAX_PAGES = 100

    def __init__(self, endpoint: Endpoint, *, adapter: requests.adapters.BaseAdapter | None = None) -> None:
        self.endpoint = endpoint
        self._transport = Transport(endpoint, adapter)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> NeutronClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- generic ----------------------------------------------------------------------------------

    def query(self, resource: Resource[T], *, fields: Sequence[str] = (), **filters: Filter) -> list[T]:
        """``GET /v2.0/<collection>`` with Neutron's filters, following pagination links.

        A sequence value repeats the key ("any of"); an empty one matches nothing, so nothing is asked.
        ``fields`` limits what Neutron sends (``id`` is always asked for); the others keep their defaults.
        """
        params: dict[str, str | list[str]] = {}
        for key, value in filters.items():
            if isinstance(value, bool):
                params[key] = "true" if value else "false"
            elif isinstance(value, str | int):
                params[key] = str(value)
            elif not value:
                return []
            else:
                params[key] = [str(v) for v in value]
        if fields:
            params["fields"] = list(dict.fromkeys(["id", *fields]))
        found: list[T] = []
        path: str | None = resource.path
        for _ in range(self.MAX_PAGES):
            if path is None:
                return found
            data = self._transport.checked("GET", path, params=params or None)
            found += [_parsed(resource, item, path) for item in _items(data, resource.plural, path)]
            path = _next_link(data, resource.plural)
            params = {}  # the next link carries the query
        if path is not None:
            raise BadResponse(f"GET {resource.path}: more than {self.MAX_PAGES} pages")
        return found

    def get(self, resource: Resource[T], resource_id: str) -> T:
        """One resource; ``NotFound`` when Neutron has no such one."""
        path = _member_path(resource, resource_id)
        return _parsed(resource, _member(self._transport.checked("GET", path), resource.member, path), path)

    def delete(self, resource: Resource[T], resource_id: str) -> None:
        """Delete one resource; one already gone is no error."""
        with contextlib.suppress(NotFound):
            self._transport.checked("DELETE", _member_path(resource, resource_id))

    def _write(self, method: str, resource: Resource[T], path: str, body: dict[str, object]) -> T:
        data = self._transport.checked(method, path, {resource.member: body})
        return _parsed(resource, _member(data, resource.member, path), path)

    def check(self) -> None:
        """One cheap authenticated call (``GET /v2.0/networks?limit=1``): raises what any call would."""
        self._transport.checked("GET", NETWORKS.path, params={"limit": "1"})

    def extensions(self) -> frozenset[str]:
        """The aliases of the extensions this Neutron has (``security-group``, ``binding``, ``agent``…)."""
        data = self._transport.checked("GET", "extensions")
        return frozenset(
            str(e.get("alias")) for e in _objects(data, "extensions") if isinstance(e.get("alias"), str)
        )

    # --- networks and subnets ---------------------------------------------------------------------

    def list_networks(self, *, fields: Sequence[str] = (), **filters: Filter) -> list[Network]:
        return self.query(NETWORKS, fields=fields, **filters)

    def get_network(self, network_id: str) -> Network:
        return self.get(NETWORKS, network_id)

    def create_network(self, request: NetworkCreate) -> Network:
        return self._write("POST", NETWORKS, NETWORKS.path, request.to_json())

    def delete_network(self, network_id: str) -> None:
        self.delete(NETWORKS, network_id)

    def list_subnets(self, *, fields: Sequence[str] = (), **filters: Filter) -> list[Subnet]:
        return self.query(SUBNETS, fields=fields, **filters)

    def create_subnet(self, request: SubnetCreate) -> Subnet:
        return self._write("POST", SUBNETS, SUBNETS.path, request.to_json())

    def delete_subnet(self, subnet_id: str) -> None:
        self.delete(SUBNETS, subnet_id)

    # --- ports ------------------------------------------------------------------------------------

    def list_ports(self, *, fields: Sequence[str] = (), **filters: Filter) -> list[Port]:
        return self.query(PORTS, fields=fields, **filters)

    def get_port(self, port_id: str) -> Port:
        return self.get(PORTS, port_id)

    def create_port(self, request: PortCreate) -> PortResult:
        """Create a port. When it names a ``host_id`` and Neutron's policy forbids binding (a real Neutron lets
        only admins bind), it is created without: ``binding_refused`` says so."""
        try:
            return PortResult(self._write("POST", PORTS, PORTS.path, request.to_json()))
        except Forbidden:
            if request.host_id is UNSET:
                raise
        unbound = replace(request, host_id=UNSET)
        return PortResult(self._write("POST", PORTS, PORTS.path, unbound.to_json()), binding_refused=True)

    def update_port(self, port_id: str, request: PortUpdate) -> PortResult:
        """Update a port; a ``host_id`` the policy forbids is left out as in :meth:`create_port`."""
        path = _member_path(PORTS, port_id)
        try:
            return PortResult(self._write("PUT", PORTS, path, request.to_json()))
        except Forbidden:
            if request.host_id is UNSET:
                raise
        unbound = replace(request, host_id=UNSET)
        return PortResult(self._write("PUT", PORTS, path, unbound.to_json()), binding_refused=True)

    def delete_port(self, port_id: str) -> None:
        self.delete(PORTS, port_id)

    def add_port_tag(self, port_id: str, tag: str) -> None:
        """``PUT /v2.0/ports/{id}/tags/{tag}`` (standard-attr-tag): one tag added; one already there is no
        change."""
        self._transport.checked("PUT", f"{_member_path(PORTS, port_id)}/tags/{quote(tag, safe='')}")

    # --- security groups --------------------------------------------------------------------------

    def list_security_groups(self, *, fields: Sequence[str] = (), **filters: Filter) -> list[SecurityGroup]:
        return self.query(SECURITY_GROUPS, fields=fields, **filters)

    def list_security_group_rules(
        self, *, fields: Sequence[str] = (), **filters: Filter
    ) -> list[SecurityGroupRule]:
        return self.query(SECURITY_GROUP_RULES, fields=fields, **filters)

    # --- routers and floating IPs (extension ``router``), read only ---------------------------------

    def list_routers(self, *, fields: Sequence[str] = (), **filters: Filter) -> list[Router]:
        return self.query(ROUTERS, fields=fields, **filters)

    def get_router(self, router_id: str) -> Router:
        return self.get(ROUTERS, router_id)

    def list_router_interfaces(self, router_ids: Collection[str] | None = None) -> list[Port]:
        """The interfaces of these routers (of all when None): ports with ``device_owner``
        ``network:router_interface``; each one's ``device_id`` is its router."""
        if router_ids is None:
            return self.list_ports(device_owner=ROUTER_INTERFACE)
        return self.list_ports(device_owner=ROUTER_INTERFACE, device_id=sorted(router_ids))

    def list_floating_ips(self, *, fields: Sequence[str] = (), **filters: Filter) -> list[FloatingIp]:
        return self.query(FLOATING_IPS, fields=fields, **filters)

    # --- L3 agents (extension ``l3_agent_scheduler``, admin only) -----------------------------------

    def list_l3_agent_routers(self, agent_id: str) -> list[Router]:
        """The routers an L3 agent hosts (``GET /v2.0/agents/{id}/l3-routers``)."""
        path = f"{_member_path(AGENTS, agent_id)}/l3-routers"
        return [
            _parsed(ROUTERS, item, path)
            for item in _items(self._transport.checked("GET", path), "routers", path)
        ]

    def list_router_l3_agents(self, router_id: str) -> list[NetworkAgent]:
        """The L3 agents hosting a router (``GET /v2.0/routers/{id}/l3-agents``)."""
        path = f"{_member_path(ROUTERS, router_id)}/l3-agents"
        return [
            _parsed(AGENTS, item, path)
            for item in _items(self._transport.checked("GET", path), "agents", path)
        ]

    def changes(self, after: str | None = None, wait: float = 0) -> Changes:
        """Neutrino's change feed (``GET /v2.0/changes``): answered once something changed after the
        cursor ``after`` or ``wait`` seconds passed (the provider caps it), with what changed.
        ``NotFound`` from a provider without the extension (a real Neutron)."""
        params: dict[str, str | list[str]] = {"wait": f"{wait:g}"}
        if after is not None:
            params["after"] = after
        read_timeout = max(self.endpoint.read_timeout, wait + self.endpoint.read_timeout)
        data = self._transport.checked("GET", CHANGES_PATH, params=params, read_timeout=read_timeout)
        answer = _member(data, "changes", CHANGES_PATH)
        cursor, changed, state = answer.get("cursor"), answer.get("changed"), answer.get("state")
        if not isinstance(cursor, str):
            raise BadResponse(f"GET {CHANGES_PATH}: the answer has no cursor")
        state = state if isinstance(state, str) else None
        if not isinstance(changed, dict):
            return Changes(cursor, None, state)
        return Changes(
            cursor,
            {
                str(kind): Changed(
                    _id_set(detail, "ids"),
                    _id_set(detail, "network_ids"),
                    _id_set(detail, "security_group_ids"),
                )
                for kind, detail in changed.items()
                if isinstance(detail, dict)
            },
        )

    # --- agents -----------------------------------------------------------------------------------

    def list_agents(self, *, fields: Sequence[str] = (), **filters: Filter) -> list[NetworkAgent]:
        """Neutron's agents (extension ``agent``; a real Neutron lets only admins list them)."""
        return self.query(AGENTS, fields=fields, **filters)

    def report_agent(self, report: AgentReport) -> AgentReportAnswer:
        """``POST /v2.0/agent-reports``: Neutrino's embedded provider only (``NotFound`` elsewhere: real
        Neutron agents report over RPC)."""
        data = self._transport.checked("POST", REPORT_PATH, {"agent_report": report.to_json()})
        if not isinstance(data, dict):
            raise BadResponse(f"POST {REPORT_PATH}: the answer is not an object")
        return AgentReportAnswer.from_json(data)


def _id_set(detail: JsonObject, key: str) -> frozenset[str] | None:
    """A list of ids of a change feed answer; absent: none; null (or not a list): unknown."""
    if key not in detail:
        return frozenset()
    value = detail[key]
    return frozenset(str(v) for v in value) if isinstance(value, list) else None


def _objects(data: object, key: str) -> list[JsonObject]:
    items = data.get(key) if isinstance(data, dict) else None
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _member_path(resource: Resource[T], resource_id: str) -> str:
    return f"{resource.path}/{quote(resource_id, safe='')}"


def _parsed(resource: Resource[T], item: JsonObject, path: str) -> T:
    try:
        return resource.parse(item)
    except ValueError as exc:  # a value the type refuses to guess at (a security group rule's)
        raise BadResponse(f"{path}: {exc}") from exc


def _items(data: object, key: str, path: str) -> list[JsonObject]:
    """A list answer's items that are resources (objects with an id)."""
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise BadResponse(f"GET {path}: the answer has no '{key}' list")
    return [i for i in _objects(data, key) if "id" in i]


def _member(data: object, key: str, path: str) -> JsonObject:
    item = data.get(key) if isinstance(data, dict) else None
    if not isinstance(item, dict):
        raise BadResponse(f"{path}: the answer has no '{key}' object")
    return item


def _next_link(data: object, plural: str) -> str | None:
    for link in _objects(data, f"{plural}_links"):
        if link.get("rel") == "next" and isinstance(link.get("href"), str):
            return str(link["href"])
    return None
