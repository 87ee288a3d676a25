"""The engine's tables, and the imperative mapping of the domain classes onto them.

Unique constraints carry the invariants the rules state, so a race loses with a clean IntegrityError
that the commands turn into a 409.
"""

from __future__ import annotations

import contextlib
import enum
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import registry

from neutrino.engine.domain import model
from neutrino.engine.domain.operations import Operation, OperationKind, OperationState, StepName
from neutrino.engine.domain.options import ClusterOptions, HostOptions, VmOptions
from neutrino.engine.domain.provisioning import Provisioning

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _enum(cls: type[enum.Enum]) -> sa.Enum:
    return sa.Enum(
        cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda e: [m.value for m in e],
    )


def _id(name: str = "id", *args: Any, **kw: Any) -> sa.Column:
    return sa.Column(name, sa.String(36), *args, **kw)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timestamp that comes back aware (UTC) on every backend.

    NOTE: SQLite keeps no offset, so it used to come back naive and render without one
    (``2024-01-02T03:04:05.000`` instead of oVirt's ``...+00:00``).
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class FrozenDocuments:
    """Typed values of one kind made from their stored JSON text, each distinct text once: the values are
    frozen, so rows with the same text share one. A value written is kept under the text it is written as,
    so reading back what this process wrote makes nothing anew. Bounded: past ``size`` texts the oldest go."""

    def __init__(self, make: Callable[[Any], Any], size: int = 4096) -> None:
        self.make, self.size = make, size
        self._kept: dict[str, Any] = {}

    def read(self, value: Any) -> Any:
        if not isinstance(value, str):  # None, or a row not read through column_expression (decoded)
            return self.make(value)
        found = self._kept.get(value)
        if found is None:
            found = self.keep(value, self.make(json.loads(value)))
        return found

    def keep(self, text: str, value: Any) -> Any:
        kept = self._kept
        if len(kept) >= self.size:
            with contextlib.suppress(StopIteration, KeyError, RuntimeError):  # another thread took it first
                del kept[next(iter(kept))]
        kept[text] = value
        return value


class FrozenJSON(sa.TypeDecorator[Any]):
    """A frozen value stored as one JSON document (``to_json``/``from_json``), read as the document's text
    (PostgreSQL's driver would decode it) through ``FrozenDocuments``. A run reads its VM and vNICs in several
    transactions: typing ``VmOptions``' ~40 fields and each vNIC's provisioning record anew at every read was
    an eighth of the engine's CPU for a run (issue 17's profile)."""

    impl = sa.JSON
    cache_ok = True

    def __init__(self, cls: type[Any]) -> None:
        super().__init__()
        self.cls = cls

    @property
    def documents(self) -> FrozenDocuments:
        found = _DOCUMENTS.get(self.cls)
        if found is None:
            found = _DOCUMENTS[self.cls] = FrozenDocuments(self.cls.from_json)
        return found

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> dict[str, Any]:
        value = value or self.cls()
        data: dict[str, Any] = value.to_json()
        # the text SQLAlchemy's JSON type writes (json.dumps, the engine sets no serializer of its own)
        self.documents.keep(json.dumps(data), value)
        return data

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        return self.cls.from_json(value)

    def column_expression(self, colexpr: Any) -> Any:
        return sa.type_coerce(sa.cast(colexpr, sa.Text), self)

    def result_processor(self, dialect: sa.Dialect, coltype: Any) -> Callable[[Any], Any]:
        return self.documents.read


_DOCUMENTS: dict[type, FrozenDocuments] = {}  # per value class


def ProvisioningJSON() -> FrozenJSON:  # noqa: N802 - the column type's name, as before
    """A vNIC's typed provisioning record, stored as the JSON it always was."""
    return FrozenJSON(Provisioning)


def OptionsJSON(cls: type[ClusterOptions | HostOptions | VmOptions]) -> FrozenJSON:  # noqa: N802
    """A cluster's, host's or VM's oVirt settings (``domain.options``), stored as one JSON document."""
    return FrozenJSON(cls)


TS = UtcDateTime()

data_centers = sa.Table(
    "data_centers",
    metadata,
    _id(primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("comment", sa.Text, nullable=False, default=""),
    sa.Column("local", sa.Boolean, nullable=False, default=False),
    sa.Column("version_major", sa.Integer, nullable=False),
    sa.Column("version_minor", sa.Integer, nullable=False),
    sa.Column("status", _enum(model.DataCenterStatus), nullable=False),
)

providers = sa.Table(
    "providers",
    metadata,
    _id(primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("type", _enum(model.ProviderType), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("comment", sa.Text, nullable=False, default=""),
    sa.Column("requires_authentication", sa.Boolean, nullable=False),
    sa.Column("username", sa.String(255)),
    sa.Column("password_encrypted", sa.Text),
    sa.Column("authentication_url", sa.Text),
    sa.Column("tenant_name", sa.String(255)),
    sa.Column("project_name", sa.String(255)),
    sa.Column("project_domain_name", sa.String(255)),
    sa.Column("user_domain_name", sa.String(255)),
    sa.Column("plugin_type", sa.String(64)),
    sa.Column("external_plugin_type", sa.String(255)),
    sa.Column("read_only", sa.Boolean, nullable=False),
    sa.Column("auto_sync", sa.Boolean, nullable=False),
    sa.Column("unmanaged", sa.Boolean, nullable=False),
    sa.Column("custom_properties", sa.JSON, nullable=False),
    sa.Column("ca_certificates", sa.JSON, nullable=False, default=list),
)

clusters = sa.Table(
    "clusters",
    metadata,
    _id(primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    _id("data_center_id", sa.ForeignKey("data_centers.id"), index=True),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("comment", sa.Text, nullable=False, default=""),
    sa.Column("cpu_architecture", _enum(model.Architecture), nullable=False),
    sa.Column("cpu_type", sa.String(255), nullable=False, default=""),
    sa.Column("version_major", sa.Integer, nullable=False),
    sa.Column("version_minor", sa.Integer, nullable=False),
    _id("default_provider_id", sa.ForeignKey("providers.id")),
    sa.Column("options", OptionsJSON(ClusterOptions), nullable=False, default=ClusterOptions),
)

hosts = sa.Table(
    "hosts",
    metadata,
    _id(primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("address", sa.String(255), nullable=False),
    sa.Column("port", sa.Integer, nullable=False),
    _id("cluster_id", sa.ForeignKey("clusters.id"), nullable=False, index=True),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("comment", sa.Text, nullable=False, default=""),
    sa.Column("status", _enum(model.HostStatus), nullable=False),
    sa.Column("agent_token", sa.Text, nullable=False, default=""),
    sa.Column("capabilities", sa.JSON, nullable=False, default=dict),
    sa.Column("last_seen", TS),
    sa.Column("status_detail", sa.Text, nullable=False, default=""),
    sa.Column("options", OptionsJSON(HostOptions), nullable=False, default=HostOptions),
)

networks = sa.Table(
    "networks",
    metadata,
    _id(primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    _id("data_center_id", sa.ForeignKey("data_centers.id"), nullable=False, index=True),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("comment", sa.Text, nullable=False, default=""),
    sa.Column("vlan_id", sa.Integer),
    sa.Column("mtu", sa.Integer, nullable=False, default=0),
    sa.Column("stp", sa.Boolean, nullable=False, default=False),
    sa.Column("usages", sa.JSON, nullable=False),
    sa.Column("profile_required", sa.Boolean, nullable=False, default=False),
    _id("provider_id", sa.ForeignKey("providers.id"), index=True),
    sa.Column("provider_network_id", sa.String(255)),
    sa.Column("external_missing", sa.Boolean, nullable=False, default=False),
    sa.UniqueConstraint("data_center_id", "name"),
    # one import of a provider network per data center
    sa.UniqueConstraint("data_center_id", "provider_id", "provider_network_id"),
)

network_attachments = sa.Table(
    "network_attachments",
    metadata,
    _id(primary_key=True),
    _id("network_id", sa.ForeignKey("networks.id"), nullable=False),
    _id("cluster_id", sa.ForeignKey("clusters.id"), nullable=False, index=True),
    sa.Column("required", sa.Boolean, nullable=False),
    sa.Column("display", sa.Boolean, nullable=False),
    sa.Column("migration", sa.Boolean, nullable=False),
    sa.UniqueConstraint("network_id", "cluster_id"),
)

vnic_profiles = sa.Table(
    "vnic_profiles",
    metadata,
    _id(primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    _id("network_id", sa.ForeignKey("networks.id"), nullable=False),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("comment", sa.Text, nullable=False, default=""),
    sa.Column("port_mirroring", sa.Boolean, nullable=False),
    sa.Column("pass_through", sa.Boolean, nullable=False),
    sa.Column("migratable", sa.Boolean, nullable=False),
    sa.Column("public", sa.Boolean, nullable=False),
    sa.Column("custom_properties", sa.JSON, nullable=False),
    sa.UniqueConstraint("network_id", "name"),
)

templates = sa.Table(
    "templates",
    metadata,
    _id(primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    _id("cluster_id", sa.ForeignKey("clusters.id")),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("comment", sa.Text, nullable=False, default=""),
    sa.Column("memory", sa.BigInteger, nullable=False),
)

vms = sa.Table(
    "vms",
    metadata,
    _id(primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    _id("cluster_id", sa.ForeignKey("clusters.id"), nullable=False, index=True),
    _id("template_id", sa.ForeignKey("templates.id"), nullable=False),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("comment", sa.Text, nullable=False, default=""),
    sa.Column("memory", sa.BigInteger, nullable=False),
    sa.Column("status", _enum(model.VmStatus), nullable=False),
    _id("host_id", sa.ForeignKey("hosts.id")),
    sa.Column("creation_time", TS, nullable=False),
    sa.Column("start_time", TS),
    sa.Column("stop_time", TS),
    # the operation in flight on the VM (a row of ``operations``), the VM's claim
    sa.Column("operation_id", sa.String(36)),
    sa.Column("options", OptionsJSON(VmOptions), nullable=False, default=VmOptions),
)

vm_nics = sa.Table(
    "vm_nics",
    metadata,
    _id(primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    _id("vm_id", sa.ForeignKey("vms.id"), nullable=False, index=True),
    # one MAC pool: never two NICs with one MAC
    sa.Column("mac", sa.String(17), nullable=False, unique=True),
    sa.Column("interface", _enum(model.NicInterface), nullable=False),
    sa.Column("linked", sa.Boolean, nullable=False),
    sa.Column("plugged", sa.Boolean, nullable=False),
    _id("vnic_profile_id", sa.ForeignKey("vnic_profiles.id"), index=True),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("comment", sa.Text, nullable=False, default=""),
    _id("port_provider_id"),
    sa.Column("port_id", sa.String(255)),
    sa.Column("port_network_id", sa.String(255)),
    sa.Column("port_created_by", sa.String(36)),
    sa.Column("provisioning", ProvisioningJSON(), nullable=False, default=Provisioning),
    sa.UniqueConstraint("vm_id", "name"),
)

# the engine's long-running operations on VMs (run, stop, hot plug/unplug, migrate): see domain.operations
operations = sa.Table(
    "operations",
    metadata,
    _id(primary_key=True),
    sa.Column("kind", _enum(OperationKind), nullable=False),
    # plain ids, no foreign keys: the record outlives its VM, vNIC or hosts (an audit of what happened)
    _id("vm_id", nullable=False, index=True),
    _id("nic_id"),
    _id("source_host_id"),
    _id("target_host_id"),
    sa.Column("step", _enum(StepName), nullable=False),
    sa.Column("state", _enum(OperationState), nullable=False, index=True),
    sa.Column("started", TS, nullable=False),
    sa.Column("finished", TS),
    sa.Column("error", sa.Text, nullable=False, default=""),
    sa.Column("steps", sa.JSON, nullable=False, default=list),
)

# provider ports to delete once the provider answers (the janitor's work list)
orphan_ports = sa.Table(
    "orphan_ports",
    metadata,
    _id(primary_key=True),
    _id("provider_id", nullable=False),
    sa.Column("port_id", sa.String(255), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    _id("nic_id"),
    sa.Column("since", TS, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text, nullable=False, default=""),
    sa.UniqueConstraint("provider_id", "port_id"),
)

snapshots = sa.Table(
    "snapshots",
    metadata,
    _id(primary_key=True),
    _id("vm_id", sa.ForeignKey("vms.id"), nullable=False, index=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("snapshot_type", _enum(model.SnapshotType), nullable=False),
    sa.Column("status", _enum(model.SnapshotStatus), nullable=False),
    sa.Column("date", TS, nullable=False),
    sa.Column("nics", sa.JSON, nullable=False),
    sa.Column("persist_memorystate", sa.Boolean, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    _id(primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("domain", sa.String(255), nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.UniqueConstraint("name", "domain"),
)

sessions = sa.Table(
    "sessions",
    metadata,
    # the SHA-256 (hex) of the bearer token: the token itself is never stored (schema 0007)
    sa.Column("token_hash", sa.String(128), primary_key=True),
    _id("user_id", sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", TS, nullable=False),
)


def _named(entity: str) -> tuple[sa.Column, sa.Column]:
    """An event's reference to an entity: its id and its name (the event outlives what it names)."""
    return _id(f"{entity}_id"), sa.Column(f"{entity}_name", sa.String(255))


# the audit log; ``id`` is oVirt's audit_log_id, the event's index: increasing, never reused (AUTOINCREMENT)
events = sa.Table(
    "events",
    metadata,
    sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("time", TS, nullable=False, index=True),
    sa.Column("code", sa.Integer, nullable=False, index=True),
    sa.Column("severity", _enum(model.EventSeverity), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    # plain ids, no foreign keys: an event outlives what it speaks of
    *_named("user"),
    *_named("data_center"),
    *_named("cluster"),
    *_named("host"),
    *_named("vm"),
    *_named("template"),
    *_named("provider"),
    sqlite_autoincrement=True,
)

# engine-wide settings that are chosen once and must not change afterwards (e.g. the MAC pool range)
settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

MAPPED: dict[type, sa.Table] = {
    model.DataCenter: data_centers,
    model.ExternalProvider: providers,
    model.Cluster: clusters,
    model.Host: hosts,
    model.Network: networks,
    model.NetworkAttachment: network_attachments,
    model.VnicProfile: vnic_profiles,
    model.Template: templates,
    model.Vm: vms,
    model.VmNic: vm_nics,
    model.Snapshot: snapshots,
    model.User: users,
    model.Session: sessions,
    model.Event: events,
    model.OrphanPort: orphan_ports,
    Operation: operations,
}

_mapper_registry = registry(metadata=metadata)
_mapped = False


def map_domain() -> None:
    """Map the domain classes onto the tables, once per process (called by the store, never at import)."""
    global _mapped
    if _mapped:
        return
    for cls, table in MAPPED.items():
        _mapper_registry.map_imperatively(cls, table)
    _mapped = True
