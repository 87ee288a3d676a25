"""Field declarations: parsing errors name the element, unknown and read-only elements are ignored, and every
declaration names a real attribute of the entity it renders."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from neutrino.engine.api.fields import BOOL, DATE, INT, TEXT, Enum, Field, RefTo, parse_fields, render_fields
from neutrino.engine.api.resource import Collection
from neutrino.engine.api.resources.clusters import Clusters
from neutrino.engine.api.resources.datacenters import DataCenters
from neutrino.engine.api.resources.hosts import Hosts
from neutrino.engine.api.resources.macpools import MacPoolView
from neutrino.engine.api.resources.networks import Networks, VnicProfiles
from neutrino.engine.api.resources.permissions import _Named, _Permission
from neutrino.engine.api.resources.vms import Nics, Vms
from neutrino.engine.api.tree import build_tree
from neutrino.engine.commands.common import Ref
from neutrino.engine.domain import model
from neutrino.engine.domain.errors import BadRequest
from neutrino.engine.domain.options import SchedulingPolicy
from neutrino.engine.provider_clients.base import ProviderNetwork, ProviderSubnet
from neutrino.engine.provider_clients.certificates import Certificate


def test_bool() -> None:
    assert BOOL.parse("true", "x") is True
    assert BOOL.parse(" False ", "x") is False
    assert BOOL.parse(True, "x") is True
    with pytest.raises(BadRequest) as err:
        BOOL.parse("maybe", "local")
    assert err.value.message == "Invalid value for 'local': 'maybe' is not a boolean (true or false)."


def test_int() -> None:
    assert INT.parse(" 42 ", "mtu") == 42
    for bad in ("big", "1.5", True, ""):
        with pytest.raises(BadRequest, match="'mtu'"):
            INT.parse(bad, "mtu")


def test_enum_lists_what_it_accepts() -> None:
    codec = Enum(model.NicInterface)
    assert codec.parse("e1000", "interface") is model.NicInterface.E1000
    assert codec.render(model.NicInterface.E1000) == "e1000"
    with pytest.raises(BadRequest) as err:
        codec.parse("bogus", "interface")
    assert "'interface'" in err.value.message and "virtio" in err.value.message
    with pytest.raises(BadRequest):
        codec.parse("VIRTIO", "interface")  # enums are exact lower case


def test_text_rejects_structures() -> None:
    assert TEXT.parse(None, "name") == ""
    assert TEXT.parse(7, "name") == "7"
    with pytest.raises(BadRequest, match="'name'"):
        TEXT.parse({"a": "b"}, "name")


def test_date() -> None:
    assert DATE.parse("2024-01-02T03:04:05+00:00", "date").year == 2024
    with pytest.raises(BadRequest, match="'date'"):
        DATE.parse("yesterday", "date")


def test_reference_by_id_or_name() -> None:
    codec = RefTo("clusters")
    assert codec.parse({"id": "1"}, "cluster") == Ref(id="1")
    assert codec.parse({"name": "Default"}, "cluster") == Ref(name="Default")
    with pytest.raises(BadRequest, match="'cluster'"):
        codec.parse({}, "cluster")
    with pytest.raises(BadRequest, match="'cluster'"):
        codec.parse("Default", "cluster")
    assert codec.render("1") == {"href": "/ovirt-engine/api/clusters/1", "id": "1"}
    assert codec.render(None) is None


def test_parse_keeps_only_what_was_sent_and_ignores_unknown_and_read_only() -> None:
    fields = (Field("name"), Field("local", codec=BOOL), Field("status", writable=False))
    assert parse_fields(fields, {"local": "true", "status": "up", "flux": "on"}) == {"local": True}
    assert parse_fields(fields, {}) == {}


@pytest.mark.parametrize(
    ("resource", "body", "element"),
    [
        (DataCenters(), {"local": "maybe"}, "local"),
        (DataCenters(), {"version": {"major": "four"}}, "version.major"),
        (Networks(), {"vlan": {"id": "x"}}, "vlan.id"),
        (Networks(), {"vlan": "ten"}, "vlan"),
        (Networks(), {"stp": "sometimes"}, "stp"),
        (Networks(), {"usages": {"usage": ["vm", "party"]}}, "usages.usage"),
        (Networks(), {"data_center": "Default"}, "data_center"),
        (Nics(), {"interface": "bogus"}, "interface"),
        (Nics(), {"mac": "02:00:00:00:00:01"}, "mac.address"),
        (Clusters(), {"cpu": {"architecture": "z80"}}, "cpu.architecture"),
        (Hosts(), {"port": "ssh"}, "port"),
        (Vms(), {"memory": "lots"}, "memory"),
        (VnicProfiles(), {"pass_through": {"mode": "sideways"}}, "pass_through.mode"),
        (VnicProfiles(), {"custom_properties": {"custom_property": {"value": "x"}}}, "custom_properties"),
    ],
)
def test_resource_parse_errors_name_the_element(
    resource: Collection, body: dict[str, Any], element: str
) -> None:
    with pytest.raises(BadRequest) as err:
        resource.parse(body)
    assert f"'{element}'" in err.value.message


def test_resource_parse_values() -> None:
    assert Networks().parse(
        {
            "vlan": {"id": "10"},
            "mtu": "1400",
            "usages": {"usage": ["vm", "display"]},
            "data_center": {"name": "Default"},
        }
    ) == {"vlan_id": 10, "mtu": 1400, "usages": ["display", "vm"], "data_center": Ref(name="Default")}
    assert Networks().parse({"usages": ""}) == {"usages": []}
    assert Networks().parse({"vlan": ""}) == {"vlan_id": None}
    assert Clusters().parse({"cpu": {"architecture": "x86_64", "type": "Intel"}}) == {
        "cpu_architecture": model.Architecture.X86_64,
        "cpu_type": "Intel",
    }
    assert Nics().parse({"mac": {"address": "02:00:00:00:00:01"}, "vnic_profile": ""}) == {
        "mac": "02:00:00:00:00:01",
        "vnic_profile": None,
    }


def test_host_root_password_is_accepted_and_never_rendered() -> None:
    host = model.Host(name="h", address="192.0.2.1", cluster_id="c")
    assert Hosts().parse({"root_password": "secret"}) == {"root_password": "secret"}
    assert "root_password" not in render_fields(Hosts.fields, host)


def _collections() -> list[Collection]:
    seen: dict[type, Collection] = {}
    pending = list(build_tree().values())
    while pending:
        node = pending.pop()
        seen.setdefault(type(node.collection), node.collection)
        pending.extend(node.children.values())
    return list(seen.values())


ENTITY_OF_REPO = {
    "datacenters": model.DataCenter,
    "clusters": model.Cluster,
    "hosts": model.Host,
    "networks": model.Network,
    "profiles": model.VnicProfile,
    "templates": model.Template,
    "vms": model.Vm,
    "nics": model.VmNic,
    "snapshots": model.Snapshot,
    "providers": model.ExternalProvider,
    "events": model.Event,
    "users": model.User,
}
# collections read live from a provider, not from a repository
ENTITY_OF_LIVE = {
    "ProviderNetworks": ProviderNetwork,
    "ProviderSubnets": ProviderSubnet,
    "ProviderCertificates": Certificate,
    "VnicProfilePermissions": _Permission,
    "Roles": _Named,
    "Groups": _Named,
    "MacPools": MacPoolView,
    "SchedulingPolicies": SchedulingPolicy,
    "ClusterProviders": model.ExternalProvider,
}


def _entity_class(collection: Collection) -> type:
    return ENTITY_OF_REPO[collection.repo] if collection.repo else ENTITY_OF_LIVE[type(collection).__name__]


@pytest.mark.parametrize("collection", _collections(), ids=lambda c: type(c).__name__)
def test_declarations_name_real_attributes(collection: Collection) -> None:
    """A typo in a declaration (an attr the entity lacks) must not silently render nothing."""
    entity_cls = _entity_class(collection)
    attributes = {f.name for f in dataclasses.fields(entity_cls)}
    elements = [f.element for f in collection.fields]
    assert len(elements) == len(set(elements)), "an element is declared twice"
    for f in collection.fields:
        if f.render_fn is None:
            assert f.key in attributes, f"{type(collection).__name__}.{f.element} -> {f.key}"


@pytest.mark.parametrize("collection", _collections(), ids=lambda c: type(c).__name__)
def test_declarations_have_wire_names(collection: Collection) -> None:
    assert collection.path and collection.plural and collection.element
    assert _entity_class(collection) is not None
    assert not set(collection.actions) & set(collection.links)


@pytest.mark.parametrize("collection", _collections(), ids=lambda c: type(c).__name__)
def test_a_searchable_collection_has_its_search_declared(collection: Collection) -> None:
    """``searchable`` lists through the store's search: its entity must be declared there, with a name."""
    from neutrino.engine.store.search import ENTITIES, SEARCHED_AS

    if collection.searchable:
        entity = ENTITIES[SEARCHED_AS[_entity_class(collection)]]
        assert "name" in entity.fields or entity.name == "event"


@pytest.mark.parametrize("bad", ["bad\x01name", "tab\x0bbed", "nul\x00"])
def test_text_that_xml_cannot_carry_is_refused(bad: str) -> None:
    """Stored through JSON, it would make every XML answer that shows it unparseable."""
    with pytest.raises(BadRequest, match="'name'"):
        TEXT.parse(bad, "name")
    with pytest.raises(BadRequest, match="'cpu.type'"):
        Clusters().parse({"cpu": {"type": bad}})
    with pytest.raises(BadRequest, match="'custom_properties'"):
        VnicProfiles().parse(
            {"custom_properties": {"custom_property": {"name": "SecurityGroups", "value": bad}}}
        )
    assert TEXT.parse("tabs\tand\nnewlines é ✓", "name") == "tabs\tand\nnewlines é ✓"
