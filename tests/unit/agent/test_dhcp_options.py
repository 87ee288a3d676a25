"""A guest's own DHCP options (issue 18): a port's extra_dhcp_opts, host name and domain as the agent
reads them from the provider and renders them for dnsmasq, and the option table both the provider
and the agent check values with (what it accepts, dnsmasq's own syntax check accepts too)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from neutrino.agent.datapath.dhcp import DhcpServers, MemoryLauncher, host_tag
from neutrino.agent.datapath.memory import MemoryNet, World
from neutrino.agent.neutron_reads import dhcp_host
from neutrino.agent_api import dhcp_options
from neutrino.agent_api.schema import DhcpHost, DhcpSpec
from neutrino.neutron_client import Port

NET = "9a8b7c6d-1111-2222-3333-444455556666"
MAC = "fa:16:3e:00:00:0a"


def argv_for(hosts: list[dict[str, Any]]) -> list[str]:
    spec = DhcpSpec.model_validate(
        {"network_id": NET, "plugin_type": "LINUX_BRIDGE", "cidr": "10.0.0.0/24", "server_ip": "10.0.0.2",
         "gateway_ip": "10.0.0.1", "hosts": hosts,
         "ipv6_subnets": [{"cidr": "2001:db8::/64", "server_ip": "2001:db8::2"}]}
    )  # fmt: skip
    servers = DhcpServers(MemoryNet(World()), MemoryLauncher(), Path("/nonexistent"), "nvm-")
    servers.ensure_server(spec)
    assert isinstance(servers.launcher, MemoryLauncher)
    return servers.launcher.running[NET][1]


def test_a_host_with_options_and_a_domain_gets_them_by_its_tag() -> None:
    options = [
        {"name": "ntp-server", "value": "10.0.0.5"},
        {"name": "classless-static-route", "value": "10.9.0.0/16,10.0.0.1"},
        {"name": "42", "value": "10.0.0.6"},
        {"name": "router", "value": ""},
        {"name": "dns-server", "value": "2001:db8::53", "ip_version": 6},
    ]
    argv = argv_for(
        [
            {"mac": MAC, "ip": "10.0.0.10", "hostname": "web", "domain": "example.org", "options": options},
            {
                "mac": MAC,
                "ip": "2001:db8::10",
                "hostname": "web",
                "domain": "example.org",
                "options": options,
            },
            {"mac": "fa:16:3e:00:00:0b", "ip": "10.0.0.11"},
        ]
    )
    tag = host_tag(MAC)
    assert tag == "hfa163e00000a"
    assert f"--dhcp-host={MAC},set:{tag},web,10.0.0.10" in argv
    assert f"--dhcp-host={MAC},set:{tag},web,[2001:db8::10]" in argv
    assert "--dhcp-host=fa:16:3e:00:00:0b,host-10-0-0-11,10.0.0.11" in argv  # no options: no tag
    mine = [a for a in argv if a.startswith(f"--dhcp-option=tag:{tag},")]
    assert mine == [
        f"--dhcp-option=tag:{tag},option:domain-name,example.org",
        f"--dhcp-option=tag:{tag},option:ntp-server,10.0.0.5",
        f"--dhcp-option=tag:{tag},option:classless-static-route,10.9.0.0/16,10.0.0.1",
        f"--dhcp-option=tag:{tag},42,10.0.0.6",
        f"--dhcp-option=tag:{tag},option:router",
        f"--dhcp-option=tag:{tag},option6:domain-search,example.org",
        f"--dhcp-option=tag:{tag},option6:dns-server,[2001:db8::53]",
    ]


@pytest.mark.skipif(shutil.which("dnsmasq") is None, reason="dnsmasq is not installed")
def test_what_the_table_accepts_dnsmasq_accepts() -> None:
    accepted = [
        ("ntp-server", "192.0.2.1,192.0.2.2", 4),
        ("classless-static-route", "10.9.0.0/16,10.0.0.1,0.0.0.0/0,10.0.0.1", 4),
        ("static-route", "10.9.0.0,10.0.0.1", 4),
        ("bootfile-name", "pxelinux.0", 4),
        ("domain-search", "a.example,b.example", 4),
        ("mtu", "1400", 4),
        ("ip-forward-enable", "0", 4),
        ("router", "", 4),
        ("150", "192.0.2.9", 4),
        ("224", "hello world", 4),
        ("ntp-server", "2001:db8::1", 6),
        ("domain-search", "a.example", 6),
        ("bootfile-url", "tftp://[2001:db8::1]/boot", 6),
    ]
    argv = ["dnsmasq", "--test", "--conf-file=/dev/null"]
    for name, value, version in accepted:
        assert dhcp_options.problem(name, value, version) is None, name
        argv.append("--dhcp-option=tag:x," + dhcp_options.dnsmasq_option(name, value, version))
    checked = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize(
    ("name", "value", "version", "reason"),
    [
        ("no-such", "1", 4, "is not a known IPv4 DHCP option"),
        ("bootfile-url", "x", 4, "is not a known IPv4 DHCP option"),
        ("ntp-server", "10.0.0.1", 6, "is not an IPv6 address"),
        ("ntp-server", "ntp.example", 4, "is not an IPv4 address"),
        ("classless-static-route", "10.9.0.1/16,10.0.0.1", 4, "'10.9.0.0/16' is"),
        ("mtu", "big", 4, "is not an unsigned integer"),
        ("bootfile-name", "a,b", 4, "may not contain a comma"),
        ("ntp-server", "", 4, "must not be empty"),
        ("0", "x", 4, "is not between 1 and 254"),
        ("²", "x", 4, "is not a known IPv4 DHCP option"),  # a digit to str.isdigit, not to int
        ("bootfile-name", "a\tb", 4, "not printable"),
    ],
)
def test_what_dnsmasq_could_not_serve_is_refused(name: str, value: str, version: int, reason: str) -> None:
    problem = dhcp_options.problem(name, value, version)
    assert problem is not None and reason in problem
    with pytest.raises(ValidationError):
        DhcpHost.model_validate(
            {
                "mac": MAC,
                "ip": "10.0.0.10",
                "options": [{"name": name, "value": value, "ip_version": version}],
            }
        )


def test_an_address_of_the_other_ip_version_is_stored_but_not_served() -> None:
    # Neutron takes it (tempest's IPv6 test sends an IPv6 server-ip-address with the default ip_version 4)
    assert dhcp_options.refusal("server-ip-address", "2015::badd", 4) is None
    assert dhcp_options.refusal("dns-server", "10.0.0.1,10.0.0.2", 6) is None
    assert "is not an IPv4 address" in (dhcp_options.refusal("ntp-server", "ntp.example", 4) or "")
    assert "is not a known IPv4" in (dhcp_options.refusal("no-such", "2015::1", 4) or "")
    port = _port(
        extra_dhcp_opts=[{"opt_name": "server-ip-address", "opt_value": "2015::badd", "ip_version": 4}]
    )
    assert dhcp_host(port, "10.0.0.10").options == []  # no IPv4 guest could use it


def _port(**more: Any) -> Port:
    return Port.from_json(
        {"id": "p1", "network_id": NET, "mac_address": MAC.upper(),
         "fixed_ips": [{"subnet_id": "s", "ip_address": "10.0.0.10"}], **more}
    )  # fmt: skip


def test_the_lease_of_a_provider_port() -> None:
    port = _port(
        dns_name="web",
        dns_assignment=[{"hostname": "web", "ip_address": "10.0.0.10", "fqdn": "web.openstacklocal."}],
        extra_dhcp_opts=[
            {"opt_name": "ntp-server", "opt_value": "10.0.0.5", "ip_version": 4},
            {"opt_name": "made-up", "opt_value": "1", "ip_version": 4},  # another provider's: left out
        ],
    )
    lease = dhcp_host(port, "10.0.0.10")
    assert (lease.hostname, lease.domain) == ("web", "openstacklocal")
    assert [(o.name, o.value) for o in lease.options] == [("ntp-server", "10.0.0.5")]
    assert dhcp_host(port, "10.0.0.10", "example.org.").domain == "example.org"  # the network's first
    own = _port(
        dns_domain="corp.test.",
        dns_assignment=[{"hostname": "host-10-0-0-10", "ip_address": "10.0.0.10", "fqdn": "x.y."}],
    )
    assert (dhcp_host(own, "10.0.0.10", "example.org.").domain, dhcp_host(own, "10.0.0.10").hostname) == (
        "corp.test",
        "host-10-0-0-10",
    )
    old = dhcp_host(_port(), "10.0.0.10")  # a provider without the extensions: dnsmasq's default name
    assert (old.hostname, old.domain, old.options) == (None, None, [])
    fqdn_name = _port(
        dns_assignment=[{"hostname": "db.example.net.", "ip_address": "10.0.0.10", "fqdn": "db.example.net."}]
    )
    assert (dhcp_host(fqdn_name, "10.0.0.10").hostname, dhcp_host(fqdn_name, "10.0.0.10").domain) == (
        "db",
        "example.net",
    )


@pytest.mark.parametrize(
    ("name", "value", "version", "ovn"),
    [
        ("ntp-server", "10.0.0.5", 4, ("ntp_server", "10.0.0.5")),
        ("42", "10.0.0.5,10.0.0.6", 4, ("ntp_server", "{10.0.0.5, 10.0.0.6}")),
        ("server-ip-address", "10.0.0.9", 4, ("tftp_server_address", "10.0.0.9")),
        ("bootfile-name", "pxelinux.0", 4, ("bootfile_name", '"pxelinux.0"')),
        ("classless-static-route", "10.9.0.0/24,10.0.0.1,0.0.0.0/0,10.0.0.1", 4,
         ("classless_static_route", "{10.9.0.0/24,10.0.0.1, 0.0.0.0/0,10.0.0.1}")),
        ("router", "", 4, ("router", None)),
        ("dns-server", "[fd00::53]", 6, ("dns_server", "fd00::53")),
    ],
)  # fmt: skip
def test_ovn_names_and_values_are_neutrons_mapping(name: str, value: str, version: int, ovn: tuple) -> None:
    assert dhcp_options.problem(name, value, version) is None
    assert dhcp_options.ovn_problem(name, value, version) is None
    assert dhcp_options.ovn_option(name, value, version) == ovn


def test_an_address_of_the_other_version_is_taken_on_ovn_too() -> None:
    """Stored as Neutron does (tempest's server-ip-address 2015::badd, ip_version 4), never served:
    the OVN backend leaves out an option :func:`~dhcp_options.problem` refuses."""
    assert dhcp_options.ovn_problem("server-ip-address", "2015::badd", 4) is None
    assert dhcp_options.problem("server-ip-address", "2015::badd", 4) is not None


@pytest.mark.parametrize(
    ("name", "value", "version", "reason"),
    [
        ("nis-domain", "corp", 4, "'nis-domain' (IPv4) is not an option OVN's DHCP serves"),
        ("252", "http://wpad/", 4, "'252' (IPv4) is not an option OVN's DHCP serves"),
        ("sntp-server", "fd00::1", 6, "'sntp-server' (IPv6) is not an option OVN's DHCP serves"),
        ("router", "10.0.0.1,10.0.0.2", 4, "router: '10.0.0.1,10.0.0.2' is not one address"),
        ("mtu", "big", 4, "mtu: 'big' is not an unsigned integer"),
        ("domain-search", "", 6, "opt_value of domain-search must not be empty"),
    ],
)
def test_what_ovn_cannot_serve_is_named(name: str, value: str, version: int, reason: str) -> None:
    assert dhcp_options.ovn_problem(name, value, version) == reason
