"""The settings oVirt keeps on clusters, hosts and VMs beyond what Neutrino's networking acts on.

A fresh oVirt shows each of them with a default (a cluster's KSM and fencing policy, a VM's CPU topology and
display, a host's power management...), and automation (Ansible's ovirt.ovirt, the SDK) reads them back and
sends them again on every update. Neutrino keeps them as values — frozen dataclasses with oVirt's defaults,
stored as one JSON document per entity — so what a client sets reads back as it was set, and an update that
sends the current values changes nothing. Some of them Neutrino acts on: a VM's placement hosts restrict the
scheduler, ``delete_protected`` refuses a removal, a pinned VM is not migrated.

``check_*`` enforce oVirt's rules on a whole value (after a change was merged), naming the wire element.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Self

from neutrino.engine.domain.errors import BadRequest


class MigrateOnError(enum.StrEnum):
    MIGRATE = "migrate"
    DO_NOT_MIGRATE = "do_not_migrate"
    MIGRATE_HIGHLY_AVAILABLE = "migrate_highly_available"


class SwitchType(enum.StrEnum):
    LEGACY = "legacy"
    OVS = "ovs"


class FirewallType(enum.StrEnum):
    IPTABLES = "iptables"
    FIREWALLD = "firewalld"


class RngSource(enum.StrEnum):
    RANDOM = "random"
    URANDOM = "urandom"
    HWRNG = "hwrng"


class InheritableBoolean(enum.StrEnum):
    TRUE = "true"
    FALSE = "false"
    INHERIT = "inherit"


class BandwidthAssignment(enum.StrEnum):
    AUTO = "auto"
    HYPERVISOR_DEFAULT = "hypervisor_default"
    CUSTOM = "custom"


class SerialNumberPolicy(enum.StrEnum):
    VM = "vm"
    HOST = "host"
    CUSTOM = "custom"


class CpuMode(enum.StrEnum):
    CUSTOM = "custom"
    HOST_MODEL = "host_model"
    HOST_PASSTHROUGH = "host_passthrough"


class VmType(enum.StrEnum):
    DESKTOP = "desktop"
    SERVER = "server"
    HIGH_PERFORMANCE = "high_performance"


class DisplayType(enum.StrEnum):
    VNC = "vnc"
    SPICE = "spice"


class VmAffinity(enum.StrEnum):
    MIGRATABLE = "migratable"
    USER_MIGRATABLE = "user_migratable"
    PINNED = "pinned"


class BootDevice(enum.StrEnum):
    HD = "hd"
    CDROM = "cdrom"
    NETWORK = "network"


class VgpuPlacement(enum.StrEnum):
    CONSOLIDATED = "consolidated"
    SEPARATED = "separated"


class ResumeBehaviour(enum.StrEnum):
    AUTO_RESUME = "auto_resume"
    LEAVE_PAUSED = "leave_paused"
    KILL = "kill"


# oVirt's built-in migration policies (ids fixed by ovirt-engine; ovirt_cluster hard-codes them too)
MIGRATION_POLICIES = {
    "00000000-0000-0000-0000-000000000000": "Legacy",
    "80554327-0569-496b-bdeb-fcbbf52b827b": "Minimal downtime",
    "80554327-0569-496b-bdeb-fcbbf52b827c": "Suspend workload if needed",
    "a7aeedb2-8d66-4e51-bb22-32595027ce71": "Post-copy migration",
    "c3ab3e7b-6fa0-4bf3-9b0e-9e1d6b0d7d3f": "Very large VMs",
}
MINIMAL_DOWNTIME = "80554327-0569-496b-bdeb-fcbbf52b827b"


@dataclass(frozen=True)
class SchedulingPolicy:
    id: str
    name: str
    description: str


# oVirt's built-in scheduling policies, with their ids and names; `none` is a new cluster's
SCHEDULING_POLICIES = (
    SchedulingPolicy("b4ed2332-a7ac-4d5f-9596-99a439cb2812", "none", "No load balancing operations"),
    SchedulingPolicy(
        "20d25257-b4bd-4589-92a6-c4c5c5d3fd1a",
        "evenly_distributed",
        "Evenly distributes the CPU load across the hosts",
    ),
    SchedulingPolicy(
        "5a2b0939-7d46-4b73-a469-e9c2c7fc6a53",
        "power_saving",
        "Concentrates the load on fewer hosts",
    ),
    SchedulingPolicy(
        "8d5d7bec-68de-4a67-b53e-0ac54686d579",
        "vm_evenly_distributed",
        "Evenly distributes the number of VMs across the hosts",
    ),
    SchedulingPolicy(
        "7677771e-5eab-422e-83fa-dc04080d21b7",
        "cluster_maintenance",
        "Allows no new VMs but highly available ones during cluster maintenance",
    ),
)
SCHEDULING_NONE = SCHEDULING_POLICIES[0].id


class _Options:
    """JSON round trip shared by the option values: enums as their values, tuples as lists; lenient on read
    (a key an older or newer engine wrote that this one does not know is dropped, a bad value is the default)."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = [v.value if isinstance(v, enum.Enum) else v for v in value]
            elif isinstance(value, enum.Enum):
                value = value.value
            out[f.name] = value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Self:
        default = cls()
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if data is None or f.name not in data:
                continue
            current = getattr(default, f.name)
            try:
                values[f.name] = _coerce(current, data[f.name], f.metadata.get("enum"))
            except (TypeError, ValueError):
                continue
        return cls(**values)

    def changed(self, changes: Mapping[str, Any]) -> Self:
        """A copy with ``changes`` (option name -> value) applied."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        if unknown:
            raise TypeError(f"not options of {type(self).__name__}: {sorted(unknown)}")
        return replace(self, **changes)  # type: ignore[type-var]


def _coerce(current: Any, raw: Any, enum_cls: type[enum.Enum] | None) -> Any:
    if isinstance(current, tuple) or (raw is not None and isinstance(raw, list)):
        return tuple(enum_cls(v) if enum_cls else v for v in raw)
    if raw is None:
        return None
    if enum_cls is not None:
        return enum_cls(raw)
    if isinstance(current, bool):
        if not isinstance(raw, bool):
            raise TypeError(raw)
        return raw
    if isinstance(current, int):
        return int(raw)
    return raw


def _enum(cls: type[enum.Enum], default: Any) -> Any:
    return field(default=default, metadata={"enum": cls})


@dataclass(frozen=True)
class ClusterOptions(_Options):
    ballooning_enabled: bool = False
    ksm_enabled: bool = True
    ksm_merge_across_nodes: bool = True
    memory_over_commit: int = 100
    transparent_hugepages: bool = True
    fencing_enabled: bool = True
    fencing_skip_if_sd_active: bool = False
    fencing_skip_if_connectivity_broken: bool = False
    fencing_connectivity_threshold: int = 50
    fencing_skip_if_gluster_bricks_up: bool = False
    fencing_skip_if_gluster_quorum_not_met: bool = False
    on_error: MigrateOnError = _enum(MigrateOnError, MigrateOnError.MIGRATE)
    migration_auto_converge: InheritableBoolean = _enum(InheritableBoolean, InheritableBoolean.INHERIT)
    migration_compressed: InheritableBoolean = _enum(InheritableBoolean, InheritableBoolean.INHERIT)
    migration_encrypted: InheritableBoolean = _enum(InheritableBoolean, InheritableBoolean.INHERIT)
    migration_bandwidth: BandwidthAssignment = _enum(BandwidthAssignment, BandwidthAssignment.AUTO)
    migration_bandwidth_custom: int | None = None  # Mbps, with assignment `custom`
    migration_policy_id: str = MINIMAL_DOWNTIME
    required_rng_sources: tuple[RngSource, ...] = _enum(RngSource, (RngSource.URANDOM,))
    switch_type: SwitchType = _enum(SwitchType, SwitchType.LEGACY)
    firewall_type: FirewallType = _enum(FirewallType, FirewallType.FIREWALLD)
    scheduling_policy_id: str = SCHEDULING_NONE
    ha_reservation: bool = False
    threads_as_cores: bool = False
    virt_service: bool = True
    gluster_service: bool = False
    trusted_service: bool = False
    maintenance_reason_required: bool = False
    optional_reason: bool = False
    tunnel_migration: bool = False
    serial_policy: SerialNumberPolicy | None = _enum(SerialNumberPolicy, None)
    serial_policy_value: str | None = None


def check_cluster_options(options: ClusterOptions, action: str) -> None:
    def bad(element: str, why: str) -> BadRequest:
        return BadRequest(f"Cannot {action} Cluster. Invalid value for '{element}': {why}")

    if options.memory_over_commit < 1:
        raise bad("memory_policy.over_commit.percent", "it must be a positive percentage.")
    if not 0 <= options.fencing_connectivity_threshold <= 100:
        raise bad("fencing_policy.skip_if_connectivity_broken.threshold", "it must be between 0 and 100.")
    if not options.virt_service:
        raise bad("virt_service", "a Neutrino cluster runs VMs (virt_service true).")
    if options.gluster_service:
        raise bad("gluster_service", "Neutrino has no Gluster storage.")
    if options.migration_policy_id not in MIGRATION_POLICIES:
        raise bad("migration.policy", f"'{options.migration_policy_id}' is no migration policy.")
    if options.scheduling_policy_id not in {p.id for p in SCHEDULING_POLICIES}:
        raise bad("scheduling_policy", f"'{options.scheduling_policy_id}' is no scheduling policy.")
    custom = options.migration_bandwidth == BandwidthAssignment.CUSTOM
    if custom and not options.migration_bandwidth_custom:
        raise bad("migration.bandwidth.custom_value", "a custom bandwidth assignment needs a value (Mbps).")
    if options.migration_bandwidth_custom is not None and options.migration_bandwidth_custom < 1:
        raise bad("migration.bandwidth.custom_value", "it must be a positive number of Mbps.")


@dataclass(frozen=True)
class HostOptions(_Options):
    spm_priority: int = 5
    kdump_detection: bool = True
    automatic_pm_enabled: bool = True
    custom_kernel_cmdline: str = ""
    vgpu_placement: VgpuPlacement = _enum(VgpuPlacement, VgpuPlacement.CONSOLIDATED)


def check_host_options(options: HostOptions, action: str) -> None:
    if not -1 <= options.spm_priority <= 10:
        raise BadRequest(
            f"Cannot {action} Host. Invalid value for 'spm.priority': it must be between -1 and 10."
        )


MAX_VCPUS = 384  # oVirt's MaxNumOfVmCpus for the 4.7 cluster level on x86_64


@dataclass(frozen=True)
class VmOptions(_Options):
    cpu_sockets: int = 1
    cpu_cores: int = 1
    cpu_threads: int = 1
    cpu_mode: CpuMode | None = _enum(CpuMode, None)
    cpu_shares: int = 0
    memory_guaranteed: int | None = None  # None: the VM's memory
    memory_max: int | None = None  # None: four times the VM's memory
    ballooning: bool = True
    ha_enabled: bool = False
    ha_priority: int = 0
    os_type: str = "other"
    boot_devices: tuple[BootDevice, ...] = _enum(BootDevice, (BootDevice.HD,))
    vm_type: VmType = _enum(VmType, VmType.SERVER)
    display_type: DisplayType = _enum(DisplayType, DisplayType.VNC)
    monitors: int = 1
    smartcard_enabled: bool = False
    copy_paste_enabled: bool = True
    file_transfer_enabled: bool = True
    disconnect_action: str = "LOCK_SCREEN"
    keyboard_layout: str | None = None
    affinity: VmAffinity = _enum(VmAffinity, VmAffinity.MIGRATABLE)
    placement_hosts: tuple[str, ...] = ()  # host ids the VM may run on (empty: any host of its cluster)
    stateless: bool = False
    delete_protected: bool = False
    soundcard_enabled: bool = False
    usb_enabled: bool = False
    serial_console: bool = False
    io_threads: int = 1
    time_zone: str = "Etc/GMT"
    boot_menu: bool = False
    tpm_enabled: bool = False
    multi_queues_enabled: bool = True
    virtio_scsi_enabled: bool = True
    storage_error_resume_behaviour: ResumeBehaviour = _enum(ResumeBehaviour, ResumeBehaviour.AUTO_RESUME)
    serial_policy: SerialNumberPolicy | None = _enum(SerialNumberPolicy, None)  # None: the cluster's
    serial_policy_value: str | None = None

    def guaranteed(self, memory: int) -> int:
        return memory if self.memory_guaranteed is None else self.memory_guaranteed

    def maximum(self, memory: int) -> int:
        return 4 * memory if self.memory_max is None else self.memory_max


def check_vm_options(options: VmOptions, memory: int, action: str) -> None:
    def bad(element: str, why: str) -> BadRequest:
        return BadRequest(f"Cannot {action} VM. Invalid value for '{element}': {why}")

    _check_cpu(options, bad)
    if not 0 <= options.guaranteed(memory) <= memory:
        raise bad("memory_policy.guaranteed", "the guaranteed memory must be between 0 and the VM's memory.")
    if options.maximum(memory) < memory:
        raise bad("memory_policy.max", "the maximum memory must be at least the VM's memory.")
    if not 0 <= options.ha_priority <= 100:
        raise bad("high_availability.priority", "it must be between 0 and 100.")
    if not 1 <= options.monitors <= 4:
        raise bad("display.monitors", "it must be between 1 and 4.")
    if options.io_threads < 0:
        raise bad("io.threads", "it must not be negative.")
    if not options.os_type.strip():
        raise bad("os.type", "it must not be empty.")
    if options.serial_policy == SerialNumberPolicy.CUSTOM and not options.serial_policy_value:
        raise bad("serial_number.value", "a custom serial number policy needs a value.")


def _check_cpu(options: VmOptions, bad: Callable[[str, str], BadRequest]) -> None:
    for element, value in (
        ("cpu.topology.sockets", options.cpu_sockets),
        ("cpu.topology.cores", options.cpu_cores),
        ("cpu.topology.threads", options.cpu_threads),
    ):
        if value < 1:
            raise bad(element, f"{value} is not a positive number.")
    vcpus = options.cpu_sockets * options.cpu_cores * options.cpu_threads
    if vcpus > MAX_VCPUS:
        raise bad("cpu.topology", f"{vcpus} vCPUs is more than the maximum of {MAX_VCPUS}.")
    if options.cpu_shares < 0:
        raise bad("cpu_shares", "it must not be negative.")
