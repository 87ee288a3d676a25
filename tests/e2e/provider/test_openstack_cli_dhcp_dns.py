"""Contract: extra DHCP options and DNS names through the real `openstack` CLI (SQLite only: each
command starts an interpreter, ~1.5 s). The calls a user types; the SDK tests cover both databases
and the errors."""

from __future__ import annotations

import uuid

from tests.e2e.provider.conftest import ProviderProcess
from tests.e2e.provider.test_openstack_cli import Cli


def test_port_with_extra_dhcp_options_and_a_dns_name(sqlite_provider_process: ProviderProcess) -> None:
    cli = Cli(sqlite_provider_process)
    name = f"cli-dhcp-{uuid.uuid4().hex[:8]}"
    assert cli.json("network", "create", name, "--dns-domain", "cli.example.")["dns_domain"] == "cli.example."
    cli.run("subnet", "create", name, "--network", name, "--subnet-range", "10.97.0.0/24")
    port = cli.json(
        "port", "create", name, "--network", name, "--dns-name", "vm-1",
        "--extra-dhcp-option", "name=ntp-server,value=10.97.0.5",
        "--extra-dhcp-option", "name=bootfile-name,value=pxelinux.0,ip-version=4",
    )  # fmt: skip
    assert port["dns_name"] == "vm-1" and port["dns_assignment"][0]["hostname"] == "vm-1"
    assert port["extra_dhcp_opts"] == [
        {"opt_name": "bootfile-name", "opt_value": "pxelinux.0", "ip_version": 4},
        {"opt_name": "ntp-server", "opt_value": "10.97.0.5", "ip_version": 4},
    ]
    refused = cli.run("port", "set", port["id"], "--extra-dhcp-option", "name=no-such,value=1", check=False)
    assert refused.returncode != 0 and "Invalid input for extra_dhcp_opts" in refused.stderr
