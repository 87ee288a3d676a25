"""Scheduling filters: pure functions over what the engine knows of each host and what a VM needs.

A VM that fits nowhere gets one message naming, per host, the filter that excluded it. External networks
are never required networks: a host qualifies for an external vNIC through its agent's live report (the
plugin types it can plug, the network types each carries, security-group support) and, where the provider
reports agents, the health of the host's agent there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PluginSupport:
    network_types: frozenset[str]  # "*" = any
    security_groups: bool


@dataclass(frozen=True)
class HostView:
    id: str
    name: str
    up: bool
    internal_networks: frozenset[str]  # internal networks the host carries (bridges set up)
    plugin_types: dict[str, PluginSupport] = field(default_factory=dict)
    provider_agent_alive: bool | None = None  # None: the provider reports no agent for the host
    running_vms: int = 0


@dataclass(frozen=True)
class VnicNeed:
    nic: str  # the vNIC's name, for messages
    internal_network: str | None = None
    plugin_type: str | None = None  # set for a vNIC on an external network
    network_type: str | None = None
    security_groups: bool = False


@dataclass(frozen=True)
class VmNeeds:
    required_networks: frozenset[str]  # the cluster's required internal networks
    vnics: tuple[VnicNeed, ...] = ()
    allowed_hosts: frozenset[str] | None = None  # the VM's placement policy hosts (ids); None: any


Filter = Callable[[HostView, VmNeeds], str | None]  # None: the host passes; else why it does not


def host_up(host: HostView, needs: VmNeeds) -> str | None:
    return None if host.up else "the host is not Up"


def placement_hosts(host: HostView, needs: VmNeeds) -> str | None:
    if needs.allowed_hosts is None or host.id in needs.allowed_hosts:
        return None
    return "the VM's placement policy does not name it"


def required_networks(host: HostView, needs: VmNeeds) -> str | None:
    missing = sorted(needs.required_networks - host.internal_networks)
    return f"it lacks the cluster's required network(s) {', '.join(missing)}" if missing else None


def vnic_networks(host: HostView, needs: VmNeeds) -> str | None:
    for v in needs.vnics:
        if v.plugin_type is None:
            if v.internal_network and v.internal_network not in host.internal_networks:
                return f"vNIC {v.nic}: network {v.internal_network} is not set up on it"
            continue
        support = host.plugin_types.get(v.plugin_type)
        if support is None:
            return f"vNIC {v.nic}: its agent has no vNIC driver for plugin type {v.plugin_type}"
        if (
            v.network_type
            and "*" not in support.network_types
            and v.network_type not in support.network_types
        ):
            return f"vNIC {v.nic}: its {v.plugin_type} driver cannot carry {v.network_type} networks"
        if v.security_groups and not support.security_groups:
            return f"vNIC {v.nic}: its {v.plugin_type} driver cannot apply security groups"
    return None


def provider_agent(host: HostView, needs: VmNeeds) -> str | None:
    if any(v.plugin_type for v in needs.vnics) and host.provider_agent_alive is False:
        return "the network provider reports its agent dead"
    return None


FILTERS: tuple[tuple[str, Filter], ...] = (
    ("Up", host_up),
    ("PinToHost", placement_hosts),
    ("RequiredNetworks", required_networks),
    ("VnicNetworks", vnic_networks),
    ("ProviderAgent", provider_agent),
)


@dataclass(frozen=True)
class Decision:
    host: HostView | None
    excluded: dict[str, str]  # host name -> "<Filter>: <why>"

    def explain(self) -> str:
        if not self.excluded:
            return "There is no host in the VM's cluster."
        return "No host can run the VM: " + "; ".join(
            f"{name} ({why})" for name, why in sorted(self.excluded.items())
        )


def schedule(hosts: Sequence[HostView], needs: VmNeeds, prefer: str | None = None) -> Decision:
    """The host to run on: the preferred one if it passes, else the passing host with fewest running VMs."""
    passing: list[HostView] = []
    excluded: dict[str, str] = {}
    for host in hosts:
        for name, check in FILTERS:
            why = check(host, needs)
            if why is not None:
                excluded[host.name] = f"{name}: {why}"
                break
        else:
            passing.append(host)
    if not passing:
        return Decision(None, excluded)
    chosen = next((h for h in passing if h.id == prefer), None) or min(
        passing, key=lambda h: (h.running_vms, h.name)
    )
    return Decision(chosen, excluded)
