"""/datacenters, with the networks and clusters of each."""

from __future__ import annotations

from typing import Any

from neutrino.engine.api.fields import (
    BOOL,
    Enum,
    Field,
    RefTo,
    changes_of,
    common_fields,
    invalid,
    version_field,
)
from neutrino.engine.api.resource import Call, Collection
from neutrino.engine.api.resources.clusters import mac_pool_field
from neutrino.engine.api.wire import Tree
from neutrino.engine.commands import datacenters as cmd
from neutrino.engine.domain import model


def _quota_mode_parse(raw: Any, element: str) -> dict[str, Any]:
    if str(raw).strip() != "disabled":
        raise invalid(element, raw, "'disabled' (Neutrino has no quotas)")
    return {}


class DataCenters(Collection):
    path, plural, element, type_name, repo = (
        "datacenters",
        "data_centers",
        "data_center",
        "Data Center",
        "datacenters",
    )
    fields = (
        *common_fields(name=40),  # oVirt's DATACENTER_NAME_SIZE
        Field("local", codec=BOOL),
        Field("status", codec=Enum(model.DataCenterStatus), writable=False),
        version_field(),
        mac_pool_field(),
        # Neutrino has no quotas and no storage: a data center's quota mode is `disabled`, its format oVirt's
        Field("quota_mode", render_fn=lambda e: "disabled", parse_fn=_quota_mode_parse),
        Field("storage_format", render_fn=lambda e: "v5", writable=False),
    )
    links = ("clusters", "iscsibonds", "networks", "permissions", "quotas", "qoss", "storagedomains")
    searchable = True

    def render_extra(self, call: Call, entity: Any) -> Tree:
        return {"supported_versions": {"version": [{"major": 4, "minor": m} for m in range(2, 8)]}}

    def add(self, call: Call, body: Tree) -> Any:
        fields = self.parse(body)
        return cmd.add_data_center(call.ctx, fields.pop("name", None), **fields)

    def update(self, call: Call, id_: str, body: Tree) -> Any:
        return cmd.update_data_center(call.ctx, id_, changes_of(cmd.DataCenterChanges, self.parse(body)))

    def remove(self, call: Call, id_: str) -> None:
        cmd.remove_data_center(call.ctx, id_, force=call.flag("force"))


def dc_ref() -> Field:
    return Field("data_center", attr="data_center_id", codec=RefTo("datacenters"), writable=False)
