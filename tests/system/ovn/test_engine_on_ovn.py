"""The seed's demo on OVN, driven through the engine with the real ovirtsdk4 and the ``openstack`` CLI: the lab's
central (NB, SB, ovn-northd) and two chassis; the provider with ``--backend ovn`` on the lab's NB and SB (its
maintenance every 2 s), and the engine, both in the central's namespace; a ``neutrino agent`` in OVN mode on each
chassis, registered as a host of one cluster.

Two provider networks with the same CIDR, A and B, are imported. VM1 and VM2 (A, default group) run on the two
chassis, VM3 (B) beside VM1, VM4 (A, the group "web" through its vNIC profile's ``SecurityGroups``) beside VM2.
:func:`test_the_seeds_demo_on_ovn` checks, in this order: every guest gets its fixed IP by DHCP from OVN, the
ports turn ACTIVE and are bound to their host's chassis, VM1 and VM2 ping each other over Geneve and the chassis
are alive agents; B is isolated from A though its subnet is the same; "web" keeps ICMP out of VM4 until a rule
made with the CLI lets it in within 2 s; hot-unplug takes VM2's device off br-int and its binding off the chassis
(its port and LSP stay, DOWN), hot-plug brings it back with the same port and address; stop/run keeps VM1's
address; VM2 migrates to the other chassis keeping its port and address while ``binding:host_id`` and the
Port_Binding follow it; the provider's maintenance puts back an LSP deleted with ``ovn-nbctl`` (with its port
groups, and VM1's connectivity) and deletes an LSP of a port that does not exist; a VIP on VM1 answers only
once VM1's port lists it in ``allowed_address_pairs``, and VM2 with port security off sends from an address not
its own.

:func:`test_openstack_cli_against_the_ovn_backend` creates a network, a subnet and a port with the ``openstack``
CLI and checks the northbound's rows follow, the port DOWN while nothing binds it, and its LSP gone once deleted.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.engine_stack import World, add_vm, eventually, setup_site, start_vm
from tests.support.netlab import Lab, sh
from tests.support.ovn_lab import Chassis, OvnLab
from tests.support.ovn_world import ovn_provider_running, ovn_world
from tests.support.provider_lab import Provider

pytestmark = pytest.mark.root

MAINTENANCE = 2  # seconds between the provider's northbound repairs


@pytest.fixture
def world(ovn_lab: OvnLab, lab: Lab) -> Iterator[World]:
    with ovn_world(ovn_lab, lab, maintenance=MAINTENANCE) as world:
        yield world


@pytest.fixture
def provider(ovn_lab: OvnLab, lab: Lab) -> Iterator[Provider]:
    """The OVN-backed provider alone (no engine, no agents)."""
    with ovn_provider_running(ovn_lab, lab, maintenance=MAINTENANCE) as provider:
        yield provider


# --- what the test reads ---------------------------------------------------------------------------------


def port_of(w: World, vm: str) -> dict[str, Any]:
    """The provider port of the VM's vNIC."""
    [port] = w.provider.get("/v2.0/ports", device_id=w.nic_ids[vm])["ports"]
    return port  # type: ignore[no-any-return]


def host_of(w: World, vm: str) -> str:
    """The name of the host the engine says runs the VM."""
    host_id = w.run(w.system.vms_service().vm_service(w.vm_ids[vm]).get).host.id
    return str(w.run(w.system.hosts_service().host_service(host_id).get).name)


def lsp(ovn: OvnLab, port_id: str) -> dict[str, Any] | None:
    """The port's Logical_Switch_Port (addresses, up, uuid), or None when the northbound has none."""
    found = json.loads(ovn.nbctl("--format=json", "--columns=_uuid,addresses,up", "find", "Logical_Switch_Port",
                                 f"name={port_id}"))["data"]  # fmt: skip
    if not found:
        return None
    (_, row), addresses, up = found[0]
    return {"uuid": row, "addresses": _set(addresses), "up": _set(up) == [True]}


def lsp_uuid(ovn: OvnLab, port_id: str) -> str:
    row = lsp(ovn, port_id)
    assert row is not None, f"no LSP {port_id}"
    return str(row["uuid"])


def _set(value: Any) -> list[Any]:
    """An OVSDB JSON value as a list (a set is ``["set", [...]]``, one element stands alone)."""
    return value[1] if isinstance(value, list) and value[0] == "set" else [value]


def in_port_groups(ovn: OvnLab, row: str) -> set[str]:
    """The Port_Groups whose ports include the LSP ``row`` (its UUID)."""
    found = json.loads(ovn.nbctl("--format=json", "--columns=name,ports", "list", "Port_Group"))["data"]
    return {name for name, ports in found if row in [u for _, u in _set(ports)]}


def on_br_int(ch: Chassis, port_id: str) -> bool:
    """Whether the chassis has an interface named to OVN by ``iface-id`` = the port id."""
    return bool(
        ch.vsctl("--bare", "--columns=name", "find", "Interface", f"external_ids:iface-id={port_id}").strip()
    )


def bound(ovn: OvnLab, w: World, vm: str, host: str) -> bool:
    """The VM's port is ACTIVE and OVN bound it on ``host``'s chassis (the agent's system-id is the host name)."""
    port = port_of(w, vm)
    return port["status"] == "ACTIVE" and ovn.port_chassis(port["id"]) == host


# --- the tests --------------------------------------------------------------------------------------------


def test_the_seeds_demo_on_ovn(world: World, ovn_lab: OvnLab) -> None:
    """DHCP, Geneve, ACTIVE ports and alive chassis; B isolated; a CLI rule effective in 2 s; hot-unplug/plug;
    stop/run; migration keeping the port; drift repaired both ways (the module docstring has the details)."""
    import ovirtsdk4.types as types

    w, ovn = world, ovn_lab
    env = setup_site(w, plugin_type="OPEN_VSWITCH", one_cluster=True)
    host1, host2 = w.addresses
    chassis = dict(zip(w.addresses, ovn.chassis, strict=True))
    cluster, profiles = env["clusters"][host1], env["profiles"]
    vms = {}
    for name, profile in (("vm1", "a"), ("vm2", "a"), ("vm3", "b"), ("vm4", "a-web")):
        vms[name] = add_vm(w, name, cluster, profiles[profile])
        start_vm(w, name, vms[name])  # the provider's fixed IP, by DHCP from OVN (the agents serve none)
    # the scheduler spreads them: the host with fewer VMs, then the first by name
    placed = {"vm1": host1, "vm2": host2, "vm3": host1, "vm4": host2}
    assert {name: host_of(w, name) for name in vms} == placed
    eventually("every port ACTIVE, bound on its chassis", lambda: all(bound(ovn, w, *p) for p in placed.items()),
               within=15)  # fmt: skip
    for name, host in placed.items():
        port = port_of(w, name)
        assert port["binding:host_id"] == host and port["binding:vif_type"] == "ovs"
    eventually("vm1 -> vm2 across the chassis", lambda: w.ping("vm1", "vm2"), within=15)
    assert w.ping("vm2", "vm1")

    def chassis_alive() -> bool:
        agents = w.provider.get("/v2.0/agents", agent_type="OVN Controller agent")["agents"]
        return {host1, host2} <= {a["host"] for a in agents if a["alive"]}

    eventually("both chassis alive agents on the provider", chassis_alive, within=20)

    # B has A's CIDR but its own logical switch: VM3 reaches neither VM1 (same chassis) nor VM2, nor VM2 VM3,
    # though all three are in the default group, which lets its members in
    assert w.ips["vm3"].rsplit(".", 1)[0] == w.ips["vm1"].rsplit(".", 1)[0]
    assert not w.ping("vm3", "vm1") and not w.ping("vm3", "vm2") and not w.ping("vm2", "vm3")

    # groups through the vNIC profile: "web" lets only TCP 22 into VM4; an ICMP rule made with the CLI, in 2 s
    assert port_of(w, "vm4")["security_groups"] == [env["web"]]
    assert not w.ping("vm1", "vm4")
    w.provider.openstack("security group rule create", "--ingress", "--protocol", "icmp", env["web"])
    took = eventually("ICMP into vm4 allowed", lambda: w.ping("vm1", "vm4", wait=0.3), within=2)
    assert took <= 2, f"the rule took {took:.2f} s"  # a last ping may have begun just before the deadline

    # hot-unplug VM2's vNIC: off br-int and unbound, its port and LSP kept (DOWN); hot-plug: back as it was
    port2 = port_of(w, "vm2")
    nic2 = w.system.vms_service().vm_service(w.vm_ids["vm2"]).nics_service().nic_service(w.nic_ids["vm2"])
    w.run(nic2.deactivate)
    assert not on_br_int(chassis[host2], port2["id"]) and not w.has_address("vm2")
    eventually("vm2's port DOWN and unbound", lambda: port_of(w, "vm2")["status"] == "DOWN"
               and ovn.port_chassis(port2["id"]) is None, within=10)  # fmt: skip
    assert (lsp(ovn, port2["id"]) or {}).get("up") is False
    assert not w.ping("vm1", "vm2")
    w.run(nic2.activate)
    assert port_of(w, "vm2")["id"] == port2["id"] and port_of(w, "vm2")["fixed_ips"] == port2["fixed_ips"]
    assert on_br_int(chassis[host2], port2["id"])
    eventually("vm2 back with its address", lambda: w.has_address("vm2"), within=30)
    eventually("vm2's port ACTIVE on its chassis again", lambda: bound(ovn, w, "vm2", host2), within=10)
    eventually("vm1 reaches vm2 again", lambda: w.ping("vm1", "vm2"), within=10)

    # stop/run: the port stays, and OVN gives the guest the same address again (back on host1: fewer VMs)
    before = w.ips["vm1"]
    w.run(vms["vm1"].stop)
    eventually("vm1's port DOWN once stopped", lambda: port_of(w, "vm1")["status"] == "DOWN", within=15)
    start_vm(w, "vm1", vms["vm1"])
    assert w.ips["vm1"] == before and host_of(w, "vm1") == host1
    eventually("vm2 -> vm1 after its restart", lambda: w.ping("vm2", "vm1"), within=15)

    # migration of VM2 to host1: the same port and address; its binding and OVN's follow it
    host1_id = w.run(w.system.hosts_service().list, search=f"name={host1}")[0].id
    w.run(vms["vm2"].migrate, host=types.Host(id=host1_id))
    assert host_of(w, "vm2") == host1
    moved = port_of(w, "vm2")
    assert moved["id"] == port2["id"] and moved["fixed_ips"] == port2["fixed_ips"]
    assert moved["binding:host_id"] == host1
    assert not on_br_int(chassis[host2], port2["id"]) and on_br_int(chassis[host1], port2["id"])
    eventually("vm2's port bound on host1's chassis", lambda: bound(ovn, w, "vm2", host1), within=10)
    eventually("vm2 has its address on host1", lambda: w.has_address("vm2"), within=30)
    eventually("vm2 -> vm4 on host2", lambda: w.ping("vm2", "vm4"), within=10)
    assert w.ping("vm1", "vm2")

    # drift: VM1's LSP deleted behind the provider's back comes back (in its port groups), an LSP of no port goes
    port1 = port_of(w, "vm1")
    groups = in_port_groups(ovn, lsp_uuid(ovn, port1["id"]))
    assert {"neutron_pg_drop", f"pg_{port1['security_groups'][0].replace('-', '_')}"} <= groups
    stray = str(uuid.uuid4())
    ovn.nbctl("lsp-del", port1["id"])
    ovn.nbctl("lsp-add", f"neutron-{env['a']['id']}", stray, "--", "lsp-set-addresses", stray,
              "fa:16:3e:00:00:99 10.10.0.99", "--", "set", "Logical_Switch_Port", stray,
              'external_ids:"neutron:revision_number"=1', 'external_ids:"neutron:device_owner"=oVirt')  # fmt: skip
    # while VM1's LSP is missing (still missing after the ping: the repair may already have run) it is unreachable
    assert not w.ping("vm2", "vm1") or lsp(ovn, port1["id"]) is not None, "vm1 reachable without its LSP"
    eventually("the maintenance repaired both", lambda: lsp(ovn, stray) is None and lsp(ovn, port1["id"]) is not None,
               within=MAINTENANCE + 5)  # fmt: skip
    assert in_port_groups(ovn, lsp_uuid(ovn, port1["id"])) == groups
    eventually("vm1's port ACTIVE again", lambda: bound(ovn, w, "vm1", host1), within=10)
    eventually("vm2 reaches vm1 again", lambda: w.ping("vm2", "vm1"), within=10)
    # the log counts what was fixed: one port made again, one removed (in one pass or two)
    repaired = [line for line in w.provider.log().splitlines() if "OVN maintenance repaired drift" in line]
    assert any(re.search(r"[:,] port created: 1(,|$)", line) for line in repaired), repaired
    assert any(re.search(r"[:,] port deleted: 1(,|$)", line) for line in repaired), repaired

    # allowed-address-pairs on OVN's datapath: a VIP on vm1 answers once its port lists it (OVN's
    # port_security drops it before); with port security off, vm2 sends from an address not its own
    vip = w.ips["vm1"].rsplit(".", 1)[0] + ".250"
    sh("ip", "-n", w.guest("vm1"), "addr", "add", f"{vip}/24", "dev", "eth0")
    assert not w.ping("vm2", vip)
    pairs = {"allowed_address_pairs": [{"ip_address": vip}]}
    assert w.provider.request("PUT", f"/v2.0/ports/{port1['id']}", {"port": pairs}).status_code == 200
    eventually("the VIP answers from vm1", lambda: w.ping("vm2", vip), within=10)
    foreign = w.ips["vm1"].rsplit(".", 1)[0] + ".251"
    sh("ip", "-n", w.guest("vm2"), "addr", "add", f"{foreign}/32", "dev", "eth0")

    def from_foreign() -> bool:
        ping = ["ping", "-c", "1", "-W", "1", "-I", foreign, w.ips["vm4"]]
        return w.lab.in_ns(w.guest("vm2"), *ping, check=False).returncode == 0

    assert not from_foreign()
    off = {"port_security_enabled": False, "security_groups": []}
    assert (
        w.provider.request("PUT", f"/v2.0/ports/{port_of(w, 'vm2')['id']}", {"port": off}).status_code == 200
    )
    eventually("vm2 sends from an address not its own", from_foreign, within=10)
    print(f"rule created -> effective in {took:.2f} s")


def test_openstack_cli_against_the_ovn_backend(provider: Provider, ovn_lab: OvnLab) -> None:
    """network, subnet, port create with the CLI: a Logical_Switch, DHCP_Options and an LSP with the port's
    addresses in the northbound; ``port show``: DOWN (no chassis bound it); port delete: its LSP gone."""
    cli, ovn = provider.openstack, ovn_lab
    net = cli("network create", "cli-net", "-f", "value", "-c", "id").strip()
    assert ovn.nbctl("--bare", "--columns=name", "find", "Logical_Switch", f"name=neutron-{net}")
    subnet = cli("subnet create", "--network", net, "--subnet-range", "10.20.0.0/24", "cli-sub",
                 "-f", "value", "-c", "id").strip()  # fmt: skip
    assert "10.20.0.0/24" in ovn.nbctl("--bare", "--columns=cidr", "find", "DHCP_Options",
                                       f"external_ids:subnet_id={subnet}")  # fmt: skip
    port = json.loads(cli("port create", "--network", net, "cli-port", "-f", "json"))
    [ip] = [a["ip_address"] for a in port["fixed_ips"]]
    assert (lsp(ovn, port["id"]) or {}).get("addresses") == [f"{port['mac_address']} {ip}"]
    assert cli("port show", port["id"], "-f", "value", "-c", "status").strip() == "DOWN"
    cli("port delete", port["id"])
    assert lsp(ovn, port["id"]) is None
