"""The seed's demo on OVN, driven through the engine with the real ovirtsdk4: the lab's central (NB, SB,
ovn-northd) and two chassis; the provider with ``--backend ovn`` on the lab's NB and SB, and the engine,
both in the central's namespace; a ``neutrino agent`` in OVN mode on each chassis, registered as a host.
A provider network with a subnet is imported, its vNIC profile given to two VMs, one per chassis: each
guest gets its fixed IP by DHCP from OVN, they ping each other across the chassis over Geneve, their
ports turn ACTIVE on the provider, the chassis are alive agents there, and stop/run keeps the address."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from tests.conftest import _require
from tests.support.engine_stack import HostSpec, World, add_vm, eventually, setup_site, stack, start_vm
from tests.support.netlab import Lab
from tests.support.ovn_lab import CENTRAL_IP, OvnLab
from tests.support.provider_lab import Provider, openstack_reason

pytestmark = pytest.mark.root


@pytest.fixture
def world(ovn_lab: OvnLab, lab: Lab) -> Iterator[World]:
    _require(openstack_reason())
    central = ovn_lab.workdir / "central"
    provider = Provider(lab, ovn_lab.central_ns, CENTRAL_IP, args=(
        "--backend", "ovn", "--ovn-nb-connection", f"unix:{central / 'ovnnb_db.sock'}",
        "--ovn-sb-connection", f"unix:{central / 'ovnsb_db.sock'}",
    ))  # fmt: skip
    tag = secrets.token_hex(2)
    hosts = {
        f"ovn{tag}{ch.name}": HostSpec(
            ch.ns,
            ch.ip,
            (
                "--ovn-remote",
                ovn_lab.sb_remote,
                "--ovn-encap-ip",
                ch.ip,
                "--ovs-rundir",
                str(ch.rundir),
                "--ovn-rundir",
                str(ch.rundir),
            ),
        )  # fmt: skip
        for ch in ovn_lab.chassis
    }
    try:
        provider.start()
        with stack(lab, ovn_lab.central_ns, f"{CENTRAL_IP}:8080", provider, hosts) as world:
            yield world
    finally:
        provider.stop()
        ovn_lab.forget_neutron()
        ovn_lab.forget_chassis(*hosts)


def test_vms_on_two_chassis_get_ovn_dhcp_and_reach_each_other_over_geneve(world: World) -> None:
    w = world
    env = setup_site(w, plugin_type="OPEN_VSWITCH")
    host1, host2 = w.addresses
    vm1 = add_vm(w, "vm1", env["clusters"][host1], env["profiles"]["a"])
    vm2 = add_vm(w, "vm2", env["clusters"][host2], env["profiles"]["a"])
    for name, service in (("vm1", vm1), ("vm2", vm2)):
        start_vm(w, name, service)  # the provider's fixed IP, by DHCP (the agents in OVN mode serve none)
    placed = {name: w.run(w.system.vms_service().vm_service(w.vm_ids[name]).get).host.id for name in w.vm_ids}
    assert placed["vm1"] != placed["vm2"]

    def ports_active() -> bool:
        ports = [w.provider.get("/v2.0/ports", device_id=w.nic_ids[n])["ports"][0] for n in ("vm1", "vm2")]
        return all(p["status"] == "ACTIVE" for p in ports)

    eventually("both ports ACTIVE on the provider", ports_active, within=15)
    for name, host in (("vm1", host1), ("vm2", host2)):
        [port] = w.provider.get("/v2.0/ports", device_id=w.nic_ids[name])["ports"]
        assert port["binding:host_id"] == host and port["binding:vif_type"] == "ovs"
    eventually("vm1 -> vm2 across the chassis", lambda: w.ping("vm1", "vm2"), within=15)
    assert w.ping("vm2", "vm1")

    def chassis_alive() -> bool:
        agents = w.provider.get("/v2.0/agents", agent_type="OVN Controller agent")["agents"]
        return {host1, host2} <= {a["host"] for a in agents if a["alive"]}

    eventually("both chassis alive agents on the provider", chassis_alive, within=20)

    # stop/run: the port stays, and OVN gives the guest the same address again
    before = w.ips["vm1"]
    w.run(vm1.stop)
    eventually("vm1's port DOWN once stopped", lambda: not ports_active(), within=15)
    start_vm(w, "vm1", vm1)
    assert w.ips["vm1"] == before
    eventually("vm2 -> vm1 after its restart", lambda: w.ping("vm2", "vm1"), within=15)
