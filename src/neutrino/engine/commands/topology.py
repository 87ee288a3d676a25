"""The data of the web UI's topology picture: the engine's hosts, networks, VMs and vNICs with their live state,
and what each provider in the picture says of them (subnets, the vNICs' ports and addresses, its agents).

One call reads the engine's store with a constant number of SQL statements, whatever the number of VMs (VMs
and vNICs as plain rows: ``store/topology.py``), and what each provider in the picture said: its networks, all
its subnets, the engine's ports and its agents (four calls), and, when it lists the ``router`` extension, its
routers, their interfaces and its floating IPs (four more: the extensions and three reads). ``ProviderReads`` keeps a provider's answers: fresh
for ``ttl`` seconds; older, they are still served (up to ``max_age``) while one background read renews them, so
neither many browsers polling nor a slow provider slow the picture down. A provider that does not answer leaves
the picture with what the engine recorded (each vNIC's last known port status) and the provider's error.

The answer is plain JSON (``read`` documents its keys; ``encoded`` adds its ``version``, which changes exactly
when its content does); the browser derives colours, tunnels and the layout from it
(``web/static/views/topology-model.js``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from neutrino.engine.commands.common import EngineContext
from neutrino.engine.domain import model
from neutrino.engine.domain.errors import EngineError, NotFound
from neutrino.engine.provider_clients.base import (
    ROUTING_EXTENSION,
    NetworkProvider,
    ProviderAgent,
    ProviderFloatingIp,
    ProviderNetwork,
    ProviderPort,
    ProviderRouter,
    ProviderSubnet,
)
from neutrino.engine.store.topology import NicRow, VmRow
from neutrino.engine.store.uow import UnitOfWork

log = logging.getLogger(__name__)
Json = dict[str, Any]


@dataclass(frozen=True)
class Scope:
    """What the picture shows: everything, one data center's, or one provider's networks and their users."""

    data_center_id: str | None = None
    provider_id: str | None = None


@dataclass(frozen=True)
class ProviderRouting:
    """A provider's routers, their interfaces (ports whose ``device_id`` is their router) and its floating IPs;
    ``error`` when the provider has the ``router`` extension but these reads failed (then the rest is empty)."""

    routers: tuple[ProviderRouter, ...] = ()
    interfaces: tuple[ProviderPort, ...] = ()
    floating_ips: tuple[ProviderFloatingIp, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class ProviderView:
    """What one provider said at one time; ``error`` when it did not answer (then everything else is empty).
    ``routing`` is None when the provider has no routers to show (no ``router`` extension)."""

    networks: dict[str, ProviderNetwork] = field(default_factory=dict)
    subnets: tuple[ProviderSubnet, ...] = ()
    ports: dict[str, ProviderPort] = field(default_factory=dict)
    agents: tuple[ProviderAgent, ...] | None = None
    error: str | None = None
    routing: ProviderRouting | None = None


class ProviderReads:
    """Each provider's view, shared by all callers (thread-safe). Fresh for ``ttl`` seconds; then served as it
    is, up to ``max_age`` seconds old, while one background read renews it; older or never read, the caller
    reads it (and a second caller waits for that read instead of making its own)."""

    def __init__(
        self, ttl: float = 2.0, max_age: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl, self.max_age, self.clock = ttl, max_age, clock
        self._views: dict[str, tuple[float, tuple[object, ...], ProviderView]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._renewing: dict[str, threading.Thread] = {}
        self._guard = threading.Lock()

    def view(self, ctx: EngineContext, provider: model.ExternalProvider) -> ProviderView:
        key = (provider.url, provider.authentication_url, provider.username, provider.password_encrypted)
        with self._guard:
            lock = self._locks.setdefault(provider.id, threading.Lock())
            cached = self._views.get(provider.id)
            age = self.clock() - cached[0] if cached is not None and cached[1] == key else None
            if age is not None and age < self.ttl:
                return cached[2]  # type: ignore[index]
            if age is not None and age < self.max_age:
                if provider.id not in self._renewing:
                    renew = threading.Thread(
                        target=self._renew, args=(ctx, provider, key, lock), name="topology-provider-read"
                    )
                    renew.daemon = True
                    self._renewing[provider.id] = renew
                    renew.start()
                return cached[2]  # type: ignore[index]
        with lock:
            cached = self._views.get(provider.id)
            if cached is not None and cached[1] == key and self.clock() - cached[0] < self.ttl:
                return cached[2]  # read by the caller this one waited for
            return self._read(ctx, provider, key)

    def wait(self, timeout: float = 30.0) -> None:
        """Until the background reads in flight are done (for tests)."""
        with self._guard:
            threads = list(self._renewing.values())
        for thread in threads:
            thread.join(timeout)

    def _read(
        self, ctx: EngineContext, provider: model.ExternalProvider, key: tuple[object, ...]
    ) -> ProviderView:
        fresh = _read_provider(ctx, provider)
        with self._guard:
            self._views[provider.id] = (self.clock(), key, fresh)
        return fresh

    def _renew(
        self,
        ctx: EngineContext,
        provider: model.ExternalProvider,
        key: tuple[object, ...],
        lock: threading.Lock,
    ) -> None:
        try:
            with lock:
                self._read(ctx, provider, key)
        finally:
            with self._guard:
                self._renewing.pop(provider.id, None)


def _read_provider(ctx: EngineContext, provider: model.ExternalProvider) -> ProviderView:
    try:
        client = ctx.provider_client(provider)
        networks = {n.id: n for n in client.list_networks()}
        subnets = tuple(client.list_subnets())
        ports = {p.id: p for p in client.list_ports()}
        agents = client.agents()
        routed = ROUTING_EXTENSION in client.extensions()
    except EngineError as exc:
        return ProviderView(error=exc.message)
    except Exception as exc:  # the picture must show what it has, whatever a provider does
        log.exception("reading provider %s for the topology failed", provider.name)
        return ProviderView(error=f"Failed to communicate with the external provider: {exc}")
    routing = read_routing(client, provider.name) if routed else None
    return ProviderView(networks, subnets, ports, None if agents is None else tuple(agents), routing=routing)


def read_routing(client: NetworkProvider, name: str) -> ProviderRouting:
    """The routing of a provider that has the ``router`` extension; a failure is kept as ``error``, so that the
    rest of what the provider said is still shown."""
    try:
        return ProviderRouting(
            routers=tuple(client.list_routers()),
            interfaces=tuple(client.list_router_ports()),
            floating_ips=tuple(client.list_floating_ips()),
        )
    except EngineError as exc:
        return ProviderRouting(error=exc.message)
    except Exception as exc:
        log.exception("reading the routers of provider %s failed", name)
        return ProviderRouting(error=f"Failed to communicate with the external provider: {exc}")


@dataclass
class _Stored:
    """The engine's side of the picture, read in one unit of work."""

    providers: list[model.ExternalProvider]
    networks: list[model.Network]
    hosts: list[model.Host]
    vms: list[VmRow]
    nics: list[NicRow]
    network_of_profile: dict[str, str]
    scope: Json


def read(ctx: EngineContext, reads: ProviderReads, scope: Scope) -> Json:
    """The picture's data. Keys (lists sorted by name):

    - ``scope``: ``{"kind": "all" | "data_center" | "provider", "id", "name"}``
    - ``providers``: ``{id, name, error, routing, routing_error}`` for each provider with a network in the picture;
      ``routing``: whether it has routers to show (the ``router`` extension), false when it did not answer
    - ``hosts``: ``{id, name, status, status_detail, cluster_id, tunnel_ip, agents: [{provider_id, type, binary,
      alive}]}``: the agents each provider lists for the host
    - ``networks``: ``{id, name, data_center_id, provider_id, provider_network_id, external_missing, network_type,
      segmentation_id, vlan_id, mtu, subnets: [{id, name, cidr, ip_version, gateway_ip}]}``
    - ``vms``: ``{id, name, status, host_id}``
    - ``nics``: ``{id, name, vm_id, network_id, plugged, provisioning, last_error, port_id, port_status,
      addresses}``; ``port_status`` is the provider's (live, or the engine's last record when the provider does
      not answer)
    - ``routers``, ``floating_ips``: what providers with L3 show (``read_routing``): routers ``{id, name, status,
      provider_id, gateway: {network_id, ips} | null, interfaces: [{network_id, subnet_id, ip_address}]}``,
      floating IPs ``{id, provider_id, floating_ip_address, fixed_ip_address, port_id, router_id,
      floating_network_id, status}``, and the provider networks routers name that no engine network in the
      picture imports, as ``provider_networks`` ``{id, provider_id, name, external, network_type, subnets:
      [{cidr}]}`` (network ids are the provider's). A data center's picture has the routers joined to one of
      its networks and their floating IPs, and the floating IPs of its vNICs' ports; the others have every
      router of their providers.
    """
    stored = _stored(ctx, scope)
    views = {p.id: reads.view(ctx, p) for p in stored.providers}
    data: Json = {
        "scope": stored.scope,
        "providers": [_provider_entry(p, views[p.id]) for p in stored.providers],
        "hosts": [_host(h, views) for h in stored.hosts],
        "networks": [_network(n, views.get(n.provider_id or "")) for n in stored.networks],
        "vms": [
            {"id": vm.id, "name": vm.name, "status": vm.status, "host_id": vm.host_id} for vm in stored.vms
        ],
        "nics": [_nic(nic, stored.network_of_profile, views) for nic in stored.nics],
    }
    data.update(_routing(stored, views))
    return data


def _provider_entry(provider: model.ExternalProvider, view: ProviderView) -> Json:
    return {
        "id": provider.id,
        "name": provider.name,
        "error": view.error,
        "routing": view.routing is not None,
        "routing_error": view.routing.error if view.routing else None,
    }


def _routing(stored: _Stored, views: dict[str, ProviderView]) -> Json:
    """The routers, floating IPs and the provider networks only routers name (see ``read``)."""
    narrow = stored.scope["kind"] == "data_center"
    shown_nets = {(n.provider_id, n.provider_network_id) for n in stored.networks if n.provider_id}
    picture_ports = {nic.port_id for nic in stored.nics if nic.port_id}
    routers: list[Json] = []
    fips: list[Json] = []
    named: dict[tuple[str, str], Json] = {}
    for pid, view in sorted(views.items()):
        if view.routing is None:
            continue
        interfaces: dict[str, list[ProviderPort]] = {}
        for port in view.routing.interfaces:
            interfaces.setdefault(port.device_id, []).append(port)
        kept: set[str] = set()
        for router in sorted(view.routing.routers, key=lambda r: (r.name, r.id)):
            own = interfaces.get(router.id, [])
            touched = {p.network_id for p in own} | ({router.gateway.network_id} if router.gateway else set())
            if narrow and not any((pid, net) in shown_nets for net in touched):
                continue
            kept.add(router.id)
            routers.append(_router(pid, router, own))
            for net in touched - {n for p, n in shown_nets if p == pid}:
                named[(pid, net)] = _provider_network(pid, net, view)
        for fip in sorted(view.routing.floating_ips, key=lambda f: f.floating_ip_address):
            if narrow and fip.router_id not in kept and fip.port_id not in picture_ports:
                continue
            fips.append(
                {
                    "id": fip.id,
                    "provider_id": pid,
                    "floating_ip_address": fip.floating_ip_address,
                    "fixed_ip_address": fip.fixed_ip_address,
                    "port_id": fip.port_id,
                    "router_id": fip.router_id,
                    "floating_network_id": fip.floating_network_id,
                    "status": fip.status,
                }
            )
    return {"routers": routers, "floating_ips": fips, "provider_networks": list(named.values())}


def _router(provider_id: str, router: ProviderRouter, interfaces: list[ProviderPort]) -> Json:
    gateway = router.gateway
    return {
        "id": router.id,
        "name": router.name,
        "status": router.status,
        "provider_id": provider_id,
        "gateway": (
            {"network_id": gateway.network_id, "ips": [ip.ip_address for ip in gateway.fixed_ips]}
            if gateway
            else None
        ),
        "interfaces": [
            {"network_id": port.network_id, "subnet_id": subnet, "ip_address": address}
            for port in sorted(interfaces, key=lambda p: p.id)
            for subnet, address in port.fixed_ips or ((None, None),)
        ],
    }


def _provider_network(provider_id: str, network_id: str, view: ProviderView) -> Json:
    """A provider network a router names that the picture has no engine network for (an external network)."""
    pnet = view.networks.get(network_id)
    return {
        "id": network_id,
        "provider_id": provider_id,
        "name": pnet.name if pnet else None,
        "external": pnet.external if pnet else False,
        "network_type": pnet.network_type if pnet else None,
        "subnets": [
            {"cidr": s.cidr}
            for s in sorted(view.subnets, key=lambda s: (s.ip_version, s.cidr))
            if s.network_id == network_id
        ],
    }


def encoded(data: Json) -> bytes:
    """``data`` as the JSON the browser gets, with ``version`` first: a digest of the rest, so that a poll whose
    answer has the version it already has can skip it (one serialization of the whole)."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    version = hashlib.sha1(body).hexdigest()[:20]
    return b'{"version":"' + version.encode() + b'",' + body[1:]


def _stored(ctx: EngineContext, scope: Scope) -> _Stored:
    with ctx.reader() as uow:
        if scope.data_center_id:
            return _data_center(uow, scope.data_center_id)
        if scope.provider_id:
            return _provider(uow, scope.provider_id)
        networks = list(uow.networks.list())
        profiles = {p.id: p.network_id for p in uow.profiles.list()}
        return _Stored(
            providers=_used_providers(uow, networks),
            networks=networks,
            hosts=list(uow.hosts.list()),
            vms=uow.topology.vms(),
            nics=uow.topology.nics(),
            network_of_profile=profiles,
            scope={"kind": "all", "id": None, "name": "All data centers"},
        )


def _data_center(uow: UnitOfWork, dc_id: str) -> _Stored:
    dc = uow.datacenters.get(dc_id)
    if dc is None:
        raise NotFound(f"Data center '{dc_id}' was not found.")
    networks = list(uow.networks.list(data_center_id=dc.id))
    clusters = [c.id for c in uow.clusters.list(data_center_id=dc.id)]
    profiles = {p.id: p.network_id for p in uow.profiles.list(network_id=[n.id for n in networks])}
    vms = uow.topology.vms(cluster_ids=clusters)
    return _Stored(
        providers=_used_providers(uow, networks),
        networks=networks,
        hosts=list(uow.hosts.list(cluster_id=clusters)) if clusters else [],
        vms=vms,
        nics=uow.topology.nics(vm_ids=[vm.id for vm in vms]) if vms else [],
        network_of_profile=profiles,
        scope={"kind": "data_center", "id": dc.id, "name": dc.name},
    )


def _provider(uow: UnitOfWork, provider_id: str) -> _Stored:
    """A provider's networks (in every data center), the vNICs on them, their VMs and the hosts these run on."""
    provider = uow.providers.get(provider_id)
    if provider is None:
        raise NotFound(f"Provider '{provider_id}' was not found.")
    networks = list(uow.networks.list(provider_id=provider.id))
    profiles = {p.id: p.network_id for p in uow.profiles.list(network_id=[n.id for n in networks])}
    nics = uow.topology.nics(profile_ids=list(profiles)) if profiles else []
    users = {n.vm_id for n in nics}
    vms = [vm for vm in uow.topology.vms() if vm.id in users]
    hosts = uow.hosts.by_ids(vm.host_id for vm in vms if vm.host_id)
    return _Stored(
        providers=[provider],
        networks=networks,
        hosts=sorted(hosts.values(), key=lambda h: h.name),
        vms=vms,
        nics=nics,
        network_of_profile=profiles,
        scope={"kind": "provider", "id": provider.id, "name": provider.name},
    )


def _used_providers(uow: UnitOfWork, networks: Iterable[model.Network]) -> list[model.ExternalProvider]:
    found = uow.providers.by_ids(n.provider_id for n in networks if n.provider_id)
    return sorted(found.values(), key=lambda p: p.name)


def _host(host: model.Host, views: dict[str, ProviderView]) -> Json:
    """A host, with the agents each provider lists for it: those whose ``host`` is the host's name, the name its
    agent gives, or one of the ``binding:host_id`` values it advertises (what ports are bound to)."""
    names = {host.name, str(host.capabilities.get("host_name") or "")}
    names |= {
        str(s.get("binding_host_id") or "") for s in host.plugin_support().values() if isinstance(s, dict)
    }
    names.discard("")
    agents = [
        {
            "provider_id": pid,
            "type": a.agent_type,
            "binary": a.binary,
            "alive": a.alive,
            "_ip": a.tunneling_ip,
        }
        for pid, view in sorted(views.items())
        for a in view.agents or ()
        if a.host in names
    ]
    tunnel_ip = host.capabilities.get("tunnel_ip") or next((a["_ip"] for a in agents if a["_ip"]), None)
    return {
        "id": host.id,
        "name": host.name,
        "status": host.status.value,
        "status_detail": host.status_detail,
        "cluster_id": host.cluster_id,
        "tunnel_ip": tunnel_ip,
        "agents": [{k: v for k, v in a.items() if k != "_ip"} for a in agents],
    }


def _network(network: model.Network, view: ProviderView | None) -> Json:
    pnet = view.networks.get(network.provider_network_id or "") if view else None
    subnets = (
        [s for s in view.subnets if s.network_id == network.provider_network_id] if view and pnet else []
    )
    return {
        "id": network.id,
        "name": network.name,
        "data_center_id": network.data_center_id,
        "provider_id": network.provider_id,
        "provider_network_id": network.provider_network_id,
        "external_missing": network.external_missing,
        "network_type": pnet.network_type if pnet else None,
        "segmentation_id": pnet.segmentation_id if pnet else None,
        "vlan_id": network.vlan_id,
        "mtu": (pnet.mtu if pnet else None) or network.mtu or None,
        "subnets": [
            {
                "id": s.id,
                "name": s.name,
                "cidr": s.cidr,
                "ip_version": s.ip_version,
                "gateway_ip": s.gateway_ip,
            }
            for s in sorted(subnets, key=lambda s: (s.ip_version, s.cidr))
        ],
    }


def _nic(nic: NicRow, network_of_profile: dict[str, str], views: dict[str, ProviderView]) -> Json:
    view = views.get(nic.port_provider_id or "")
    port = view.ports.get(nic.port_id or "") if view and nic.port_id else None
    live = view is not None and view.error is None
    return {
        "id": nic.id,
        "name": nic.name,
        "vm_id": nic.vm_id,
        "network_id": network_of_profile.get(nic.vnic_profile_id or ""),
        "plugged": nic.plugged,
        "provisioning": nic.state,
        "last_error": nic.last_error,
        "port_id": nic.port_id,
        # a port the live provider no longer lists has no status; without an answer, the engine's last record
        "port_status": (port.status if port else None) if live else nic.provider_status,
        "addresses": [ip.ip_address for ip in port.fixed_ips] if port else [],
    }
