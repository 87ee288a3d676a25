"""The agent in OVN mode on two chassis of a real OVN (central + 2 chassis in namespaces, userspace
datapath, Geneve): the agents make their hosts OVN chassis, plug OPEN_VSWITCH vNICs by iface-id, OVN
serves DHCP and carries the guests' traffic across the chassis; a destroyed VM's port goes down; a
restarted agent, a killed ovn-controller and a killed agent leave one ovn-controller and a working
network."""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support import processes
from tests.support.netlab import AgentProcess, Lab, sh
from tests.support.ovn_lab import OvnLab, wait_for

pytestmark = pytest.mark.root

CIDR, ROUTER, MTU = "10.0.0.0/24", "10.0.0.1", 1442  # Geneve: a 1500 underlay less 58


def controllers(agent: AgentProcess) -> list[processes.Proc]:
    """The live ovn-controller processes the agent's data dir names."""
    data_dir = agent.lab.workdir / agent.name
    return [
        p for p in processes.naming(data_dir, processes.running()) if p.argv[0].endswith("ovn-controller")
    ]


def guest_address(ns: str) -> str:
    out = sh("ip", "-n", ns, "-4", "-o", "addr", "show", "dev", "eth0", check=False).stdout.split()
    return out[3] if len(out) > 3 else ""


def logical_switch(ovn: OvnLab, ports: dict[str, tuple[str, str]]) -> str:
    """A logical switch with one LSP per port (name → (MAC, IP)), DHCPv4 options and a group that
    allows DHCP and ICMP and drops other IPv4; returns the switch's UUID."""
    name = f"ls-{uuid.uuid4().hex[:8]}"
    ovn.nbctl("ls-add", name)
    dhcp = ovn.nbctl("create", "DHCP_Options", f"cidr={CIDR}", "options:lease_time=3600",
                     f"options:router={ROUTER}", f"options:server_id={ROUTER}",
                     "options:server_mac=02:00:00:00:00:01", f"options:mtu={MTU}")  # fmt: skip
    for lsp, (mac, ip) in ports.items():
        ovn.nbctl("lsp-add", name, lsp, "--", "lsp-set-addresses", lsp, f"{mac} {ip}",
                  "--", "lsp-set-port-security", lsp, f"{mac} {ip}", "--", "lsp-set-dhcpv4-options", lsp, dhcp)  # fmt: skip
    pg = f"pg_{name[3:]}"
    ovn.nbctl("pg-add", pg, *ports)
    for direction, port, match, action in (
        ("from-lport", "inport", "udp.src == 68 && udp.dst == 67", "allow"),  # OVN's DHCP responder sees it
        ("from-lport", "inport", "icmp4", "allow-related"),
        ("to-lport", "outport", "icmp4", "allow-related"),
    ):
        ovn.nbctl(
            "--type=port-group", "acl-add", pg, direction, "1002", f"{port} == @{pg} && {match}", action
        )
    ovn.nbctl("--type=port-group", "acl-add", pg, "from-lport", "1001", f"inport == @{pg} && ip4", "drop")
    ovn.nbctl("--type=port-group", "acl-add", pg, "to-lport", "1001", f"outport == @{pg} && ip4", "drop")
    return ovn.nbctl("--bare", "--columns=_uuid", "find", "Logical_Switch", f"name={name}")


def vm(vm_id: str, lsp: str, mac: str, network_id: str) -> dict[str, Any]:
    nic = {"nic_id": f"{vm_id}-nic", "name": "nic1", "mac": mac,
           "external": {"vnic_id": lsp, "plugin_type": "OPEN_VSWITCH", "network_id": network_id,
                        "network_type": "geneve"}}  # fmt: skip
    return {"vm_id": vm_id, "name": vm_id, "nics": [nic]}


def create(agent: AgentProcess, body: dict[str, Any]) -> None:
    got = agent.call("POST", "/vms", body)
    assert got.status_code in (200, 201), got.text
    assert got.json()["nics"][0]["state"] == "plugged", got.text


def test_two_chassis_agents_plug_ovn_ports(ovn_lab: OvnLab, lab: Lab, tmp_path: Path) -> None:
    agents = {}
    for ch in ovn_lab.chassis:
        agents[ch.name] = lab.agent(
            ch.ns, f"ovn-{ch.name}", "--vm-backend", "netns", "--netns-prefix", f"{lab.prefix}{ch.name}-",
            "--ovn-remote", ovn_lab.sb_remote, "--ovn-encap-ip", ch.ip,
            "--ovs-rundir", str(ch.rundir), "--ovn-rundir", str(ch.rundir),
        )  # fmt: skip
    a1, a2 = agents["ch1"], agents["ch2"]
    caps = a1.get("/capabilities").json()
    for plugin_type in ("OPEN_VSWITCH", "OVIRT_PROVIDER_OVN"):
        assert caps["plugin_types"][plugin_type]["binding_host_id"] == "ovn-ch1"
        assert "geneve" in caps["plugin_types"][plugin_type]["network_types"]
    wait_for("both chassis in the SB", lambda: {"ovn-ch1", "ovn-ch2"} <= ovn_lab.sb_chassis())
    ids = ovn_lab.chassis[0].vsctl("get", "Open_vSwitch", ".", "external_ids")
    assert "system-id=ovn-ch1" in ids and f'ovn-encap-ip="{ovn_lab.chassis[0].ip}"' in ids, ids

    lsp1, lsp2 = str(uuid.uuid4()), str(uuid.uuid4())
    ports = {lsp1: ("02:00:00:0a:00:11", "10.0.0.11"), lsp2: ("02:00:00:0a:00:12", "10.0.0.12")}
    net = logical_switch(ovn_lab, ports)
    g1, g2 = f"{lab.prefix}ch1-g1", f"{lab.prefix}ch2-g2"
    try:
        create(a1, vm("g1", lsp1, ports[lsp1][0], net))
        create(a2, vm("g2", lsp2, ports[lsp2][0], net))
        for lsp, chassis in ((lsp1, "ovn-ch1"), (lsp2, "ovn-ch2")):
            wait_for(f"{lsp} up", lambda lsp=lsp: ovn_lab.nbctl("lsp-get-up", lsp) == "up")
            assert ovn_lab.port_chassis(lsp) == chassis
        # DHCP from OVN (the agents serve none), with OVN's MTU
        wait_for("g1's lease", lambda: guest_address(g1) == "10.0.0.11/24")
        wait_for("g2's lease", lambda: guest_address(g2) == "10.0.0.12/24")
        assert f"mtu {MTU}" in sh("ip", "-n", g1, "link", "show", "dev", "eth0").stdout
        assert not (tmp_path / "ovn-ch1" / "dhcp").exists() or not any(
            (tmp_path / "ovn-ch1" / "dhcp").iterdir()
        )
        # across the chassis over Geneve (tunnel ports made by ovn-controller)
        assert "geneve" in ovn_lab.chassis[0].vsctl("--bare", "--columns=type", "list", "Interface")
        wait_for("g1 -> g2 across chassis", lambda: lab.ping(g1, "10.0.0.12", count=1), timeout=15)
        assert lab.ping(g2, "10.0.0.11", count=2)

        got = a2.call("DELETE", "/vms/g2")
        assert got.status_code in (200, 204), got.text
        wait_for(f"{lsp2} down", lambda: ovn_lab.nbctl("lsp-get-up", lsp2) == "down")
        assert ovn_lab.port_chassis(lsp2) is None

        # a restarted agent runs one ovn-controller again, and its guest keeps working
        [before] = controllers(a1)
        a1.stop()
        assert controllers(a1) == []
        a1.start()
        wait_for("one ovn-controller on ch1", lambda: len(controllers(a1)) == 1)
        create(a2, vm("g2", lsp2, ports[lsp2][0], net))
        wait_for(f"{lsp2} up again", lambda: ovn_lab.nbctl("lsp-get-up", lsp2) == "up")
        wait_for("g2's lease again", lambda: guest_address(g2) == "10.0.0.12/24")
        wait_for("g2 -> g1 after the restart", lambda: lab.ping(g2, "10.0.0.11", count=1), timeout=15)

        # a killed ovn-controller is restarted by the agent, once
        [running] = controllers(a1)
        assert running.pid != before.pid
        os.kill(running.pid, signal.SIGKILL)
        wait_for(
            "ovn-controller restarted", lambda: [p.pid for p in controllers(a1)] not in ([], [running.pid])
        )
        assert len(controllers(a1)) == 1
        wait_for("g2 -> g1 after the kill", lambda: lab.ping(g2, "10.0.0.11", count=1), timeout=15)

        # an agent killed outright leaves its ovn-controller running; the next one replaces it
        [orphan] = controllers(a1)
        assert a1.proc is not None
        a1.proc.kill()
        a1.proc.wait(5)
        assert [p.pid for p in controllers(a1)] == [orphan.pid]
        a1.start()
        wait_for("the orphan replaced", lambda: [p.pid for p in controllers(a1)] not in ([], [orphan.pid]))
        assert len(controllers(a1)) == 1
        wait_for(
            "g2 -> g1 after the agent was killed", lambda: lab.ping(g2, "10.0.0.11", count=1), timeout=15
        )
    finally:
        for agent in agents.values():
            agent.stop()
        ovn_lab.nbctl("--if-exists", "ls-del", net)
        ovn_lab.forget_chassis("ovn-ch1", "ovn-ch2")
