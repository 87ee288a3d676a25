"""OVN mode: the host as an OVN chassis.

:class:`OvnChassis` configures the host's Open vSwitch for OVN (the ``Open_vSwitch`` record's
``external_ids``: ``system-id``, ``ovn-remote``, ``ovn-encap-type``, ``ovn-encap-ip``,
``ovn-bridge-mappings``, ``ovn-monitor-all``; the integration bridge with its datapath type, secure), and runs
``ovn-controller`` when the system does not: it starts it, restarts it when it dies and stops it
with the agent. OVN then does what the agent's follower does in its own mode (DHCP, security
groups, tunnels), so an agent in OVN mode runs no follower; plugging is the ``open_vswitch``
driver's direct plug with ``external_ids:iface-id`` = the port id (see ``vnic/open_vswitch.py``).

The system's ``ovn-controller`` is the live process named by ``ovn-controller.pid`` in the OVN
run dir (Debian: ``/run/ovn``). The agent's own writes its pid file, log and control socket in
``DATA_DIR/ovn``; one left running by an agent that was killed is stopped before a new one
starts, so a restarted agent never runs two.

Two ways the agent's ovn-controller ends, as OVN distinguishes them:

- a deliberate stop of the agent asks it to exit gracefully (``ovn-appctl -t CTL exit``): it
  deletes its ``Chassis``, ``Chassis_Private`` and ``Encap`` rows from the southbound and releases
  its ports' bindings, so the chassis leaves the provider's agent list at once instead of lingering
  until its heartbeat is too old. SIGTERM, then SIGKILL, only if that does not end it in time
  (e.g. the southbound is unreachable: the cleanup waits for it);
- a restart (an ovn-controller that died, restarted by the supervisor; one left by a killed agent,
  replaced by the next) keeps the chassis: the old process is ended with SIGTERM, which leaves the
  southbound as it is, and the new one takes over the same ``Chassis`` row.

With an ``ssl:`` remote, ovn-controller gets the private key, certificate and CA certificate of
the southbound's PKI (``-p``, ``-c``, ``-C``).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from neutrino.agent.datapath.hostnet import HostNetError
from neutrino.agent.datapath.vswitch import OvsDb

log = logging.getLogger(__name__)

ENCAP_TYPES = ("geneve", "vxlan")


@dataclass(frozen=True)
class OvnConfig:
    """What makes this host an OVN chassis."""

    system_id: str  # the chassis name in the southbound DB; the ports' binding:host_id
    remote: str  # the southbound DB, e.g. tcp:192.0.2.1:6642
    encap_ip: str  # this host's tunnel address
    encap_type: str = "geneve"
    bridge_mappings: dict[str, str] = field(default_factory=dict)  # physnet -> OVS bridge
    integration_bridge: str = "br-int"
    datapath_type: str | None = None  # "netdev": the userspace datapath
    ovs_db: str = "unix:/run/openvswitch/db.sock"  # the OVSDB ovn-controller connects to
    ovs_rundir: Path = Path("/run/openvswitch")  # where ovs-vswitchd keeps the bridges' mgmt sockets
    ovn_rundir: Path = Path("/run/ovn")  # where the system's ovn-controller keeps its pid file
    run_dir: Path = Path("/var/lib/neutrino/agent/ovn")  # the agent's own ovn-controller's files
    # the southbound's PKI, for an ssl: remote: this chassis' key and certificate, the CA's certificate
    private_key: Path | None = None
    certificate: Path | None = None
    ca_cert: Path | None = None

    def ssl_options(self) -> list[str]:
        """ovn-controller's PKI options (``-p``, ``-c``, ``-C`` in their long forms) for those given."""
        given = (
            ("private-key", self.private_key),
            ("certificate", self.certificate),
            ("ca-cert", self.ca_cert),
        )
        return [f"--{option}={path}" for option, path in given if path is not None]

    def external_ids(self) -> dict[str, str]:
        """The ``Open_vSwitch`` external ids ovn-controller reads."""
        ids = {
            "system-id": self.system_id,
            "hostname": self.system_id,
            "ovn-remote": self.remote,
            "ovn-encap-type": self.encap_type,
            "ovn-encap-ip": self.encap_ip,
            "ovn-bridge": self.integration_bridge,
            "ovn-bridge-mappings": ",".join(f"{k}:{v}" for k, v in sorted(self.bridge_mappings.items())),
            # the whole southbound rather than what concerns this chassis: with conditions, every
            # port plugged here changes ovn-controller's monitor condition, which the southbound's
            # ovsdb-server evaluates anew (about half its CPU in the ports-at-scale bench), and
            # the port waits for the rows it sends back; Neutron's OVN deployments set it at scale too
            "ovn-monitor-all": "true",
        }
        if self.datapath_type:
            ids["ovn-bridge-datapath-type"] = self.datapath_type
        return ids


class Controller(Protocol):
    """A running ``ovn-controller``."""

    @property
    def pid(self) -> int: ...

    def alive(self) -> bool: ...

    def stop(self, timeout: float) -> None:
        """End it deliberately: a graceful exit that takes its chassis out of the southbound."""
        ...


class ControllerLauncher(Protocol):
    """Starts ``ovn-controller`` processes and finds those already running (the seam unit tests fake)."""

    def launch(self, config: OvnConfig) -> Controller: ...

    def running(self, pidfile: Path) -> int | None:
        """The pid of the live ``ovn-controller`` the pid file names, or None."""
        ...

    def terminate(self, pid: int, timeout: float) -> None:
        """Stop that process (SIGTERM, then SIGKILL): the chassis stays in the southbound for the
        ovn-controller that replaces it."""
        ...


def pidfile(config: OvnConfig) -> Path:
    """The agent's own ovn-controller's pid file."""
    return config.run_dir / "ovn-controller.pid"


def _is_ovn_controller(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return False
    return comm == "ovn-controller" and stat[stat.rindex(")") + 2 :].split()[0] != "Z"


def control_socket(run_dir: Path, pid: int) -> Path:
    """The control socket of the ovn-controller ``pid`` whose OVN_RUNDIR is ``run_dir`` (23.03 takes no
    ``--unixctl``: it names the socket after its pid)."""
    return run_dir / f"ovn-controller.{pid}.ctl"


@dataclass
class _Child:
    proc: subprocess.Popen[bytes]
    run_dir: Path  # its OVN_RUNDIR: where its control socket is

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float) -> None:
        """A graceful exit (the chassis leaves the southbound); SIGTERM, then SIGKILL, if it does
        not end within ``timeout`` seconds."""
        if self.proc.poll() is not None:
            return
        ctl = control_socket(self.run_dir, self.pid)
        wait = max(1, int(timeout / 2))
        try:
            done = subprocess.run(
                ["ovn-appctl", "-t", str(ctl), f"--timeout={wait}", "exit"],
                capture_output=True, text=True, timeout=wait + 5, check=False,
            )  # fmt: skip
            if done.returncode != 0:
                log.warning("ovn-controller: exit through %s failed: %s", ctl, done.stderr.strip())
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("ovn-controller: exit through %s failed: %s", ctl, exc)
        try:
            self.proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            log.warning("ovn-controller: pid %s did not exit gracefully; terminating it", self.pid)
        self.proc.terminate()
        try:
            self.proc.wait(wait)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


class ControllerProcesses:
    """``ovn-controller`` as a child process of the agent, in the agent's network namespace."""

    def launch(self, config: OvnConfig) -> Controller:
        config.run_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            "ovn-controller",
            "-vconsole:off",
            "-vfile:info",
            "--no-chdir",
            f"--pidfile={pidfile(config)}",
            f"--log-file={config.run_dir / 'ovn-controller.log'}",
            *config.ssl_options(),
            config.ovs_db,
        ]
        # ovn-controller reaches br-int's OpenFlow socket under OVS_RUNDIR and puts its own
        # control socket (ovn-controller.<pid>.ctl; 23.03 has no --unixctl) under OVN_RUNDIR.
        env = {**os.environ, "OVS_RUNDIR": str(config.ovs_rundir), "OVN_RUNDIR": str(config.run_dir)}
        try:
            # its own process group: a Ctrl-C meant for the agent (or `neutrino up`) must not kill it
            # before the agent stops it gracefully
            proc = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, process_group=0
            )
        except OSError as exc:
            raise HostNetError(f"ovn-controller: {exc}") from exc
        return _Child(proc, config.run_dir)

    def running(self, pidfile: Path) -> int | None:
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _is_ovn_controller(pid) else None

    def terminate(self, pid: int, timeout: float) -> None:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while _is_ovn_controller(pid):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                return
            time.sleep(0.05)


class Announcer(Protocol):
    """A companion thread started and stopped with the chassis (``ovn_announcer.NatAnnouncer``)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class ChassisStatus:
    """What :meth:`OvnChassis.status` reports."""

    system_id: str
    controller: str  # "agent": ours, "system": the system's, "none": not running
    pid: int | None
    restarts: int
    configured: bool  # the switch is configured for OVN


class OvnChassis:
    """The host as an OVN chassis: its Open vSwitch configured, ``ovn-controller`` supervised."""

    def __init__(
        self,
        config: OvnConfig,
        ovs: OvsDb,
        launcher: ControllerLauncher,
        interval: float = 1.0,
        announcer: Announcer | None = None,
    ) -> None:
        self.config = config
        self.announcer = announcer
        self.ovs = ovs
        self.launcher = launcher
        self.interval = interval
        self.restarts = 0
        self._controller: Controller | None = None
        self._system = False
        self._configured = False
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def configure(self) -> None:
        """The switch's external ids and the bridges OVN uses (idempotent)."""
        cfg = self.config
        for bridge in (cfg.integration_bridge, *sorted(set(cfg.bridge_mappings.values()))):
            self.ovs.ensure_bridge(bridge, cfg.datapath_type)
        self.ovs.secure_bridge(cfg.integration_bridge)
        wanted = cfg.external_ids()
        current = self.ovs.switch_external_ids()
        if any(current.get(k) != v for k, v in wanted.items()):
            self.ovs.set_switch_external_ids(wanted)

    def start(self) -> None:
        """Configure the switch, start ovn-controller unless the system runs one, and supervise it.
        A switch that cannot be configured yet (Open vSwitch still starting) is retried by the
        supervisor."""
        self._try_configure()
        with self._lock:
            self._system = self.launcher.running(self.config.ovn_rundir / "ovn-controller.pid") is not None
            if self._system:
                log.info("ovn-controller: the system runs one; the agent starts none")
            else:
                self._launch()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._supervise, name="ovn-controller", daemon=True)
        self._thread.start()
        if self.announcer is not None:
            self.announcer.start()

    def _try_configure(self) -> None:
        try:
            self.configure()
            self._configured = True
        except HostNetError as exc:
            log.error("ovn: cannot configure Open vSwitch yet: %s", exc)
            self._configured = False

    def _launch(self) -> None:
        stale = self.launcher.running(pidfile(self.config))
        if stale is not None:  # left by an agent that did not stop it (killed)
            log.warning("ovn-controller: stopping pid %s left by an earlier agent", stale)
            self.launcher.terminate(stale, 5)
        self._controller = self.launcher.launch(self.config)
        log.info("ovn-controller: started, pid %s", self._controller.pid)

    def check(self) -> bool:
        """One supervision step: configure the switch if that failed so far, restart the agent's
        ovn-controller if it died. True if it was restarted."""
        if not self._configured and not self._stopping.is_set():
            self._try_configure()
        with self._lock:
            if self._system or self._stopping.is_set():
                return False
            if self._controller is not None and self._controller.alive():
                return False
            log.error("ovn-controller: not running; restarting it")
            self.restarts += 1
            try:
                self._launch()
            except HostNetError as exc:
                log.error("ovn-controller: %s", exc)
            return True

    def _supervise(self) -> None:
        while not self._stopping.wait(self.interval):
            self.check()

    def stop(self) -> None:
        """Stop supervising and stop the agent's ovn-controller gracefully, so its chassis leaves the
        southbound (the system's is left alone)."""
        self._stopping.set()
        if self.announcer is not None:
            self.announcer.stop()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        with self._lock:
            if self._controller is not None:
                self._controller.stop(10)
                self._controller = None

    def status(self) -> ChassisStatus:
        """Who runs ovn-controller, its pid, how often the agent restarted it."""
        with self._lock:
            if self._system:
                return ChassisStatus(self.config.system_id, "system", None, self.restarts, self._configured)
            ctl = self._controller
            if ctl is not None and ctl.alive():
                return ChassisStatus(self.config.system_id, "agent", ctl.pid, self.restarts, self._configured)
            return ChassisStatus(self.config.system_id, "none", None, self.restarts, self._configured)
