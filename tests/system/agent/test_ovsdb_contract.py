"""The two Open vSwitch seams of the agent, :class:`IdlOvsDb` (ovsdbapp, one transaction per change) and
:class:`VsctlOvsDb` (``ovs-vsctl``), keep the same contract on a real ovsdb-server and ovs-vswitchd
(userspace datapath): the same calls leave the same switch, read back the same way."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from neutrino.agent.datapath.hostnet import HostNetError
from neutrino.agent.datapath.vswitch import IdlOvsDb, OvsDb, OvsPort, VsctlOvsDb
from tests.support.netlab import Lab, sh
from tests.system.agent.test_open_vswitch import require_ovs

pytestmark = pytest.mark.root


@pytest.mark.parametrize("make", [IdlOvsDb, VsctlOvsDb], ids=["ovsdbapp", "ovs-vsctl"])
def test_the_same_calls_leave_the_same_switch(lab: Lab, make: Callable[[str], OvsDb]) -> None:
    require_ovs()
    ns = lab.netns("ovsdbc")
    db = lab.ovs(ns, "ovsdbc")
    ovs = make(db)
    try:
        ovs.ensure_bridge("br-int", "netdev")
        ovs.ensure_bridge("br-int", "netdev")  # again: nothing to do
        ovs.secure_bridge("br-int")
        ovs.ensure_port(
            "br-int", "vnic1", None, {"iface-id": "p1", "attached-mac": "56:6f:1a:00:00:01"}, "internal"
        )
        ovs.ensure_port("br-int", "vnic2", 7, {"iface-id": "p2"}, "internal")
        # again, other keys and no tag: keys merged, the tag cleared, still one port
        ovs.ensure_port("br-int", "vnic2", None, {"iface-status": "active"})
        assert ovs.ports("br-int") == [
            OvsPort("vnic1", "br-int", None, {"iface-id": "p1", "attached-mac": "56:6f:1a:00:00:01"}),
            OvsPort("vnic2", "br-int", None, {"iface-id": "p2", "iface-status": "active"}),
        ]
        assert ovs.interface_external_ids("vnic2") == {"iface-id": "p2", "iface-status": "active"}
        assert ovs.interface_external_ids("vnic9") is None
        assert ovs.ports("br-none") == []
        ovs.set_switch_external_ids({"system-id": "h1", "ovn-encap-ip": "192.0.2.1"})
        assert ovs.switch_external_ids() == {"system-id": "h1", "ovn-encap-ip": "192.0.2.1"}
        # what ovs-vsctl sees, whoever wrote it; ovs-vswitchd has applied it when the call returns
        vsctl = ["ovs-vsctl", f"--db={db}"]
        bridge = json.loads(sh(*vsctl, "--format=json", "--columns=datapath_type,fail_mode,other_config",
                               "list", "Bridge", "br-int").stdout)["data"][0]  # fmt: skip
        assert bridge[:2] == ["netdev", "secure"] and ["disable-in-band", "true"] in bridge[2][1]
        row = json.loads(
            sh(*vsctl, "--format=json", "--columns=type,ofport", "list", "Interface", "vnic1").stdout
        )
        kind, ofport = row["data"][0]
        assert kind == "internal" and isinstance(ofport, int) and ofport > 0
        ovs.ensure_bridge("br-other", "netdev")
        with pytest.raises(HostNetError):  # a port of that name is on another bridge
            ovs.ensure_port("br-other", "vnic1", None, {})
        ovs.delete_port("br-int", "vnic1")
        ovs.delete_port("br-int", "vnic1")  # gone already: nothing to do
        assert [p.name for p in ovs.ports("br-int")] == ["vnic2"]
        # plugs side by side (an agent's, a bench's): each returns once applied, none waits on another
        names = [f"vnic-c{n}" for n in range(8)]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda n: ovs.ensure_port("br-int", n, None, {"iface-id": n}, "internal"), names))
        assert {p.name for p in ovs.ports("br-int")} == {"vnic2", *names}
    finally:
        if isinstance(ovs, IdlOvsDb):
            ovs.close()


def test_a_switch_that_does_not_answer_is_a_host_net_error(tmp_path: object) -> None:
    with pytest.raises(HostNetError):
        IdlOvsDb("unix:/nonexistent/ovnscale-db.sock", timeout=1).ensure_bridge("br-int")
