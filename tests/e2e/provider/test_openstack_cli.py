"""Contract: the real `openstack` CLI (python-openstackclient), configured only by OS_* variables.

Each command starts a Python interpreter (~1.5 s), so this runs on SQLite only; the SDK contract
tests cover both backends through the same HTTP surface.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from typing import Any

import pytest

from tests.e2e.provider.conftest import ProviderProcess

if shutil.which("openstack") is None:
    if os.environ.get("CI") == "true":  # in CI nothing skips
        raise RuntimeError("python-openstackclient is not installed (pip install -e .[test])")
    pytest.skip("python-openstackclient is not installed (pip install -e .[test])", allow_module_level=True)


class Cli:
    def __init__(self, provider: ProviderProcess) -> None:
        self.env = provider.cli_env()

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["openstack", *args], env=self.env, capture_output=True, text=True, timeout=120)
        if check:
            assert done.returncode == 0, done.stderr
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-f", "json").stdout)


@pytest.fixture(scope="module")
def cli(sqlite_provider_process: ProviderProcess) -> Cli:
    return Cli(sqlite_provider_process)


def test_token_issue(cli: Cli) -> None:
    token = cli.json("token", "issue")
    assert token["id"] and token["project_id"] and token["user_id"]


def test_network_subnet_port_lifecycle(cli: Cli) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    net = cli.json("network", "create", name, "--mtu", "1400")
    assert net["name"] == name and net["mtu"] == 1400 and net["provider:network_type"] == "vxlan"
    sub = cli.json(
        "subnet", "create", name, "--network", name, "--subnet-range", "10.70.0.0/24",
        "--dns-nameserver", "10.0.0.53", "--allocation-pool", "start=10.70.0.10,end=10.70.0.20",
    )  # fmt: skip
    assert sub["gateway_ip"] == "10.70.0.1" and sub["allocation_pools"] == [
        {"start": "10.70.0.10", "end": "10.70.0.20"}
    ]
    port = cli.json("port", "create", name, "--network", name, "--fixed-ip", "ip-address=10.70.0.15")
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.70.0.15"}]
    found = cli.json("port", "list", "--fixed-ip", "ip-address=10.70.0.15")
    assert [p["ID"] for p in found] == [port["id"]]

    busy = cli.run("network", "delete", name, check=False)
    assert busy.returncode != 0 and "ports still in use" in busy.stderr
    clash = cli.run(
        "port", "create", "clash", "--network", name, "--fixed-ip", "ip-address=10.70.0.15", check=False
    )
    assert clash.returncode != 0 and "10.70.0.15" in clash.stderr

    cli.run("port", "delete", port["id"])
    cli.run("network", "delete", name)
    listed = cli.json("network", "list", "--name", name)
    assert listed == []


def test_security_group_and_rule(cli: Cli) -> None:
    name = f"cli-sg-{uuid.uuid4().hex[:8]}"
    group = cli.json("security", "group", "create", name)
    rule = cli.json("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", name)
    assert rule["port_range_min"] == 22 and rule["security_group_id"] == group["id"]
    rules = cli.json("security", "group", "rule", "list", name)
    assert rule["id"] in {r["ID"] for r in rules}
    cli.run("security", "group", "delete", name)


def test_tags_port_security_and_allowed_address_pairs(cli: Cli) -> None:
    """Issue 18's extensions as users type them: tags on create and in a listing filter, a VIP in
    a port's allowed address pairs, port security turned off with the pairs and groups cleared."""
    name = f"cli-x-{uuid.uuid4().hex[:8]}"
    net = cli.json("network", "create", name, "--tag", name)
    assert net["tags"] == [name]
    port = cli.json("port", "create", name, "--network", name, "--tag", "vip",
                    "--allowed-address", "ip-address=10.71.0.250")  # fmt: skip
    assert port["allowed_address_pairs"] == [
        {"ip_address": "10.71.0.250", "mac_address": port["mac_address"]}
    ]
    assert [p["ID"] for p in cli.json("port", "list", "--tags", "vip", "--network", name)] == [port["id"]]
    refused = cli.run(
        "port", "set", "--disable-port-security", "--no-security-group", port["id"], check=False
    )
    assert refused.returncode != 0 and "Port Security must be enabled" in refused.stderr
    cli.run(
        "port", "set", "--disable-port-security", "--no-security-group", "--no-allowed-address", port["id"]
    )
    shown = cli.json("port", "show", port["id"])
    assert shown["port_security_enabled"] is False and shown["allowed_address_pairs"] == []


def test_rbac_and_quota(cli: Cli) -> None:
    """Sharing a network with one project and a project's network quota, as users type them."""
    name = f"cli-r-{uuid.uuid4().hex[:8]}"
    project = cli.json("project", "create", name)
    cli.run("network", "create", name)
    policy = cli.json("network", "rbac", "create", "--type", "network", "--action", "access_as_shared",
                      "--target-project", project["id"], name)  # fmt: skip
    assert policy["target_project_id"] == project["id"]
    cli.run("quota", "set", "--networks", "7", project["id"])
    shown = cli.json("quota", "show", "--network", project["id"])
    limits = {row["Resource"]: row["Limit"] for row in shown}
    assert limits["networks"] == 7 and limits["ports"] == -1
    cli.run("network", "rbac", "delete", policy["id"])


def test_subnet_pool(cli: Cli) -> None:
    """A subnet pool and a subnet taken from it, as users type them (four commands)."""
    name = f"cli-sp-{uuid.uuid4().hex[:8]}"
    pool = cli.json("subnet", "pool", "create", name, "--pool-prefix", "10.72.0.0/24",
                    "--pool-prefix", "10.72.1.0/24", "--default-prefix-length", "26", "--tag", "cli")  # fmt: skip
    assert (
        pool["prefixes"] == ["10.72.0.0/23"] and pool["default_prefixlen"] == 26 and pool["tags"] == ["cli"]
    )
    cli.run("network", "create", name)
    sub = cli.json(
        "subnet", "create", name, "--network", name, "--subnet-pool", name, "--prefix-length", "28"
    )
    assert sub["cidr"] == "10.72.0.0/28" and sub["subnetpool_id"] == pool["id"]
    refused = cli.run("subnet", "pool", "delete", name, check=False)
    assert refused.returncode != 0 and "existing allocations" in refused.stderr
