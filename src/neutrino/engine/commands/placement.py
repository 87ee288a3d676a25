"""What running a VM needs, worked out before anything is done: each plugged vNIC's network and provider, the
provider networks behind them, and the hosts that can carry them (DESIGN §2, steps 2–3).

Shared by run, hot-plug and migration. ``plan_nics`` reads the store only; ``resolve`` asks the providers (their
networks, the security-group extension, their agents' health); ``choose_host`` runs the scheduler's filters.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any, TypeVar

from neutrino.agent_api import schema as wire
from neutrino.engine.commands.common import EngineContext
from neutrino.engine.commands.ports import (
    EnsuredPort,
    PortPlan,
    PortWork,
    check_groups_supported,
    check_port_security_supported,
    fail_nic,
    port_security_of,
    provider_of,
    security_groups_of,
    seen,
)
from neutrino.engine.domain import model
from neutrino.engine.domain.errors import BadRequest, EngineError, reworded
from neutrino.engine.domain.model import bridge_name, utcnow
from neutrino.engine.provider_clients.base import ProviderNetwork, ProviderPort
from neutrino.engine.scheduling.filters import HostView, PluginSupport, VmNeeds, VnicNeed, schedule
from neutrino.engine.store.uow import UnitOfWork

DEFAULT_PLUGIN_TYPE = "OPEN_VSWITCH"  # oVirt's default for an OpenStack Networking provider
MIB = 1024 * 1024
K = TypeVar("K")


@dataclass
class NicPlan:
    nic_id: str
    name: str
    mac: str
    network: model.Network | None
    port: PortPlan | None = None  # set for a vNIC on an external network
    provider_network: ProviderNetwork | None = None
    work: PortWork | None = None  # its port as ``resolve(look_up=True)`` found it, then acted on
    port_lease: bool = False  # the host's agent takes the port's DNS and DHCP fields (wire.PORT_LEASE)

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


def plan_vm(
    uow: UnitOfWork, vm: model.Vm, action: str = "run", nics: Sequence[model.VmNic] | None = None
) -> Placement:
    """The VM's placement from the store (``nics``: the VM's vNICs, when the caller read them already)."""
    nics = [nic for nic in (uow.nics.list(vm_id=vm.id) if nics is None else nics) if nic.plugged]
    attachments = uow.attachments.list(cluster_id=vm.cluster_id, required=True)
    # what plan_nic and the required networks read, one statement per kind: the unit of work holds them, so
    # their gets below find them without asking the database again
    profiles = uow.profiles.by_ids(n.vnic_profile_id for n in nics if n.vnic_profile_id)
    networks = uow.networks.by_ids(
        [*(p.network_id for p in profiles.values()), *(a.network_id for a in attachments)]
    )
    uow.providers.by_ids(n.provider_id for n in networks.values() if n.provider_id)
    plans = [p for nic in nics if (p := plan_nic(uow, nic, action))]
    required = set()
    for attachment in attachments:
        network = uow.networks.get(attachment.network_id)
        if network is not None and not network.is_external and network.is_vm_network:
            required.add(network.name)
    pinned = frozenset(vm.options.placement_hosts) or None
    return Placement(plans, frozenset(required), list(uow.hosts.list(cluster_id=vm.cluster_id)), {}, pinned)


def resolve(
    ctx: EngineContext,
    placement: Placement,
    action: str = "run",
    *,
    agents: bool = True,
    look_up: bool = False,
) -> None:
    """Read from each provider what the hosts need to know of its vNICs' networks (type, segment, MTU: one
    call for all of them), its extensions where a profile sets groups or port security, its agents' health
    (``agents``: for scheduling) and (``look_up``) the vNICs' ports: one call each, all at once."""
    by_provider: dict[str, list[NicPlan]] = {}
    for plan in placement.nics:
        if plan.port is not None:
            by_provider.setdefault(plan.port.provider.id, []).append(plan)
    reads: dict[tuple[str, str], Callable[[], Any]] = {}
    for provider_id, plans in by_provider.items():
        reads.update(_reads(ctx, provider_id, [p.port for p in plans if p.port is not None], agents, look_up))
    at = utcnow()
    got = concurrently(reads)
    for plan in placement.nics:
        if plan.port is not None:
            try:
                _check(plan, got, look_up)
            except EngineError as exc:
                fail_nic(ctx, plan.nic_id, exc.message)
                raise reworded(exc, f"Cannot {action} VM. vNIC {plan.name}: {exc.message}") from exc
    for provider_id, plans in by_provider.items():
        listed = got.get((provider_id, "agents"))
        # an agent list is a hint for scheduling, never a reason to fail
        for agent in listed if isinstance(listed, list) else ():
            key = (provider_id, agent.host)
            placement.agents_alive[key] = placement.agents_alive.get(key, False) or agent.alive
        if look_up:
            works = [PortWork(p.port) for p in plans if p.port is not None]
            for plan, work in zip(plans, works, strict=True):
                plan.work = work
            seen(ctx, works, _value(got[(provider_id, "ports")]), at)


def _reads(
    ctx: EngineContext, provider_id: str, port_plans: list[PortPlan], agents: bool, look_up: bool
) -> dict[tuple[str, str], Callable[[], Any]]:
    """The calls ``resolve`` makes to one provider, by (provider id, what)."""
    try:
        client = ctx.provider_client(port_plans[0].provider)
    except EngineError as exc:
        return {(provider_id, "networks"): functools.partial(_raise, exc)}
    network_ids = list(dict.fromkeys(str(p.network.provider_network_id) for p in port_plans))
    reads: dict[tuple[str, str], Callable[[], Any]] = {
        (provider_id, "networks"): functools.partial(
            ctx.network_reads.read, provider_id, network_ids, client.get_networks
        )
    }
    if any(p.security_groups is not None or p.port_security is not None for p in port_plans):
        reads[(provider_id, "extensions")] = client.extensions
    if agents:
        reads[(provider_id, "agents")] = functools.partial(
            ctx.agent_listings.read, provider_id, client.agents
        )
    if look_up:
        reads[(provider_id, "ports")] = functools.partial(client.find_ports, [p.nic_id for p in port_plans])
    return reads


def _check(plan: NicPlan, got: dict[tuple[str, str], Any], look_up: bool) -> None:
    """What ``resolve`` read, for one vNIC: its network exists, the extensions its profile needs are offered,
    its provider answered."""
    assert plan.port is not None
    provider, network = plan.port.provider, plan.port.network
    networks = _value(got[(provider.id, "networks")])
    plan.provider_network = next((n for n in networks if n.id == network.provider_network_id), None)
    if plan.provider_network is None:
        raise BadRequest(f"network {network.name} no longer exists on provider {provider.name}.")
    if plan.port.security_groups is not None:
        check_groups_supported(_value(got[(provider.id, "extensions")]), provider, plan.name)
    if plan.port.port_security is not None:
        check_port_security_supported(_value(got[(provider.id, "extensions")]), provider, plan.name)
    if look_up:
        _value(got[(provider.id, "ports")])


def concurrently(calls: dict[K, Callable[[], Any]]) -> dict[K, Any]:
    """Each call's result, or the exception it raised; the calls made at once (each waits on the network)."""
    if len(calls) <= 1:
        return {key: _outcome(call) for key, call in calls.items()}
    *first, (last_key, last) = calls.items()
    futures = {key: _readers().submit(_outcome, call) for key, call in first}
    done = {last_key: _outcome(last)}  # the calling thread makes one itself
    return {key: future.result() for key, future in futures.items()} | done


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _readers() -> ThreadPoolExecutor:
    """The threads that make provider reads at once, started on first use and kept (starting a thread per
    read costs more than the read on a busy machine)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(16, thread_name_prefix="provider-read")
        return _pool


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except Exception as exc:  # handed to the caller, which words it for the vNIC it concerns
        return _Failed(exc)


@dataclass(frozen=True)
class _Failed:
    error: Exception


def _value(outcome: Any) -> Any:
    if isinstance(outcome, _Failed):
        raise outcome.error
    return outcome


def _raise(exc: Exception) -> Any:
    raise exc


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


def vms_on_hosts(uow: UnitOfWork, placement: Placement) -> dict[str, int]:
    """How many VMs each of the placement's hosts holds (what ``choose_host`` weighs), one statement."""
    return uow.vms.count_by("host_id", host_id=[h.id for h in placement.hosts]) if placement.hosts else {}


def choose_host(
    uow: UnitOfWork | None,
    placement: Placement,
    action: str,
    prefer: str | None = None,
    exclude: str | None = None,
    counts: dict[str, int] | None = None,
) -> model.Host:
    """The host the scheduler picks; ``counts`` (``vms_on_hosts``) read by the caller, else from ``uow``."""
    if counts is None:
        assert uow is not None
        counts = vms_on_hosts(uow, placement)
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


def agent_accepts(host: model.Host, what: str) -> bool:
    """Whether the host's agent said (``Capabilities.accepts``) its requests may carry ``what``."""
    found = host.capabilities.get("accepts")
    return isinstance(found, list) and what in found


def port_details(
    port: ProviderPort, network_dns_domain: str | None = None, *, lease: bool = True
) -> wire.PortDetails:
    """What the agent needs of the provider port to serve its lease and filter it before the guest starts:
    its addresses, and (``lease``: for an agent that takes them) what its lease is made of besides (its guest's
    name and domain, extra DHCP options), as the agent's follower later reads them from the provider."""
    details = wire.PortDetails(
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
        dns_assignment=[
            wire.PortDnsAssignment(hostname=a.hostname, ip_address=a.ip_address, fqdn=a.fqdn)
            for a in port.dns_assignment
        ],
        dns_domain=port.dns_domain,
        network_dns_domain=network_dns_domain,
        extra_dhcp_opts=[
            wire.PortDhcpOption(opt_name=o.opt_name, opt_value=o.opt_value, ip_version=o.ip_version)
            for o in port.extra_dhcp_opts
        ],
    )
    if lease:
        return details
    return details.model_copy(
        update={
            "dns_assignment": None,
            "dns_domain": None,
            "network_dns_domain": None,
            "extra_dhcp_opts": None,
        }
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
            port=port_details(port, pn.dns_domain if pn else None, lease=plan.port_lease),
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
