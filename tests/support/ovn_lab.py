"""An OVN lab in network namespaces, after ``shared/platform/ovn-two-chassis.sh``: OVN central (NB and
SB ovsdb-servers, ovn-northd) and N chassis, each its own ovsdb-server and ovs-vswitchd on the userspace
datapath, joined by an L2 underlay.

::

    <prefix>ul       Linux bridge br0 (10.213.0.0/24), L2 only: the underlay (Geneve)
     │                Linux bridge br1, no address: the provider network (physnet1)
     ├─ <prefix>central  10.213.0.10 on ul0: NB ptcp:6641, SB ptcp:6642, ovn-northd
     ├─ <prefix>ch1      10.213.0.11 on br-phy (ul0 its port); ovsdb-server + ovs-vswitchd
     │                   br-prov, no address (pv0 its port, peer pv-ch1 on br1)
     └─ <prefix>ch2      10.213.0.12 ...

The lab makes no chassis an OVN chassis: that is the agent's job (``Open_vSwitch`` external ids,
``br-int``, ovn-controller, with :meth:`OvnLab.agent_args`). What it does set up is what a host has
before the agent runs: Open vSwitch, and the underlay address on the OVS bridge ``br-phy``, which
OVS's userspace tunneling needs (with the address on the veth, tunnel ports appear but no packet
leaves). TX checksum offload is off on the underlay veths (the netdev datapath forwards a frame left
to offload with a wrong checksum, and the chassis' TCP connection to the SB would die).

Each chassis also has a provider bridge ``br-prov`` for flat and VLAN networks (an agent given
``--ovn-bridge-mappings physnet1:br-prov`` maps the physical network onto it, and ovn-controller
patches it to ``br-int`` for each localnet port): its port ``pv0`` is a veth whose peer
``pv-<chassis>`` sits on the underlay namespace's second Linux bridge ``br1``, an L2 segment with no
address and no route anywhere. The kernel here has no 802.1Q, but a Linux bridge without VLAN
filtering forwards tagged frames as they are, so ``tcpdump -e`` on ``pv-<chassis>`` shows each
frame's tag as it left the chassis (:attr:`Chassis.wire`).

Every daemon runs with its pid file, sockets and log under the lab's directory (``OVS_RUNDIR`` too,
where ovs-vswitchd puts the bridges' mgmt sockets ovn-controller connects to), so labs never share
anything; :meth:`OvnLab.cleanup` stops them by pid and deletes the namespaces (through
:class:`~tests.support.netlab.Lab`).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from neutrino.agent.datapath.ethtool import set_tx_checksum
from tests.support.netlab import OVS_SCHEMA, Lab, sh
from tests.support.ovn_central import NB_SCHEMA, SB_SCHEMA

TOOLS = ("ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovn-northd", "ovn-controller",
         "ovn-nbctl", "ovn-sbctl", "busybox")  # fmt: skip
SUBNET = "10.213.0"
CENTRAL_IP = f"{SUBNET}.10"
PHYSNET = "physnet1"  # the physical network every chassis maps onto its provider bridge
PROVIDER_BRIDGE = "br-prov"


def missing_tools() -> str | None:
    """Why no OVN lab can be built here (a missing program), or None."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing or not NB_SCHEMA.exists():
        return f"OVN lab: missing {missing or NB_SCHEMA} (Debian ovn-central ovn-host openvswitch-switch busybox)"
    return None


def wait_for(what: str, check: Callable[[], bool], timeout: float = 30, every: float = 0.1) -> None:
    """Poll ``check`` until true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


@contextmanager
def tcpdump(ns: str, dev: str, *expression: str) -> Iterator[list[str]]:
    """``tcpdump -e -n`` on ``dev`` in namespace ``ns`` (link-level headers: MACs, ethertype, VLAN
    tag) while the block runs, capturing only once tcpdump listens; when the block ends, the list
    it yielded holds one line per frame seen."""
    if shutil.which("tcpdump") is None:
        raise AssertionError("tcpdump is missing (Debian tcpdump)")
    argv = ["ip", "netns", "exec", ns, "tcpdump", "-e", "-n", "-l", "--immediate-mode", "-i", dev,
            *expression]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    frames: list[str] = []
    try:
        said = ""
        deadline = time.monotonic() + 10
        while "listening on" not in said:  # tcpdump says so on stderr, after a line or two of notes
            ready, _, _ = select.select([proc.stderr], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(proc.stderr.fileno(), 4096).decode(errors="replace") if ready else ""
            if not chunk:
                raise AssertionError(f"tcpdump on {dev} in {ns} did not start: {said}")
            said += chunk
        yield frames
    finally:
        proc.send_signal(signal.SIGINT)  # tcpdump prints what it has and exits
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    frames.extend(line for line in out.splitlines() if line.strip())


@dataclass(frozen=True)
class Chassis:
    """A host namespace with its own Open vSwitch, not yet an OVN chassis."""

    name: str
    ns: str
    ip: str  # on br-phy: the tunnel (encap) address
    rundir: Path  # OVS_RUNDIR: db.sock, the bridges' mgmt sockets, pid files, logs
    wire: str = ""  # in the underlay namespace: the peer of br-prov's veth, on br1 (tcpdump here)

    @property
    def db(self) -> str:
        return f"unix:{self.rundir / 'db.sock'}"

    def vsctl(self, *args: str) -> str:
        return sh("ovs-vsctl", "--timeout=20", f"--db={self.db}", *args).stdout


@dataclass
class OvnLab:
    """Central plus chassis; build with :meth:`build`, always :meth:`cleanup`."""

    net: Lab
    chassis: list[Chassis] = field(default_factory=list)
    central_ns: str = ""

    @property
    def workdir(self) -> Path:
        return self.net.workdir

    @property
    def sb_remote(self) -> str:
        return f"tcp:{CENTRAL_IP}:6642"

    def _env(self, rundir: Path) -> dict[str, str]:
        names = ("OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVN_RUNDIR", "OVN_DBDIR", "OVN_LOGDIR")
        return {**os.environ, **dict.fromkeys(names, str(rundir))}

    def _daemon(self, ns: str, rundir: Path, name: str, *argv: str) -> None:
        """``argv`` detached in ``ns`` with its pid file, control socket and log under ``rundir``."""
        pidfile = rundir / f"{name}.pid"
        subprocess.run(
            ["nsenter", f"--net=/run/netns/{ns}", *argv, "-vconsole:off", "--detach", "--no-chdir",
             f"--pidfile={pidfile}", f"--log-file={rundir / (name + '.log')}", f"--unixctl={rundir / (name + '.ctl')}"],
            env=self._env(rundir), check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        self.net.pidfiles.append(pidfile)

    def _uplink(self, ns: str, port: str) -> None:
        """``ul0`` in ``ns``, its peer ``port`` on the underlay bridge; TX checksum offload off."""
        ul = self.net.prefix + "ul"
        sh("ip", "-n", ul, "link", "add", port, "type", "veth", "peer", "name", "ul0", "netns", ns)
        sh("ip", "-n", ul, "link", "set", port, "master", "br0", "up")
        set_tx_checksum("ul0", False, netns=ns)
        sh("ip", "-n", ns, "link", "set", "ul0", "up")

    def _netns(self, name: str) -> str:
        ns = self.net.netns(name)
        self.net.in_ns(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        return ns

    @property
    def underlay_ns(self) -> str:
        """The namespace of the underlay (br0) and provider (br1) bridges."""
        return self.net.prefix + "ul"

    def agent_args(self, ch: Chassis) -> tuple[str, ...]:
        """``neutrino agent`` options that make ``ch`` an OVN chassis of this lab, with
        :data:`PHYSNET` mapped onto its provider bridge."""
        return ("--ovn-remote", self.sb_remote, "--ovn-encap-ip", ch.ip,
                "--ovn-bridge-mappings", f"{PHYSNET}:{PROVIDER_BRIDGE}",
                "--ovs-rundir", str(ch.rundir), "--ovn-rundir", str(ch.rundir))  # fmt: skip

    def build(self, chassis: int = 2) -> OvnLab:
        ul = self._netns("ul")
        for bridge in ("br0", "br1"):
            sh("ip", "-n", ul, "link", "add", bridge, "type", "bridge")
            sh("ip", "-n", ul, "link", "set", bridge, "up")
        self._central()
        for n in range(1, chassis + 1):
            self.chassis.append(self._chassis(n))
        return self

    def _central(self) -> None:
        self.central_ns = ns = self._netns("central")
        self._uplink(ns, "p-central")
        sh("ip", "-n", ns, "addr", "add", f"{CENTRAL_IP}/24", "dev", "ul0")
        run = self.workdir / "central"
        run.mkdir()
        for db, schema, port in (("ovnnb_db", str(NB_SCHEMA), 6641), ("ovnsb_db", str(SB_SCHEMA), 6642)):
            sh("ovsdb-tool", "create", str(run / f"{db}.db"), schema)
            self._daemon(ns, run, db, "ovsdb-server", f"--remote=punix:{run / (db + '.sock')}",
                         f"--remote=ptcp:{port}:{CENTRAL_IP}", str(run / f"{db}.db"))  # fmt: skip
        self._daemon(ns, run, "ovn-northd", "ovn-northd", f"--ovnnb-db=unix:{run / 'ovnnb_db.sock'}",
                     f"--ovnsb-db=unix:{run / 'ovnsb_db.sock'}")  # fmt: skip
        self.nbctl("init")

    def _chassis(self, n: int) -> Chassis:
        ns = self._netns(f"ch{n}")
        self._uplink(ns, f"p-ch{n}")
        run = self.workdir / f"ch{n}"
        run.mkdir()
        ch = Chassis(name=f"ch{n}", ns=ns, ip=f"{SUBNET}.{10 + n}", rundir=run, wire=f"pv-ch{n}")
        sh("ovsdb-tool", "create", str(run / "conf.db"), OVS_SCHEMA)
        self._daemon(
            ns, run, "ovsdb-server", "ovsdb-server", f"--remote=punix:{run / 'db.sock'}", str(run / "conf.db")
        )
        ch.vsctl("--no-wait", "init")
        # a 2-core machine shared with other jobs: few threads
        ch.vsctl("--no-wait", "set", "Open_vSwitch", ".", "other_config:n-handler-threads=1",
                 "other_config:n-revalidator-threads=1")  # fmt: skip
        self._daemon(ns, run, "ovs-vswitchd", "ovs-vswitchd", ch.db)
        ch.vsctl("add-br", "br-phy", "--", "set", "Bridge", "br-phy", "datapath_type=netdev",
                 f"other_config:hwaddr=02:00:0a:d5:00:{10 + n:02x}", "--", "add-port", "br-phy", "ul0")  # fmt: skip
        sh("ip", "-n", ns, "addr", "add", f"{ch.ip}/24", "dev", "br-phy")
        sh("ip", "-n", ns, "link", "set", "br-phy", "up")
        self._provider_bridge(ch)
        return ch

    def _provider_bridge(self, ch: Chassis) -> None:
        """``br-prov`` in the chassis, its port ``pv0`` a veth to ``br1`` in the underlay namespace."""
        ul = self.underlay_ns
        sh("ip", "-n", ul, "link", "add", ch.wire, "type", "veth", "peer", "name", "pv0", "netns", ch.ns)
        sh("ip", "-n", ul, "link", "set", ch.wire, "master", "br1", "up")
        set_tx_checksum("pv0", False, netns=ch.ns)
        sh("ip", "-n", ch.ns, "link", "set", "pv0", "up")
        ch.vsctl("add-br", PROVIDER_BRIDGE, "--", "set", "Bridge", PROVIDER_BRIDGE, "datapath_type=netdev",
                 "--", "add-port", PROVIDER_BRIDGE, "pv0")  # fmt: skip

    def nbctl(self, *args: str) -> str:
        db = f"unix:{self.workdir / 'central' / 'ovnnb_db.sock'}"
        return sh("ovn-nbctl", "--timeout=30", f"--db={db}", *args).stdout.strip()

    def sbctl(self, *args: str) -> str:
        db = f"unix:{self.workdir / 'central' / 'ovnsb_db.sock'}"
        return sh("ovn-sbctl", "--timeout=30", f"--db={db}", *args).stdout.strip()

    def sb_chassis(self) -> set[str]:
        """The chassis names registered in the southbound DB."""
        return set(self.sbctl("--bare", "--columns=name", "list", "Chassis").split())

    def port_chassis(self, lsp: str) -> str | None:
        """The chassis name the logical port is bound to, or None."""
        rows = json.loads(self.sbctl("--format=json", "--columns=chassis", "find", "Port_Binding",
                                     f"logical_port={lsp}"))["data"]  # fmt: skip
        if not rows or rows[0][0] == ["set", []]:
            return None
        uuid = rows[0][0][1]
        return self.sbctl("--bare", "--columns=name", "list", "Chassis", uuid) or None

    def forget_chassis(self, *names: str) -> None:
        """Delete these chassis from the southbound. An agent stopped gracefully takes its chassis out
        itself; one killed leaves it registered, and its Encap (type, IP) would keep a chassis of another
        name from registering on the same lab host."""
        for name in names:
            self.sbctl("--if-exists", "chassis-del", name)
            for row in self.sbctl(
                "--bare", "--columns=_uuid", "find", "Chassis_Private", f"name={name}"
            ).split():
                self.sbctl("destroy", "Chassis_Private", row)

    def forget_neutron(self) -> None:
        """Delete the northbound rows a provider wrote (routers, switches, port groups, DHCP options),
        so a test that ran one leaves the session's central as it found it."""
        for name in self.nbctl("--bare", "--columns=name", "list", "Logical_Router").split():
            if name.startswith("neutron-"):
                self.nbctl("lr-del", name)
        for name in self.nbctl("--bare", "--columns=name", "list", "Logical_Switch").split():
            if name.startswith("neutron-"):
                self.nbctl("ls-del", name)
        for name in self.nbctl("--bare", "--columns=name", "list", "Port_Group").split():
            if name.startswith("pg_") or name == "neutron_pg_drop":
                self.nbctl("pg-del", name)
        rows = json.loads(self.nbctl("--format=json", "--columns=_uuid,external_ids", "list", "DHCP_Options"))
        for (_, row), (_, ids) in rows["data"]:
            if any(key == "subnet_id" for key, _ in ids):
                self.nbctl("dhcp-options-del", row)

    def forget_patch_ports(self) -> None:
        """Delete the patch ports ovn-controller made between ``br-int`` and the provider bridge
        for localnet ports (it leaves them when it stops), so the chassis are as built."""
        for ch in self.chassis:
            for row in json.loads(
                ch.vsctl("--format=json", "--columns=name", "find", "Interface", "type=patch")
            )["data"]:
                ch.vsctl("--if-exists", "del-port", row[0])

    def cleanup(self) -> None:
        """Every daemon stopped by pid, every namespace deleted."""
        self.net.cleanup()
