"""Security groups for IPv6: ip6tables rules rendered and applied through the in-memory host, next
to the IPv4 ones; provider bridges keep no host IPv6."""

from __future__ import annotations

from typing import Any

import pytest

from neutrino.agent.datapath import linux_net
from neutrino.agent.datapath.firewall import Firewall, PortFilter, link_local, render, rule_matches
from neutrino.agent.datapath.memory import MemoryNet
from neutrino.agent.vnic.base import DriverContext, Vif
from neutrino.agent.vnic.linux_bridge import LinuxBridgeDriver
from neutrino.agent_api.schema import ExternalNet, SecurityGroupRule, SecurityGroupSpec

from .helpers import ext_nic

WEB = SecurityGroupSpec(
    rules=[
        SecurityGroupRule(direction="ingress", ethertype="IPv6", protocol="icmp", port_range_min=128),
        SecurityGroupRule(
            direction="ingress", ethertype="IPv6", protocol="tcp", port_range_min=22, remote_group_id="admins"
        ),
        SecurityGroupRule(direction="ingress", protocol="tcp", port_range_min=80),  # IPv4 only
        SecurityGroupRule(direction="egress", ethertype="IPv6"),
    ]
)
ADMINS = SecurityGroupSpec(member_ips=["10.0.0.5", "2001:db8::7", "2001:db8::5"])
PORT = PortFilter("tapabc", "56:6f:1a:2b:3c:01", ("web",))
ADDRESSES = {"tapabc": ("10.0.0.5", "2001:db8::5", "2001:db8:1::/64")}


def test_the_link_local_address_of_a_mac_is_its_modified_eui64() -> None:
    assert link_local("56:6f:1a:00:00:01") == "fe80::546f:1aff:fe00:1"  # what the kernel gives eth0
    assert link_local("fa:16:3e:12:34:56") == "fe80::f816:3eff:fe12:3456"


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"direction": "ingress", "ethertype": "IPv6", "protocol": "icmp"}, [["-p", "ipv6-icmp"]]),
        ({"direction": "ingress", "ethertype": "IPv6", "protocol": "ipv6-icmp", "port_range_min": 128},
         [["-p", "ipv6-icmp", "-m", "icmp6", "--icmpv6-type", "128"]]),
        ({"direction": "ingress", "ethertype": "IPv6", "protocol": "icmpv6", "port_range_min": 1,
          "port_range_max": 4}, [["-p", "ipv6-icmp", "-m", "icmp6", "--icmpv6-type", "1/4"]]),
        ({"direction": "ingress", "ethertype": "IPv6", "protocol": 58}, [["-p", "ipv6-icmp"]]),
        ({"direction": "ingress", "ethertype": "IPv6", "protocol": "tcp", "port_range_min": 80,
          "port_range_max": 90}, [["-p", "tcp", "-m", "tcp", "--dport", "80:90"]]),
        ({"direction": "egress", "ethertype": "IPv6", "remote_ip_prefix": "2001:db8::/64"},
         [["-d", "2001:db8::/64"]]),
        ({"direction": "ingress", "ethertype": "IPv6", "remote_ip_prefix": "::/0"}, [[]]),
        ({"direction": "ingress", "ethertype": "IPv6", "remote_group_id": "admins"},
         [["-s", "2001:db8::5"], ["-s", "2001:db8::7"]]),
        ({"direction": "ingress", "protocol": "icmp"}, []),  # IPv4: not in the IPv6 table
    ],
)  # fmt: skip
def test_ipv6_rule_matches(rule: dict[str, Any], expected: list[list[str]]) -> None:
    assert rule_matches(SecurityGroupRule.model_validate(rule), {"admins": ADMINS}, 6) == expected


def test_an_ipv4_remote_group_rule_matches_only_the_members_ipv4_addresses() -> None:
    rule = SecurityGroupRule(direction="ingress", remote_group_id="admins")
    assert rule_matches(rule, {"admins": ADMINS}, 4) == [["-s", "10.0.0.5"]]


def test_ipv6_chains_allow_neighbour_discovery_and_dhcpv6_and_what_the_rules_allow() -> None:
    lines, digest = render([PORT], {"web": WEB, "admins": ADMINS}, ADDRESSES, 6)
    chain = {
        c: [line for line in lines if line.startswith(f"-A {c} ")]
        for c in ("nsg-oabc", "nsg-sabc", "nsg-iabc")
    }
    icmp6 = "-p ipv6-icmp -m icmp6 --icmpv6-type"
    assert chain["nsg-oabc"] == [
        "-A nsg-oabc -m mac ! --mac-source 56:6f:1a:2b:3c:01 -j DROP",
        # duplicate address detection, before the port has an address
        f"-A nsg-oabc -s ::/128 -d ff02::/16 {icmp6} 131 -j RETURN",
        f"-A nsg-oabc -s ::/128 -d ff02::/16 {icmp6} 135 -j RETURN",
        f"-A nsg-oabc -s ::/128 -d ff02::/16 {icmp6} 143 -j RETURN",
        "-A nsg-oabc -j nsg-sabc",
        f"-A nsg-oabc {icmp6} 134 -j DROP",  # no router advertisements from a guest
        "-A nsg-oabc -p udp -m udp --sport 547 --dport 546 -j DROP",  # nor DHCPv6 replies
        *[f"-A nsg-oabc {icmp6} {t} -j RETURN" for t in (130, 131, 132, 133, 135, 136, 143)],
        "-A nsg-oabc -p udp -m udp --sport 546 --dport 547 -j RETURN",
        "-A nsg-oabc -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
        "-A nsg-oabc -m conntrack --ctstate INVALID -j DROP",
        "-A nsg-oabc -j RETURN",  # the IPv6 egress rule
        "-A nsg-oabc -j DROP",
    ]
    # the port's IPv6 addresses and its MAC's link-local address; not its IPv4 one
    assert chain["nsg-sabc"] == [
        "-A nsg-sabc -s 2001:db8::5/128 -j RETURN",
        "-A nsg-sabc -s 2001:db8:1::/64 -j RETURN",
        "-A nsg-sabc -s fe80::546f:1aff:fe2b:3c01/128 -j RETURN",
        "-A nsg-sabc -j DROP",
    ]
    assert chain["nsg-iabc"] == [
        *[f"-A nsg-iabc {icmp6} {t} -j RETURN" for t in (130, 135, 136)],
        f"-A nsg-iabc -s fe80::/10 {icmp6} 134 -j RETURN",
        "-A nsg-iabc -s fe80::/10 -p udp -m udp --sport 547 --dport 546 -j RETURN",
        "-A nsg-iabc -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
        "-A nsg-iabc -m conntrack --ctstate INVALID -j DROP",
        f"-A nsg-iabc {icmp6} 128 -j RETURN",
        "-A nsg-iabc -p tcp -m tcp --dport 22 -s 2001:db8::5 -j RETURN",
        "-A nsg-iabc -p tcp -m tcp --dport 22 -s 2001:db8::7 -j RETURN",
        "-A nsg-iabc -j DROP",
    ]
    assert digest != render([PORT], {"web": WEB, "admins": ADMINS}, ADDRESSES, 4)[1]
    # addresses not known (no provider link): the MAC check only, as for IPv4
    assert not any("nsg-s" in line for line in render([PORT], {"web": WEB, "admins": ADMINS}, None, 6)[0])
    # known, but none of them IPv6: the link-local address only
    only_v4 = render([PORT], {"web": WEB, "admins": ADMINS}, {"tapabc": ("10.0.0.5",)}, 6)[0]
    assert [line for line in only_v4 if line.startswith("-A nsg-sabc ")] == [
        "-A nsg-sabc -s fe80::546f:1aff:fe2b:3c01/128 -j RETURN",
        "-A nsg-sabc -j DROP",
    ]


def test_the_ipv4_table_is_unchanged_by_ipv6_rules() -> None:
    v4 = [
        line for line in render([PORT], {"web": WEB, "admins": ADMINS}, ADDRESSES, 4)[0] if "-A nsg-" in line
    ]
    assert not any("ipv6" in line or "2001:" in line or "fe80" in line for line in v4)
    assert "-A nsg-iabc -p tcp -m tcp --dport 80 -j RETURN" in v4


def test_apply_writes_both_tables_turns_on_bridged_ip6tables_and_is_idempotent() -> None:
    net = MemoryNet()
    fw = Firewall(net)
    fw.groups, fw.addresses = {"web": WEB, "admins": ADMINS}, dict(ADDRESSES)
    fw.ports["tapabc"] = PORT
    fw.apply()
    assert net.sysctl("net.bridge.bridge-nf-call-ip6tables") == "1"
    assert net.sysctl("net.bridge.bridge-nf-call-iptables") == "1"
    v4, v6 = net.iptables_save(), net.ip6tables_save()
    for saved in (v4, v6):
        assert "-A FORWARD -j neutrino-sg" in saved and ":nsg-iabc - [0:0]" in saved
    assert "-A nsg-sabc -s 10.0.0.5/32 -j RETURN" in v4 and "2001:db8::5" not in v4
    assert "-A nsg-sabc -s 2001:db8::5/128 -j RETURN" in v6 and "10.0.0.5" not in v6
    calls = net.world.calls
    again = Firewall(net)
    again.ports, again.groups, again.addresses = dict(fw.ports), dict(fw.groups), dict(fw.addresses)
    again.apply()  # a restarted agent: both tables current, nothing done
    assert net.world.calls == calls
    fw.ports.clear()
    fw.apply()
    assert "nsg-" not in net.iptables_save() and "nsg-" not in net.ip6tables_save()


def test_a_host_that_never_filtered_keeps_its_ip6tables_untouched() -> None:
    net = MemoryNet()
    Firewall(net).apply()
    assert net.world.ip6tables == {} and net.world.calls == 0


def test_provider_bridges_keep_no_host_ipv6_and_filtered_vnics_are_filtered_for_ipv6() -> None:
    net = MemoryNet()
    fw = Firewall(net)
    fw.groups = {"web": WEB, "admins": ADMINS}
    driver = LinuxBridgeDriver(DriverContext(host_net=net, tunnel_ip="192.0.2.1", firewall=fw))
    spec = ext_nic(1, security_groups=["web"])
    ext = ExternalNet.model_validate(spec["external"])
    vif = Vif(nic_id="n", mac=spec["mac"], mtu=None, device=linux_net.tap_name(ext.vnic_id), net=ext)
    driver.plug(vif)
    bridge = linux_net.brq_name(ext.network_id)
    assert net.sysctl(f"net/ipv6/conf/{bridge}/disable_ipv6") == "1"
    assert f"--physdev-out {vif.device} --physdev-is-bridged -j nsg-i" in net.ip6tables_save()
    calls = net.world.calls
    driver.plug(vif)  # re-plug: nothing to change
    assert net.world.calls == calls
    driver.unplug(vif, network_in_use=False)
    assert vif.device not in net.ip6tables_save()

    # a vNIC without groups stays unfiltered, for IPv6 as for IPv4
    bare = ext_nic(2)
    ext2 = ExternalNet.model_validate(bare["external"])
    vif2 = Vif(nic_id="m", mac=bare["mac"], mtu=None, device=linux_net.tap_name(ext2.vnic_id), net=ext2)
    driver.plug(vif2)
    assert vif2.device not in net.ip6tables_save() and vif2.device not in net.iptables_save()
