"""The same-host part of the connectivity demo with the open_vswitch driver (the seed's OVS plugin), driven
through the engine: VM1 and VM2 on network A and VM3 on network B on one host, each tap on br-int with the
iface-id of its port; VM1's security group is enforced through the hybrid plug (qbr/qvb/qvo)."""

from __future__ import annotations

import shutil
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
from tests.support.netlab import Lab, root_reason, sh
from tests.support.provider_lab import openstack_reason

pytestmark = pytest.mark.root


@pytest.fixture
def world(lab: Lab) -> Iterator[World]:
    _require(root_reason())
    _require(require_tools())
    _require(openstack_reason())
    _require(None if shutil.which("ovs-vswitchd") else "Open vSwitch missing (Debian openvswitch-switch)")
    with engine_stack(lab, driver="open_vswitch") as world:
        yield world


def test_same_host_vms_on_br_int_with_groups_through_the_hybrid_plug(world: World) -> None:
    w = world
    env = setup_site(w, plugin_type="OPEN_VSWITCH")
    cluster, prof = env["clusters"]["host1"], env["profiles"]
    vm1 = add_vm(w, "vm1", cluster, prof["a-web"])  # group "web": only TCP 22 in
    vm2 = add_vm(w, "vm2", cluster, prof["a"])
    vm3 = add_vm(w, "vm3", cluster, prof["b"])
    for name, service in (("vm1", vm1), ("vm2", vm2), ("vm3", vm3)):
        start_vm(w, name, service)

    host_ns = w.hosts["host1"]
    port1 = w.provider.get("/v2.0/ports", device_id=w.nic_ids["vm1"])["ports"][0]["id"]
    links = sh("ip", "-n", host_ns, "link", "show").stdout
    assert f"qbr{port1[:11]}" in links and f"qvb{port1[:11]}" in links, links  # the hybrid plug
    assert w.ping("vm1", "vm2") is False  # VM2 is in the default group: only its members may come in
    assert not w.ping("vm2", "vm1")  # only TCP 22 into VM1
    assert not w.ping("vm3", "vm1") and not w.ping("vm3", "vm2")  # B is apart (its own local VLAN)

    w.provider.openstack("security group rule create", "--ingress", "--protocol", "icmp", env["web"])
    eventually("ICMP into vm1 allowed", lambda: w.ping("vm2", "vm1"))
    assert not w.ping("vm3", "vm1")
