"""Contract: the real openstacksdk, with Keystone v3 password auth, against `neutrino provider`."""

from __future__ import annotations

import os
from typing import Any

import pytest

if os.environ.get("CI") != "true":  # in CI nothing skips: the import below fails loudly instead
    pytest.importorskip("openstack", reason="openstacksdk is not installed (pip install -e .[test])")

from openstack import exceptions  # noqa: E402

from tests.e2e.provider.conftest import ProviderProcess, unique  # noqa: E402

# The SDK warns about its own future API changes; they are not this contract's business.
pytestmark = [
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


def test_networks(conn: Any) -> None:
    name = unique("net")
    net = conn.network.create_network(name=name, mtu=1400)
    assert net.name == name and net.mtu == 1400 and net.status == "ACTIVE"
    assert net.provider_network_type == "vxlan" and net.provider_segmentation_id
    assert conn.network.find_network(name).id == net.id
    assert [n.id for n in conn.network.networks(name=name)] == [net.id]
    vlan = conn.network.create_network(name=unique("vlan"), provider_network_type="vlan")
    assert vlan.provider_physical_network == "physnet1"
    updated = conn.network.update_network(net, name=name + "-x", admin_state_up=False)
    assert updated.name == name + "-x" and updated.is_admin_state_up is False
    conn.network.delete_network(net)
    conn.network.delete_network(vlan)
    with pytest.raises(exceptions.NotFoundException):
        conn.network.get_network(net.id)


def test_subnets(conn: Any) -> None:
    net = conn.network.create_network(name=unique("net"))
    sub = conn.network.create_subnet(
        network_id=net.id,
        ip_version=4,
        cidr="10.60.0.0/24",
        dns_nameservers=["10.0.0.53", "10.0.0.54"],
        allocation_pools=[{"start": "10.60.0.10", "end": "10.60.0.99"}],
    )
    assert sub.gateway_ip == "10.60.0.1" and sub.dns_nameservers == ["10.0.0.53", "10.0.0.54"]
    v6 = conn.network.create_subnet(
        network_id=net.id, ip_version=6, cidr="fd00:60::/64", ipv6_address_mode="slaac"
    )
    assert v6.allocation_pools == [{"start": "fd00:60::2", "end": "fd00:60::ffff:ffff:ffff:ffff"}]
    assert {s.id for s in conn.network.subnets(network_id=net.id)} == {sub.id, v6.id}
    assert conn.network.update_subnet(sub, name="renamed").name == "renamed"
    with pytest.raises(exceptions.BadRequestException, match="overlaps"):
        conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.60.0.0/16")
    conn.network.delete_subnet(v6)
    conn.network.delete_subnet(sub)
    conn.network.delete_network(net)


def test_ports(conn: Any) -> None:
    net = conn.network.create_network(name=unique("net"))
    sub = conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.61.0.0/24")
    port = conn.network.create_port(
        network_id=net.id, name="vnic", device_id="vm-1", device_owner="oVirt", binding_host_id="host-1"
    )
    assert port.fixed_ips == [{"subnet_id": sub.id, "ip_address": "10.61.0.2"}]
    assert port.binding_host_id == "host-1" and port.binding_vif_type == "bridge"
    fixed = conn.network.create_port(
        network_id=net.id, fixed_ips=[{"ip_address": "10.61.0.77"}], security_groups=[]
    )
    assert fixed.security_group_ids == []
    found = list(conn.network.ports(device_id="vm-1", device_owner="oVirt"))
    assert [p.id for p in found] == [port.id]
    assert [p.id for p in conn.network.ports(fixed_ips=["ip_address=10.61.0.77"])] == [fixed.id]
    assert conn.network.update_port(port, name="renamed").name == "renamed"

    with pytest.raises(exceptions.ConflictException, match="10.61.0.77"):
        conn.network.create_port(network_id=net.id, fixed_ips=[{"ip_address": "10.61.0.77"}])
    with pytest.raises(exceptions.ConflictException, match="mac address"):
        conn.network.create_port(network_id=net.id, mac_address=port.mac_address)
    with pytest.raises(exceptions.ConflictException):
        conn.network.delete_network(net)
    with pytest.raises(exceptions.ConflictException):
        conn.network.delete_subnet(sub)
    with pytest.raises(exceptions.BadRequestException, match="Unrecognized attribute"):
        conn.network.create_port(network_id=net.id, colour="red")

    conn.network.delete_port(port)
    conn.network.delete_port(fixed)
    conn.network.delete_network(net)


def test_security_groups(conn: Any) -> None:
    group = conn.network.create_security_group(name=unique("sg"), description="web")
    assert {r["direction"] for r in group.security_group_rules} == {"egress"}
    rule = conn.network.create_security_group_rule(
        security_group_id=group.id, direction="ingress", protocol="tcp", port_range_min=22, port_range_max=22,
        remote_ip_prefix="0.0.0.0/0",
    )  # fmt: skip
    assert rule.port_range_min == 22 and rule.ether_type == "IPv4"
    with pytest.raises(exceptions.ConflictException):
        conn.network.create_security_group_rule(
            security_group_id=group.id, direction="ingress", protocol="tcp", port_range_min=22, port_range_max=22,
            remote_ip_prefix="0.0.0.0/0",
        )  # fmt: skip
    rules = list(conn.network.security_group_rules(security_group_id=group.id, direction="ingress"))
    assert [r.id for r in rules] == [rule.id]
    defaults = [g for g in conn.network.security_groups(name="default") if g.project_id == group.project_id]
    assert len(defaults) == 1 and len(defaults[0].security_group_rules) == 4
    conn.network.delete_security_group_rule(rule)
    conn.network.delete_security_group(group)
    with pytest.raises(exceptions.NotFoundException):
        conn.network.get_security_group(group.id)


def test_pagination_is_followed(conn: Any) -> None:
    prefix = unique("page")
    ids = {conn.network.create_network(name=f"{prefix}-{i}").id for i in range(5)}
    listed = [n for n in conn.network.networks(limit=2, sort_key="name") if n.name.startswith(prefix)]
    assert {n.id for n in listed} == ids
    assert [n.name for n in listed] == sorted(n.name for n in listed)


def test_extensions(conn: Any) -> None:
    aliases = {e.alias for e in conn.network.extensions()}
    assert {"provider", "binding", "security-group", "port-security"} <= aliases


def test_project_user_sees_its_project_only(provider_process: ProviderProcess, conn: Any) -> None:
    name = unique("tenant")
    project = conn.identity.create_project(name=name, domain_id="default")
    created = conn.identity.create_user(
        name=name, password="pw", default_project_id=project.id, domain_id="default"
    )
    conn.identity.assign_project_role_to_user(project, created, conn.identity.find_role("member"))
    shared = conn.network.create_network(name=unique("shared"), is_shared=True)
    private = conn.network.create_network(name=unique("private"))
    user = provider_process.connect(name, "pw", name)
    try:
        visible = {n.id for n in user.network.networks()}
        assert shared.id in visible and private.id not in visible
        mine = user.network.create_network(name=unique("mine"))
        assert mine.project_id == project.id
        port = user.network.create_port(network_id=shared.id)
        assert port.project_id == project.id
        with pytest.raises(exceptions.ForbiddenException):
            user.network.create_network(name=unique("x"), provider_network_type="vlan")
        user.network.delete_port(port)
        user.network.delete_network(mine)
    finally:
        user.close()


def test_oversized_fields_are_refused_naming_them(conn: Any) -> None:
    """Neutron's limits through the SDK: 255 for a name, its max_dns_nameservers (5); 4,096 inside a field
    Neutron does not bound (binding:profile)."""
    with pytest.raises(
        exceptions.BadRequestException, match=r"Invalid input for name.*maximum length of 255"
    ):
        conn.network.create_network(name="n" * 256)
    net = conn.network.create_network(name="n" * 255)
    try:
        servers = [f"192.0.2.{i}" for i in range(6)]
        with pytest.raises(
            exceptions.BadRequestException, match="number of DNS nameservers exceeds the limit 5"
        ):
            conn.network.create_subnet(
                network_id=net.id, cidr="10.77.0.0/24", ip_version=4, dns_nameservers=servers
            )
        port = conn.network.create_port(network_id=net.id)
        with pytest.raises(exceptions.BadRequestException, match=r"binding:profile.*maximum length of 4096"):
            conn.network.update_port(port, binding_profile={"key": "x" * 4097})
        conn.network.delete_port(port)
    finally:
        conn.network.delete_network(net)
