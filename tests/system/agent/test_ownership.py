"""The agent owns what it creates and nothing else, on the real kernel in namespaces: an iptables chain of
someone else's (even one named with the agent's reserved prefix), a dnsmasq it did not start (even one whose
pid sits in the agent's own pid file), and an Open vSwitch port without the agent's external id (an OVN tunnel
port, a port under the very name the agent needs) all survive the agent's cleanup; its own go."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

import pytest

from neutrino.agent.datapath import linux_net
from neutrino.agent.datapath.dhcp import ProcessLauncher
from neutrino.agent.datapath.firewall import Firewall
from neutrino.agent.datapath.iproute import IpRouteNet
from neutrino.agent.datapath.vswitch import VsctlOvsDb
from neutrino.agent.vnic.base import DriverContext, Vif
from neutrino.agent.vnic.open_vswitch import NotOurs, OpenVSwitchDriver
from neutrino.agent_api.schema import ExternalNet, SecurityGroupSpec
from tests.conftest import _require
from tests.support.netlab import Lab, sh

from .test_open_vswitch import require_ovs

pytestmark = pytest.mark.root

FOREIGN_RULES = [
    "-A nsg-foreign -j ACCEPT",
    "-A nsg-ixyz -j DROP",
    "-A admin-chain -j nsg-ixyz",
]


def test_iptables_chains_of_someone_else_survive_the_firewalls_cleanup(lab: Lab) -> None:
    _require(None if shutil.which("iptables-restore") else "iptables missing (Debian iptables)")
    ns = lab.netns("h")
    host = IpRouteNet(ns)
    chains = [":nsg-foreign - [0:0]", ":nsg-ixyz - [0:0]", ":admin-chain - [0:0]"]
    host.iptables_restore("\n".join(["*filter", *chains, *FOREIGN_RULES, "COMMIT", ""]))
    fw = Firewall(host)
    fw.groups = {"web": SecurityGroupSpec(rules=[])}
    fw.set_port("tapabc", "56:6f:1a:2b:3c:01", ["web"])
    assert "-A neutrino-sg -m physdev --physdev-in tapabc" in host.iptables_save()
    fw.set_port("tapabc", "56:6f:1a:2b:3c:01", [])  # unfiltered: the agent cleans its chains up
    saved = host.iptables_save()
    assert "nsg-iabc" not in saved and "nsg-oabc" not in saved
    for line in [*[c.split()[0] for c in chains], *FOREIGN_RULES]:
        assert line in saved, saved


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_a_dnsmasq_the_agent_did_not_start_survives_its_cleanup(lab: Lab, tmp_path: Path) -> None:
    _require(None if shutil.which("dnsmasq") else "dnsmasq missing (Debian dnsmasq-base)")
    ns = lab.netns("d")
    quiet = ["--conf-file=/dev/null", "--port=0", "--no-resolv", "--no-hosts", "--bind-interfaces",
             "--interface=lo"]  # fmt: skip
    theirs = lab.spawn(ns, "dnsmasq", "--keep-in-foreground", *quiet, f"--pid-file={tmp_path / 'theirs.pid'}")
    run_dir = tmp_path / "dhcp"
    launcher = ProcessLauncher(run_dir)
    # the agent's own server for one network: started, then stopped by its pid file
    launcher.ensure("net-ours", ns, ["dnsmasq", *quiet, f"--pid-file={run_dir / 'net-ours.pid'}"], "d1")
    ours = int((run_dir / "net-ours.pid").read_text())
    assert _alive(ours)
    # its pid file for another network names the other dnsmasq (a pid reused, a file someone wrote)
    deadline = time.monotonic() + 10
    while not _alive(theirs.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    (run_dir / "net-gone.pid").write_text(str(theirs.pid))
    launcher.stop("net-gone")
    launcher.stop("net-ours")
    time.sleep(0.2)
    assert _alive(theirs.pid) and theirs.poll() is None
    assert not _alive(ours)
    assert not (run_dir / "net-gone.pid").exists()  # the stale file is gone, the process it named stays


def test_ovs_ports_without_the_agents_external_id_survive_in_ovn_mode(lab: Lab) -> None:
    require_ovs()
    ns = lab.netns("o")
    ovs = VsctlOvsDb(lab.ovs(ns, "o"))
    ctx = DriverContext(host_net=IpRouteNet(ns), ovs=ovs, ovs_datapath_type="netdev", ovn=True)
    driver = OpenVSwitchDriver(ctx)
    ovs.ensure_bridge("br-int", "netdev")
    tunnel = {"ovn-chassis-id": "chassis-2", "ovn-chassis-ip": "192.0.2.2"}  # what ovn-controller makes
    sh("ovs-vsctl", f"--db={ovs.db}", "add-port", "br-int", "ovn-chassi-0", "--", "set", "Interface",
       "ovn-chassi-0", "type=geneve", "options:remote_ip=192.0.2.2",
       *[f"external-ids:{k}={v}" for k, v in tunnel.items()])  # fmt: skip

    def vif(n: int) -> Vif:
        net = ExternalNet(vnic_id=str(uuid.uuid4()), plugin_type="OPEN_VSWITCH", network_id=str(uuid.uuid4()))
        return Vif(nic_id=f"nic-{n}", mac=f"56:6f:1a:00:09:{n:02x}", mtu=None,
                   device=linux_net.tap_name(net.vnic_id), net=net)  # fmt: skip

    one, two = vif(1), vif(2)
    driver.plug(one)
    assert (ovs.interface_external_ids(one.device) or {}).get("neutrino-owner") == "neutrino"
    sh("ovs-vsctl", f"--db={ovs.db}", "add-port", "br-int", two.device, "--", "set", "Interface", two.device,
       "external-ids:owner=admin")  # fmt: skip
    with pytest.raises(NotOurs, match=two.device):
        driver.plug(two)
    driver.unplug(two, network_in_use=False)
    driver.unplug(one, network_in_use=False)
    left = {p.name: p.external_ids for p in ovs.ports("br-int")}
    assert left == {"ovn-chassi-0": tunnel, two.device: {"owner": "admin"}}, left
