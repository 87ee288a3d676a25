"""Commands' typed inputs: the UNSET sentinel and its helpers, change objects that line up with their entities,
add commands whose defaults are the domain's, and API resources whose declarations fit the commands they call."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any, cast

import pytest

from neutrino.engine.api.resource import Call, Collection
from neutrino.engine.api.resources.clusters import ClusterNetworks, Clusters
from neutrino.engine.api.resources.datacenters import DataCenters
from neutrino.engine.api.resources.hosts import Hosts
from neutrino.engine.api.resources.networks import Networks, VnicProfiles
from neutrino.engine.api.resources.providers import Providers
from neutrino.engine.api.resources.vms import Nics, Vms
from neutrino.engine.commands import (
    clusters,
    datacenters,
    hosts,
    networks,
    nics,
    providers,
    vms,
    vnic_profiles,
)
from neutrino.engine.commands.common import (
    UNSET,
    EngineContext,
    Ref,
    apply_specified,
    or_current,
    specified,
)
from neutrino.engine.domain import model
from neutrino.engine.domain.options import ClusterOptions, HostOptions, VmOptions

# --- the sentinel and its helpers ----------------------------------------------------------------


def test_unset_is_not_none_and_says_so() -> None:
    assert UNSET is not None
    assert repr(UNSET) == "UNSET"
    assert or_current(UNSET, 7) == 7
    assert or_current(None, 7) is None  # None is a value a client may set (no VLAN, no profile)
    assert or_current(False, True) is False


def test_specified_holds_only_what_was_set() -> None:
    assert specified(networks.NetworkChanges()) == {}
    assert specified(networks.NetworkChanges(vlan_id=None, mtu=0, stp=False)) == {
        "vlan_id": None,
        "mtu": 0,
        "stp": False,
    }


def test_change_objects_are_frozen() -> None:
    changes = clusters.ClusterChanges(name="a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        changes.name = "b"  # type: ignore[misc]


def test_apply_specified_copies_set_fields_and_leaves_the_rest() -> None:
    network = model.Network(name="n", data_center_id="dc", vlan_id=10, mtu=1400, description="keep")
    apply_specified(network, networks.NetworkChanges(name="m", vlan_id=None, stp=True))
    assert (network.name, network.vlan_id, network.stp) == ("m", None, True)
    assert (network.mtu, network.description) == (1400, "keep")


def test_apply_specified_skips_what_the_command_resolves() -> None:
    vm = model.Vm(name="v", cluster_id="c1")
    apply_specified(vm, vms.VmChanges(memory=2048, cluster=Ref(id="c2")), skip={"cluster"})
    assert (vm.memory, vm.cluster_id) == (2048, "c1")


def test_apply_specified_refuses_a_field_the_entity_lacks() -> None:
    """A change class out of step with its entity must fail loudly, not set a stray attribute."""
    vm = model.Vm(name="v", cluster_id="c1")
    with pytest.raises(TypeError, match=r"VmChanges\.cluster is not an attribute of Vm"):
        apply_specified(vm, vms.VmChanges(cluster=Ref(id="c2")))


# each change class, its entity, and the fields its command resolves itself (references, secrets)
CHANGE_CLASSES: list[tuple[type, type, set[str]]] = [
    (datacenters.DataCenterChanges, model.DataCenter, set()),
    (clusters.ClusterChanges, model.Cluster, {"default_provider"}),
    (clusters.AttachmentChanges, model.NetworkAttachment, set()),
    (hosts.HostChanges, model.Host, {"cluster", "root_password"}),
    (networks.NetworkChanges, model.Network, set()),
    (vnic_profiles.ProfileChanges, model.VnicProfile, {"network"}),
    (vms.VmChanges, model.Vm, {"cluster"}),
    (nics.NicChanges, model.VmNic, {"vnic_profile"}),
    (providers.ProviderChanges, model.ExternalProvider, {"type", "password"}),
]


@pytest.mark.parametrize(
    ("changes_cls", "entity_cls", "resolved"), CHANGE_CLASSES, ids=[c[0].__name__ for c in CHANGE_CLASSES]
)
def test_change_classes_name_entity_attributes(
    changes_cls: type, entity_cls: type, resolved: set[str]
) -> None:
    assert changes_cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    attributes = {f.name for f in dataclasses.fields(entity_cls)}
    for f in dataclasses.fields(changes_cls):
        assert f.default is UNSET, f"{changes_cls.__name__}.{f.name} must default to UNSET"
        assert f.name in attributes | resolved, f"{changes_cls.__name__}.{f.name}"
    assert resolved <= {f.name for f in dataclasses.fields(changes_cls)}


# --- add commands: explicit keywords with the domain's defaults ----------------------------------

# add command -> (entity, keywords whose default means "taken from elsewhere", documented on the command)
ADD_COMMANDS: list[tuple[Callable[..., Any], type, set[str]]] = [
    (datacenters.add_data_center, model.DataCenter, set()),
    # options: only the settings that differ from oVirt's defaults, by name (None: none)
    (clusters.add_cluster, model.Cluster, {"version_major", "version_minor", "options"}),  # the DC's version
    (hosts.add_host, model.Host, {"port", "options"}),  # DEFAULT_AGENT_PORT
    (networks.add_network, model.Network, set()),
    (vnic_profiles.add_profile, model.VnicProfile, set()),
    (vms.add_vm, model.Vm, {"memory", "options"}),  # the template's memory
    (nics.add_nic, model.VmNic, set()),
    (providers.add_provider, model.ExternalProvider, set()),
]


def _domain_default(f: dataclasses.Field[Any]) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def _normalized(value: Any) -> Any:
    """A tuple default stands for the entity's list, None for its empty dict."""
    return list(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize(
    ("add", "entity_cls", "elsewhere"), ADD_COMMANDS, ids=[c[0].__name__ for c in ADD_COMMANDS]
)
def test_add_commands_default_as_the_domain_does(
    add: Callable[..., Any], entity_cls: type, elsewhere: set[str]
) -> None:
    entity_fields = {f.name: f for f in dataclasses.fields(entity_cls)}
    keyword_only = [p for p in inspect.signature(add).parameters.values() if p.kind is p.KEYWORD_ONLY]
    assert keyword_only, f"{add.__name__} takes its optional fields as keywords"
    for param in keyword_only:
        if param.name in elsewhere or param.name not in entity_fields:
            continue
        default = _normalized(param.default)
        expected = _domain_default(entity_fields[param.name])
        if default is None and expected == {}:
            continue
        assert default == expected, (
            f"{add.__name__}({param.name}=...) defaults to {default!r}, not {expected!r}"
        )


# --- API resources: every writable element reaches a parameter or a change field -----------------

# a body setting every writable element of each resource (and a read-only one, ignored)
FULL_BODIES: dict[type[Collection], dict[str, Any]] = {
    DataCenters: {
        "name": "dc",
        "description": "d",
        "comment": "c",
        "local": "false",
        "version": {"major": "4", "minor": "7"},
        "status": "up",
        "mac_pool": {"name": "Default"},
        "quota_mode": "disabled",
    },
    Clusters: {
        "name": "cl",
        "description": "d",
        "comment": "c",
        "data_center": {"id": "dc"},
        "cpu": {"architecture": "x86_64", "type": "Intel"},
        "version": {"major": "4", "minor": "7"},
        "external_network_providers": {"external_provider": [{"id": "p"}]},
        "ballooning_enabled": "true",
        "error_handling": {"on_error": "do_not_migrate"},
        "fencing_policy": {
            "enabled": "false",
            "skip_if_connectivity_broken": {"enabled": "true", "threshold": "40"},
            "skip_if_gluster_bricks_up": "false",
            "skip_if_gluster_quorum_not_met": "false",
            "skip_if_sd_active": {"enabled": "true"},
        },
        "gluster_service": "false",
        "ha_reservation": "true",
        "ksm": {"enabled": "false", "merge_across_nodes": "false"},
        "maintenance_reason_required": "true",
        "memory_policy": {"over_commit": {"percent": "150"}, "transparent_hugepages": {"enabled": "false"}},
        "migration": {
            "auto_converge": "true",
            "bandwidth": {"assignment_method": "custom", "custom_value": "100"},
            "compressed": "false",
            "encrypted": "true",
            "policy": {"id": "a7aeedb2-8d66-4e51-bb22-32595027ce71"},
        },
        "optional_reason": "true",
        "required_rng_sources": {"required_rng_source": ["urandom", "hwrng"]},
        "serial_number": {"policy": "custom", "value": "s1"},
        "switch_type": "ovs",
        "firewall_type": "iptables",
        "threads_as_cores": "true",
        "trusted_service": "false",
        "tunnel_migration": "true",
        "virt_service": "true",
        "scheduling_policy": {"id": "20d25257-b4bd-4589-92a6-c4c5c5d3fd1a"},
        "mac_pool": {"name": "Default"},
    },
    Hosts: {
        "name": "h",
        "description": "d",
        "comment": "c",
        "address": "192.0.2.1",
        "port": "54321",
        "cluster": {"id": "cl"},
        "root_password": "token",
        "status": "up",
        "power_management": {"enabled": "false", "automatic_pm_enabled": "false", "kdump_detection": "false"},
        "spm": {"priority": "7", "status": "spm"},
        "os": {"custom_kernel_cmdline": "quiet"},
        "vgpu_placement": "separated",
    },
    Networks: {
        "name": "n",
        "description": "d",
        "comment": "c",
        "data_center": {"id": "dc"},
        "vlan": {"id": "10"},
        "mtu": "1400",
        "stp": "false",
        "usages": {"usage": ["vm"]},
        "profile_required": "false",
        "external_provider": {"id": "p"},
    },
    VnicProfiles: {
        "name": "vp",
        "description": "d",
        "comment": "c",
        "network": {"id": "n"},
        "port_mirroring": "false",
        "pass_through": {"mode": "disabled"},
        "migratable": "false",
        "custom_properties": {"custom_property": [{"name": "SecurityGroups", "value": ""}]},
    },
    Vms: {
        "name": "vm",
        "description": "d",
        "comment": "c",
        "cluster": {"id": "cl"},
        "template": {"id": "t"},
        "memory": "1073741824",
        "status": "up",
        "bios": {"boot_menu": {"enabled": "true"}},
        "console": {"enabled": "true"},
        "cpu": {"mode": "host_passthrough", "topology": {"cores": "2", "sockets": "2", "threads": "2"}},
        "cpu_shares": "512",
        "delete_protected": "true",
        "display": {
            "copy_paste_enabled": "false",
            "disconnect_action": "NONE",
            "file_transfer_enabled": "false",
            "keyboard_layout": "de",
            "monitors": "2",
            "smartcard_enabled": "true",
            "type": "spice",
        },
        "high_availability": {"enabled": "true", "priority": "50"},
        "io": {"threads": "2"},
        "memory_policy": {"ballooning": "false", "guaranteed": "536870912", "max": "2147483648"},
        "multi_queues_enabled": "false",
        "os": {"boot": {"devices": {"device": ["network", "hd"]}}, "type": "rhel_9x64"},
        "placement_policy": {"affinity": "pinned", "hosts": {"host": [{"name": "h1"}]}},
        "serial_number": {"policy": "vm"},
        "soundcard_enabled": "true",
        "stateless": "true",
        "storage_error_resume_behaviour": "kill",
        "time_zone": {"name": "Europe/Prague", "utc_offset": "+01:00"},
        "tpm_enabled": "true",
        "type": "desktop",
        "usb": {"enabled": "true"},
        "virtio_scsi": {"enabled": "false"},
    },
    Nics: {
        "name": "nic1",
        "description": "d",
        "comment": "c",
        "interface": "virtio",
        "linked": "true",
        "plugged": "true",
        "mac": {"address": "02:00:00:00:00:01"},
        "vnic_profile": {"id": "vp"},
        "vm": {"id": "vm"},
    },
    Providers: {
        "name": "p",
        "description": "d",
        "comment": "c",
        "type": "neutron",
        "url": "http://provider.invalid:9696",
        "requires_authentication": "true",
        "username": "u",
        "password": "secret",
        "authentication_url": "http://provider.invalid:35357/v3",
        "tenant_name": "t",
        "project_name": "pr",
        "project_domain_name": "Default",
        "user_domain_name": "Default",
        "plugin_type": "open_vswitch",
        "external_plugin_type": "LINUX_BRIDGE",
        "read_only": "false",
        "auto_sync": "true",
        "unmanaged": "false",
        "properties": {"property": [{"name": "k", "value": "v"}]},
    },
}
COMMANDS: dict[type[Collection], tuple[ModuleType, str, str]] = {
    DataCenters: (datacenters, "add_data_center", "update_data_center"),
    Clusters: (clusters, "add_cluster", "update_cluster"),
    Hosts: (hosts, "add_host", "update_host"),
    Networks: (networks, "add_network", "update_network"),
    VnicProfiles: (vnic_profiles, "add_profile", "update_profile"),
    Vms: (vms, "add_vm", "update_vm"),
    Nics: (nics, "add_nic", "update_nic"),
    Providers: (providers, "add_provider", "update_provider"),
}
# the options value each resource's settings go to (one change field and one add keyword: `options`)
OPTIONS_OF: dict[type[Collection], type] = {
    Clusters: ClusterOptions,
    Hosts: HostOptions,
    Vms: VmOptions,
}


def _keywords(resource_cls: type[Collection], parsed: dict[str, Any]) -> set[str]:
    """The keywords a command gets for what a resource parsed: its settings arrive as one `options`."""
    names = (
        {f.name for f in dataclasses.fields(OPTIONS_OF[resource_cls])}
        if resource_cls in OPTIONS_OF
        else set()
    )
    return {"options" if key in names else key for key in parsed}


# elements an update accepts and leaves alone, as the real engine does
IGNORED_ON_UPDATE = {
    Clusters: {"data_center"},
    Networks: {"data_center", "external_provider"},
    Vms: {"template"},
}


class _Recorded(Exception):
    """Stops a resource once it has called its command (no database behind this test)."""


def _recorder(real: Callable[..., Any], seen: list[inspect.BoundArguments]) -> Callable[..., Any]:
    def record(*args: Any, **kwargs: Any) -> Any:
        seen.append(inspect.signature(real).bind(*args, **kwargs))  # TypeError: a keyword it does not take
        raise _Recorded

    return record


def _call() -> Call:
    return Call(
        ctx=cast(EngineContext, None), query={}, parents=("parent",)
    )  # commands are recorded, not run


@pytest.mark.parametrize("resource_cls", list(FULL_BODIES), ids=lambda c: c.__name__)
def test_full_bodies_cover_every_writable_element(resource_cls: type[Collection]) -> None:
    writable = {f.element for f in resource_cls.fields if f.writable}
    assert writable <= set(FULL_BODIES[resource_cls]), "add the new element to FULL_BODIES"


@pytest.mark.parametrize("resource_cls", list(FULL_BODIES), ids=lambda c: c.__name__)
def test_update_sends_every_writable_element_as_a_change(
    resource_cls: type[Collection], monkeypatch: pytest.MonkeyPatch
) -> None:
    module, _, update_name = COMMANDS[resource_cls]
    seen: list[inspect.BoundArguments] = []
    monkeypatch.setattr(module, update_name, _recorder(getattr(module, update_name), seen))
    resource = resource_cls()
    with pytest.raises(_Recorded):
        resource.update(_call(), "id", FULL_BODIES[resource_cls])
    changes = seen[0].arguments["changes"]
    expected = _keywords(resource_cls, resource.parse(FULL_BODIES[resource_cls])) - IGNORED_ON_UPDATE.get(
        resource_cls, set()
    )
    assert set(specified(changes)) == expected


@pytest.mark.parametrize("resource_cls", list(FULL_BODIES), ids=lambda c: c.__name__)
def test_add_passes_every_writable_element_as_a_parameter(
    resource_cls: type[Collection], monkeypatch: pytest.MonkeyPatch
) -> None:
    module, add_name, _ = COMMANDS[resource_cls]
    seen: list[inspect.BoundArguments] = []
    monkeypatch.setattr(module, add_name, _recorder(getattr(module, add_name), seen))
    body = dict(FULL_BODIES[resource_cls])
    if resource_cls is Networks:
        del body["external_provider"]  # a network with a provider is created on it first (create_on_provider)
    resource = resource_cls()
    with pytest.raises(_Recorded):
        resource.add(_call(), body)
    passed = {name for name, value in seen[0].arguments.items() if value is not None}
    assert _keywords(resource_cls, resource.parse(body)) <= passed


def test_attachment_update_sends_the_flags_it_was_given(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[inspect.BoundArguments] = []
    monkeypatch.setattr(clusters, "update_attachment", _recorder(clusters.update_attachment, seen))
    with pytest.raises(_Recorded):
        ClusterNetworks().update(_call(), "net", {"required": "false"})
    assert seen[0].arguments["changes"] == clusters.AttachmentChanges(required=False)
    with pytest.raises(_Recorded):
        ClusterNetworks().update(_call(), "net", {"usages": {"usage": ["display"]}})
    assert seen[1].arguments["changes"] == clusters.AttachmentChanges(display=True)
