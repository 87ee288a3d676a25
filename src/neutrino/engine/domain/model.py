"""The engine's entities, with oVirt's names and meanings.

Plain dataclasses: no I/O, no framework. The store maps them onto tables imperatively, so these
classes know nothing about persistence. Entities refer to each other by id.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

# a vNIC's provisioning record lives in its own module (its transition rules); re-exported with the vNIC
from neutrino.engine.domain.options import ClusterOptions, HostOptions, VmOptions
from neutrino.engine.domain.provisioning import NicState as NicState
from neutrino.engine.domain.provisioning import Provisioning as Provisioning

BLANK_TEMPLATE_ID = "00000000-0000-0000-0000-000000000000"


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


class DataCenterStatus(enum.StrEnum):
    UNINITIALIZED = "uninitialized"
    UP = "up"
    MAINTENANCE = "maintenance"
    NOT_OPERATIONAL = "not_operational"
    PROBLEMATIC = "problematic"
    CONTEND = "contend"


class HostStatus(enum.StrEnum):
    UP = "up"
    DOWN = "down"
    MAINTENANCE = "maintenance"
    NON_RESPONSIVE = "non_responsive"
    NON_OPERATIONAL = "non_operational"
    INSTALLING = "installing"
    CONNECTING = "connecting"
    INITIALIZING = "initializing"


class VmStatus(enum.StrEnum):
    DOWN = "down"
    UP = "up"
    POWERING_UP = "powering_up"
    POWERING_DOWN = "powering_down"
    WAIT_FOR_LAUNCH = "wait_for_launch"
    MIGRATING = "migrating"
    IMAGE_LOCKED = "image_locked"
    NOT_RESPONDING = "not_responding"
    UNKNOWN = "unknown"


class NetworkUsage(enum.StrEnum):
    VM = "vm"
    DISPLAY = "display"
    MIGRATION = "migration"
    MANAGEMENT = "management"
    DEFAULT_ROUTE = "default_route"
    GLUSTER = "gluster"


class NicInterface(enum.StrEnum):
    VIRTIO = "virtio"
    E1000 = "e1000"
    E1000E = "e1000e"
    RTL8139 = "rtl8139"
    RTL8139_VIRTIO = "rtl8139_virtio"
    PCI_PASSTHROUGH = "pci_passthrough"
    SPAPR_VLAN = "spapr_vlan"


class SnapshotStatus(enum.StrEnum):
    OK = "ok"
    LOCKED = "locked"
    IN_PREVIEW = "in_preview"


class SnapshotType(enum.StrEnum):
    ACTIVE = "active"
    REGULAR = "regular"
    PREVIEW = "preview"
    STATELESS = "stateless"


class Architecture(enum.StrEnum):
    X86_64 = "x86_64"
    PPC64 = "ppc64"
    S390X = "s390x"
    AARCH64 = "aarch64"
    UNDEFINED = "undefined"


class ProviderType(enum.StrEnum):
    NEUTRON = "neutron"
    EXTERNAL = "external"


@dataclass(eq=False)
class DataCenter:
    name: str
    description: str = ""
    comment: str = ""
    local: bool = False
    version_major: int = 4
    version_minor: int = 7
    status: DataCenterStatus = DataCenterStatus.UNINITIALIZED
    id: str = field(default_factory=new_id)


@dataclass(eq=False)
class Cluster:
    name: str
    data_center_id: str | None
    description: str = ""
    comment: str = ""
    cpu_architecture: Architecture = Architecture.X86_64
    cpu_type: str = ""
    version_major: int = 4
    version_minor: int = 7
    default_provider_id: str | None = None
    # oVirt's cluster settings Neutrino keeps (KSM, fencing, migration, scheduling policy...)
    options: ClusterOptions = field(default_factory=ClusterOptions)
    id: str = field(default_factory=new_id)


@dataclass(eq=False)
class Host:
    name: str
    address: str
    cluster_id: str
    port: int = 54321
    description: str = ""
    comment: str = ""
    status: HostStatus = HostStatus.INSTALLING
    agent_token: str = ""
    # what the host's agent reported last (its capabilities document), when, and why it is not Up
    capabilities: dict[str, object] = field(default_factory=dict)
    last_seen: datetime | None = None
    status_detail: str = ""
    # oVirt's host settings Neutrino keeps (SPM priority, kdump detection, kernel command line...)
    options: HostOptions = field(default_factory=HostOptions)
    id: str = field(default_factory=new_id)

    def plugin_support(self) -> dict[str, dict[str, object]]:
        """The agent's ``plugin_types`` entry: plugin type -> {driver, binding_host_id, network_types, ...}."""
        found = self.capabilities.get("plugin_types")
        return found if isinstance(found, dict) else {}

    def internal_networks(self) -> set[str]:
        nets = self.capabilities.get("networks")
        internal = nets.get("internal", []) if isinstance(nets, dict) else []
        return {str(n.get("network")) for n in internal if isinstance(n, dict)}


@dataclass(eq=False)
class Network:
    name: str
    data_center_id: str
    description: str = ""
    comment: str = ""
    vlan_id: int | None = None
    mtu: int = 0  # 0: the engine's default MTU
    stp: bool = False
    usages: list[str] = field(default_factory=lambda: [NetworkUsage.VM.value])
    profile_required: bool = False
    # set when the network comes from an external provider
    provider_id: str | None = None
    provider_network_id: str | None = None
    # the provider no longer has this network (seen by the provider synchronizer)
    external_missing: bool = False
    id: str = field(default_factory=new_id)

    @property
    def is_vm_network(self) -> bool:
        return NetworkUsage.VM.value in self.usages

    @property
    def is_external(self) -> bool:
        return self.provider_id is not None


_INTERFACE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def bridge_name(network: Network) -> str:
    """The host bridge of an internal network: its name, unless it cannot be a Linux interface name (longer than
    15 characters, or other characters than ``[A-Za-z0-9_.-]``, which agents refuse): then ``on<id>``, as
    oVirt's ``vdsm_name``."""
    name = network.name
    if 0 < len(name) <= 15 and set(name) <= _INTERFACE_CHARS and name not in (".", ".."):
        return name
    return f"on{network.id.replace('-', '')[:13]}"


@dataclass(eq=False)
class NetworkAttachment:
    """A logical network attached to a cluster (oVirt's network_cluster)."""

    network_id: str
    cluster_id: str
    required: bool = True
    display: bool = False
    migration: bool = False
    id: str = field(default_factory=new_id)


@dataclass(eq=False)
class VnicProfile:
    name: str
    network_id: str
    description: str = ""
    comment: str = ""
    port_mirroring: bool = False
    pass_through: bool = False
    migratable: bool = False
    public: bool = True
    custom_properties: dict[str, str] = field(default_factory=dict)
    id: str = field(default_factory=new_id)


@dataclass(eq=False)
class Template:
    name: str
    cluster_id: str | None = None
    description: str = ""
    comment: str = ""
    memory: int = 1024 * 1024 * 1024
    id: str = field(default_factory=new_id)


@dataclass(eq=False)
class Vm:
    name: str
    cluster_id: str
    template_id: str = BLANK_TEMPLATE_ID
    description: str = ""
    comment: str = ""
    memory: int = 1024 * 1024 * 1024
    status: VmStatus = VmStatus.DOWN
    host_id: str | None = None
    creation_time: datetime = field(default_factory=utcnow)
    start_time: datetime | None = None
    stop_time: datetime | None = None
    # the operation in flight on the VM (domain.operations.Operation): its claim, one at a time
    operation_id: str | None = None
    # oVirt's VM settings Neutrino keeps (CPU topology, memory policy, display, placement...)
    options: VmOptions = field(default_factory=VmOptions)
    id: str = field(default_factory=new_id)

    @property
    def is_running(self) -> bool:
        return self.status != VmStatus.DOWN


TRANSIENT_VM_STATUSES = frozenset(
    {VmStatus.WAIT_FOR_LAUNCH, VmStatus.POWERING_UP, VmStatus.MIGRATING, VmStatus.POWERING_DOWN}
)


@dataclass(eq=False)
class VmNic:
    name: str
    vm_id: str
    mac: str
    interface: NicInterface = NicInterface.VIRTIO
    linked: bool = True
    plugged: bool = True
    vnic_profile_id: str | None = None
    description: str = ""
    comment: str = ""
    # the provider port this vNIC uses (external networks): which provider, port and provider network, and the
    # operation that created it while that operation is in flight (so a failure or a crash can undo it)
    port_provider_id: str | None = None
    port_id: str | None = None
    port_network_id: str | None = None
    port_created_by: str | None = None
    # provisioning state and timings, with the transitions it allows (domain.provisioning)
    provisioning: Provisioning = field(default_factory=Provisioning)
    id: str = field(default_factory=new_id)

    def forget_port(self) -> None:
        self.port_provider_id = self.port_id = self.port_network_id = self.port_created_by = None


@dataclass(eq=False)
class OrphanPort:
    """A provider port the engine no longer wants but could not delete yet: the janitor deletes it."""

    provider_id: str
    port_id: str
    reason: str
    nic_id: str | None = None
    since: datetime = field(default_factory=utcnow)
    attempts: int = 0
    last_error: str = ""
    id: str = field(default_factory=new_id)


@dataclass(eq=False)
class Snapshot:
    vm_id: str
    description: str
    snapshot_type: SnapshotType = SnapshotType.REGULAR
    status: SnapshotStatus = SnapshotStatus.OK
    date: datetime = field(default_factory=utcnow)
    # the NIC configuration captured: [{"id", "name", "mac", "interface", "linked", "plugged", "vnic_profile_id"}]
    nics: list[dict[str, object]] = field(default_factory=list)
    persist_memorystate: bool = False
    id: str = field(default_factory=new_id)


@dataclass(eq=False)
class ExternalProvider:
    name: str
    type: ProviderType = ProviderType.NEUTRON
    url: str = ""
    description: str = ""
    comment: str = ""
    requires_authentication: bool = False
    username: str | None = None
    # the password, encrypted by the store's secret box; never rendered
    password_encrypted: str | None = None
    authentication_url: str | None = None
    tenant_name: str | None = None
    project_name: str | None = None
    project_domain_name: str | None = None
    user_domain_name: str | None = None
    plugin_type: str | None = None
    external_plugin_type: str | None = None
    read_only: bool = False
    auto_sync: bool = False
    unmanaged: bool = False
    custom_properties: dict[str, str] = field(default_factory=dict)
    # PEM certificates imported through `importcertificates`: the only TLS trust for this provider
    ca_certificates: list[str] = field(default_factory=list)
    id: str = field(default_factory=new_id)

    @property
    def effective_plugin_type(self) -> str | None:
        """What hosts must support: OPEN_VSWITCH, or the free-text external plugin type (e.g. LINUX_BRIDGE)."""
        if self.plugin_type:
            return self.plugin_type.upper()
        return self.external_plugin_type or None


@dataclass(eq=False)
class User:
    name: str  # e.g. "admin"
    domain: str  # e.g. "internal"
    password_hash: str
    id: str = field(default_factory=new_id)

    @property
    def principal(self) -> str:
        return f"{self.name}@{self.domain}"


class EventSeverity(enum.StrEnum):
    NORMAL = "normal"
    WARNING = "warning"
    ERROR = "error"
    ALERT = "alert"


@dataclass(eq=False)
class Event:
    """An entry of the audit log (oVirt's ``audit_log``): what happened, to what, on whose behalf.

    ``code`` is oVirt's ``AuditLogType`` number (``domain.audit``). The entities it speaks of are kept by id
    and by name, as oVirt keeps them: an event outlives what it names. ``id`` is the event's index, given by
    the database on insert and always increasing.
    """

    description: str
    code: int
    severity: EventSeverity = EventSeverity.NORMAL
    time: datetime = field(default_factory=utcnow)
    user_id: str | None = None
    user_name: str | None = None
    data_center_id: str | None = None
    data_center_name: str | None = None
    cluster_id: str | None = None
    cluster_name: str | None = None
    host_id: str | None = None
    host_name: str | None = None
    vm_id: str | None = None
    vm_name: str | None = None
    template_id: str | None = None
    template_name: str | None = None
    provider_id: str | None = None
    provider_name: str | None = None
    id: int | None = None


@dataclass(eq=False)
class Session:
    """An SSO session. Only the hash of its bearer token is kept (``commands.auth.token_hash``)."""

    token_hash: str
    user_id: str
    created_at: datetime = field(default_factory=utcnow)
