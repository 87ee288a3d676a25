"""Contract: the real openstacksdk against `neutrino provider` for Neutron's extensions of issue 18
(standard-attr-tag, tag-ports-during-bulk-creation, revision-if-match, port-security,
allowed-address-pairs), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from typing import Any

import pytest

if os.environ.get("CI") != "true":  # in CI nothing skips: the import below fails loudly instead
    pytest.importorskip("openstack", reason="openstacksdk is not installed (pip install -e .[test])")

from openstack import exceptions  # noqa: E402

from tests.e2e.provider.conftest import unique  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


def test_the_extensions_are_discovered(conn: Any) -> None:
    aliases = {e.alias for e in conn.network.extensions()}
    assert {"standard-attr-tag", "tag-ports-during-bulk-creation", "revision-if-match"} <= aliases
    assert {"port-security", "allowed-address-pairs"} <= aliases


def test_tags(conn: Any) -> None:
    mark = unique("mark")
    net = conn.network.create_network(name=unique("net"))
    first = net.revision_number
    conn.network.set_tags(net, [mark, "red"])
    assert sorted(conn.network.get_network(net.id).tags) == sorted([mark, "red"])
    conn.network.add_tag(net, "blue")
    conn.network.add_tags(net, ["green", "red"])
    assert conn.network.check_tag(net, "blue")
    conn.network.remove_tag(net, "red")
    got = conn.network.get_network(net.id)
    assert got.tags == sorted([mark, "blue", "green"]) and got.revision_number == first + 4
    ports = [conn.network.create_port(network_id=net.id, tags=[mark, colour]) for colour in ("x", "y")]
    assert [p.tags for p in ports] == [sorted([mark, "x"]), sorted([mark, "y"])]
    assert {p.id for p in conn.network.ports(tags=f"{mark},x")} == {ports[0].id}
    assert {p.id for p in conn.network.ports(any_tags="x,y", tags=mark)} == {p.id for p in ports}
    assert {p.id for p in conn.network.ports(not_tags="x", tags=mark)} == {ports[1].id}
    assert {p.id for p in conn.network.ports(not_any_tags="x,y", tags=mark)} == set()
    assert [n.id for n in conn.network.networks(tags=mark)] == [net.id]
    with pytest.raises(exceptions.BadRequestException, match="Duplicate items in the list: 'a'"):
        conn.network.set_tags(net, ["a", "a"])
    with pytest.raises(exceptions.BadRequestException, match="exceeds the maximum 50"):
        conn.network.set_tags(net, [f"t{i}" for i in range(51)])
    with pytest.raises(exceptions.BadRequestException, match="exceeds maximum length of 255"):
        conn.network.add_tag(net, "z" * 256)
    assert conn.network.get_network(net.id).tags == sorted([mark, "blue", "green"])  # nothing changed
    conn.network.remove_all_tags(net)
    assert conn.network.get_network(net.id).tags == []
    for port in ports:
        conn.network.delete_port(port)
    conn.network.delete_network(net)


def test_if_revision(conn: Any) -> None:
    net = conn.network.create_network(name=unique("net"))
    first = net.revision_number
    updated = conn.network.update_network(net, name=unique("renamed"), if_revision=first)
    assert updated.revision_number == first + 1
    with pytest.raises(exceptions.PreconditionFailedException, match="Constrained to"):
        conn.network.update_network(net.id, name="stale", if_revision=first)
    with pytest.raises(exceptions.PreconditionFailedException):
        conn.network.delete_network(net.id, if_revision=first)
    assert conn.network.get_network(net.id).name == updated.name
    group = conn.network.create_security_group(name=unique("sg"))
    before = group.revision_number
    conn.network.create_security_group_rule(security_group_id=group.id, direction="ingress", protocol="tcp")
    assert conn.network.get_security_group(group.id).revision_number == before + 1
    conn.network.delete_security_group(group)
    conn.network.delete_network(net, if_revision=updated.revision_number)


def test_port_security_and_allowed_address_pairs(conn: Any) -> None:
    net = conn.network.create_network(name=unique("net"), port_security_enabled=False)
    conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.70.0.0/24")
    open_port = conn.network.create_port(network_id=net.id)
    assert open_port.is_port_security_enabled is False and open_port.security_group_ids == []
    vip = conn.network.create_port(
        network_id=net.id, port_security_enabled=True, allowed_address_pairs=[{"ip_address": "10.70.0.250"}]
    )
    pairs = [{"ip_address": "10.70.0.250", "mac_address": vip.mac_address}]
    assert vip.allowed_address_pairs == pairs
    with pytest.raises(exceptions.ConflictException, match="Port Security must be enabled"):
        conn.network.update_port(vip.id, port_security_enabled=False, security_group_ids=[])
    with pytest.raises(exceptions.BadRequestException, match="'10.70.0.0/33' is not a valid IP subnet"):
        conn.network.update_port(vip.id, allowed_address_pairs=[{"ip_address": "10.70.0.0/33"}])
    with pytest.raises(exceptions.BadRequestException, match="duplicate address pair"):
        conn.network.update_port(vip.id, allowed_address_pairs=[{"ip_address": "10.70.0.9"}] * 2)
    assert conn.network.get_port(vip.id).allowed_address_pairs == pairs
    updated = conn.network.update_port(
        vip.id, port_security_enabled=False, security_group_ids=[], allowed_address_pairs=[]
    )
    assert updated.is_port_security_enabled is False and updated.allowed_address_pairs == []
    for port in (open_port, vip):
        conn.network.delete_port(port)
    conn.network.delete_network(net)


def test_quotas(conn: Any) -> None:
    project = conn.identity.create_project(name=unique("quota"))
    assert {"quotas", "quota_details"} <= {e.alias for e in conn.network.extensions()}
    assert conn.network.get_quota_default(project.id).networks == -1
    updated = conn.network.update_quota(project.id, networks=1, ports=3)
    assert updated.networks == 1 and updated.ports == 3
    conn.network.create_network(name=unique("q"), project_id=project.id)
    with pytest.raises(exceptions.ConflictException, match=r"Quota exceeded for resources: \['network'\]"):
        conn.network.create_network(name=unique("q"), project_id=project.id)
    details = conn.network.get_quota(project.id, details=True)
    assert details.networks == {"limit": 1, "used": 1, "reserved": 0}
    assert project.id in {q.project_id for q in conn.network.quotas()}
    with pytest.raises(
        exceptions.BadRequestException, match="must be greater than or equal to already used 1"
    ):
        conn.network.update_quota(project.id, networks=0)
    conn.network.delete_quota(project.id)
    assert conn.network.get_quota(project.id).networks == -1


def test_rbac_policies(conn: Any) -> None:
    project = conn.identity.create_project(name=unique("rbac"))
    net = conn.network.create_network(name=unique("rbac"))
    policy = conn.network.create_rbac_policy(
        object_type="network", object_id=net.id, action="access_as_shared", target_project_id=project.id
    )
    assert policy.target_project_id == project.id and policy.action == "access_as_shared"
    assert [p.id for p in conn.network.rbac_policies(object_id=net.id)] == [policy.id]
    assert conn.network.get_rbac_policy(policy.id).object_id == net.id
    conn.network.update_rbac_policy(policy, target_project_id="*")
    assert conn.network.get_network(net.id).is_shared is True
    with pytest.raises(exceptions.ConflictException, match="already exists"):
        conn.network.create_rbac_policy(
            object_type="network", object_id=net.id, action="access_as_shared", target_project_id="*"
        )
    conn.network.delete_rbac_policy(policy)
    assert conn.network.get_network(net.id).is_shared is False
    with pytest.raises(exceptions.NotFoundException):
        conn.network.get_rbac_policy(policy.id)
    conn.network.delete_network(net)
