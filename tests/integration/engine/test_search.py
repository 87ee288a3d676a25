"""oVirt searches compiled to SQL (store.search), on SQLite and PostgreSQL: fields, cross-entity terms,
operators, wildcards, case, sorting and paging, one statement each; and what is refused, with a 400 that says
why."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from neutrino.engine.bootstrap import Engine
from neutrino.engine.domain import model
from neutrino.engine.domain.errors import BadRequest
from neutrino.engine.domain.search import Selection, parse

MB = 1024 * 1024
NOW = datetime(2030, 5, 31, 12, 0, tzinfo=UTC)


@dataclass
class World:
    engine: Engine
    ids: dict[str, str]


def _add(uow: Any, repo: str, entity: Any, ids: dict[str, str], key: str | None = None) -> Any:
    getattr(uow, repo).add(entity)
    ids[key or entity.name] = entity.id
    return entity


@pytest.fixture(scope="module")
def world(shared_engine: Engine) -> Iterator[World]:
    """Two data centers (s-dc-a: clusters s-a1, s-a2; s-dc-b: s-b1), hosts, a provider, networks, templates,
    VMs and events, written straight to the store."""
    ids: dict[str, str] = {}
    with shared_engine.ctx.uow() as uow:
        dc_a = _add(
            uow, "datacenters", model.DataCenter(name="s-dc-a", status=model.DataCenterStatus.UP), ids
        )
        dc_b = _add(uow, "datacenters", model.DataCenter(name="s-dc-b", local=True, version_minor=6), ids)
        uow.flush()
        a1 = _add(
            uow, "clusters", model.Cluster(name="s-a1", data_center_id=dc_a.id, cpu_type="Skylake"), ids
        )
        a2 = _add(uow, "clusters", model.Cluster(name="s-a2", data_center_id=dc_a.id), ids)
        b1 = _add(uow, "clusters", model.Cluster(name="s-b1", data_center_id=dc_b.id), ids)
        uow.flush()
        h1 = _add(
            uow,
            "hosts",
            model.Host(name="s-h1", address="10.9.0.1", cluster_id=a1.id, status=model.HostStatus.UP),
            ids,
        )
        _add(uow, "hosts", model.Host(name="s-h2", address="10.9.0.2", cluster_id=b1.id), ids)
        prov = _add(uow, "providers", model.ExternalProvider(name="s-prov", url="http://p:9696"), ids)
        uow.flush()
        net_a = _add(
            uow, "networks", model.Network(name="s-net", data_center_id=dc_a.id, vlan_id=10), ids, "s-net@a"
        )
        _add(uow, "networks", model.Network(name="s-net", data_center_id=dc_b.id, mtu=1400), ids, "s-net@b")
        _add(uow, "networks", model.Network(name="s-ext", data_center_id=dc_a.id, provider_id=prov.id), ids)
        _add(
            uow,
            "networks",
            model.Network(name="s-mig", data_center_id=dc_a.id, usages=["migration"], stp=True),
            ids,
        )
        uow.flush()
        for cluster in (a1, a2):
            uow.attachments.add(model.NetworkAttachment(network_id=net_a.id, cluster_id=cluster.id))
        prof = _add(uow, "profiles", model.VnicProfile(name="s-prof", network_id=net_a.id), ids)
        tpl = _add(uow, "templates", model.Template(name="s-tpl", cluster_id=a1.id, memory=512 * MB), ids)
        uow.flush()
        vms = [
            model.Vm(
                name="s-vm-1",
                cluster_id=a1.id,
                template_id=tpl.id,
                memory=1024 * MB,
                status=model.VmStatus.UP,
                host_id=h1.id,
                creation_time=NOW,
            ),
            model.Vm(
                name="s-vm-2", cluster_id=a2.id, memory=2048 * MB, creation_time=NOW - timedelta(days=1)
            ),
            model.Vm(
                name="s-vm-3",
                cluster_id=b1.id,
                memory=4096 * MB,
                description="the web one",
                creation_time=NOW - timedelta(days=2),
            ),
            model.Vm(name="s_odd%", cluster_id=b1.id, creation_time=NOW),
            model.Vm(name="sXoddY", cluster_id=b1.id, creation_time=NOW),
            model.Vm(name="S-VM-UPPER", cluster_id=b1.id, creation_time=NOW),
        ]
        for vm in vms:
            _add(uow, "vms", vm, ids)
        uow.flush()
        uow.nics.add(
            model.VmNic(name="nic1", vm_id=ids["s-vm-1"], mac="56:6f:00:00:10:01", vnic_profile_id=prof.id)
        )
        for i, (severity, code, vm) in enumerate(
            [
                (model.EventSeverity.NORMAL, 30, None),
                (model.EventSeverity.WARNING, 1149, "s-vm-1"),
                (model.EventSeverity.ERROR, 54, "s-vm-2"),
                (model.EventSeverity.ALERT, 9000, None),
            ]
        ):
            uow.events.add(
                model.Event(
                    description=f"s-event {i}",
                    code=code,
                    severity=severity,
                    time=NOW + timedelta(minutes=i),
                    vm_id=ids[vm] if vm else None,
                    vm_name=vm,
                    user_name="admin@internal" if i == 0 else None,
                )
            )
        uow.commit()
    yield World(shared_engine, ids)


def search(world: World, repo: str, text: str, *, case: bool = True, **kw: Any) -> list[str]:
    """The names (an event: its description) a search finds, in its order."""
    with world.engine.ctx.reader() as uow:
        found = getattr(uow, repo).search(parse(text), case_sensitive=case, **kw)
        return [getattr(e, "name", None) or e.description for e in found]


def ours(names: list[str]) -> list[str]:
    """The test's own entities (the shared engine holds the Default ones too)."""
    return [n for n in names if n.lower().startswith(("s-", "s_", "sx", "blank"))]


# --- cross-entity terms, as the clients send them -------------------------------------------------------


def test_data_centers_by_their_clusters(world: World) -> None:
    assert search(world, "datacenters", "Clusters.name=s-b1") == ["s-dc-b"]
    assert search(world, "datacenters", "cluster.name=s-a*") == ["s-dc-a"]  # two clusters match: listed once
    assert search(world, "datacenters", "Clusters.name=nothing") == []
    assert search(world, "datacenters", "networks.name=s-net") == ["s-dc-a", "s-dc-b"]


def test_templates_by_data_center_and_by_vm(world: World) -> None:
    # ovirt_vm: the template to create from, in the cluster's data center; Blank is in every data center
    assert search(world, "templates", "name=Blank and datacenter=s-dc-a") == ["Blank"]
    assert ours(search(world, "templates", "datacenter=s-dc-a")) == ["Blank", "s-tpl"]
    assert ours(search(world, "templates", "datacenter=s-dc-b")) == ["Blank"]
    assert search(world, "templates", "datacenter=no-such-dc") == []
    # ovirt_vm on an existing VM: which template it came from
    assert search(world, "templates", "vm.name=s-vm-1") == ["s-tpl"]
    assert search(world, "templates", "Vms.name=s-vm-2") == ["Blank"]


def test_vms_by_cluster_data_center_host_and_template(world: World) -> None:
    assert search(world, "vms", "cluster=s-a1") == ["s-vm-1"]
    assert search(world, "vms", "datacenter=s-dc-a") == ["s-vm-1", "s-vm-2"]
    assert search(world, "vms", "Datacenters.name=s-dc-a") == ["s-vm-1", "s-vm-2"]
    assert search(world, "vms", "host=s-h1") == ["s-vm-1"]
    assert search(world, "vms", "Hosts.address=10.9.0.*") == ["s-vm-1"]
    assert search(world, "vms", "template=s-tpl") == ["s-vm-1"]
    assert search(world, "vms", "vnic.mac=56:6f:00:00:10:01") == ["s-vm-1"]


def test_hosts_and_networks_and_profiles(world: World) -> None:
    assert search(world, "hosts", "cluster=s-a1") == ["s-h1"]
    assert search(world, "hosts", "datacenter=s-dc-b") == ["s-h2"]
    assert search(world, "hosts", "vms.name=s-vm-1") == ["s-h1"]
    assert search(world, "hosts", "status=up and name=s-*") == ["s-h1"]
    assert search(world, "networks", "datacenter=s-dc-a and name=s-*") == ["s-ext", "s-mig", "s-net"]
    assert search(world, "networks", "cluster=s-a2") == ["s-net"]  # attached to two clusters: once
    assert search(world, "networks", "Clusters.name=s-a*") == ["s-net"]
    assert search(world, "networks", "provider=s-prov") == ["s-ext"]
    assert search(world, "networks", "external_provider.name=s-prov") == ["s-ext"]
    assert search(world, "networks", "vlanid=10") == ["s-net"]
    assert search(world, "networks", "vlanid>=5 or mtu=1400") == ["s-net", "s-net"]
    assert search(world, "networks", "vmnetwork=false and stp=true") == ["s-mig"]
    assert search(world, "profiles", "network_name=s-net and datacenter=s-dc-a") == ["s-prof"]
    assert search(world, "providers", "url=http://p:*") == ["s-prov"]
    assert search(world, "clusters", "datacenter=s-dc-a") == ["s-a1", "s-a2"]
    assert search(world, "clusters", "cpu_type=Sky*") == ["s-a1"]
    assert search(world, "datacenters", "local=true and compatibility_version=4.6") == ["s-dc-b"]


# --- operators, values, wildcards, case -----------------------------------------------------------------


def test_and_or_and_negation(world: World) -> None:
    assert search(world, "vms", "name=s-vm-* and cluster=s-a2 or name=s-vm-3") == ["s-vm-2", "s-vm-3"]
    assert sorted(search(world, "vms", "cluster=s-b1 and name!=s-vm-3 and name!=S*")) == ["sXoddY", "s_odd%"]
    assert ours(search(world, "vms", "status!=down")) == ["s-vm-1"]
    assert search(world, "vms", "description=null and cluster=s-a*") == ["s-vm-1", "s-vm-2"]
    assert search(world, "vms", "description!=null") == ["s-vm-3"]


def test_numbers_dates_and_ordered_enums(world: World) -> None:
    assert search(world, "vms", "memory>=2048 and name=s-*") == ["s-vm-2", "s-vm-3"]  # in MB, as oVirt
    assert search(world, "vms", "memory<2048 and cluster=s-a*") == ["s-vm-1"]
    assert search(world, "vms", "memory=4096") == ["s-vm-3"]
    assert search(world, "vms", "creationdate=2030-05-30 and name=s-*") == ["s-vm-2"]  # that whole day
    assert search(world, "vms", "creationdate<2030-05-30 and name=s-*") == ["s-vm-3"]
    assert search(world, "vms", "creationdate>2030-05-30 and name=s-vm*") == ["s-vm-1"]
    assert search(world, "vms", "creationdate>2030-05-31T11:00 and name=s-vm*") == ["s-vm-1"]
    assert search(world, "events", "severity>=error and message=s-event*") == ["s-event 3", "s-event 2"]
    assert search(world, "events", "severity<warning and message=s-*") == ["s-event 0"]
    assert search(world, "events", "severity!=normal and message=s-*") == [
        "s-event 3",
        "s-event 2",
        "s-event 1",
    ]


def test_only_star_is_a_wildcard(world: World) -> None:
    assert search(world, "vms", "name=s_odd%") == ["s_odd%"]  # _ and % match themselves
    assert search(world, "vms", "name=s_*") == ["s_odd%"]
    assert search(world, "vms", "name=*odd?") == []  # ? too
    assert sorted(search(world, "vms", "name=s*odd*")) == ["sXoddY", "s_odd%"]


def test_case_sensitivity(world: World) -> None:
    assert search(world, "vms", "name=S-VM-1") == []
    assert search(world, "vms", "name=S-VM-1", case=False) == ["s-vm-1"]
    assert search(world, "vms", "name=s-vm-u*") == []
    assert search(world, "vms", "name=s-vm-u*", case=False) == ["S-VM-UPPER"]
    assert search(world, "vms", "status=UP and name=s-*") == ["s-vm-1"]  # an enum's value, any case


def test_free_text(world: World) -> None:
    assert search(world, "vms", "web") == ["s-vm-3"]  # in its description
    assert sorted(ours(search(world, "vms", "s-b1"))) == [
        "S-VM-UPPER",
        "s-vm-3",
        "sXoddY",
        "s_odd%",
    ]  # its cluster
    assert search(world, "datacenters", "Clusters=s-b*") == ["s-dc-b"]  # free text on an object


def test_events_by_entity_and_type(world: World) -> None:
    assert search(world, "events", "vm.name=s-vm-1") == ["s-event 1"]
    assert search(world, "events", "event_vm=s-vm-2") == ["s-event 2"]
    assert search(world, "events", "type=54 or type=9000") == ["s-event 3", "s-event 2"]
    assert search(world, "events", "usrname=admin@internal and message=s-*") == ["s-event 0"]


# --- sorting and paging ---------------------------------------------------------------------------------


def test_sort_by_a_field_then_by_the_default_order(world: World) -> None:
    assert search(world, "vms", "name=s-vm-* sortby memory desc") == ["s-vm-3", "s-vm-2", "s-vm-1"]
    assert search(world, "vms", "name=s-vm-* sortby name desc") == ["s-vm-3", "s-vm-2", "s-vm-1"]
    assert search(world, "vms", "name=s-vm-* sortby cluster") == ["s-vm-1", "s-vm-2", "s-vm-3"]
    # every template is its base version: by version, then by name
    assert ours(search(world, "templates", "sortby version.version_number desc")) == ["Blank", "s-tpl"]
    # networks: by data center, then name (oVirt's default)
    assert search(world, "networks", "name=s-net or name=s-ext") == ["s-ext", "s-net", "s-net"]


def test_pages(world: World) -> None:
    assert search(world, "vms", "name=s-vm-*", size=2) == ["s-vm-1", "s-vm-2"]
    assert search(world, "vms", "name=s-vm-* page 2", size=2, page=2) == ["s-vm-3"]
    assert search(world, "vms", "name=s-vm-*", size=2, page=3) == []
    assert search(world, "events", "message=s-*", size=1) == ["s-event 3"]  # newest first


def test_scope_and_newer_than(world: World) -> None:
    dc_a = world.ids["s-dc-a"]
    assert search(world, "clusters", "", filters={"data_center_id": dc_a}) == ["s-a1", "s-a2"]
    assert search(world, "clusters", "name=*2", filters={"data_center_id": dc_a}) == ["s-a2"]
    with world.engine.ctx.reader() as uow:
        ours_ = [e for e in uow.events.search(parse("message=s-*")) if e.description.startswith("s-event")]
        middle = sorted(e.id for e in ours_)[1]
    assert search(world, "events", "message=s-*", after_id=middle) == ["s-event 3", "s-event 2"]


def test_a_search_is_one_statement_whatever_it_joins(world: World) -> None:
    selects: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    sa.event.listen(world.engine.read_db, "before_cursor_execute", seen)
    try:
        with world.engine.ctx.reader() as uow:
            uow.datacenters.search(parse("Clusters.name=s-* or networks.name=s-* sortby name desc"), size=5)
            uow.vms.search(parse("datacenter=s-dc-a and host.name=s-h1 sortby cluster"), size=5, page=2)
    finally:
        sa.event.remove(world.engine.read_db, "before_cursor_execute", seen)
    assert len(selects) == 2


# --- refused ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("repo", "text", "says"),
    [
        ("vms", "colour=red", "unknown field 'colour' (known: cluster, comment, creationdate, datacenter,"),
        ("vms", "colour=red", "; or object.field, the objects being cluster, clusters, datacenter,"),
        (
            "datacenters",
            "Clusters.colour=x",
            "unknown field 'clusters.colour' (known for cluster: architecture,",
        ),
        (
            "datacenters",
            "hosts.name=x",
            "unknown field 'hosts.name': 'hosts' is not an object datacenters can",
        ),
        ("vms", "memory=lots", "'lots' is not a number (memory)"),
        ("vms", "name>a", "'name' is text: it takes = or != (not >)"),
        ("vms", "status=sleeping", "'sleeping' is not a value of 'status' (one of: down, up,"),
        ("vms", "status>up", "'status' takes = or != (not >)"),
        ("networks", "stp=maybe", "'maybe' is not a boolean (stp: true or false)"),
        ("vms", "creationdate>soon", "'soon' is not a date (creationdate"),
        ("vms", "sortby colour", "cannot sort by 'colour' (sortable: cluster, comment,"),
        ("datacenters", "sortby clusters", "cannot sort by 'clusters'"),
        ("datacenters", "clusters>x", "free text 'x' takes no operator"),
    ],
)
def test_refused_with_what_is_wrong(world: World, repo: str, text: str, says: str) -> None:
    with pytest.raises(BadRequest, match="Invalid value for 'search'") as err:
        search(world, repo, text)
    assert says in err.value.message


def test_the_nics_of_a_selection_of_vms(world: World) -> None:
    """`follow=nics`: the NICs of the VMs listed (searched, paged), read with the list's own selection."""

    def nics_of(text: str, **scope: Any) -> list[str]:
        with world.engine.ctx.reader() as uow:
            return [n.vm_id for n in uow.nics.of_vms(Selection(parse(text), **scope))]

    assert nics_of("name=s-vm-*") == [world.ids["s-vm-1"]]
    assert nics_of("name=s-vm-*", size=1) == [world.ids["s-vm-1"]]
    assert nics_of("name=s-vm-* page 2", size=1, page=2) == []
    assert nics_of("cluster=s-b1") == []
