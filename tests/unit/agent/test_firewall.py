"""Security groups rendered as iptables rules, and applied through the in-memory host."""

from __future__ import annotations

from typing import Any

import pytest

from neutrino.agent.datapath import linux_net
from neutrino.agent.datapath.firewall import Firewall, PortFilter, UnknownSecurityGroup, render, rule_matches
from neutrino.agent.datapath.memory import MemoryNet
from neutrino.agent.vnic.base import DriverContext, Vif, VnicDriverError
from neutrino.agent.vnic.linux_bridge import LinuxBridgeDriver
from neutrino.agent_api.schema import ExternalNet, SecurityGroupRule, SecurityGroupSpec

from .helpers import ext_nic

WEB = SecurityGroupSpec(
    rules=[
        SecurityGroupRule(direction="ingress", protocol="tcp", port_range_min=80, port_range_max=80),
        SecurityGroupRule(direction="ingress", protocol="icmp", remote_ip_prefix="10.0.0.0/24"),
        SecurityGroupRule(direction="ingress", protocol="tcp", port_range_min=22, remote_group_id="admins"),
        SecurityGroupRule(direction="egress"),
        SecurityGroupRule(direction="ingress", ethertype="IPv6"),
    ]
)
ADMINS = SecurityGroupSpec(member_ips=["10.0.0.7", "10.0.0.5"])


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"direction": "ingress", "protocol": "tcp", "port_range_min": 80, "port_range_max": 90},
         [["-p", "tcp", "-m", "tcp", "--dport", "80:90"]]),
        ({"direction": "ingress", "protocol": "17", "port_range_min": 53, "port_range_max": 53},
         [["-p", "udp", "-m", "udp", "--dport", "53"]]),
        ({"direction": "ingress", "protocol": "icmp", "port_range_min": 8, "port_range_max": 0},
         [["-p", "icmp", "-m", "icmp", "--icmp-type", "8/0"]]),
        ({"direction": "egress", "remote_ip_prefix": "192.0.2.0/24"}, [["-d", "192.0.2.0/24"]]),
        ({"direction": "ingress", "remote_ip_prefix": "0.0.0.0/0"}, [[]]),
        ({"direction": "ingress", "remote_group_id": "admins"}, [["-s", "10.0.0.5"], ["-s", "10.0.0.7"]]),
        ({"direction": "ingress", "remote_group_id": "nobody"}, []),
        ({"direction": "ingress", "ethertype": "IPv6"}, []),
    ],
)  # fmt: skip
def test_rule_matches(rule: dict[str, Any], expected: list[list[str]]) -> None:
    assert rule_matches(SecurityGroupRule.model_validate(rule), {"admins": ADMINS}) == expected


def test_provider_json_for_a_rule_is_accepted_as_is() -> None:
    rule = SecurityGroupRule.model_validate(
        {"id": "r1", "tenant_id": "t", "security_group_id": "g", "direction": "egress", "ethertype": "IPv4",
         "protocol": None, "port_range_min": None, "port_range_max": None, "remote_ip_prefix": None,
         "remote_group_id": None}
    )  # fmt: skip
    assert rule.direction == "egress"


def test_rendered_chains_return_what_is_allowed_and_drop_the_rest() -> None:
    port = PortFilter("tapabc", "56:6f:1a:2b:3c:01", ("web",))
    lines, digest = render([port], {"web": WEB, "admins": ADMINS})
    ingress = [line for line in lines if line.startswith("-A nsg-iabc ")]
    assert ingress == [
        "-A nsg-iabc -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
        "-A nsg-iabc -m conntrack --ctstate INVALID -j DROP",
        "-A nsg-iabc -p udp -m udp --sport 67 --dport 68 -j RETURN",
        "-A nsg-iabc -p tcp -m tcp --dport 80 -j RETURN",
        "-A nsg-iabc -p icmp -s 10.0.0.0/24 -j RETURN",
        "-A nsg-iabc -p tcp -m tcp --dport 22 -s 10.0.0.5 -j RETURN",
        "-A nsg-iabc -p tcp -m tcp --dport 22 -s 10.0.0.7 -j RETURN",
        "-A nsg-iabc -j DROP",
    ]
    assert "-A nsg-oabc -m mac ! --mac-source 56:6f:1a:2b:3c:01 -j DROP" in lines
    assert "-A nsg-oabc -j RETURN" in lines
    assert render([port], {"web": WEB, "admins": ADMINS})[1] == digest
    with pytest.raises(UnknownSecurityGroup):
        render([PortFilter("tapx", "56:6f:1a:2b:3c:01", ("nope",))], {})


def test_a_port_with_known_addresses_may_send_only_from_them() -> None:
    port = PortFilter("tapabc", "56:6f:1a:2b:3c:01", ("web",))
    addresses = {"tapabc": ("10.0.0.5", "2001:db8::5", "10.0.1.0/28")}
    lines, digest = render([port], {"web": WEB, "admins": ADMINS}, addresses)
    egress = [line for line in lines if line.startswith("-A nsg-oabc ")]
    assert egress[:3] == [
        "-A nsg-oabc -p udp -m udp --sport 68 --dport 67 -j RETURN",  # DHCP before it has an address
        "-A nsg-oabc -m mac ! --mac-source 56:6f:1a:2b:3c:01 -j DROP",
        "-A nsg-oabc -j nsg-sabc",
    ]
    assert [line for line in lines if line.startswith("-A nsg-sabc ")] == [
        "-A nsg-sabc -s 10.0.0.5/32 -j RETURN",
        "-A nsg-sabc -s 10.0.1.0/28 -j RETURN",
        "-A nsg-sabc -j DROP",
    ]
    assert ":nsg-sabc - [0:0]" in lines
    assert digest != render([port], {"web": WEB, "admins": ADMINS})[1]
    # none known: the MAC check only; an empty list: the port may send from no address
    assert not any("nsg-s" in line for line in render([port], {"web": WEB, "admins": ADMINS})[0])
    empty = render([port], {"web": WEB, "admins": ADMINS}, {"tapabc": ()})[0]
    assert [line for line in empty if line.startswith("-A nsg-sabc ")] == ["-A nsg-sabc -j DROP"]

    net = MemoryNet()
    fw = Firewall(net)
    fw.groups, fw.addresses = {"web": WEB, "admins": ADMINS}, addresses
    fw.ports["tapabc"] = port
    fw.apply()
    assert "-A nsg-sabc -s 10.0.0.5/32 -j RETURN" in net.iptables_save()
    fw.addresses = {}
    fw.apply()  # the spoof chain goes with the addresses
    assert "nsg-sabc" not in net.iptables_save()


def test_apply_is_idempotent_and_removes_stale_port_chains() -> None:
    net = MemoryNet()
    fw = Firewall(net)
    fw.groups = {"web": WEB, "admins": ADMINS}
    fw.ports["tapabc"] = PortFilter("tapabc", "56:6f:1a:2b:3c:01", ("web",))
    fw.apply()
    saved = net.iptables_save()
    assert "-A FORWARD -j neutrino-sg" in saved and ":nsg-iabc - [0:0]" in saved
    calls = net.world.calls
    again = Firewall(net)
    again.ports, again.groups = dict(fw.ports), dict(fw.groups)
    again.apply()  # a restarted agent: same rules, nothing done
    assert net.world.calls == calls
    fw.ports.clear()
    fw.apply()
    assert "nsg-" not in net.iptables_save() and saved.count("-A FORWARD -j neutrino-sg") == 1


def test_chains_of_someone_else_survive_even_with_the_reserved_prefix() -> None:
    net = MemoryNet()
    foreign = ["*filter", ":nsg-foreign - [0:0]", ":nsg-ixyz - [0:0]", ":admin-chain - [0:0]",
               "-A nsg-foreign -j ACCEPT", "-A nsg-ixyz -j DROP", "-A admin-chain -j nsg-ixyz", "COMMIT", ""]  # fmt: skip
    net.iptables_restore("\n".join(foreign))
    fw = Firewall(net)
    fw.groups = {"web": WEB, "admins": ADMINS}
    fw.ports["tapabc"] = PortFilter("tapabc", "56:6f:1a:2b:3c:01", ("web",))
    fw.apply()
    fw.ports.clear()
    fw.apply()  # its own chains go; the others stay, rules and all
    saved = net.iptables_save()
    assert "nsg-iabc" not in saved and "nsg-oabc" not in saved
    for line in foreign[1:-2]:
        assert line in saved


def test_linux_bridge_filters_a_vnic_with_groups_and_unfilters_it_on_unplug() -> None:
    net = MemoryNet()
    fw = Firewall(net)
    driver = LinuxBridgeDriver(DriverContext(host_net=net, tunnel_ip="192.0.2.1", firewall=fw))
    spec = ext_nic(1, security_groups=["web"])
    ext = ExternalNet.model_validate(spec["external"])
    vif = Vif(nic_id="n", mac=spec["mac"], mtu=None, device=linux_net.tap_name(ext.vnic_id), net=ext)
    with pytest.raises(VnicDriverError, match="security group web is not known"):
        driver.plug(vif)
    fw.groups = {"web": WEB}
    assert driver.plug(vif).security_groups == ["web"]
    assert f"--physdev-out {vif.device} --physdev-is-bridged -j nsg-i" in net.iptables_save()
    driver.unplug(vif, network_in_use=False)
    assert vif.device not in net.iptables_save()


@pytest.mark.parametrize(
    "rule",
    [
        {"direction": "ingress", "remote_ip_prefix": "2001:db8::/64"},
        {"direction": "ingress", "remote_ip_prefix": "10.0.0.300/24"},
        {"direction": "ingress", "protocol": "tcp; rm -rf /"},
        {"direction": "ingress", "protocol": 300},
    ],
)
def test_rules_iptables_could_not_load_are_refused(rule: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SecurityGroupRule.model_validate(rule)


def test_a_host_bits_prefix_is_normalized_and_numbers_are_accepted() -> None:
    rule = SecurityGroupRule.model_validate(
        {"direction": "ingress", "remote_ip_prefix": "10.0.0.5/24", "protocol": "6"}
    )
    assert (rule.remote_ip_prefix, rule.protocol) == ("10.0.0.0/24", 6)
    assert rule_matches(rule, {}) == [["-p", "tcp", "-s", "10.0.0.0/24"]]


def test_address_pairs_with_a_mac_of_their_own_are_bound_to_it() -> None:
    """allowed-address-pairs: a pair with the port's MAC is one more address; a pair with a MAC
    of its own admits that MAC, and then every address only from its own MAC."""
    from neutrino.agent.neutron_reads import port_sources
    from neutrino.neutron_client import Port

    port = Port.from_json(
        {
            "id": "p1",
            "network_id": "n1",
            "mac_address": "56:6F:1A:2B:3C:01",
            "fixed_ips": [{"subnet_id": "s1", "ip_address": "10.0.0.5"}],
            "allowed_address_pairs": [
                {"ip_address": "10.0.0.100", "mac_address": "56:6f:1a:2b:3c:01"},
                {"ip_address": "10.0.2.0/24"},
                {"ip_address": "10.0.0.200", "mac_address": "00:00:5e:00:01:07"},
            ],
        }
    )
    sources = port_sources(port)
    assert sources == ["10.0.0.100", "10.0.0.200 00:00:5e:00:01:07", "10.0.0.5", "10.0.2.0/24"]
    same_mac = render([PortFilter("tapabc", "56:6f:1a:2b:3c:01", ("web",))], {"web": WEB, "admins": ADMINS},
                      {"tapabc": ("10.0.0.5", "10.0.0.100")})[0]  # fmt: skip
    assert "-A nsg-sabc -s 10.0.0.100/32 -j RETURN" in same_mac
    lines = render(
        [PortFilter("tapabc", "56:6f:1a:2b:3c:01", ("web",))],
        {"web": WEB, "admins": ADMINS},
        {"tapabc": tuple(sources)},
    )[0]
    assert (
        "-A nsg-oabc -m mac ! --mac-source 00:00:5e:00:01:07 -m mac ! --mac-source 56:6f:1a:2b:3c:01 -j DROP"
        in lines
    )
    assert [line for line in lines if line.startswith("-A nsg-sabc ")] == [
        "-A nsg-sabc -s 10.0.0.5/32 -m mac --mac-source 56:6f:1a:2b:3c:01 -j RETURN",
        "-A nsg-sabc -s 10.0.0.100/32 -m mac --mac-source 56:6f:1a:2b:3c:01 -j RETURN",
        "-A nsg-sabc -s 10.0.0.200/32 -m mac --mac-source 00:00:5e:00:01:07 -j RETURN",
        "-A nsg-sabc -s 10.0.2.0/24 -m mac --mac-source 56:6f:1a:2b:3c:01 -j RETURN",
        "-A nsg-sabc -j DROP",
    ]
    v6 = render([PortFilter("tapabc", "56:6f:1a:2b:3c:01", ("web",))], {"web": WEB, "admins": ADMINS},
                {"tapabc": tuple(sources)}, version=6)[0]  # fmt: skip
    assert (
        "-A nsg-sabc -s fe80::546f:1aff:fe2b:3c01/128 -m mac --mac-source 56:6f:1a:2b:3c:01 -j RETURN" in v6
    )
