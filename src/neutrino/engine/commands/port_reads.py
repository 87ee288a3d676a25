"""Reads of the provider ports behind the engine's vNICs, for the web UI (the oVirt API has no ports).

- ``vm_ports``: each vNIC of a VM that has a port, with the port's status and addresses (its ``fixed_ips``);
- ``network_ports``: the ports of a provider network that belong to vNICs (``device_owner`` oVirt), each with
  the vNIC and VM it serves when the engine still has them.

A provider that fails is reported in place of the ports it would have given, in its own words: the page shows
what it can.
"""

from __future__ import annotations

import logging
from typing import Any

from neutrino.engine.commands.common import EngineContext
from neutrino.engine.domain import model
from neutrino.engine.domain.errors import EngineError
from neutrino.engine.provider_clients.base import DEVICE_OWNER, ProviderPort

log = logging.getLogger(__name__)


def _failure(exc: Exception) -> str:
    if isinstance(exc, EngineError):
        return exc.message
    log.exception("reading ports from a provider failed")
    return f"The provider could not be reached: {exc}"


def _port(port: ProviderPort) -> dict[str, Any]:
    return {
        "port_id": port.id,
        "status": port.status,
        "mac_address": port.mac_address,
        "host": port.host_id,
        "fixed_ips": [{"ip_address": ip.ip_address, "subnet_id": ip.subnet_id} for ip in port.fixed_ips],
    }


def vm_ports(ctx: EngineContext, vm_id: str) -> dict[str, Any] | None:
    """``{"nics": [{"id", "port_id", "status", "fixed_ips", ...} | {"id", "port_id", "error"}]}``; None: no such VM."""
    with ctx.reader() as uow:
        if uow.vms.get(vm_id) is None:
            return None
        # (nic id, port id, provider id) of the vNICs that have a port
        nics = [
            (n.id, n.port_id, n.port_provider_id)
            for n in uow.nics.list(vm_id=vm_id)
            if n.port_id and n.port_provider_id
        ]
        providers = uow.providers.by_ids(p for _, _, p in nics)
    out = []
    for nic_id, port_id, provider_id in nics:
        provider = providers.get(provider_id)
        entry: dict[str, Any] = {"id": nic_id, "port_id": port_id}
        if provider is None:
            out.append({**entry, "error": "Its provider is no longer registered."})
            continue
        try:
            port = ctx.provider_client(provider).find_port(nic_id)
        except Exception as exc:  # the provider's client may fail in ways it does not translate
            out.append({**entry, "error": _failure(exc)})
            continue
        if port is None:
            out.append({**entry, "error": "The provider has no port for this vNIC."})
        else:
            out.append({**entry, **_port(port)})
    return {"nics": out}


def network_ports(ctx: EngineContext, network_id: str) -> dict[str, Any] | None:
    """``{"ports": [...]}`` of the provider network a logical network is linked to, or ``{"error"}``; None: no such
    network. An engine network has no ports: ``{"ports": []}``."""
    with ctx.reader() as uow:
        network = uow.networks.get(network_id)
        if network is None:
            return None
        provider = uow.providers.get(network.provider_id) if network.provider_id else None
        if provider is None or not network.provider_network_id:
            return {"ports": []}
        provider_network = network.provider_network_id
    try:
        ports = [
            p
            for p in ctx.provider_client(provider).list_ports(DEVICE_OWNER)
            if p.network_id == provider_network
        ]
    except Exception as exc:
        return {"error": _failure(exc)}
    with ctx.reader() as uow:
        nics = uow.nics.by_ids(p.device_id for p in ports)
        vms = uow.vms.by_ids(n.vm_id for n in nics.values())
        return {"ports": [_network_port(p, nics.get(p.device_id), vms) for p in ports]}


def _network_port(port: ProviderPort, nic: model.VmNic | None, vms: dict[str, model.Vm]) -> dict[str, Any]:
    vm = vms.get(nic.vm_id) if nic else None
    return {
        **_port(port),
        "device_id": port.device_id,
        "nic": {"id": nic.id, "name": nic.name} if nic else None,
        "vm": {"id": vm.id, "name": vm.name} if vm else None,
    }
