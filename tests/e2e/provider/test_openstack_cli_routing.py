"""Contract: routers and floating IPs through the real `openstack` CLI, configured only by OS_*
variables (SQLite only: each command starts an interpreter, ~1.5 s). One walk through the calls a
user makes, in seventeen commands; the SDK tests cover both databases and the errors."""

from __future__ import annotations

import uuid

from tests.e2e.provider.conftest import ProviderProcess
from tests.e2e.provider.test_openstack_cli import Cli


def test_router_and_floating_ip_walk(sqlite_provider_process: ProviderProcess) -> None:
    cli = Cli(sqlite_provider_process)
    tag = uuid.uuid4().hex[:8]
    ext, net, router, vm = f"ext-{tag}", f"net-{tag}", f"r-{tag}", f"vm-{tag}"

    assert cli.json("network", "create", ext, "--external")["router:external"] is True
    cli.run("subnet", "create", ext, "--network", ext, "--subnet-range", "172.60.0.0/24")
    cli.run("network", "create", net)
    subnet = cli.json("subnet", "create", net, "--network", net, "--subnet-range", "10.90.0.0/24")
    assert cli.json("router", "create", router)["external_gateway_info"] is None

    cli.run("router", "set", router, "--external-gateway", ext)
    cli.run("router", "add", "subnet", router, net)
    shown = cli.json("router", "show", router)
    gateway = shown["external_gateway_info"]
    assert gateway["enable_snat"] is True and gateway["external_fixed_ips"][0]["ip_address"].startswith(
        "172.60.0."
    )
    assert shown["interfaces_info"] == [
        {
            "port_id": shown["interfaces_info"][0]["port_id"],
            "ip_address": "10.90.0.1",
            "subnet_id": subnet["id"],
        }
    ]

    port = cli.json("port", "create", vm, "--network", net)
    fip = cli.json("floating", "ip", "create", ext)
    address = fip["floating_ip_address"]
    assert address.startswith("172.60.0.") and fip["status"] == "DOWN"
    cli.run("floating", "ip", "set", "--port", vm, address)
    associated = cli.json("floating", "ip", "show", address)
    assert associated["port_id"] == port["id"] and associated["status"] == "ACTIVE"
    assert associated["router_id"] == shown["id"] and associated["fixed_ip_address"] == "10.90.0.2"

    cli.run("floating", "ip", "unset", "--port", address)
    assert cli.json("floating", "ip", "show", address)["port_id"] is None
    cli.run("floating", "ip", "delete", address)
    cli.run("router", "remove", "subnet", router, net)
    cli.run("router", "delete", router)
