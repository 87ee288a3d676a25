"""extra_dhcp_opt and dns-integration on the builtin backend, on a real kernel: the agents' dnsmasq
tells a netns guest what its port says (issue 18).

A port with ``dns_name``, a network with ``dns_domain`` and the port's ``extra_dhcp_opts`` (an NTP
server, a classless static route): a busybox ``udhcpc`` in the guest receives its host name,
domain, NTP server and route; an option changed on the provider reaches the guest's next request,
and a guest without a name gets Neutron's ``host-<address>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.netlab import Lab
from tests.support.provider_lab import linux_bridge_agents, provider_on_underlay

from .test_dhcp import wait_for
from .test_port_groups_follow import requirements
from .test_provider_sync import Scenario, eventually

pytestmark = pytest.mark.root

# udhcpc's event script: on a lease, write what the server said (and configure nothing)
DUMP = """#!/bin/sh
[ "$1" = bound ] && echo "hostname=$hostname domain=$domain ntpsrv=$ntpsrv staticroutes=$staticroutes" > "$0.out"
exit 0
"""


@pytest.fixture
def scenario(lab: Lab) -> Iterator[Scenario]:
    requirements()
    hosts = lab.underlay({"h1": "1", "h2": "2"})
    provider = provider_on_underlay(lab)
    try:
        yield Scenario(lab, provider, linux_bridge_agents(lab, hosts, provider))
    finally:
        for agent in lab.agents:
            agent.stop()
        provider.stop()


def _ask(s: Scenario, name: str) -> str:
    """One DHCP exchange from ``name``'s guest, asking for the options a guest of ours reads."""
    script = Path(s.lab.workdir) / f"dump-{name}.sh"
    script.write_text(DUMP)
    script.chmod(0o755)
    out = Path(f"{script}.out")
    out.unlink(missing_ok=True)
    s.lab.in_ns(
        s.guests[name], "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "4", "-T", "1",
        "-O", "hostname", "-O", "domain", "-O", "ntpsrv", "-O", "staticroutes", "-s", str(script),
        check=False, timeout=20,
    )  # fmt: skip
    return out.read_text().strip() if out.exists() else ""


def test_a_guest_gets_its_name_domain_and_extra_options(scenario: Scenario) -> None:
    s = scenario
    net = s.provider.create(
        "networks", "network", name="named", dns_domain="lab.example", **{"provider:network_type": "vxlan"}
    )
    s.provider.create("subnets", "subnet", network_id=net["id"], cidr="10.41.0.0/24", ip_version=4)
    s.run_vm("vm1", "h1", net, [])
    s.run_vm("vm2", "h2", net, [])
    port_id = s.nics["vm1"]["external"]["vnic_id"]
    body = {
        "port": {
            "dns_name": "web1",
            "extra_dhcp_opts": [
                {"opt_name": "ntp-server", "opt_value": "10.41.0.123"},
                {"opt_name": "classless-static-route", "opt_value": "10.77.0.0/16,10.41.0.1"},
            ],
        }
    }
    assert s.provider.request("PUT", f"/v2.0/ports/{port_id}", body).status_code == 200
    for name in ("vm1", "vm2"):
        wait_for(s.guests[name], f"{s.ips[name]}/24", 1450, timeout=30)

    wanted = "hostname=web1 domain=lab.example ntpsrv=10.41.0.123 staticroutes=10.77.0.0/16 10.41.0.1"
    eventually("vm1 is told its name and options", lambda: _ask(s, "vm1") == wanted, within=10)

    # an option changed and one removed (null): the guest's next request sees it
    body = {
        "port": {
            "extra_dhcp_opts": [
                {"opt_name": "ntp-server", "opt_value": "10.41.0.124"},
                {"opt_name": "classless-static-route", "opt_value": None},
            ]
        }
    }
    assert s.provider.request("PUT", f"/v2.0/ports/{port_id}", body).status_code == 200
    wanted = "hostname=web1 domain=lab.example ntpsrv=10.41.0.124 staticroutes="
    eventually("vm1 sees the changed options", lambda: _ask(s, "vm1") == wanted, within=10)

    # no dns_name: Neutron's host-<address>, the network's domain, no extra option
    plain = "host-" + s.ips["vm2"].replace(".", "-")
    assert _ask(s, "vm2") == f"hostname={plain} domain=lab.example ntpsrv= staticroutes="
