"""OVN for ``neutrino up --backend ovn``: OVN central and the local host's Open vSwitch, as child processes.

Under ``DATA_DIR/ovn``::

    central/  OVN central (Debian's ovn-central): the northbound and southbound ovsdb-servers with their
              databases (ovnnb_db.db, ovnsb_db.db: made by `ovsdb-tool create` on first start, converted
              when an upgraded OVN brings a newer schema, kept otherwise), serving on unix sockets
              (ovnnb_db.sock, ovnsb_db.sock: the provider and the local chassis use them) and on TCP
              (other chassis reach the southbound there), and ovn-northd between the two
    ovs/      the local host's Open vSwitch (conf.db, its ovsdb-server and ovs-vswitchd, the bridges'
              management sockets), only when the system's does not run

Every daemon keeps its pid file (``NAME.pid``), control socket (``NAME.ctl``) and log (``NAME.log``) in
its directory, and its environment points OVS_RUNDIR, OVN_RUNDIR and the like there, so nothing goes
to the system's /run or /var/log. Each runs in a process group of its own, so a Ctrl-C reaches
``neutrino up`` alone, which stops them in order (:meth:`OvnStack.stop`: after the local agent's
ovn-controller has left the southbound, Open vSwitch, then ovn-northd and the databases); each gets
SIGTERM if ``neutrino up`` dies without stopping them (``PR_SET_PDEATHSIG``), and one left running by an
earlier ``neutrino up`` (its pid file names a live process of that program) is stopped before a new
one starts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

NB_SCHEMA = Path("/usr/share/ovn/ovn-nb.ovsschema")
SB_SCHEMA = Path("/usr/share/ovn/ovn-sb.ovsschema")
OVS_SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")
#: the programs ``--backend ovn`` runs, and the Debian package of each
PROGRAMS = {
    "ovsdb-tool": "openvswitch-switch", "ovsdb-server": "openvswitch-switch", "ovs-vswitchd": "openvswitch-switch",
    "ovs-vsctl": "openvswitch-switch", "ovs-appctl": "openvswitch-switch", "ovn-northd": "ovn-central",
    "ovn-nbctl": "ovn-central", "ovn-sbctl": "ovn-central", "ovn-controller": "ovn-host",
    "ovn-appctl": "ovn-host", "ip": "iproute2", "busybox": "busybox",
}  # fmt: skip
#: the system's Open vSwitch (Debian's openvswitch-switch)
SYSTEM_OVS_RUNDIR = Path("/run/openvswitch")
#: the system's ovn-controller (Debian's ovn-host)
SYSTEM_OVN_RUNDIR = Path("/run/ovn")
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
_PR_SET_PDEATHSIG = 1


class OvnStartError(RuntimeError):
    """A daemon would not start; the message names it and its log."""


def missing() -> str | None:
    """Why ``--backend ovn`` cannot run here (not root, a program or schema missing), or None."""
    if os.geteuid() != 0:
        return "it needs root (Open vSwitch and the local chassis' datapath)"
    absent = sorted({pkg for prog, pkg in PROGRAMS.items() if shutil.which(prog) is None})
    absent += sorted({"ovn-central" for s in (NB_SCHEMA, SB_SCHEMA) if not s.exists()} - set(absent))
    if absent:
        return f"missing Debian package(s) {' '.join(absent)} (scripts/up.sh --backend ovn installs them)"
    return None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _runs(pid: int, program: str) -> bool:
    """Whether process ``pid`` is alive (not a zombie) and runs ``program``."""
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return comm == program[:15] and stat[stat.rindex(")") + 2 :].split()[0] != "Z"


def _live(pidfile: Path, program: str) -> int | None:
    """The pid the pid file names if that process is alive and runs ``program``."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _runs(pid, program) else None


def _run(*argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)


def _succeeds(*argv: str) -> Callable[[], bool]:
    """A check: ``argv`` exits 0."""
    return lambda: _run(*argv, timeout=10).returncode == 0


def _wait(what: str, check: Callable[[], bool], daemon: Daemon, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if not daemon.running:
            raise OvnStartError(f"{daemon.name} exited with {daemon.returncode} ({daemon.tail()})")
        if time.monotonic() > deadline:
            raise OvnStartError(f"{what}: not ready after {timeout:.0f} s ({daemon.tail()})")
        time.sleep(0.05)


@dataclass
class Daemon:
    """One OVS/OVN daemon as a child process, with its files under ``directory``."""

    name: str  # the stem of its files: NAME.pid, NAME.ctl, NAME.log
    program: str
    args: list[str]
    directory: Path
    exit_args: tuple[str, ...] = ("exit",)  # what `ovs-appctl` sends it to stop gracefully
    proc: subprocess.Popen[bytes] | None = None

    @property
    def pidfile(self) -> Path:
        return self.directory / f"{self.name}.pid"

    @property
    def ctl(self) -> Path:
        return self.directory / f"{self.name}.ctl"

    @property
    def log(self) -> Path:
        return self.directory / f"{self.name}.log"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc is not None else None

    def tail(self) -> str:
        """Where to look, with its last error line."""
        try:
            lines = [
                line for line in self.log.read_text().splitlines() if "|ERR|" in line or "|EMER|" in line
            ]
        except OSError:
            lines = []
        return f"see {self.log}" + (f": {lines[-1]}" if lines else "")

    def start(self, env: dict[str, str]) -> None:
        stale = _live(self.pidfile, self.program)
        if stale is not None:  # left by a `neutrino up` that did not stop it (killed)
            print(f"neutrino up: stopping {self.program} (pid {stale}) left by an earlier run", flush=True)
            _terminate(stale, self.program)
        argv = [
            self.program, *self.args, "-vconsole:off", "-vfile:info", "--no-chdir", f"--pidfile={self.pidfile}",
            f"--unixctl={self.ctl}", f"--log-file={self.log}",
        ]  # fmt: skip
        try:
            self.proc = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, process_group=0,
                preexec_fn=_die_with_parent,
            )  # fmt: skip
        except OSError as exc:
            raise OvnStartError(f"{self.program}: {exc}") from exc

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Ask it to exit (``ovs-appctl exit``), then SIGTERM, then SIGKILL."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            _run(
                "ovs-appctl",
                "-t",
                str(self.ctl),
                f"--timeout={int(timeout)}",
                *self.exit_args,
                timeout=timeout,
            )
        for action in (self.proc.terminate, self.proc.kill):
            try:
                self.proc.wait(timeout / 2)
                return
            except subprocess.TimeoutExpired:
                action()
        self.proc.wait(5)


def _terminate(pid: int, program: str) -> None:
    """SIGTERM, then SIGKILL after :data:`STOP_TIMEOUT` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while _runs(pid, program):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.05)


def ensure_database(db: Path, schema: Path) -> str:
    """The database exists with ``schema``'s version: "created", "converted" or "reused"."""
    if not db.exists():
        done = _run("ovsdb-tool", "create", str(db), str(schema))
        if done.returncode != 0:
            raise OvnStartError(f"ovsdb-tool create {db}: {done.stderr.strip()}")
        return "created"
    needs = _run("ovsdb-tool", "needs-conversion", str(db), str(schema))
    if needs.stdout.strip() == "yes":
        done = _run("ovsdb-tool", "convert", str(db), str(schema))
        if done.returncode != 0:
            raise OvnStartError(f"ovsdb-tool convert {db}: {done.stderr.strip()}")
        return "converted"
    return "reused"


def split_listen(option: str, value: str) -> tuple[str, int] | None:
    """``HOST:PORT`` of a TCP remote (None for ""), checked free to bind; errors name the option."""
    if not value:
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise OvnStartError(f"{option}: {value!r} is not HOST:PORT")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as ovsdb-server binds it
        try:
            probe.bind((host, int(port)))
        except OSError as exc:
            raise OvnStartError(f"{option}: cannot listen on {value}: {exc.strerror}") from exc
    return host, int(port)


def _remote(kind: str, address: tuple[str, int]) -> str:
    host, port = address
    return f"{kind}:{port}:[{host}]" if ":" in host else f"{kind}:{port}:{host}"


@dataclass
class Central:
    """OVN central: the NB and SB ovsdb-servers and ovn-northd."""

    directory: Path
    nb_tcp: tuple[str, int] | None
    sb_tcp: tuple[str, int] | None
    daemons: list[Daemon] = field(default_factory=list)
    databases: dict[str, str] = field(default_factory=dict)  # file -> created/converted/reused

    @property
    def nb_socket(self) -> Path:
        return self.directory / "ovnnb_db.sock"

    @property
    def sb_socket(self) -> Path:
        return self.directory / "ovnsb_db.sock"

    def start(self, env: dict[str, str]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for name, schema, tcp, ctl in (
            ("ovnnb_db", NB_SCHEMA, self.nb_tcp, "ovn-nbctl"),
            ("ovnsb_db", SB_SCHEMA, self.sb_tcp, "ovn-sbctl"),
        ):
            db = self.directory / f"{name}.db"
            self.databases[db.name] = ensure_database(db, schema)
            remotes = [f"--remote=punix:{self.directory / (name + '.sock')}"]
            if tcp is not None:
                remotes.append(f"--remote={_remote('ptcp', tcp)}")
            daemon = Daemon(name, "ovsdb-server", [str(db), *remotes], self.directory)
            self.daemons.append(daemon)
            daemon.start(env)
            # `init` makes NB_Global / SB_Global on a new database (ovn-controller needs SB_Global)
            _wait(name, _succeeds(ctl, f"--db=unix:{self.directory / (name + '.sock')}", "--timeout=2", "init"),
                  daemon)  # fmt: skip
        northd = Daemon(
            "ovn-northd", "ovn-northd",
            [f"--ovnnb-db=unix:{self.nb_socket}", f"--ovnsb-db=unix:{self.sb_socket}"], self.directory,
        )  # fmt: skip
        self.daemons.append(northd)
        northd.start(env)
        _wait("ovn-northd", lambda: northd.ctl.exists(), northd)

    def describe(self) -> str:
        nb, sb, northd = (d.pid for d in self.daemons)

        def where(sock: Path, tcp: tuple[str, int] | None) -> str:
            return f"unix:{sock}" + (f" and {tcp_connection(tcp)}" if tcp else "")

        dbs = ", ".join(f"{state} {name}" for name, state in self.databases.items())
        return (
            f"OVN central in {self.directory} ({dbs}): northbound ovsdb-server (pid {nb}) at "
            f"{where(self.nb_socket, self.nb_tcp)}; southbound ovsdb-server (pid {sb}) at "
            f"{where(self.sb_socket, self.sb_tcp)}; ovn-northd (pid {northd})"
        )


def tcp_connection(address: tuple[str, int]) -> str:
    """An OVSDB client's connection string for a TCP remote (``tcp:IP:PORT``)."""
    host, port = address
    return f"tcp:[{host}]:{port}" if ":" in host else f"tcp:{host}:{port}"


def system_ovs_running(rundir: Path = SYSTEM_OVS_RUNDIR) -> bool:
    """Whether the system's Open vSwitch runs: a live ovs-vswitchd named by its pid file, and its
    database's socket."""
    return _live(rundir / "ovs-vswitchd.pid", "ovs-vswitchd") is not None and (rundir / "db.sock").exists()


@dataclass
class OwnOvs:
    """Open vSwitch for the local chassis, when the system runs none: ovsdb-server and ovs-vswitchd."""

    directory: Path
    daemons: list[Daemon] = field(default_factory=list)
    database: str = ""

    @property
    def db(self) -> str:
        return f"unix:{self.directory / 'db.sock'}"

    def start(self, env: dict[str, str]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        conf = self.directory / "conf.db"
        self.database = ensure_database(conf, OVS_SCHEMA)
        server = Daemon("ovsdb-server", "ovsdb-server", [str(conf), f"--remote=punix:{self.directory / 'db.sock'}"],
                        self.directory)  # fmt: skip
        self.daemons.append(server)
        server.start(env)
        _wait(
            "ovsdb-server",
            _succeeds("ovs-vsctl", f"--db={self.db}", "--timeout=2", "--no-wait", "init"),
            server,
        )
        # `exit --cleanup`: the bridges' devices (br-int, and ovs-netdev on the userspace datapath) go
        # with it; the database keeps the bridges for the next start
        vswitchd = Daemon("ovs-vswitchd", "ovs-vswitchd", [self.db], self.directory, ("exit", "--cleanup"))
        self.daemons.append(vswitchd)
        vswitchd.start(env)
        _wait("ovs-vswitchd", _succeeds("ovs-appctl", "-t", str(vswitchd.ctl), "version"), vswitchd)

    def describe(self) -> str:
        server, vswitchd = (d.pid for d in self.daemons)
        return (
            f"the local chassis' Open vSwitch: our own in {self.directory} ({self.database} conf.db): "
            f"ovsdb-server (pid {server}), ovs-vswitchd (pid {vswitchd})"
        )


@dataclass
class OvnStack:
    """What ``neutrino up --backend ovn`` runs besides its three services."""

    central: Central
    ovs: OwnOvs | None  # None: the system's Open vSwitch
    env: dict[str, str] = field(default_factory=dict)

    @property
    def ovs_rundir(self) -> Path:
        """The local Open vSwitch's run dir: its db.sock and the bridges' management sockets."""
        return self.ovs.directory if self.ovs is not None else SYSTEM_OVS_RUNDIR

    @property
    def ovn_rundir(self) -> Path:
        """Where an ovn-controller already serving this chassis would keep its pid file: the system's
        (Debian's ovn-host) only serves the system's Open vSwitch."""
        return self.ovs.directory if self.ovs is not None else SYSTEM_OVN_RUNDIR

    @property
    def daemons(self) -> list[Daemon]:
        return [*self.central.daemons, *(self.ovs.daemons if self.ovs else [])]

    def start(self) -> None:
        """Central, then the local Open vSwitch; on a failure, stop what started and raise."""
        try:
            self.central.start(self._env(self.central.directory))
            if self.ovs is not None:
                self.ovs.start(self._env(self.ovs.directory))
        except BaseException:
            self.stop()
            raise

    def _env(self, directory: Path) -> dict[str, str]:
        names = ("OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVN_RUNDIR", "OVN_DBDIR", "OVN_LOGDIR")
        return {**os.environ, **self.env, **dict.fromkeys(names, str(directory))}

    def stop(self) -> list[str]:
        """Stop every daemon it started, the last started first; what was stopped, for the user."""
        stopped = []
        for daemon in reversed(self.daemons):
            if daemon.running:
                daemon.stop()
                stopped.append(f"{daemon.program} (pid {daemon.pid})")
        return stopped

    def describe(self) -> list[str]:
        ovs = (
            self.ovs.describe()
            if self.ovs
            else f"the local chassis' Open vSwitch: the system's ({SYSTEM_OVS_RUNDIR})"
        )
        return [self.central.describe(), ovs]
