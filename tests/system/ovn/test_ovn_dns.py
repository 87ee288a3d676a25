"""dns-integration, dns-domain-ports and extra_dhcp_opt on the OVN backend, in the session's OVN lab: the
provider writes a port's dns_name as its LSP's ``options:hostname``, the network's dns_domain into its
subnet's DHCP_Options and a port's own domain and extra options into a DHCP_Options row of the port's own;
a guest on a chassis gets them from OVN's DHCP responder (a busybox ``udhcpc`` asking for them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.netlab import AgentProcess, Lab
from tests.support.ovn_lab import OvnLab, wait_for
from tests.support.ovn_world import ovn_provider_running
from tests.support.provider_lab import Provider

pytestmark = pytest.mark.root

DUMP = """#!/bin/sh
[ "$1" = bound ] && echo "ip=$ip hostname=$hostname domain=$domain ntpsrv=$ntpsrv" > "$0.out"
exit 0
"""


def test_an_ovn_guest_gets_its_name_domain_and_extra_option(
    ovn_lab: OvnLab, lab: Lab, tmp_path: Path
) -> None:
    ch = ovn_lab.chassis[0]
    with ovn_provider_running(ovn_lab, lab) as provider:
        agent = lab.agent(ch.ns, "ovn-dns", "--vm-backend", "netns", "--netns-prefix", f"{lab.prefix}d-",
                          *ovn_lab.agent_args(ch))  # fmt: skip
        try:
            _check(ovn_lab, lab, provider, agent, tmp_path)
        finally:
            agent.stop()
            ovn_lab.forget_chassis("ovn-dns")


def _check(ovn_lab: OvnLab, lab: Lab, provider: Provider, agent: AgentProcess, tmp_path: Path) -> None:
    net = provider.create("networks", "network", name="dns", dns_domain="ovn.example")
    subnet = provider.create("subnets", "subnet", network_id=net["id"], cidr="10.61.0.0/24", ip_version=4)
    port = provider.create(
        "ports", "port", network_id=net["id"], dns_name="vm1", port_security_enabled=False, security_groups=[]
    )
    ip = port["fixed_ips"][0]["ip_address"]
    # its own domain and an NTP server: a DHCP_Options row of the port's own (the network's domain stays
    # the subnet's, checked below)
    own = {
        "dns_domain": "vm.example.",
        "extra_dhcp_opts": [{"opt_name": "ntp-server", "opt_value": "10.61.0.5"}],
    }
    updated = provider.request("PUT", f"/v2.0/ports/{port['id']}", {"port": own})
    assert updated.status_code == 200, updated.text
    row = ovn_lab.nbctl(
        "--bare", "--columns=options", "find", "DHCP_Options", f"external_ids:port_id={port['id']}"
    )
    assert 'domain_name="vm.example"' in row and "ntp_server=10.61.0.5" in row, row
    lsp = ovn_lab.nbctl("--bare", "--columns=options", "find", "Logical_Switch_Port", f"name={port['id']}")
    assert 'hostname="vm1"' in lsp, lsp  # --bare: the value itself, quoted
    domain = ovn_lab.nbctl(
        "--bare", "--columns=options", "find", "DHCP_Options", f"external_ids:subnet_id={subnet['id']}"
    )
    assert 'domain_name="ovn.example"' in domain, domain  # --bare: the value itself, quoted
    nic = {"nic_id": "dns-nic", "name": "nic1", "mac": port["mac_address"],
           "external": {"vnic_id": port["id"], "plugin_type": "OPEN_VSWITCH", "network_id": net["id"],
                        "network_type": "geneve"}}  # fmt: skip
    created = agent.call("POST", "/vms", {"vm_id": "dns1", "name": "dns1", "nics": [nic]})
    assert created.status_code in (200, 201), created.text
    guest = f"{lab.prefix}d-dns1"
    wait_for(f"{port['id']} up", lambda: ovn_lab.nbctl("lsp-get-up", port["id"]) == "up", timeout=30)
    script = tmp_path / "dump.sh"
    script.write_text(DUMP)
    script.chmod(0o755)
    out = Path(f"{script}.out")

    seen: list[str] = []

    def told() -> bool:
        proc = lab.in_ns(guest, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "3", "-T", "1",
                         "-O", "hostname", "-O", "domain", "-O", "ntpsrv", "-s", str(script), check=False, timeout=20)  # fmt: skip
        seen.append(out.read_text().strip() if out.exists() else proc.stderr[-300:])
        return seen[-1] == f"ip={ip} hostname=vm1 domain=vm.example ntpsrv=10.61.0.5"

    try:
        wait_for(
            "the guest told its name, its own domain and an NTP server by OVN", told, timeout=40, every=0.5
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}; udhcpc saw: {seen[-3:]}") from None
    agent.call("DELETE", "/vms/dns1")
