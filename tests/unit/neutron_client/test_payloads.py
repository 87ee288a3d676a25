"""Typed requests: only what is set is sent, under Neutron's names."""

from __future__ import annotations

import pytest

from neutrino.neutron_client import (
    UNSET,
    AgentReport,
    FixedIpRequest,
    NetworkCreate,
    PortCreate,
    PortStatus,
    PortUpdate,
    SubnetCreate,
)


def test_a_port_create_sends_only_what_is_set() -> None:
    assert PortCreate("n1").to_json() == {"network_id": "n1"}
    body = PortCreate(
        "n1",
        name="dhcp-h1",
        device_owner="network:dhcp",
        device_id="dhcph1-n1",
        fixed_ips=(FixedIpRequest(subnet_id="s1"), FixedIpRequest("s2", "10.0.2.3")),
        host_id="h1",
        project_id="p1",
        security_groups=(),
    ).to_json()
    assert body == {
        "network_id": "n1",
        "name": "dhcp-h1",
        "device_owner": "network:dhcp",
        "device_id": "dhcph1-n1",
        "fixed_ips": [{"subnet_id": "s1"}, {"subnet_id": "s2", "ip_address": "10.0.2.3"}],
        "binding:host_id": "h1",
        "tenant_id": "p1",
        "security_groups": [],  # () is "no group", not "the default group"
    }


def test_a_port_update_sends_only_what_changes() -> None:
    assert PortUpdate().to_json() == {}
    assert PortUpdate(fixed_ips=(FixedIpRequest("s1", "10.0.0.2"),), host_id=UNSET).to_json() == {
        "fixed_ips": [{"subnet_id": "s1", "ip_address": "10.0.0.2"}]
    }
    assert PortUpdate(port_security_enabled=False).to_json() == {"port_security_enabled": False}


def test_a_list_field_given_a_string_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="PortCreate.security_groups: a tuple, not str"):
        PortCreate("n1", security_groups="g1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="PortUpdate.fixed_ips: a tuple, not list"):
        PortUpdate(fixed_ips=[FixedIpRequest("s1")])  # type: ignore[arg-type]


def test_networks_and_subnets() -> None:
    assert NetworkCreate("red", mtu=1400).to_json() == {"name": "red", "mtu": 1400}
    assert SubnetCreate("n1", "10.0.0.0/24", 4, gateway_ip=None).to_json() == {
        "network_id": "n1",
        "cidr": "10.0.0.0/24",
        "ip_version": 4,
        "gateway_ip": None,  # None is a value here: a subnet without a gateway
    }


def test_an_agent_report() -> None:
    report = AgentReport(
        "h1",
        "Linux bridge agent",
        {"tunneling_ip": "192.0.2.1", "tunnel_types": ["vxlan"]},
        (PortStatus("p1", "ACTIVE"), PortStatus("p2", "DOWN")),
        binary="neutrino-agent",
    )
    assert report.to_json() == {
        "host": "h1",
        "agent_type": "Linux bridge agent",
        "configurations": {"tunneling_ip": "192.0.2.1", "tunnel_types": ["vxlan"]},
        "ports": [{"id": "p1", "status": "ACTIVE"}, {"id": "p2", "status": "DOWN"}],
        "binary": "neutrino-agent",
    }
    assert "binary" not in AgentReport("h1", "t").to_json()
