"""Fakes at the engine's own seams: a network provider (the ``NetworkProvider`` protocol) and a host agent
(the ``AgentClient`` surface), both in memory, both able to fail on demand. The real ones are tested against
the real servers; these let the engine's lifecycle be tested fast on both databases, failures included."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from neutrino.agent_api import schema as wire
from neutrino.engine.domain.errors import BadRequest, HostFailure, ProviderFailure
from neutrino.engine.hosts.agent_client import AgentError
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
from neutrino.neutron_client import FixedIp

DEFAULT_GROUP = "00000000-0000-4000-8000-00000000d0f0"


@dataclass
class FakeProvider:
    """A provider's networks and ports in memory. ``down`` makes every call fail as an unreachable provider
    does; ``fail_on`` names operations (e.g. ``create_port``) that fail, optionally after ``fail_after`` calls."""

    networks: dict[str, ProviderNetwork] = field(default_factory=dict)
    ports: dict[str, ProviderPort] = field(default_factory=dict)
    subnets: dict[str, ProviderSubnet] = field(default_factory=dict)
    exts: set[str] = field(default_factory=lambda: {"security-group", "binding", "port-security"})
    agent_list: list[ProviderAgent] | None = None
    # routing, shown only when ``exts`` has "router": routers, their interfaces (ports), floating IPs
    routers: dict[str, ProviderRouter] = field(default_factory=dict)
    router_ports: list[ProviderPort] = field(default_factory=list)
    floating_ips: list[ProviderFloatingIp] = field(default_factory=list)
    down: bool = False
    fail_on: dict[str, int] = field(default_factory=dict)  # operation -> calls that still succeed
    calls: list[str] = field(default_factory=list)

    def _enter(self, op: str) -> None:
        self.calls.append(op)
        if self.down:
            raise ProviderFailure(
                "Failed to communicate with the external provider: cannot connect (refused)."
            )
        if op in self.fail_on:
            if self.fail_on[op] <= 0:
                raise ProviderFailure(
                    f"Failed to communicate with the external provider: {op} failed (HTTP 500)."
                )
            self.fail_on[op] -= 1

    def add_network(self, name: str, network_type: str = "vxlan", mtu: int = 1450) -> ProviderNetwork:
        net = ProviderNetwork(
            id=str(uuid.uuid4()),
            name=name,
            status="ACTIVE",
            mtu=mtu,
            network_type=network_type,
            segmentation_id=len(self.networks) + 100,
        )
        self.networks[net.id] = net
        return net

    # --- NetworkProvider ---------------------------------------------------------------------------

    def test_connectivity(self) -> None:
        self._enter("test_connectivity")

    def list_networks(self) -> list[ProviderNetwork]:
        self._enter("list_networks")
        return list(self.networks.values())

    def get_network(self, network_id: str) -> ProviderNetwork | None:
        self._enter("get_network")
        return self.networks.get(network_id)

    def get_networks(self, network_ids: list[str]) -> list[ProviderNetwork]:
        self._enter("get_networks")
        return [self.networks[i] for i in network_ids if i in self.networks]

    def create_network(self, name: str, mtu: int | None = None) -> ProviderNetwork:
        self._enter("create_network")
        return self.add_network(name, mtu=mtu or 1450)

    def delete_network(self, network_id: str) -> None:
        self._enter("delete_network")
        self.networks.pop(network_id, None)

    def list_subnets(self, network_id: str | None = None) -> list[ProviderSubnet]:
        self._enter("list_subnets")
        return [s for s in self.subnets.values() if network_id is None or s.network_id == network_id]

    def create_subnet(
        self,
        network_id: str,
        name: str,
        cidr: str,
        ip_version: int,
        gateway_ip: str | None,
        dns_nameservers: list[str],
    ) -> ProviderSubnet:
        self._enter("create_subnet")
        subnet = ProviderSubnet(
            id=str(uuid.uuid4()),
            network_id=network_id,
            name=name,
            cidr=cidr,
            ip_version=ip_version,
            gateway_ip=gateway_ip,
            dns_nameservers=tuple(dns_nameservers),
        )
        self.subnets[subnet.id] = subnet
        return subnet

    def delete_subnet(self, subnet_id: str) -> None:
        self._enter("delete_subnet")
        self.subnets.pop(subnet_id, None)

    def extensions(self) -> set[str]:
        self._enter("extensions")
        return set(self.exts)

    def find_port(self, device_id: str) -> ProviderPort | None:
        self._enter("find_port")
        return next(
            (p for p in self.ports.values() if p.device_id == device_id and p.device_owner == DEVICE_OWNER),
            None,
        )

    def find_ports(self, device_ids: list[str]) -> list[ProviderPort]:
        self._enter("find_ports")
        wanted = set(device_ids)
        return [p for p in self.ports.values() if p.device_id in wanted and p.device_owner == DEVICE_OWNER]

    def list_ports(self, device_owner: str = DEVICE_OWNER) -> list[ProviderPort]:
        self._enter("list_ports")
        return [p for p in self.ports.values() if p.device_owner == device_owner]

    def create_port(self, request: PortRequest) -> PortResult:
        self._enter("create_port")
        secured = True if request.port_security is None else request.port_security  # networks' default: on
        default = (DEFAULT_GROUP,) if secured else ()
        groups = default if request.security_groups is None else tuple(request.security_groups)
        port = ProviderPort(
            id=str(uuid.uuid4()),
            network_id=request.network_id,
            mac_address=request.mac_address,
            name=request.name,
            device_id=request.device_id,
            device_owner=request.device_owner,
            status="DOWN",
            security_groups=groups,
            fixed_ips=(FixedIp("s1", "10.0.0.5"),),
            host_id=request.host_id,
            port_security_enabled=secured,
            tags=tuple(request.tags),
        )
        if request.tags and "tag-ports-during-bulk-creation" not in self.exts:
            raise BadRequest("The external provider refused the request: Unrecognized attribute(s) 'tags'")
        self.ports[port.id] = port
        return PortResult(port)

    def update_port(self, port_id: str, request: PortRequest) -> PortResult:
        self._enter("update_port")
        old = self.ports[port_id]
        groups = old.security_groups if request.security_groups is None else tuple(request.security_groups)
        port = ProviderPort(
            id=old.id,
            network_id=old.network_id,
            mac_address=old.mac_address,
            name=request.name,
            device_id=request.device_id,
            device_owner=request.device_owner,
            status=old.status,
            security_groups=groups,
            fixed_ips=old.fixed_ips,
            host_id=request.host_id or old.host_id,
            port_security_enabled=old.port_security_enabled
            if request.port_security is None
            else request.port_security,
            tags=old.tags,
        )
        self.ports[port_id] = port
        return PortResult(port)

    def delete_port(self, port_id: str) -> None:
        self._enter("delete_port")
        self.ports.pop(port_id, None)

    def tagging(self) -> Tagging:
        self._enter("tagging")
        return tagging_of(self.exts)

    def tag_port(self, port_id: str, tag: str) -> None:
        self._enter("tag_port")
        if "standard-attr-tag" not in self.exts:
            raise ProviderFailure("Failed to communicate with the external provider: HTTP 404 on ports/tags.")
        old = self.ports[port_id]
        if tag not in old.tags:
            self.ports[port_id] = replace(old, tags=(*old.tags, tag))

    def agents(self) -> list[ProviderAgent] | None:
        self._enter("agents")
        return self.agent_list

    def list_routers(self) -> list[ProviderRouter]:
        self._enter("list_routers")
        return list(self.routers.values())

    def get_router(self, router_id: str) -> ProviderRouter | None:
        self._enter("get_router")
        return self.routers.get(router_id)

    def list_router_ports(self, router_ids: list[str] | None = None) -> list[ProviderPort]:
        self._enter("list_router_ports")
        return [p for p in self.router_ports if router_ids is None or p.device_id in router_ids]

    def list_floating_ips(self, router_id: str | None = None) -> list[ProviderFloatingIp]:
        self._enter("list_floating_ips")
        return [f for f in self.floating_ips if router_id is None or f.router_id == router_id]

    def ports_of(self, device_id: str) -> list[ProviderPort]:
        return [p for p in self.ports.values() if p.device_id == device_id]


@dataclass
class FakeAgent:
    """A host agent's VMs in memory (as the agent API's JSON), answering with the contract's models
    (``neutrino.agent_api.schema``). ``down`` makes every call fail as an unreachable host; ``fail_on`` names
    verbs that fail with PlugFailed; ``tamper`` edits what the agent reports of a VM (to test the engine's check
    of the report): in list-VMs, get-VM and the answers of create-VM and hot plug, which are reports too."""

    name: str
    plugin_types: dict[str, Any] = field(
        default_factory=lambda: {
            "LINUX_BRIDGE": {"driver": "noop", "network_types": ["*"], "security_groups": True},
            "OPEN_VSWITCH": {"driver": "noop", "network_types": ["*"], "security_groups": True},
        }
    )
    vms: dict[str, dict[str, Any]] = field(default_factory=dict)
    networks: list[dict[str, Any]] = field(default_factory=list)
    down: bool = False
    fail_on: set[str] = field(default_factory=set)
    tamper: Any = None
    calls: list[str] = field(default_factory=list)
    certificate: dict[str, Any] | None = None  # what capabilities report of the engine-issued certificate

    def _enter(self, verb: str) -> None:
        self.calls.append(verb)
        if self.down:
            raise HostFailure(f"Host {self.name} cannot be reached: connection refused.")
        if verb in self.fail_on:
            raise AgentError(f"Host {self.name}: cannot plug: {verb} failed", "PlugFailed", 500)

    def close(self) -> None:
        pass

    def capabilities(self) -> wire.Capabilities:
        self._enter("capabilities")
        pts = {k: {**v, "binding_host_id": self.name} for k, v in self.plugin_types.items()}
        return wire.Capabilities.model_validate(
            {
                "host_name": self.name,
                "vm_backend": {"name": "fake"},
                "vnic_drivers": {},
                "plugin_types": pts,
                "networks": {
                    "internal": [{"network": n["network"], "bridge": n["network"]} for n in self.networks],
                    "external": [],
                },
                "certificate": self.certificate,
            }
        )

    def sync_networks(self, networks: list[wire.NetworkSyncItem]) -> wire.NetworkSyncResult:
        self._enter("sync_networks")
        self.networks = [n.model_dump(mode="json") for n in networks]
        return wire.NetworkSyncResult(networks=[n.state() for n in networks])

    def _nic_state(self, spec: dict[str, Any]) -> dict[str, Any]:
        ext = spec.get("external")
        plugged = None
        if ext:
            plugged = {
                "driver": "noop",
                "vnic_id": ext["vnic_id"],
                "plugin_type": ext["plugin_type"],
                "mac": spec["mac"],
                "security_groups": ext.get("security_groups"),
            }
        return {"spec": spec, "state": "plugged", "error": None, "plugged": plugged}

    def _report(self, vm: dict[str, Any]) -> dict[str, Any]:
        """What the agent reports of ``vm`` (``tamper`` may edit the JSON first)."""
        reported = copy.deepcopy(vm)
        if self.tamper is not None:
            self.tamper(reported)
        return reported

    def list_vms(self) -> list[wire.VmState]:
        self._enter("list_vms")
        return [wire.VmState.model_validate(self._report(vm)) for vm in list(self.vms.values())]

    def get_vm(self, vm_id: str) -> wire.VmState | None:
        self._enter("get_vm")
        found = self.vms.get(vm_id)
        return None if found is None else wire.VmState.model_validate(self._report(found))

    def create_vm(self, spec: wire.VmSpec) -> wire.VmState:
        self._enter("create_vm")
        sent = spec.model_dump(mode="json")
        vm = {
            "vm_id": spec.vm_id,
            "name": spec.name,
            "status": "Up",
            "backend": "fake",
            "memory_mb": spec.memory_mb,
            "vcpus": spec.vcpus,
            "nics": [self._nic_state(n) for n in sent["nics"]],
        }
        self.vms[spec.vm_id] = vm
        return wire.VmState.model_validate(self._report(vm))

    def destroy_vm(self, vm_id: str) -> None:
        self._enter("destroy_vm")
        self.vms.pop(vm_id, None)

    def hotplug_nic(self, vm_id: str, nic: wire.NicSpec) -> wire.NicState:
        self._enter("hotplug_nic")
        self.vms[vm_id]["nics"].append(self._nic_state(nic.model_dump(mode="json")))
        reported = self._report(self.vms[vm_id])["nics"]
        return wire.NicState.model_validate(next(n for n in reported if n["spec"]["nic_id"] == nic.nic_id))

    def hotunplug_nic(self, vm_id: str, nic_id: str) -> None:
        self._enter("hotunplug_nic")
        vm = self.vms.get(vm_id)
        if vm is not None:
            vm["nics"] = [n for n in vm["nics"] if n["spec"]["nic_id"] != nic_id]

    def nic_ids(self, vm_id: str) -> list[str]:
        return sorted(n["spec"]["nic_id"] for n in self.vms.get(vm_id, {}).get("nics", []))
