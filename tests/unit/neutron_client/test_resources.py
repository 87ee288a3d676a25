"""Reading Neutron's JSON: lenient where a guess is harmless, strict where it would widen a rule."""

from __future__ import annotations

import dataclasses

import pytest

from neutrino.neutron_client import (
    AddressPair,
    FixedIp,
    Network,
    NetworkAgent,
    Port,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
)

# A network as a real Neutron (Queens, ML2/OVS) returns it: no `mtu`, no `project_id`, no port security
QUEENS_NETWORK = {
    "admin_state_up": True,
    "availability_zones": ["nova"],
    "id": "9d83c053-b0a4-4682-ae80-c00df269ce0a",
    "l2_adjacency": True,
    "name": "public-net",
    "provider:network_type": "vlan",
    "provider:physical_network": "physnet1",
    "provider:segmentation_id": 101,
    "router:external": False,
    "shared": False,
    "status": "ACTIVE",
    "subnets": ["54d6f61d-db07-451c-9ab3-b9609b6b6f0b"],
    "tenant_id": "4fd44f30292945e481c7b8a0c8908869",
}


def test_a_network_of_an_old_neutron() -> None:
    net = Network.from_json(QUEENS_NETWORK)
    assert net.mtu is None and net.port_security_enabled is None
    assert net.project_id == QUEENS_NETWORK["tenant_id"]
    assert (net.network_type, net.physical_network, net.segmentation_id) == ("vlan", "physnet1", 101)
    assert net.subnet_ids == ("54d6f61d-db07-451c-9ab3-b9609b6b6f0b",)


def test_values_of_the_wrong_type_read_as_absent() -> None:
    net = Network.from_json({"id": "n", "name": None, "mtu": "jumbo", "provider:segmentation_id": True})
    assert (net.name, net.mtu, net.segmentation_id) == ("", None, None)
    assert Network.from_json({"id": "n", "mtu": "1450"}).mtu == 1450


def test_a_port_with_binding_objects_pairs_and_an_upper_case_mac() -> None:
    port = Port.from_json(
        {
            "id": "p1",
            "network_id": "n1",
            "mac_address": "FA:16:3E:00:00:01",
            "fixed_ips": [{"subnet_id": "s1", "ip_address": "10.0.0.5"}, "junk"],
            "allowed_address_pairs": [{"ip_address": "10.0.0.0/24"}, {"mac_address": "no ip"}],
            "binding:host_id": "",
            "binding:vif_details": {"ovs_hybrid_plug": True},
            "port_security_enabled": False,
            "security_groups": ["g1"],
            "new_in_2030": {"ignored": True},
        }
    )
    assert port.mac_address == "fa:16:3e:00:00:01"
    assert port.fixed_ips == (FixedIp("s1", "10.0.0.5"),) and port.fixed_ips[0].ip_address == "10.0.0.5"
    assert port.allowed_address_pairs == (AddressPair("10.0.0.0/24"),)
    assert port.host_id is None  # "" is unbound
    assert port.vif_details == {"ovs_hybrid_plug": True}
    assert port.port_security_enabled is False and port.security_groups == ("g1",)
    # some Neutrons send vif_details as a JSON string: not guessed at
    assert Port.from_json({"id": "p", "binding:vif_details": '{"a": 1}'}).vif_details == {}
    hash(port)  # frozen and hashable, dict fields aside


def test_an_ipv6_subnet_and_defaults() -> None:
    sub = Subnet.from_json(
        {
            "id": "s6",
            "network_id": "n1",
            "cidr": "2001:db8::/64",
            "ip_version": 6,
            "ipv6_ra_mode": "slaac",
            "ipv6_address_mode": "slaac",
            "created_at": "2026-01-01T00:00:00Z",
        }
    )
    assert (sub.ip_version, sub.ipv6_ra_mode, sub.ipv6_address_mode) == (6, "slaac", "slaac")
    assert sub.enable_dhcp is True and sub.gateway_ip is None and sub.created_at == "2026-01-01T00:00:00Z"
    v4 = Subnet.from_json(
        {"id": "s4", "cidr": "10.0.0.0/24", "enable_dhcp": False, "dns_nameservers": ["9.9.9.9"]}
    )
    assert (v4.ip_version, v4.enable_dhcp, v4.dns_nameservers) == (4, False, ("9.9.9.9",))


RULE = {
    "id": "r1",
    "security_group_id": "g1",
    "direction": "ingress",
    "ethertype": "IPv4",
    "protocol": "tcp",
    "port_range_min": 22,
    "port_range_max": 22,
    "remote_ip_prefix": None,
    "remote_group_id": None,
}


def test_groups_with_and_without_inline_rules() -> None:
    inline = SecurityGroup.from_json({"id": "g1", "name": "web", "security_group_rules": [RULE]})
    assert inline.rules == (SecurityGroupRule.from_json(RULE),)
    assert inline.rules[0].port_range_min == 22 and inline.rules[0].remote_address_group_id is None
    assert SecurityGroup.from_json({"id": "g1", "name": "web"}).rules is None
    assert SecurityGroup.from_json({"id": "g1", "security_group_rules": []}).rules == ()


def test_rule_values_are_kept_as_neutron_gives_them() -> None:
    rule = SecurityGroupRule.from_json(
        {**RULE, "protocol": 6, "port_range_min": "80", "port_range_max": None}
    )
    assert (rule.protocol, rule.port_range_min, rule.port_range_max) == ("6", 80, None)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"port_range_min": "eighty"}, "port_range_min"),
        ({"port_range_max": 22.5}, "port_range_max"),
        ({"protocol": ["tcp"]}, "protocol"),
        ({"remote_ip_prefix": {"cidr": "10.0.0.0/8"}}, "remote_ip_prefix"),
        ({"direction": None}, "direction"),
    ],
)
def test_a_rule_that_cannot_be_read_is_refused_not_widened(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=f"rule r1: .*'{field}'"):
        SecurityGroupRule.from_json({**RULE, **change})
    with pytest.raises(ValueError, match=field):
        SecurityGroup.from_json({"id": "g1", "security_group_rules": [{**RULE, **change}]})


def test_an_agent_and_its_tunnel_configuration() -> None:
    agent = NetworkAgent.from_json(
        {
            "id": "a1",
            "host": "h1",
            "agent_type": "Linux bridge agent",
            "alive": True,
            "binary": "neutrino-agent",
            "configurations": {"tunneling_ip": "192.0.2.7", "tunnel_types": ["vxlan"], "devices": 2},
            "heartbeat_timestamp": "2026-01-01 00:00:00",
        }
    )
    assert (agent.host, agent.alive, agent.admin_state_up) == ("h1", True, True)
    assert agent.tunneling_ip == "192.0.2.7" and agent.tunnel_types == ("vxlan",)
    bare = NetworkAgent.from_json({"host": "h2", "agent_type": "Open vSwitch agent"})
    assert bare.alive is False and bare.tunneling_ip is None and bare.tunnel_types == ()


def test_resources_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Network.from_json(QUEENS_NETWORK).name = "x"  # type: ignore[misc]
