"""The engine's NetworkProvider over :mod:`neutrino.neutron_client`: the engine's calls, its port requests,
and the client's errors in the engine's words.

Every failure to talk to the provider becomes one ProviderFailure whose message is
``Failed to communicate with the external provider: <cause>``; a request the provider refuses on its merits
(400/409) keeps the provider's own message as a BadRequest or Conflict.

    ProviderFailure
     └── ProviderAuthFailure   401 from Keystone or Neutron (auto-sync turns itself off on it)
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from neutrino import neutron_client as nc
from neutrino.engine.domain.errors import BadRequest, Conflict, EngineError, ProviderFailure
from neutrino.engine.provider_clients.base import (
    DEVICE_OWNER,
    PortRequest,
    PortResult,
    ProviderAgent,
    ProviderFloatingIp,
    ProviderNetwork,
    ProviderPort,
    ProviderRouter,
    ProviderSubnet,
    Tagging,
    tagging_of,
)

PREFIX = "Failed to communicate with the external provider"
REFUSED = "The external provider refused the request"


class ProviderAuthFailure(ProviderFailure):
    pass


def failure(cause: str, cls: type[ProviderFailure] = ProviderFailure) -> ProviderFailure:
    return cls(f"{PREFIX}: {cause}")


#: The client's categories the engine tells apart; any other client error is a ProviderFailure.
REFUSALS: tuple[tuple[type[nc.StatusError], type[EngineError]], ...] = (
    (nc.BadRequest, BadRequest),
    (nc.Conflict, Conflict),
)


def engine_error(exc: nc.NeutronClientError) -> EngineError:
    for raised, category in REFUSALS:
        if isinstance(exc, raised):
            return category(f"{REFUSED}: {exc.neutron_message}")
    return failure(str(exc), ProviderAuthFailure if isinstance(exc, nc.AuthFailed) else ProviderFailure)


P = ParamSpec("P")
R = TypeVar("R")


def _translated(call: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(call)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return call(*args, **kwargs)
        except nc.NeutronClientError as exc:
            raise engine_error(exc) from exc

    return wrapper


def port_create(request: PortRequest) -> nc.PortCreate:
    return nc.PortCreate(
        network_id=request.network_id,
        mac_address=request.mac_address,
        name=request.name,
        device_id=request.device_id,
        device_owner=request.device_owner,
        admin_state_up=True,
        project_id=request.project_id or nc.UNSET,
        security_groups=nc.UNSET if request.security_groups is None else tuple(request.security_groups),
        port_security_enabled=nc.UNSET if request.port_security is None else request.port_security,
        host_id=request.host_id or nc.UNSET,
        tags=tuple(request.tags) or nc.UNSET,
    )


def port_update(request: PortRequest) -> nc.PortUpdate:
    """The request as an update: no network (a port's is fixed) and no MAC (only admins may change it; a
    changed MAC means a new port)."""
    return nc.PortUpdate(
        name=request.name,
        device_id=request.device_id,
        device_owner=request.device_owner,
        security_groups=nc.UNSET if request.security_groups is None else tuple(request.security_groups),
        port_security_enabled=nc.UNSET if request.port_security is None else request.port_security,
        host_id=request.host_id or nc.UNSET,
    )


class NeutronProvider:
    """A NetworkProvider speaking Neutron v2.0 (the embedded provider or a real OpenStack Neutron)."""

    @_translated
    def __init__(self, endpoint: nc.Endpoint) -> None:
        self.endpoint = endpoint
        self.client = nc.NeutronClient(endpoint)
        self._tagging: tuple[float, Tagging] | None = None  # (read at, how)

    @_translated
    def test_connectivity(self) -> None:
        self.client.check()

    @_translated
    def extensions(self) -> set[str]:
        return set(self.client.extensions())

    @_translated
    def list_networks(self) -> list[ProviderNetwork]:
        return self.client.list_networks()

    @_translated
    def get_network(self, network_id: str) -> ProviderNetwork | None:
        try:
            return self.client.get_network(network_id)
        except nc.NotFound:
            return None

    @_translated
    def get_networks(self, network_ids: list[str]) -> list[ProviderNetwork]:
        """The networks of these ids that exist, in one call (one run reads all its vNICs' networks)."""
        return self.client.list_networks(id=list(network_ids)) if network_ids else []

    @_translated
    def create_network(self, name: str, mtu: int | None = None) -> ProviderNetwork:
        return self.client.create_network(nc.NetworkCreate(name, mtu=mtu or nc.UNSET, admin_state_up=True))

    @_translated
    def delete_network(self, network_id: str) -> None:
        self.client.delete_network(network_id)

    @_translated
    def list_subnets(self, network_id: str | None = None) -> list[ProviderSubnet]:
        """The subnets of one network, or (``None``) all the subnets the provider shows."""
        if network_id is None:
            return self.client.list_subnets()
        return self.client.list_subnets(network_id=network_id)

    @_translated
    def create_subnet(
        self,
        network_id: str,
        name: str,
        cidr: str,
        ip_version: int,
        gateway_ip: str | None,
        dns_nameservers: list[str],
    ) -> ProviderSubnet:
        return self.client.create_subnet(
            nc.SubnetCreate(
                network_id,
                cidr,
                ip_version,
                name=name,
                gateway_ip=gateway_ip or nc.UNSET,
                dns_nameservers=tuple(dns_nameservers) or nc.UNSET,
            )
        )

    @_translated
    def delete_subnet(self, subnet_id: str) -> None:
        self.client.delete_subnet(subnet_id)

    @_translated
    def find_port(self, device_id: str) -> ProviderPort | None:
        ports = self.client.list_ports(device_id=device_id, device_owner=DEVICE_OWNER)
        return ports[0] if ports else None

    @_translated
    def find_ports(self, device_ids: list[str]) -> list[ProviderPort]:
        """The ports of these vNICs (device_id any of them, device_owner oVirt), in one call."""
        return (
            self.client.list_ports(device_id=list(device_ids), device_owner=DEVICE_OWNER)
            if device_ids
            else []
        )

    @_translated
    def list_ports(self, device_owner: str = DEVICE_OWNER) -> list[ProviderPort]:
        return self.client.list_ports(device_owner=device_owner)

    @_translated
    def create_port(self, request: PortRequest) -> PortResult:
        return self.client.create_port(port_create(request))

    @_translated
    def update_port(self, port_id: str, request: PortRequest) -> PortResult:
        return self.client.update_port(port_id, port_update(request))

    @_translated
    def delete_port(self, port_id: str) -> None:
        self.client.delete_port(port_id)

    #: seconds a provider's way of tagging is kept (an upgraded provider is noticed after this)
    TAGGING_TTL = 600.0

    @_translated
    def tagging(self) -> Tagging:
        """How this provider takes the engine's tag, from its extensions: read once, then kept for
        ``TAGGING_TTL`` seconds (the engine keeps one client per provider). A provider that refuses the
        extensions call (404, 403, 400: one without ``/v2.0/extensions``) takes none; a failure to answer
        (unreachable, 5xx) is raised and nothing is kept."""
        now = time.monotonic()
        kept = self._tagging
        if kept is None or now - kept[0] > self.TAGGING_TTL:
            try:
                how = tagging_of(set(self.client.extensions()))
            except (nc.NotFound, nc.Forbidden, nc.BadRequest):
                how = Tagging.NONE
            kept = self._tagging = (now, how)
        return kept[1]

    @_translated
    def tag_port(self, port_id: str, tag: str) -> None:
        self.client.add_port_tag(port_id, tag)

    @_translated
    def agents(self) -> list[ProviderAgent] | None:
        """The provider's agents (Neutron's ``agent`` extension), or None when it has none to show or forbids
        the call (a real Neutron's default policy lets only admins list agents)."""
        try:
            return self.client.list_agents()
        except nc.StatusError:
            return None

    # --- routing, read only (the web UI shows it; the engine never changes a provider's routers) ----------------

    @_translated
    def list_routers(self) -> list[ProviderRouter]:
        """The routers the provider shows (extension ``router``: ask ``extensions()`` first; without it the
        provider answers 404, a ProviderFailure)."""
        return self.client.list_routers()

    @_translated
    def get_router(self, router_id: str) -> ProviderRouter | None:
        try:
            return self.client.get_router(router_id)
        except nc.NotFound:
            return None

    @_translated
    def list_router_ports(self, router_ids: list[str] | None = None) -> list[ProviderPort]:
        """The interfaces of these routers (of all when None): ports whose ``device_owner`` is
        ``network:router_interface`` and whose ``device_id`` is their router. A router's gateway is not among
        them: it is the router's ``gateway``."""
        return self.client.list_router_interfaces(router_ids)

    @_translated
    def list_floating_ips(self, router_id: str | None = None) -> list[ProviderFloatingIp]:
        """The floating IPs the provider shows, or those associated through one router."""
        if router_id is None:
            return self.client.list_floating_ips()
        return self.client.list_floating_ips(router_id=router_id)
