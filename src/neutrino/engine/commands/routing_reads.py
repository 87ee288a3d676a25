"""A provider's routers and floating IPs for the web UI's provider page, read live through the engine's provider
client (``list_routers``, ``list_router_ports``, ``list_floating_ips``) and shown read only: the engine never
changes a provider's routing.

``provider_routing(ctx, provider_id)`` answers one of:

- ``{"routing": false, "reason"}``: the provider lists no ``router`` extension (it has no L3);
- ``{"routing": true, "error"}``: the provider did not answer, in its own words;
- ``{"routing": true, "routers": [...], "floating_ips": [...]}``: each router with its gateway, SNAT, static
  routes and interfaces (network, subnet, address), each floating IP with the vNIC its port serves; a network is
  named by its name on the provider and, when the engine imported it, by the engine's network.

None: no such provider.
"""

from __future__ import annotations

import logging
from typing import Any

from neutrino.engine.commands.common import EngineContext
from neutrino.engine.domain.errors import EngineError
from neutrino.engine.provider_clients.base import (
    ROUTING_EXTENSION,
    NetworkProvider,
    ProviderFloatingIp,
    ProviderPort,
    ProviderRouter,
)

log = logging.getLogger(__name__)
Json = dict[str, Any]

NO_ROUTING = (
    "This provider has no routers or floating IPs to show: it does not list the 'router' extension (no L3)."
)


def provider_routing(ctx: EngineContext, provider_id: str) -> Json | None:
    with ctx.reader() as uow:
        provider = uow.providers.get(provider_id)
        if provider is None:
            return None
        imported = {
            n.provider_network_id: {"id": n.id, "name": n.name}
            for n in uow.networks.list(provider_id=provider.id)
            if n.provider_network_id
        }
        # the vNICs behind ports, for floating IPs: a vNIC's port id is kept by the engine
        mine = [n for n in uow.topology.nics() if n.port_id and n.port_provider_id == provider.id]
        vm_names = {vm.id: vm.name for vm in uow.topology.vms()} if mine else {}
        vnics: dict[str, Json] = {
            str(nic.port_id): {
                "id": nic.id,
                "name": nic.name,
                "vm_id": nic.vm_id,
                "vm_name": vm_names.get(nic.vm_id),
            }
            for nic in mine
        }
    try:
        client = ctx.provider_client(provider)
        if ROUTING_EXTENSION not in client.extensions():
            return {"routing": False, "reason": NO_ROUTING}
        return {"routing": True, **_read(client, imported, vnics)}
    except EngineError as exc:
        return {"routing": True, "error": exc.message}
    except Exception as exc:  # the provider's client may fail in ways it does not translate
        log.exception("reading the routers of provider %s failed", provider.name)
        return {"routing": True, "error": f"Failed to communicate with the external provider: {exc}"}


def _read(client: NetworkProvider, imported: dict[str, Json], vnics: dict[str, Json]) -> Json:
    routers = client.list_routers()
    ports = client.list_router_ports()
    fips = client.list_floating_ips()
    networks = {n.id: n.name for n in client.list_networks()}
    subnets = {s.id: s.cidr for s in client.list_subnets()}

    def network(network_id: str | None) -> Json | None:
        if not network_id:
            return None
        return {"id": network_id, "name": networks.get(network_id), "engine": imported.get(network_id)}

    interfaces: dict[str, list[ProviderPort]] = {}
    for port in ports:
        interfaces.setdefault(port.device_id, []).append(port)
    names = {r.id: r.name for r in routers}
    return {
        "routers": [
            _router(r, interfaces.get(r.id, []), network, subnets)
            for r in sorted(routers, key=lambda r: (r.name, r.id))
        ],
        "floating_ips": [
            _fip(f, network, names, vnics) for f in sorted(fips, key=lambda f: f.floating_ip_address)
        ],
    }


def _router(router: ProviderRouter, ports: list[ProviderPort], network: Any, subnets: dict[str, str]) -> Json:
    gateway = router.gateway
    return {
        "id": router.id,
        "name": router.name,
        "status": router.status,
        "admin_state_up": router.admin_state_up,
        "project_id": router.project_id,
        "gateway": (
            {
                "network": network(gateway.network_id),
                "ips": [ip.ip_address for ip in gateway.fixed_ips],
                "snat": gateway.enable_snat,
            }
            if gateway
            else None
        ),
        "routes": [{"destination": r.destination, "nexthop": r.nexthop} for r in router.routes],
        "interfaces": [
            {
                "port_id": port.id,
                "status": port.status,
                "network": network(port.network_id),
                "subnet_id": ip.subnet_id,
                "cidr": subnets.get(ip.subnet_id),
                "ip_address": ip.ip_address,
            }
            for port in sorted(ports, key=lambda p: p.id)
            for ip in port.fixed_ips
        ],
    }


def _fip(fip: ProviderFloatingIp, network: Any, routers: dict[str, str], vnics: dict[str, Json]) -> Json:
    return {
        "id": fip.id,
        "floating_ip_address": fip.floating_ip_address,
        "status": fip.status,
        "network": network(fip.floating_network_id),
        "fixed_ip_address": fip.fixed_ip_address,
        "port_id": fip.port_id,
        "vnic": vnics.get(fip.port_id or ""),
        "router": {"id": fip.router_id, "name": routers.get(fip.router_id)} if fip.router_id else None,
        "description": fip.description,
    }
