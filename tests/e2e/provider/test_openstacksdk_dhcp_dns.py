"""Contract: the real openstacksdk against `neutrino provider` for extra_dhcp_opt, dns-integration and
dns-domain-ports (issue 18), on SQLite and PostgreSQL: as an admin and as a project member."""

from __future__ import annotations

import os
from typing import Any

import pytest

if os.environ.get("CI") != "true":  # in CI nothing skips: the import below fails loudly instead
    pytest.importorskip("openstack", reason="openstacksdk is not installed (pip install -e .[test])")

from openstack import exceptions  # noqa: E402

from tests.e2e.provider.conftest import ProviderProcess, unique  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


def test_extra_dhcp_opts_and_dns(conn: Any) -> None:
    aliases = {e.alias for e in conn.network.extensions()}
    assert {"extra_dhcp_opt", "dns-integration", "dns-domain-ports"} <= aliases
    net = conn.network.create_network(name=unique("dhcp"), dns_domain="sdk.example")
    assert net.dns_domain == "sdk.example."
    conn.network.create_subnet(network_id=net.id, cidr="10.96.0.0/24", ip_version=4)
    port = conn.network.create_port(
        network_id=net.id,
        dns_name="app1",
        dns_domain="port.example",
        extra_dhcp_opts=[
            {"opt_name": "ntp-server", "opt_value": "10.96.0.5"},
            {"opt_name": "bootfile-name", "opt_value": "ipxe.efi"},
        ],
    )
    address = port.fixed_ips[0]["ip_address"]
    assert port.dns_name == "app1" and port.dns_domain == "port.example."
    assert port.dns_assignment == [
        {"hostname": "app1", "ip_address": address, "fqdn": "app1.openstacklocal."}
    ]
    assert port.extra_dhcp_opts == [
        {"opt_name": "bootfile-name", "opt_value": "ipxe.efi", "ip_version": 4},
        {"opt_name": "ntp-server", "opt_value": "10.96.0.5", "ip_version": 4},
    ]
    conn.network.update_port(
        port.id,
        extra_dhcp_opts=[
            {"opt_name": "bootfile-name", "opt_value": None},
            {"opt_name": "classless-static-route", "opt_value": "10.97.0.0/16,10.96.0.1"},
        ],
        dns_name="",
    )
    got = conn.network.get_port(port.id)
    assert got.extra_dhcp_opts == [
        {"opt_name": "classless-static-route", "opt_value": "10.97.0.0/16,10.96.0.1", "ip_version": 4},
        {"opt_name": "ntp-server", "opt_value": "10.96.0.5", "ip_version": 4},
    ]
    assert got.dns_assignment[0]["hostname"] == "host-" + address.replace(".", "-")
    with pytest.raises(exceptions.BadRequestException, match="Invalid input for extra_dhcp_opts"):
        conn.network.update_port(
            port.id, extra_dhcp_opts=[{"opt_name": "ntp-server", "opt_value": "ntp.example"}]
        )
    with pytest.raises(exceptions.BadRequestException, match="Invalid input for dns_name"):
        conn.network.update_port(port.id, dns_name="not_a_host")
    assert conn.network.get_port(port.id).revision_number == got.revision_number  # nothing changed
    conn.network.delete_port(port)
    conn.network.delete_network(net)


def test_a_member_names_its_port_and_sets_its_options(conn: Any, provider_process: ProviderProcess) -> None:
    name = unique("dns")
    project = conn.identity.create_project(name=name)
    user = conn.identity.create_user(name=name, password="pw-" + name, default_project_id=project.id)
    conn.identity.assign_project_role_to_user(project, user, conn.identity.find_role("member"))
    member = provider_process.connect(user=name, password="pw-" + name, project=name)
    net = member.network.create_network(name=name)
    member.network.create_subnet(network_id=net.id, cidr="10.98.0.0/24", ip_version=4)
    port = member.network.create_port(
        network_id=net.id,
        dns_name="mine",
        extra_dhcp_opts=[{"opt_name": "ntp-server", "opt_value": "10.98.0.5"}],
    )
    assert port.dns_assignment[0]["hostname"] == "mine" and len(port.extra_dhcp_opts) == 1
    member.network.update_port(port.id, extra_dhcp_opts=[{"opt_name": "ntp-server", "opt_value": None}])
    assert member.network.get_port(port.id).extra_dhcp_opts == []
    admins = conn.network.create_port(network_id=conn.network.create_network(name=unique("adm")).id)
    with pytest.raises(exceptions.NotFoundException):
        member.network.update_port(
            admins.id, extra_dhcp_opts=[{"opt_name": "ntp-server", "opt_value": "10.0.0.1"}]
        )
    assert conn.network.get_port(admins.id).extra_dhcp_opts == []
