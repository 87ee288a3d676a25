"""oVirt's cluster, host and VM settings (domain.options): oVirt's defaults, the JSON they are stored as, the
rules on them, and their wire shape (rendered, then parsed back to the same values)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from neutrino.engine.api.fields import render_fields, split_options
from neutrino.engine.api.resources.clusters import Clusters
from neutrino.engine.api.resources.hosts import Hosts
from neutrino.engine.api.resources.vms import Vms
from neutrino.engine.api.wire import from_xml, to_xml
from neutrino.engine.commands.common import Ref
from neutrino.engine.domain import model
from neutrino.engine.domain import options as o
from neutrino.engine.domain.errors import BadRequest

GIB = 1024**3


def test_a_fresh_ovirt_s_defaults() -> None:
    cluster = o.ClusterOptions()
    assert (cluster.ksm_enabled, cluster.ksm_merge_across_nodes, cluster.ballooning_enabled) == (
        True,
        True,
        False,
    )
    assert cluster.memory_over_commit == 100 and cluster.fencing_connectivity_threshold == 50
    assert cluster.required_rng_sources == (o.RngSource.URANDOM,)
    assert (
        cluster.scheduling_policy_id == o.SCHEDULING_NONE
        and cluster.migration_policy_id == o.MINIMAL_DOWNTIME
    )
    vm = o.VmOptions()
    assert (vm.cpu_sockets, vm.cpu_cores, vm.cpu_threads) == (1, 1, 1)
    assert (vm.guaranteed(GIB), vm.maximum(GIB)) == (GIB, 4 * GIB)
    assert o.HostOptions().spm_priority == 5


@pytest.mark.parametrize("cls", [o.ClusterOptions, o.HostOptions, o.VmOptions])
def test_json_round_trip_and_leniency(cls: type[Any]) -> None:
    assert cls.from_json(cls().to_json()) == cls()
    assert cls.from_json({}) == cls() and cls.from_json(None) == cls()
    # what another engine wrote: an unknown key, a bad enum value, a wrong type: each read as the default
    assert cls.from_json({"flux": 1, "switch_type": "quantum", "vm_type": 3, "spm_priority": "x"}) == cls()


def test_json_keeps_what_was_set() -> None:
    vm = o.VmOptions(cpu_sockets=2, placement_hosts=("h1",), boot_devices=(o.BootDevice.NETWORK,))
    assert o.VmOptions.from_json(vm.to_json()) == vm
    assert vm.to_json()["boot_devices"] == ["network"]


def test_changed_refuses_what_is_no_option() -> None:
    with pytest.raises(TypeError):
        o.ClusterOptions().changed({"warp": True})


@pytest.mark.parametrize(
    ("changes", "element"),
    [
        ({"cpu_sockets": 0}, "cpu.topology.sockets"),
        ({"cpu_sockets": 20, "cpu_cores": 20}, "cpu.topology"),
        ({"memory_guaranteed": 2 * GIB}, "memory_policy.guaranteed"),
        ({"memory_max": GIB // 2}, "memory_policy.max"),
        ({"ha_priority": 101}, "high_availability.priority"),
        ({"monitors": 5}, "display.monitors"),
        ({"serial_policy": o.SerialNumberPolicy.CUSTOM}, "serial_number.value"),
    ],
)
def test_vm_rules_name_the_element(changes: dict[str, Any], element: str) -> None:
    with pytest.raises(BadRequest) as err:
        o.check_vm_options(o.VmOptions().changed(changes), GIB, "edit")
    assert f"'{element}'" in err.value.message and err.value.message.startswith("Cannot edit VM.")


@pytest.mark.parametrize(
    ("changes", "element"),
    [
        ({"gluster_service": True}, "gluster_service"),
        ({"virt_service": False}, "virt_service"),
        ({"migration_policy_id": "nope"}, "migration.policy"),
        ({"scheduling_policy_id": "nope"}, "scheduling_policy"),
        ({"migration_bandwidth": o.BandwidthAssignment.CUSTOM}, "migration.bandwidth.custom_value"),
        ({"fencing_connectivity_threshold": 101}, "fencing_policy.skip_if_connectivity_broken.threshold"),
    ],
)
def test_cluster_rules_name_the_element(changes: dict[str, Any], element: str) -> None:
    with pytest.raises(BadRequest) as err:
        o.check_cluster_options(o.ClusterOptions().changed(changes), "add")
    assert f"'{element}'" in err.value.message


def _fields_of(resource: Any, entity: Any) -> dict[str, Any]:
    return render_fields(resource.fields, entity)


def test_cluster_settings_read_back_as_they_were_set() -> None:
    settings = o.ClusterOptions(
        ballooning_enabled=True,
        ksm_merge_across_nodes=False,
        memory_over_commit=150,
        on_error=o.MigrateOnError.DO_NOT_MIGRATE,
        migration_bandwidth=o.BandwidthAssignment.CUSTOM,
        migration_bandwidth_custom=100,
        required_rng_sources=(o.RngSource.URANDOM, o.RngSource.HWRNG),
        switch_type=o.SwitchType.OVS,
        serial_policy=o.SerialNumberPolicy.HOST,
    )
    cluster = model.Cluster(name="c", data_center_id="dc", options=settings)
    _, tree = from_xml(to_xml("cluster", _fields_of(Clusters(), cluster)))
    assert o.ClusterOptions().changed(split_options(Clusters().parse(tree), o.ClusterOptions)) == settings
    assert tree["mac_pool"]["id"] and tree["scheduling_policy"]["id"] == o.SCHEDULING_NONE


def test_vm_settings_read_back_as_they_were_set() -> None:
    settings = o.VmOptions(
        cpu_sockets=2,
        cpu_cores=4,
        cpu_mode=o.CpuMode.HOST_MODEL,
        memory_guaranteed=GIB // 2,
        affinity=o.VmAffinity.PINNED,
        placement_hosts=("h1",),
        boot_devices=(o.BootDevice.NETWORK, o.BootDevice.HD),
        os_type="rhel_9x64",
        display_type=o.DisplayType.SPICE,
        time_zone="Europe/Prague",
    )
    vm = model.Vm(name="v", cluster_id="c", memory=GIB, options=settings)
    _, tree = from_xml(to_xml("vm", _fields_of(Vms(), vm)))
    assert tree["memory_policy"] == {"ballooning": "true", "guaranteed": str(GIB // 2), "max": str(4 * GIB)}
    assert tree["cpu"]["topology"] == {"cores": "4", "sockets": "2", "threads": "1"}
    parsed = Vms().parse(tree)
    assert parsed["placement_hosts"] == (Ref(id="h1"),)
    assert parsed["memory_max"] == 4 * GIB  # the derived default, shown and sent back explicitly
    for name in ("cpu_sockets", "cpu_cores", "cpu_mode", "memory_guaranteed", "affinity", "boot_devices"):
        assert parsed[name] == getattr(settings, name), name
    assert (parsed["os_type"], parsed["display_type"], parsed["time_zone"]) == (
        "rhel_9x64",
        o.DisplayType.SPICE,
        "Europe/Prague",
    )


def test_host_settings_and_no_power_management() -> None:
    host = model.Host(name="h", address="192.0.2.1", cluster_id="c", options=o.HostOptions(spm_priority=7))
    _, tree = from_xml(to_xml("host", _fields_of(Hosts(), host)))
    assert tree["power_management"]["enabled"] == "false" and tree["spm"] == {
        "priority": "7",
        "status": "none",
    }
    assert Hosts().parse(tree)["spm_priority"] == 7
    with pytest.raises(BadRequest) as err:
        Hosts().parse({"power_management": {"enabled": "true"}})
    assert "'power_management.enabled'" in err.value.message


def test_a_nested_element_of_the_wrong_shape_is_named() -> None:
    with pytest.raises(BadRequest) as err:
        Vms().parse({"cpu": {"topology": "big"}})
    assert "'cpu.topology'" in err.value.message
    with pytest.raises(BadRequest) as err:
        Clusters().parse({"ksm": {"enabled": "perhaps"}})
    assert "'ksm.enabled'" in err.value.message
    with pytest.raises(BadRequest) as err:
        Clusters().parse({"mac_pool": {"name": "Other"}})
    assert "'mac_pool'" in err.value.message


def test_stored_options_are_read_as_text_and_made_once_per_text() -> None:
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql

    from neutrino.engine.store import tables

    # PostgreSQL's driver would decode the JSON itself: the column is read as its text on every database
    assert "CAST(vms.options AS TEXT)" in str(
        sa.select(tables.vms.c.options).compile(dialect=postgresql.dialect())
    )
    read = tables.vms.c.options.type.result_processor(sa.create_engine("sqlite://").dialect, None)
    text = json.dumps(o.VmOptions(placement_hosts=("h1",)).to_json())
    first, again = read(text), read(json.dumps(json.loads(text)))
    assert first == o.VmOptions(placement_hosts=("h1",)) and again is first  # frozen: one value per text
    assert read(json.dumps(o.VmOptions().to_json())) == o.VmOptions()
    assert read({"placement_hosts": ["h2"]}) == o.VmOptions(placement_hosts=("h2",))  # already decoded
    assert read(None) == o.VmOptions()


def test_a_record_written_is_read_back_as_the_value_written() -> None:
    import sqlalchemy as sa

    from neutrino.engine.domain.provisioning import Provisioning
    from neutrino.engine.store import tables

    column_type = tables.vm_nics.c.provisioning.type
    dialect = sa.create_engine("sqlite://").dialect
    written = Provisioning().with_step("port created", "port p1", model.utcnow(), port_id="p1")
    data = column_type.process_bind_param(written, dialect)
    read = column_type.result_processor(dialect, None)
    assert read(json.dumps(data)) is written  # the text SQLite stores: nothing made anew
    assert read(json.dumps(data, indent=1)) == written  # another text of it: made, and equal
