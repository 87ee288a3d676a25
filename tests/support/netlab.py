"""A small network lab for system tests: named namespaces joined by an underlay bridge, and
agent processes running inside "host" namespaces.

Every name starts with the lab's prefix; :meth:`Lab.cleanup` kills the lab's processes and
deletes every namespace with that prefix (their devices go with them), so nothing leaks into
the machine's own namespace and no traffic can leave it. A process can outlive its namespace: an
agent that deletes a guest's namespace without killing every process in it (a second
``dhclient -6`` started before the first wrote its pid file) leaves that process running in an
unnamed namespace, which ``ip netns pids`` no longer finds; cleanup finds those by the lab's
directory on their command line, kills them and warns.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support import processes

# the Open vSwitch schema hosts' databases are created from: the system's, unless the environment
# names another Open vSwitch's (bench/newer_ovn.sh)
OVS_SCHEMA = os.environ.get("NEUTRINO_OVS_SCHEMA", "/usr/share/openvswitch/vswitch.ovsschema")

TOKEN = "system-test-token"
TOOLS = ("ip", "bridge", "nsenter", "ping")


def root_reason() -> str | None:
    """Why a lab cannot be made here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, veth, bridges, VXLAN)"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"missing tools: {', '.join(missing)} (Debian iproute2, util-linux, iputils-ping)"
    return None


def sh(*argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def netns_names() -> set[str]:
    out = sh("ip", "-j", "netns", "list").stdout.strip()
    return {e["name"] for e in json.loads(out)} if out else set()


@dataclass
class AgentProcess:
    """``python -m neutrino.agent`` inside a host namespace, serving on a unix socket."""

    lab: Lab
    host_ns: str
    name: str
    args: list[str]
    socket: Path
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    env: dict[str, str] | None = None  # added to the environment (PYTHONPATH: another checkout's agent)

    def start(self) -> None:
        self.socket.unlink(missing_ok=True)
        self.log = self.lab.workdir / f"{self.name}.log"
        # nsenter --net, not `ip netns exec`: the latter gives the process its own mount
        # namespace, and guest namespaces the agent names there would be invisible outside it.
        argv = [
            "nsenter",
            f"--net=/run/netns/{self.host_ns}",
            sys.executable,
            "-m",
            "neutrino.agent",
            "--listen",
            f"unix:{self.socket}",
            "--token",
            TOKEN,
            "--host-name",
            self.name,
            "--log-level",
            "warning",
            *self.args,
        ]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(self.env or {})}
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"agent {self.name} exited: {self.log.read_text()}")
            if self.socket.exists():
                with contextlib.suppress(httpx.TransportError):
                    if self.get("/capabilities").status_code == 200:
                        return
            time.sleep(0.1)
        raise AssertionError(f"agent {self.name} did not start: {self.log.read_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def client(self) -> httpx.Client:
        transport = httpx.HTTPTransport(uds=str(self.socket))
        return httpx.Client(
            transport=transport,
            base_url="http://agent/api/v1",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        )

    def get(self, path: str) -> httpx.Response:
        with self.client() as c:
            return c.get(path)

    def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        with self.client() as c:
            return c.request(method, path, json=body)


@dataclass
class Lab:
    prefix: str
    workdir: Path
    agents: list[AgentProcess] = field(default_factory=list)
    pidfiles: list[Path] = field(default_factory=list)
    spawned: list[subprocess.Popen[bytes]] = field(default_factory=list)
    #: run first by :meth:`cleanup` (an in-process agent's stop: its Open vSwitch connection closed)
    on_cleanup: list[Callable[[], None]] = field(default_factory=list)

    def netns(self, name: str) -> str:
        full = self.prefix + name
        sh("ip", "netns", "add", full)
        sh("ip", "-n", full, "link", "set", "lo", "up")
        return full

    def underlay(self, hosts: dict[str, str], subnet: str = "10.199.0") -> dict[str, str]:
        """Host namespaces (name → last octet) joined by a bridge in an underlay namespace;
        returns host name → namespace. Each host's ``ul0`` gets ``<subnet>.<octet>/24``."""
        ul = self.netns("ul")
        sh("ip", "-n", ul, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", ul, "link", "set", "br0", "up")
        made = {}
        for host, octet in hosts.items():
            ns = self.netns(host)
            sh("ip", "-n", ns, "link", "add", "ul0", "type", "veth", "peer", "name", f"p-{host}", "netns", ul)
            sh("ip", "-n", ul, "link", "set", f"p-{host}", "master", "br0", "up")
            sh("ip", "-n", ns, "addr", "add", f"{subnet}.{octet}/24", "dev", "ul0")
            sh("ip", "-n", ns, "link", "set", "ul0", "up")
            made[host] = ns
        return made

    def agent(self, host_ns: str, name: str, *args: str, env: dict[str, str] | None = None) -> AgentProcess:
        agent = AgentProcess(
            self,
            host_ns,
            name,
            ["--data-dir", str(self.workdir / name), *args],
            self.workdir / f"{name}.sock",
            env=env,
        )
        self.agents.append(agent)
        agent.start()
        return agent

    def ovs(self, host_ns: str, name: str) -> str:
        """ovsdb-server and ovs-vswitchd (userspace datapath) for one host namespace, started by
        hand as PLATFORM.md describes; returns the OVSDB socket for ``ovs-vsctl --db``."""
        run = self.workdir / f"ovs-{name}"
        run.mkdir()
        db, sock = run / "conf.db", run / "db.sock"
        sh("ovsdb-tool", "create", str(db), OVS_SCHEMA)
        enter = ["nsenter", f"--net=/run/netns/{host_ns}"]
        sh(*enter, "ovsdb-server", str(db), f"--remote=punix:{sock}", f"--pidfile={run / 'ovsdb.pid'}",
           "--detach", f"--log-file={run / 'ovsdb.log'}", f"--unixctl={run / 'ovsdb.ctl'}")  # fmt: skip
        self.pidfiles.append(run / "ovsdb.pid")
        sh("ovs-vsctl", f"--db=unix:{sock}", "--no-wait", "init")
        sh(*enter, "ovs-vswitchd", f"unix:{sock}", f"--pidfile={run / 'vswitchd.pid'}", "--detach",
           f"--log-file={run / 'vswitchd.log'}", f"--unixctl={run / 'vswitchd.ctl'}")  # fmt: skip
        self.pidfiles.append(run / "vswitchd.pid")
        return f"unix:{sock}"

    def spawn(self, ns: str, *argv: str) -> subprocess.Popen[bytes]:
        """``argv`` in the background inside ``ns``; stopped by :meth:`cleanup`."""
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *argv])
        self.spawned.append(proc)
        return proc

    def in_ns(
        self, ns: str, *argv: str, check: bool = True, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        return sh("ip", "netns", "exec", ns, *argv, check=check, timeout=timeout)

    def ping(self, ns: str, address: str, count: int = 2, wait: float = 1) -> bool:
        """Whether ``address`` answers ``count`` pings from ``ns``, each reply awaited ``wait`` seconds."""
        proc = self.in_ns(ns, "ping", "-c", str(count), "-i", "0.2", "-W", str(wait), address, check=False)
        return proc.returncode == 0

    def cleanup(self) -> None:
        for callback in self.on_cleanup:
            with contextlib.suppress(Exception):
                callback()
        for agent in self.agents:
            with contextlib.suppress(Exception):
                agent.stop()
        for proc in self.spawned:
            proc.kill()
            proc.wait(5)
        for pidfile in reversed(self.pidfiles):
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
        # guest DHCP clients the agents started run inside our namespaces
        for ns in sorted(netns_names()):
            if ns.startswith(self.prefix):
                pids = sh("ip", "netns", "pids", ns, check=False).stdout.split()
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError, ValueError):
                        os.kill(int(pid), signal.SIGKILL)
                sh("ip", "netns", "delete", ns, check=False)
        escaped = processes.outliving(self.workdir)
        if escaped:
            processes.kill(escaped)
            warnings.warn(
                f"lab {self.prefix}: killed processes that outlived the lab's namespaces:\n"
                + "\n".join(map(str, escaped)),
                stacklevel=2,
            )
