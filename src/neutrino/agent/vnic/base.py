"""The vNIC driver contract (after os-vif's ``PluginBase``).

A driver is constructed once per agent with a :class:`DriverContext`, says what it supports in
:meth:`VnicDriver.describe` (the engine schedules nothing onto a host whose drivers did not
advertise it), and plugs / unplugs one vNIC at a time. ``plug`` and ``unplug`` must be
idempotent: the agent replays every plug after a restart.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from importlib.metadata import entry_points

from neutrino.agent.datapath.firewall import Firewall
from neutrino.agent.datapath.hostnet import HostNet
from neutrino.agent.datapath.vswitch import OvsDb
from neutrino.agent_api.schema import ExternalNet, Plugged

ENTRY_POINT_GROUP = "neutrino.vnic_drivers"


class VnicDriverError(Exception):
    """The driver cannot plug or unplug this vNIC; the message names the cause."""


@dataclass(frozen=True)
class DriverInfo:
    """What a driver supports, as reported in the agent's capabilities."""

    name: str
    plugin_types: tuple[str, ...]
    network_types: tuple[str, ...]
    security_groups: bool
    details: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class DriverContext:
    """What the agent gives every driver: the host, its tunnel address, its mappings."""

    host_net: HostNet
    tunnel_ip: str | None = None
    vxlan_peers: tuple[str, ...] = ()  # configured
    learned_peers: set[str] = field(default_factory=set)  # from the provider; updated in place
    vxlan_port: int = 4789
    underlay_dev: str | None = None
    underlay_mtu: int = 1500
    physical_interfaces: dict[str, str] = field(default_factory=dict)
    firewall: Firewall | None = None  # security groups; None: this host applies none
    ovs: OvsDb | None = None  # Open vSwitch, for the open_vswitch driver
    ovs_datapath_type: str | None = None  # e.g. "netdev" for the userspace datapath
    integration_bridge: str = "br-int"  # the open_vswitch driver's bridge
    ovn: bool = False  # OVN owns the integration bridge (the agent's OVN mode)


def peers_of(context: DriverContext, vif_peers: list[str]) -> set[str]:
    """The tunnel addresses a VXLAN device floods toward: configured, learned and per-vNIC ones,
    never this host's own."""
    return (set(context.vxlan_peers) | context.learned_peers | set(vif_peers)) - {context.tunnel_ip or ""}


@dataclass(frozen=True)
class Vif:
    """One vNIC as a driver sees it: the connection details plus the host device to connect."""

    nic_id: str
    mac: str
    mtu: int | None
    device: str  # the host end, tap<port[:11]>; may not exist (e.g. libvirt creates it at start)
    net: ExternalNet


class VnicDriver(ABC):
    """Base class of vNIC drivers."""

    name: str = ""
    #: True when the driver filters with ``context.firewall`` (its groups must be set first)
    filters_with_firewall: bool = False
    #: False for a driver that connects nothing (``noop``): an agent syncing with the provider
    #: serves no DHCP on the networks of its vNICs
    carries_traffic: bool = True
    #: True when :meth:`filter_ahead` sets a vNIC's filter before :meth:`plug`
    filters_ahead: bool = False

    def __init__(self, context: DriverContext) -> None:
        self.context = context

    @abstractmethod
    def describe(self) -> DriverInfo:
        """What this driver supports."""

    @abstractmethod
    def plug(self, vif: Vif) -> Plugged:
        """Connect ``vif`` to its network; idempotent. Returns what was actually done."""

    def filter_ahead(self, vif: Vif) -> None:
        """Set ``vif``'s filter in ``context.firewall`` as :meth:`plug` will (``filters_ahead`` drivers): the
        plug then finds it set. What is wrong with it is left for the plug to raise."""
        raise NotImplementedError(f"the {self.name} driver sets filters only as it plugs")

    @abstractmethod
    def unplug(self, vif: Vif, *, network_in_use: bool) -> None:
        """Disconnect ``vif``; idempotent. When ``network_in_use`` is False no other vNIC on this
        host uses the vif's network, and the driver removes that network's devices."""


def available_drivers() -> dict[str, type[VnicDriver]]:
    """Driver classes registered under the ``neutrino.vnic_drivers`` entry point group."""
    found: dict[str, type[VnicDriver]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, VnicDriver)):
            raise TypeError(f"entry point {ep.name} = {ep.value} is not a VnicDriver")
        found[ep.name] = cls
    return found


def load_drivers(mapping: dict[str, str], context: DriverContext) -> dict[str, VnicDriver]:
    """One driver instance per driver name in ``mapping`` (plugin type → driver name), keyed
    by plugin type; an unknown driver name raises :class:`VnicDriverError`."""
    classes = available_drivers()
    instances: dict[str, VnicDriver] = {}
    by_plugin: dict[str, VnicDriver] = {}
    for plugin_type, driver_name in mapping.items():
        if driver_name not in classes:
            known = ", ".join(sorted(classes)) or "none"
            raise VnicDriverError(f"unknown vNIC driver {driver_name!r} for {plugin_type} (known: {known})")
        if driver_name not in instances:
            instances[driver_name] = classes[driver_name](context)
        by_plugin[plugin_type] = instances[driver_name]
    return by_plugin
