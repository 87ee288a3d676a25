"""OVN mode on fakes at our seams: the in-memory OVSDB and a fake ovn-controller launcher."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from neutrino.agent.app import build_agent, userspace_datapath
from neutrino.agent.datapath import linux_net
from neutrino.agent.datapath.hostnet import HostNetError
from neutrino.agent.datapath.memory import MemoryNet
from neutrino.agent.datapath.vswitch import MemoryOvsDb
from neutrino.agent.ovn_chassis import OvnChassis, OvnConfig, pidfile
from neutrino.agent.settings import AgentSettings
from neutrino.agent.vnic.base import DriverContext, Vif
from neutrino.agent.vnic.open_vswitch import OpenVSwitchDriver
from neutrino.agent_api.schema import ExternalNet, VmSpec

from .helpers import ext_nic


@dataclass
class FakeController:
    pid: int
    running: bool = True
    stopped: bool = False

    def alive(self) -> bool:
        return self.running

    def stop(self, timeout: float) -> None:
        self.running, self.stopped = False, True


@dataclass
class FakeLauncher:
    """Launches fake controllers; ``live`` maps pid files to the pid of a live ovn-controller."""

    live: dict[Path, int] = field(default_factory=dict)
    launched: list[FakeController] = field(default_factory=list)
    terminated: list[int] = field(default_factory=list)

    def launch(self, config: OvnConfig) -> FakeController:
        ctl = FakeController(pid=1000 + len(self.launched))
        self.launched.append(ctl)
        return ctl

    def running(self, pidfile: Path) -> int | None:
        return self.live.get(pidfile)

    def terminate(self, pid: int, timeout: float) -> None:
        self.terminated.append(pid)


def config(tmp_path: Path, **given: Any) -> OvnConfig:
    values: dict[str, Any] = dict(
        system_id="host-1", remote="tcp:192.0.2.10:6642", encap_ip="192.0.2.11", datapath_type="netdev",
        bridge_mappings={"physnet1": "br-ext"}, ovn_rundir=tmp_path / "system", run_dir=tmp_path / "ovn",
    )  # fmt: skip
    values.update(given)
    return OvnConfig(**values)


def test_the_switch_is_configured_for_ovn_and_only_rewritten_when_it_differs(tmp_path: Path) -> None:
    ovs, launcher = MemoryOvsDb(), FakeLauncher()
    chassis = OvnChassis(config(tmp_path), ovs, launcher)
    chassis.configure()
    assert ovs.external_ids == {
        "system-id": "host-1", "hostname": "host-1", "ovn-remote": "tcp:192.0.2.10:6642",
        "ovn-encap-type": "geneve", "ovn-encap-ip": "192.0.2.11", "ovn-bridge": "br-int",
        "ovn-bridge-mappings": "physnet1:br-ext", "ovn-monitor-all": "true", "ovn-bridge-datapath-type": "netdev",
    }  # fmt: skip
    assert ovs.datapath_types == {"br-int": "netdev", "br-ext": "netdev"}
    assert ovs.secure == {"br-int"}
    calls = ovs.calls
    chassis.configure()
    assert ovs.calls == calls
    OvnChassis(config(tmp_path, encap_type="vxlan"), ovs, launcher).configure()
    assert ovs.external_ids["ovn-encap-type"] == "vxlan" and ovs.calls == calls + 1


def test_ovn_controller_is_started_restarted_when_it_dies_and_stopped(tmp_path: Path) -> None:
    launcher = FakeLauncher()
    chassis = OvnChassis(config(tmp_path), MemoryOvsDb(), launcher, interval=3600)
    chassis.start()
    try:
        assert len(launcher.launched) == 1
        assert chassis.status().controller == "agent" and chassis.status().pid == 1000
        assert chassis.check() is False  # alive: nothing to do
        launcher.launched[0].running = False
        assert chassis.status().controller == "none"
        assert chassis.check() is True
        assert len(launcher.launched) == 2 and chassis.status().pid == 1001
        assert chassis.status().restarts == 1
    finally:
        chassis.stop()
    assert launcher.launched[1].stopped
    assert chassis.check() is False  # stopped: no restart
    assert len(launcher.launched) == 2


def test_the_systems_ovn_controller_is_left_alone(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    launcher = FakeLauncher(live={cfg.ovn_rundir / "ovn-controller.pid": 42})
    chassis = OvnChassis(cfg, MemoryOvsDb(), launcher, interval=3600)
    chassis.start()
    try:
        assert launcher.launched == [] and chassis.status().controller == "system"
        assert chassis.check() is False
    finally:
        chassis.stop()
    assert launcher.terminated == []


def test_an_ovn_controller_left_by_a_killed_agent_is_replaced_not_duplicated(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    launcher = FakeLauncher(live={pidfile(cfg): 77})
    chassis = OvnChassis(cfg, MemoryOvsDb(), launcher, interval=3600)
    chassis.start()
    chassis.stop()
    assert launcher.terminated == [77] and len(launcher.launched) == 1


class DownOvsDb(MemoryOvsDb):
    """An OVSDB that is not up yet while ``down`` is set."""

    down: bool = True

    def switch_external_ids(self) -> dict[str, str]:
        if self.down:
            raise HostNetError("ovs-vsctl: unix:/run/openvswitch/db.sock: database connection failed")
        return super().switch_external_ids()


def test_a_switch_not_up_yet_is_configured_by_the_supervisor_later(tmp_path: Path) -> None:
    ovs, launcher = DownOvsDb(), FakeLauncher()
    chassis = OvnChassis(config(tmp_path), ovs, launcher, interval=3600)
    chassis.start()  # does not raise
    try:
        assert not chassis.status().configured and ovs.external_ids == {}
        assert len(launcher.launched) == 1  # ovn-controller waits for its configuration itself
        ovs.down = False
        chassis.check()
        assert chassis.status().configured and ovs.external_ids["system-id"] == "host-1"
    finally:
        chassis.stop()


def ovn_vif(n: int, plugin_type: str = "OPEN_VSWITCH") -> Vif:
    spec = ext_nic(n, plugin_type=plugin_type, network_type="geneve", segmentation_id=7,
                   security_groups=["default"])  # fmt: skip
    net = ExternalNet.model_validate(spec["external"])
    return Vif(
        nic_id=spec["nic_id"], mac=spec["mac"], mtu=1442, device=linux_net.tap_name(net.vnic_id), net=net
    )


def test_the_ovn_plug_is_an_untagged_br_int_port_named_by_iface_id_with_no_hybrid_plug() -> None:
    net, ovs = MemoryNet(), MemoryOvsDb()
    driver = OpenVSwitchDriver(DriverContext(host_net=net, ovs=ovs, ovs_datapath_type="netdev", ovn=True))
    info = driver.describe()
    assert info.plugin_types == ("OPEN_VSWITCH", "OVIRT_PROVIDER_OVN")
    assert set(info.network_types) == {"geneve", "vxlan", "flat", "vlan"} and info.security_groups
    one, two = ovn_vif(1), ovn_vif(2, "OVIRT_PROVIDER_OVN")
    plugged = [driver.plug(v) for v in (one, two)]
    ports = {p.name: p for p in ovs.ports("br-int")}
    assert set(ports) == {one.device, two.device}  # no vxlan device, no qvo
    assert ports[one.device].tag is None and ports[two.device].tag is None
    assert ports[one.device].external_ids == {"iface-id": one.net.vnic_id, "attached-mac": one.mac,
                                              "iface-status": "active", "neutrino-owner": "neutrino"}  # fmt: skip
    assert plugged[0].bridge == "br-int" and plugged[0].security_groups == ["default"]
    assert net.link(linux_net.qbr_name(one.net.vnic_id)) is None
    assert driver.plug(one) == plugged[0]  # idempotent
    driver.unplug(one, network_in_use=False)
    assert [p.name for p in ovs.ports("br-int")] == [two.device]


def test_build_agent_in_ovn_mode_has_the_chassis_part_and_no_firewall_or_follower(tmp_path: Path) -> None:
    settings = AgentSettings(
        data_dir=tmp_path, token=SecretStr("t"), host_name="chassis-a", host_net="memory", vm_backend="netns",
        ovn_remote="tcp:192.0.2.10:6642", ovn_encap_ip="192.0.2.11", provider_url="http://192.0.2.1:9696",
        vnic_drivers={"LINUX_BRIDGE": "noop", "OPEN_VSWITCH": "noop"},
    )  # fmt: skip
    agent = build_agent(settings)
    assert agent.ovn is not None and agent.follower is None and agent.reporter is None
    assert agent.security.firewall is None
    assert agent.ovn.config.system_id == "chassis-a" and agent.ovn.config.run_dir == tmp_path / "ovn"
    caps = agent.capabilities()
    assert caps.plugin_types["OPEN_VSWITCH"].driver == "open_vswitch"
    for plugin_type in ("OPEN_VSWITCH", "OVIRT_PROVIDER_OVN"):
        support = caps.plugin_types[plugin_type]
        assert support.binding_host_id == "chassis-a" and support.security_groups
        assert "geneve" in support.network_types
    assert caps.plugin_types["LINUX_BRIDGE"].driver == "noop"
    spec = ext_nic(1, plugin_type="OVIRT_PROVIDER_OVN", network_type="geneve", security_groups=["g"])
    vm, created = agent.vms.create_vm(VmSpec.model_validate({"vm_id": "v", "name": "v", "nics": [spec]}))
    assert created and vm.nics[0].state == "plugged", vm  # groups need no firewall here: OVN applies them


def test_ovn_controller_gets_the_southbounds_pki_for_an_ssl_remote(tmp_path: Path) -> None:
    assert config(tmp_path).ssl_options() == []
    pki = {
        "private_key": tmp_path / "k.pem",
        "certificate": tmp_path / "c.pem",
        "ca_cert": tmp_path / "ca.pem",
    }
    assert config(tmp_path, remote="ssl:192.0.2.10:6642", **pki).ssl_options() == [
        f"--private-key={tmp_path / 'k.pem'}", f"--certificate={tmp_path / 'c.pem'}",
        f"--ca-cert={tmp_path / 'ca.pem'}",
    ]  # fmt: skip
    for path in pki.values():
        path.write_text("PEM")
    settings = AgentSettings(
        data_dir=tmp_path, token=SecretStr("t"), host_name="chassis-a", host_net="memory",
        ovn_remote="ssl:192.0.2.10:6642", ovn_encap_ip="192.0.2.11",
        ovn_private_key=pki["private_key"], ovn_certificate=pki["certificate"], ovn_ca_cert=pki["ca_cert"],
    )  # fmt: skip
    agent = build_agent(settings)
    assert agent.ovn is not None
    assert (agent.ovn.config.private_key, agent.ovn.config.certificate, agent.ovn.config.ca_cert) == (
        pki["private_key"], pki["certificate"], pki["ca_cert"])  # fmt: skip


def test_the_userspace_datapath_is_chosen_without_the_kernel_module() -> None:
    assert userspace_datapath() == (None if Path("/sys/module/openvswitch").exists() else "netdev")
