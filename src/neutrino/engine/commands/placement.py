"""What running a VM needs, worked out before anything is done: each plugged vNIC's network and provider, the
provider networks behind them, and the hosts that can carry them (DESIGN §2, steps 2–3).

Shared by run, hot-plug and migration. ``plan_nics`` reads the store only; ``resolve`` asks the providers (their
networks, the security-group extension, their agents' health); ``choose_host`` runs the scheduler's filters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import ip_address

from neutrino.agent_api import schema as wire
from neutrino.engine.commands.common import EngineContext
from neutrino.engine.commands.ports import (
    EnsuredPort,
    PortPlan,
    check_groups_supported,
    check_port_security_supported,
    fail_nic,
    port_security_of,
    provider_of,
    security_groups_of,
)
from neutrino.engine.domain import model
from neutrino.engine.domain.errors import BadRequest, EngineError, reworded
from neutrino.engine.domain.model import bridge_name
from neutrino.engine.provider_clients.base import ProviderNetwork, ProviderPort
from neutrino.engine.scheduling.filters import HostView, PluginSupport, VmNeeds, VnicNeed, schedule
from neutrino.engine.store.uow import UnitOfWork

DEFAULT_PLUGIN_TYPE = "OPEN_VSWITCH"  # oVirt's default for an OpenStack Networking provider
MIB = 1024 * 1024


@dataclass
class NicPlan:
    nic_id: str
    name: str
    mac: str
    network: model.Network | None
    port: PortPlan | None = None  # set for a vNIC on an external network
    provider_network: ProviderNetwork | None = None

    @property
    def external(self) -> bool:
        return self.port is not None


@dataclass
class Placement:
    nics: list[NicPlan]
    required_networks: frozenset[str]
    hosts: list[model.Host]
    agents_alive: dict[tuple[str, str], bool] = field(default_factory=dict)  # (provider id, host) -> alive
    allowed_hosts: frozenset[str] | None = None  # the VM's placement policy hosts; None: any host


def plan_nic(uow: UnitOfWork, nic: model.VmNic, action: str) -> NicPlan | None:
    """The plan of one vNIC, or None when it connects to nothing (no profile)."""
    profile = uow.profiles.get(nic.vnic_profile_id) if nic.vnic_profile_id else None
    if profile is None:
        return None
    network = uow.networks.get(profile.network_id)
    plan = NicPlan(nic.id, nic.name, nic.mac, network)
    if network is None or not network.is_external:
        return plan
    provider = provider_of(uow, network)
    if provider is None:
        raise BadRequest(
            f"Cannot {action} VM. vNIC {nic.name}: the provider of network {network.name} is gone."
        )
    if network.external_missing:
        raise BadRequest(
            f"Cannot {action} VM. vNIC {nic.name}: network {network.name} no longer exists on "
            f"provider {provider.name}."
        )
    plan.port = PortPlan(
        nic.id,
        nic.name,
        nic.mac,
        provider,
        network,
        security_groups_of(profile),
        provider.effective_plugin_type or DEFAULT_PLUGIN_TYPE,
        port_security_of(profile),
    )
    return plan


def plan_vm(uow: UnitOfWork, vm: model.Vm, action: str = "run") -> Placement:
    plans = [p for nic in uow.nics.list(vm_id=vm.id) if nic.plugged and (p := plan_nic(uow, nic, action))]
    required = set()
    for attachment in uow.attachments.list(cluster_id=vm.cluster_id, required=True):
        network = uow.networks.get(attachment.network_id)
        if network is not None and not network.is_external and network.is_vm_network:
            required.add(network.name)
    pinned = frozenset(vm.options.placement_hosts) or None
    return Placement(plans, frozenset(required), list(uow.hosts.list(cluster_id=vm.cluster_id)), {}, pinned)


def resolve(ctx: EngineContext, placement: Placement, action: str = "run") -> None:
    """Ask each provider once per network for what the hosts need to know (type, segment, MTU), check the
    security-group extension where a profile sets groups, and read the provider's agents' health."""
    networks: dict[tuple[str, str], ProviderNetwork] = {}
    checked: set[tuple[str, str]] = set()  # (provider, extension) already found offered
    for plan in placement.nics:
        if plan.port is None:
            continue
        provider, network = plan.port.provider, plan.port.network
        assert network.provider_network_id is not None
        client = ctx.provider_client(provider)
        try:
            key = (provider.id, network.provider_network_id)
            if key not in networks:
                found = client.get_network(network.provider_network_id)
                if found is None:
                    raise BadRequest(f"network {network.name} no longer exists on provider {provider.name}.")
                networks[key] = found
            plan.provider_network = networks[key]
            if plan.port.security_groups is not None and (provider.id, "security-group") not in checked:
                check_groups_supported(client, provider, plan.name)
                checked.add((provider.id, "security-group"))
            if plan.port.port_security is not None and (provider.id, "port-security") not in checked:
                check_port_security_supported(client, provider, plan.name)
                checked.add((provider.id, "port-security"))
        except EngineError as exc:
            fail_nic(ctx, plan.nic_id, exc.message)
            raise reworded(exc, f"Cannot {action} VM. vNIC {plan.name}: {exc.message}") from exc
    for provider in {p.port.provider.id: p.port.provider for p in placement.nics if p.port}.values():
        try:
            agents = ctx.provider_client(provider).agents()
        except EngineError:
            agents = None  # an agent list is a hint for scheduling, never a reason to fail
        for agent in agents or ():
            key = (provider.id, agent.host)
            placement.agents_alive[key] = placement.agents_alive.get(key, False) or agent.alive


def host_view(host: model.Host, placement: Placement, running_vms: int = 0) -> HostView:
    supports = {
        str(pt): PluginSupport(
            frozenset(str(t) for t in (info.get("network_types") or ["*"])),  # type: ignore[attr-defined]
            bool(info.get("security_groups", False)),
        )
        for pt, info in host.plugin_support().items()
        if isinstance(info, dict)
    }
    alive: bool | None = None
    for plan in placement.nics:
        if plan.port is None:
            continue
        binding = binding_host(host, plan.port.plugin_type) or host.name
        seen = placement.agents_alive.get((plan.port.provider.id, binding))
        if seen is not None:
            alive = seen if alive is None else alive and seen
    return HostView(
        host.id,
        host.name,
        host.status == model.HostStatus.UP,
        frozenset(host.internal_networks()),
        supports,
        alive,
        running_vms,
    )


def needs_of(placement: Placement) -> VmNeeds:
    vnics = []
    for plan in placement.nics:
        if plan.port is not None:
            pn = plan.provider_network
            vnics.append(
                VnicNeed(
                    plan.name,
                    plugin_type=plan.port.plugin_type,
                    network_type=pn.network_type if pn else None,
                    security_groups=bool(plan.port.security_groups),
                )
            )
        elif plan.network is not None:
            vnics.append(VnicNeed(plan.name, internal_network=plan.network.name))
    return VmNeeds(placement.required_networks, tuple(vnics), placement.allowed_hosts)


def choose_host(
    uow: UnitOfWork, placement: Placement, action: str, prefer: str | None = None, exclude: str | None = None
) -> model.Host:
    counts: dict[str, int] = {}
    for vm in uow.vms.list(host_id=[h.id for h in placement.hosts]) if placement.hosts else []:
        if vm.host_id:
            counts[vm.host_id] = counts.get(vm.host_id, 0) + 1
    candidates = [h for h in placement.hosts if h.id != exclude]
    views = [host_view(h, placement, counts.get(h.id, 0)) for h in candidates]
    if prefer is not None:
        views = [v for v in views if v.id == prefer] or views
    decision = schedule(views, needs_of(placement), prefer)
    if decision.host is None:
        if not candidates:
            why = (
                "There is no other host in the VM's cluster."
                if exclude
                else "There is no host in the VM's cluster."
            )
        else:
            why = decision.explain()
        raise BadRequest(f"Cannot {action} VM. {why}")
    return next(h for h in candidates if h.id == decision.host.id)


def binding_host(host: model.Host, plugin_type: str) -> str | None:
    info = host.plugin_support().get(plugin_type) or host.plugin_support().get("*")
    value = info.get("binding_host_id") if isinstance(info, dict) else None
    return str(value) if value else None


def port_details(port: ProviderPort) -> wire.PortDetails:
    """What the agent needs of the provider port to serve its lease and filter it before the guest starts."""
    return wire.PortDetails(
        fixed_ips=[
            wire.PortFixedIp(subnet_id=ip.subnet_id, ip_address=ip_address(ip.ip_address))
            for ip in port.fixed_ips
            if ip.subnet_id and ip.ip_address
        ],
        port_security_enabled=port.port_security_enabled,
        allowed_address_pairs=[
            wire.PortAddressPair(ip_address=pair.ip_address, mac_address=pair.mac_address or None)
            for pair in port.allowed_address_pairs
            if pair.ip_address
        ],
    )


def nic_spec(plan: NicPlan, ensured: EnsuredPort | None) -> wire.NicSpec:
    """The agent API's NIC for one vNIC (``neutrino.agent_api.schema.NicSpec``)."""
    if plan.port is not None and ensured is not None:
        port, pn = ensured.port, plan.provider_network
        mtu = (pn.mtu if pn and pn.mtu else None) or (
            plan.network.mtu if plan.network and plan.network.mtu else None
        )
        external = wire.ExternalNet(
            vnic_id=port.id,
            plugin_type=plan.port.plugin_type,
            network_id=port.network_id,
            network_type=pn.network_type if pn else None,
            segmentation_id=pn.segmentation_id if pn else None,
            physical_network=pn.physical_network if pn else None,
            security_groups=list(port.security_groups),
            port=port_details(port),
        )
        return wire.NicSpec(
            nic_id=plan.nic_id, name=plan.name, mac=plan.mac.lower(), mtu=mtu, external=external
        )
    assert plan.network is not None
    internal = wire.InternalNet(network=plan.network.name, bridge=bridge_name(plan.network))
    return wire.NicSpec(
        nic_id=plan.nic_id,
        name=plan.name,
        mac=plan.mac.lower(),
        mtu=plan.network.mtu or None,
        internal=internal,
    )


def check_reported(nic_state: wire.NicState | None, spec: wire.NicSpec) -> str | None:
    """None when the agent reports the vNIC plugged exactly as sent, else why not."""
    if nic_state is None:
        return "the host does not report it"
    if nic_state.state != "plugged":
        return f"the host reports it {nic_state.state}: {nic_state.error or 'no reason given'}"
    ext = spec.external
    if ext is None:
        return None
    plugged = nic_state.plugged
    if plugged is None or plugged.vnic_id != ext.vnic_id:
        return f"the host plugged port {plugged.vnic_id if plugged else None}, not {ext.vnic_id}"
    if plugged.plugin_type != ext.plugin_type:
        return f"the host plugged it as {plugged.plugin_type}, not {ext.plugin_type}"
    if plugged.mac.lower() != spec.mac:
        return f"the host plugged MAC {plugged.mac}, not {spec.mac}"
    applied = plugged.security_groups
    if sorted(applied or []) != sorted(ext.security_groups or []):
        return f"the host applied security groups {applied}, not {ext.security_groups}"
    return None


def reported_nics(vm_report: wire.VmState | None) -> dict[str, wire.NicState]:
    return {n.spec.nic_id: n for n in vm_report.nics} if vm_report is not None else {}
