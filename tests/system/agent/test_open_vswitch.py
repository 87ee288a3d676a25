"""The open_vswitch driver on Open vSwitch's userspace datapath: two host namespaces, each with
its own ovsdb-server/ovs-vswitchd, guests on one VXLAN network talk across hosts through
``br-int`` and kernel VXLAN ports; a guest on another network (another local VLAN) cannot."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from neutrino.agent.api.models import SecurityGroupSpec, VmSpec
from neutrino.agent.app import build_agent
from neutrino.agent.datapath.iproute import IpRouteNet
from neutrino.agent.service import Agent
from neutrino.agent.settings import AgentSettings
from tests.conftest import _require

from .netlab import Lab, sh

pytestmark = pytest.mark.root


def nic(n: int, network_id: str, vni: int) -> dict[str, Any]:
    return {
        "nic_id": f"nic-{n}", "name": f"nic{n}", "mac": f"56:6f:1a:00:04:{n:02x}", "mtu": 1450,
        "external": {"vnic_id": str(uuid.uuid4()), "plugin_type": "OPEN_VSWITCH", "network_id": network_id,
                     "network_type": "vxlan", "segmentation_id": vni},
    }  # fmt: skip


def host_agent(lab: Lab, tmp_path: Path, ns: str, name: str, me: str, peer: str, db: str) -> Agent:
    settings = AgentSettings(
        data_dir=tmp_path / name, token=SecretStr("t"), vm_backend="netns", host_net="kernel",
        vnic_drivers={"OPEN_VSWITCH": "open_vswitch"}, tunnel_ip=me, vxlan_peers=[peer],
        netns_prefix=f"{lab.prefix}{name}-", guest_dhcp=False, ovs_db=db, ovs_datapath_type="netdev",
    )  # fmt: skip
    return build_agent(settings, host_net=IpRouteNet(ns))


def test_guests_on_br_int_reach_each_other_across_hosts_and_nobody_else(lab: Lab, tmp_path: Path) -> None:
    missing = [
        t for t in ("ovs-vsctl", "ovsdb-server", "ovs-vswitchd", "ovsdb-tool") if shutil.which(t) is None
    ]
    _require(f"Open vSwitch missing: {missing} (Debian openvswitch-switch)" if missing else None)
    hosts = lab.underlay({"h1": "1", "h2": "2"})
    h1 = host_agent(lab, tmp_path, hosts["h1"], "h1", "10.199.0.1", "10.199.0.2", lab.ovs(hosts["h1"], "h1"))
    h2 = host_agent(lab, tmp_path, hosts["h2"], "h2", "10.199.0.2", "10.199.0.1", lab.ovs(hosts["h2"], "h2"))
    red, blue = str(uuid.uuid4()), str(uuid.uuid4())
    placements = {"a": (h1, "h1", nic(1, red, 2001), "10.254.0.1"), "b": (h2, "h2", nic(2, red, 2001), "10.254.0.2"),
                  "c": (h2, "h2", nic(3, blue, 2002), "10.254.0.3")}  # fmt: skip
    guests = {}
    for name, (agent, host, spec, address) in placements.items():
        vm, created = agent.create_vm(VmSpec.model_validate({"vm_id": name, "name": name, "nics": [spec]}))
        assert created and vm.status == "Up", vm
        guests[name] = f"{lab.prefix}{host}-{name}"
        sh("ip", "-n", guests[name], "addr", "add", f"{address}/24", "dev", "eth0")
    shown = json.loads(sh("ovs-vsctl", f"--db=unix:{tmp_path}/ovs-h2/db.sock", "--format=json",
                          "--columns=name,tag", "list", "Port").stdout)["data"]  # fmt: skip
    tags = {row[0]: row[1] for row in shown}
    assert tags["vxlan-2001"] != tags["vxlan-2002"]

    assert lab.ping(guests["a"], "10.254.0.2", count=3)
    assert not lab.ping(guests["a"], "10.254.0.3", count=1)
    assert not lab.ping(guests["c"], "10.254.0.2", count=1)

    # the hybrid plug: d on h2 (red) accepts only ssh; its egress is open
    h2.set_security_group("ssh", SecurityGroupSpec.model_validate(
        {"rules": [{"direction": "ingress", "protocol": "tcp", "port_range_min": 22}, {"direction": "egress"}]}
    ))  # fmt: skip
    spec = nic(4, red, 2001)
    spec["external"]["security_groups"] = ["ssh"]
    vm, _ = h2.create_vm(VmSpec.model_validate({"vm_id": "d", "name": "d", "nics": [spec]}))
    assert (
        vm.nics[0].plugged is not None
        and vm.nics[0].plugged.bridge == "qbr" + spec["external"]["vnic_id"][:11]
    )
    guest_d = f"{lab.prefix}h2-d"
    sh("ip", "-n", guest_d, "addr", "add", "10.254.0.4/24", "dev", "eth0")
    assert lab.ping(guest_d, "10.254.0.1")
    assert not lab.ping(guests["a"], "10.254.0.4", count=1)

    h1.destroy_vm("a")
    assert "vxlan-2001" not in sh("ip", "-n", hosts["h1"], "link", "show").stdout
