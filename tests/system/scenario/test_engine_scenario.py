"""The seed's "VM connectivity" demo, driven through the engine with the real ovirtsdk4: two hosts (each a
namespace with its own agent process on the underlay), the embedded provider and the engine on the underlay,
networks A and B (both 10.10.0.0/24) created on the provider and imported into a data center, VM1 (A) on host1,
VM2 (A) and VM3 (B) on host2, all with linux_bridge.

The guests get their provider-allocated addresses by DHCP and VM1 and VM2 reach each other across the VXLAN,
VM3 reaches neither; security-group rules made with the `openstack` CLI take effect within 5 s; hot-unplug cuts
a guest off and hot-plug brings it back with the same address; stopping a VM removes its devices from its host
and running it again restores connectivity.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import _require
from tests.support.engine_stack import (
    World,
    add_vm,
    engine_stack,
    eventually,
    require_tools,
    setup_site,
    start_vm,
)
from tests.support.netlab import Lab, netns_names, root_reason, sh
from tests.support.provider_lab import openstack_reason

pytestmark = pytest.mark.root

SSH_LIKE = (  # a listener on TCP 22 in the guest, standing in for sshd
    "import socket\n"
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('0.0.0.0', 22)); s.listen(8)\n"
    "while True:\n    c, _ = s.accept(); c.close()\n"
)


def _tcp22(w: World, src: str, dst: str) -> bool:
    code = f"import socket; socket.create_connection(('{w.ips[dst]}', 22), timeout=1).close()"
    return (
        subprocess.run(
            ["ip", "netns", "exec", w.guest(src), sys.executable, "-c", code],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )


@pytest.fixture
def world(lab: Lab) -> Iterator[World]:
    _require(root_reason())
    _require(require_tools())
    _require(openstack_reason())
    with engine_stack(lab) as world:
        yield world


def test_vms_on_external_networks_reach_each_other_and_nothing_else(world: World) -> None:
    w = world
    env = setup_site(w)
    cl, prof = env["clusters"], env["profiles"]
    vm1 = add_vm(w, "vm1", cl["host1"], prof["a-web"])  # group "web": only TCP 22 in
    vm2 = add_vm(w, "vm2", cl["host2"], prof["a"])  # the provider's default group
    vm3 = add_vm(w, "vm3", cl["host2"], prof["b"])
    for name, service in (("vm1", vm1), ("vm2", vm2), ("vm3", vm3)):
        start_vm(w, name, service)
    hosts = {name: w.run(w.system.vms_service().vm_service(w.vm_ids[name]).get).host.id for name in w.vm_ids}
    assert hosts["vm1"] != hosts["vm2"] == hosts["vm3"]

    # only TCP 22 may enter VM1: VM2 opens TCP 22 but cannot ping until an ICMP rule is made with the CLI
    server = subprocess.Popen(["ip", "netns", "exec", w.guest("vm1"), sys.executable, "-c", SSH_LIKE])
    try:
        eventually("vm2 opens TCP 22 on vm1", lambda: _tcp22(w, "vm2", "vm1"), within=10)
    finally:
        server.kill()
    assert not w.ping("vm2", "vm1")
    rule = w.provider.openstack(
        "security group rule create", "--ingress", "--protocol", "icmp", env["web"], "-f", "value", "-c", "id"
    ).strip()
    took = eventually("ICMP into vm1 allowed", lambda: w.ping("vm2", "vm1"))
    # B is apart, though its subnet overlaps A's
    assert not w.ping("vm3", "vm1") and not w.ping("vm3", "vm2")

    # hot-unplug VM2's vNIC: cut off; hot-plug: back with the same address
    nic2 = w.system.vms_service().vm_service(w.vm_ids["vm2"]).nics_service().nic_service(w.nic_ids["vm2"])
    w.run(nic2.deactivate)
    assert not w.ping("vm2", "vm1")
    sh("ip", "-n", w.guest("vm2"), "addr", "flush", "dev", "eth0", check=False)
    w.run(nic2.activate)
    eventually("vm2 back with its address", lambda: w.has_address("vm2"), within=30)
    eventually("vm2 reaches vm1 again", lambda: w.ping("vm2", "vm1"), within=10)

    # stopping VM1 removes its devices from host1 (its port stays); running it again restores connectivity
    port1 = w.provider.get("/v2.0/ports", device_id=w.nic_ids["vm1"])["ports"][0]["id"]
    w.run(vm1.stop)
    assert f"tap{port1[:11]}" not in sh("ip", "-n", w.hosts["host1"], "link", "show").stdout
    assert not [ns for ns in netns_names() if ns.endswith(w.vm_ids["vm1"])]
    assert [p["id"] for p in w.provider.get("/v2.0/ports", device_id=w.nic_ids["vm1"])["ports"]] == [port1]
    start_vm(w, "vm1", vm1)
    eventually("vm2 reaches vm1 after its restart", lambda: w.ping("vm2", "vm1"), within=10)

    # deleting the rule on the provider reaches the running VM too
    w.provider.openstack("security group rule delete", rule)
    eventually("ICMP into vm1 refused again", lambda: not w.ping("vm2", "vm1"))
    print(f"rule created -> effective in {took:.2f} s")
