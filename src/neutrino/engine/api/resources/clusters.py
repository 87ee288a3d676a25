"""/clusters, and the networks attached to each (/clusters/{id}/networks)."""

from __future__ import annotations

from typing import Any

from neutrino.engine.api.fields import (
    API,
    BOOL,
    INT,
    TEXT,
    Codec,
    Enum,
    Field,
    Opt,
    RefTo,
    changes_of,
    common_fields,
    invalid,
    option_fields,
    ref_of,
    split_options,
    text_of,
    version_field,
)
from neutrino.engine.api.resource import Call, Collection
from neutrino.engine.api.resources.macpools import DEFAULT_POOL_ID, DEFAULT_POOL_NAME
from neutrino.engine.api.resources.networks import Networks
from neutrino.engine.api.wire import Tree, as_list
from neutrino.engine.commands import clusters as cmd
from neutrino.engine.commands.common import Ref
from neutrino.engine.domain import model
from neutrino.engine.domain import options as o
from neutrino.engine.domain.errors import BadRequest, NotFound


def _cpu_render(entity: Any) -> Any:
    cpu: Tree = {"architecture": entity.cpu_architecture.value}
    if entity.cpu_type:
        cpu["type"] = entity.cpu_type
    return cpu


def _cpu_parse(raw: Any, element: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise invalid(element, raw, "a CPU (architecture, type)")
    out: dict[str, Any] = {}
    if "architecture" in raw:
        out["cpu_architecture"] = Enum(model.Architecture).parse(raw["architecture"], "cpu.architecture")
    if "type" in raw:
        out["cpu_type"] = text_of(raw["type"], "cpu.type")
    return out


def _providers_render(entity: Any) -> Any:
    pid = entity.default_provider_id
    return (
        {"external_provider": [{"href": f"{API}/openstacknetworkproviders/{pid}", "id": pid}]}
        if pid
        else None
    )


def _providers_parse(raw: Any, element: str) -> dict[str, Any]:
    """The cluster's default network provider (oVirt keeps a list; it uses one)."""
    items = as_list(raw.get("external_provider")) if isinstance(raw, dict) else []
    if raw not in ("", None) and not isinstance(raw, dict):
        raise invalid(element, raw, "a list of external_provider")
    if len(items) > 1:
        raise BadRequest(
            f"Invalid value for '{element}': a cluster has at most one default network provider."
        )
    if not items:
        return {"default_provider": None}
    ref = ref_of(items[0], f"{element}.external_provider")
    if ref is None:
        raise BadRequest(f"Incomplete parameters: '{element}.external_provider' needs an id or a name.")
    return {"default_provider": ref}


class IdOf(Codec):
    """A link to one of a fixed set of things by id (``<scheduling_policy id=".."/>``, ``<policy id=".."/>``)."""

    def __init__(self, path: str | None) -> None:
        self.path = path

    def parse(self, raw: Any, element: str) -> Any:
        if not isinstance(raw, dict) or not raw.get("id"):
            raise invalid(element, raw, "a reference by id")
        return text_of(raw["id"], f"{element}.id")

    def render(self, value: Any) -> Any:
        return {"href": f"{API}/{self.path}/{value}", "id": value} if self.path else {"id": value}


def _mac_pool_render(entity: Any) -> Any:
    return {"href": f"{API}/macpools/{DEFAULT_POOL_ID}", "id": DEFAULT_POOL_ID}


def _mac_pool_parse(raw: Any, element: str) -> dict[str, Any]:
    """The engine has one MAC pool (its configured range): a cluster may name it, and no other."""
    ref = raw if isinstance(raw, dict) else {}
    if ref.get("id") not in (None, "", DEFAULT_POOL_ID) or ref.get("name") not in (
        None,
        "",
        DEFAULT_POOL_NAME,
    ):
        raise BadRequest(
            f"Invalid value for '{element}': the engine has one MAC pool, "
            f"'{DEFAULT_POOL_NAME}' ({DEFAULT_POOL_ID})."
        )
    return {}


def mac_pool_field() -> Field:
    return Field("mac_pool", render_fn=_mac_pool_render, parse_fn=_mac_pool_parse)


CLUSTER_OPTIONS = option_fields(
    Opt("ballooning_enabled", "ballooning_enabled", BOOL),
    Opt("error_handling.on_error", "on_error", Enum(o.MigrateOnError)),
    Opt("fencing_policy.enabled", "fencing_enabled", BOOL),
    Opt("fencing_policy.skip_if_connectivity_broken.enabled", "fencing_skip_if_connectivity_broken", BOOL),
    Opt("fencing_policy.skip_if_connectivity_broken.threshold", "fencing_connectivity_threshold", INT),
    Opt("fencing_policy.skip_if_gluster_bricks_up", "fencing_skip_if_gluster_bricks_up", BOOL),
    Opt("fencing_policy.skip_if_gluster_quorum_not_met", "fencing_skip_if_gluster_quorum_not_met", BOOL),
    Opt("fencing_policy.skip_if_sd_active.enabled", "fencing_skip_if_sd_active", BOOL),
    Opt("gluster_service", "gluster_service", BOOL),
    Opt("ha_reservation", "ha_reservation", BOOL),
    Opt("ksm.enabled", "ksm_enabled", BOOL),
    Opt("ksm.merge_across_nodes", "ksm_merge_across_nodes", BOOL),
    Opt("maintenance_reason_required", "maintenance_reason_required", BOOL),
    Opt("memory_policy.over_commit.percent", "memory_over_commit", INT),
    Opt("memory_policy.transparent_hugepages.enabled", "transparent_hugepages", BOOL),
    Opt("migration.auto_converge", "migration_auto_converge", Enum(o.InheritableBoolean)),
    Opt("migration.bandwidth.assignment_method", "migration_bandwidth", Enum(o.BandwidthAssignment)),
    Opt("migration.bandwidth.custom_value", "migration_bandwidth_custom", INT),
    Opt("migration.compressed", "migration_compressed", Enum(o.InheritableBoolean)),
    Opt("migration.encrypted", "migration_encrypted", Enum(o.InheritableBoolean)),
    Opt("migration.policy", "migration_policy_id", IdOf(None)),
    Opt("optional_reason", "optional_reason", BOOL),
    Opt("required_rng_sources", "required_rng_sources", Enum(o.RngSource), item="required_rng_source"),
    Opt("serial_number.policy", "serial_policy", Enum(o.SerialNumberPolicy)),
    Opt("serial_number.value", "serial_policy_value", TEXT),
    Opt("switch_type", "switch_type", Enum(o.SwitchType)),
    Opt("firewall_type", "firewall_type", Enum(o.FirewallType)),
    Opt("threads_as_cores", "threads_as_cores", BOOL),
    Opt("trusted_service", "trusted_service", BOOL),
    Opt("tunnel_migration", "tunnel_migration", BOOL),
    Opt("virt_service", "virt_service", BOOL),
    Opt("scheduling_policy", "scheduling_policy_id", IdOf("schedulingpolicies")),
)


class Clusters(Collection):
    path, plural, element, type_name, repo = "clusters", "clusters", "cluster", "Cluster", "clusters"
    fields = (
        *common_fields(name=40),  # oVirt's CLUSTER_NAME_SIZE
        Field("data_center", attr="data_center_id", codec=RefTo("datacenters")),
        Field("cpu", render_fn=_cpu_render, parse_fn=_cpu_parse),
        version_field(),
        Field("external_network_providers", render_fn=_providers_render, parse_fn=_providers_parse),
        *CLUSTER_OPTIONS,
        mac_pool_field(),
    )
    links = (
        "affinitygroups",
        "cpuprofiles",
        "enabledfeatures",
        "externalnetworkproviders",
        "glusterhooks",
        "glustervolumes",
        "networkfilters",
        "networks",
        "permissions",
    )
    searchable = True

    def scope(self, call: Call) -> dict[str, Any]:
        return {"data_center_id": call.parents[0]} if call.parents else {}  # /datacenters/{id}/clusters

    def belongs(self, call: Call, entity: Any) -> bool:
        return not call.parents or entity.data_center_id == call.parents[0]

    def add(self, call: Call, body: Tree) -> Any:
        fields = self.parse(body)
        if call.parents:
            fields["data_center"] = Ref(id=call.parents[0])
        options = split_options(fields, o.ClusterOptions)
        return cmd.add_cluster(
            call.ctx, fields.pop("name", None), fields.pop("data_center", None), options=options, **fields
        )

    def update(self, call: Call, id_: str, body: Tree) -> Any:
        fields = self.parse(body)
        options = split_options(fields, o.ClusterOptions)
        changes = changes_of(
            cmd.ClusterChanges,
            {**fields, **({"options": options} if options else {})},
            ignore={"data_center"},
        )
        return cmd.update_cluster(call.ctx, id_, changes)

    def remove(self, call: Call, id_: str) -> None:
        cmd.remove_cluster(call.ctx, id_)


class ClusterProviders(Collection):
    """/clusters/{id}/externalnetworkproviders: the cluster's default network provider (oVirt keeps a list)."""

    path, plural, element, type_name = (
        "externalnetworkproviders",
        "external_providers",
        "external_provider",
        "Provider",
    )
    fields = (*common_fields(), Field("url", writable=False))

    def list(self, call: Call) -> Any:
        cluster = call.uow.clusters.get(call.parents[-1])
        provider = (
            call.uow.providers.get(cluster.default_provider_id)
            if cluster and cluster.default_provider_id
            else None
        )
        return [provider] if provider is not None else []

    def get(self, call: Call, id_: str) -> Any:
        for provider in self.list(call):
            if provider.id == id_:
                return provider
        raise NotFound(f"{self.type_name} '{id_}' was not found.")

    def href(self, call: Call, entity: Any) -> str:
        return f"{API}/openstacknetworkproviders/{entity.id}"


class ClusterNetworks(Networks):
    """Networks attached to a cluster, each with its attachment's ``required`` and ``display``.

    The cluster is the last parent: /clusters/{id}/networks, or /datacenters/{dc}/clusters/{id}/networks.
    """

    type_name = "Network"
    links = ("networklabels", "permissions", "vnicprofiles")
    actions = ()  # export and the like act on /networks/{id}, not on an attachment

    def _attachments(self, call: Call) -> dict[str, model.NetworkAttachment]:
        return {a.network_id: a for a in call.uow.attachments.list(cluster_id=call.parents[-1])}

    def scope(self, call: Call) -> dict[str, Any]:
        return {"id": list(self._attachments(call))}

    def belongs(self, call: Call, entity: Any) -> bool:
        return entity.id in self._attachments(call)

    def href(self, call: Call, entity: Any) -> str:
        return f"{API}/clusters/{call.parents[-1]}/networks/{entity.id}"

    def render_extra(self, call: Call, entity: Any) -> Tree:
        extra = super().render_extra(call, entity)
        attachment = self._attachments(call).get(entity.id)
        extra["cluster"] = {"href": f"{API}/clusters/{call.parents[-1]}", "id": call.parents[-1]}
        if attachment is not None:
            extra["required"] = attachment.required
            extra["display"] = attachment.display
            extra["status"] = "operational"
        return extra

    def add(self, call: Call, body: Tree) -> Any:
        ref = ref_of(body, "network") or Ref()
        kw = _attachment_flags(body)
        network, _ = cmd.attach_network(call.ctx, call.parents[-1], ref, **kw)
        return network

    def update(self, call: Call, id_: str, body: Tree) -> Any:
        changes = cmd.AttachmentChanges(**_attachment_flags(body))
        network, _ = cmd.update_attachment(call.ctx, call.parents[-1], id_, changes)
        return network

    def remove(self, call: Call, id_: str) -> None:
        cmd.detach_network(call.ctx, call.parents[-1], id_)


def _attachment_flags(body: Tree) -> dict[str, bool]:
    flags: dict[str, bool] = {}
    for key in ("required", "display"):
        if key in body:
            flags[key] = BOOL.parse(body[key], key)
    usages = body.get("usages")
    if isinstance(usages, dict) and "display" not in flags:
        # oVirt's current form of the deprecated <display>: the attachment's usages
        flags["display"] = "display" in [str(u).lower() for u in as_list(usages.get("usage"))]
    return flags
