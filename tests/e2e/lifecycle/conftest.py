"""Real processes for the vNIC port lifecycle e2e tests: the engine with the embedded network provider
(`neutrino up`, or `neutrino engine` and `neutrino provider` apart so a test can stop one of them), and host
agents (`neutrino agent` with the in-memory host network) enrolled as hosts.

Everything is driven the way a user drives it: the real ovirtsdk4 against the engine, plain HTTP against the
provider's Neutron API and the agents' API to check what the engine did there.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx

from tests.support.databases import backend_database, sqlite_url
from tests.support.servers import free_port, stop, wait_ready

PASSWORD = "lifecycle-e2e-secret"  # admin@internal of the engine and `admin` of the provider
MAC_POOL = "56:6f:aa:dd:00:00-56:6f:aa:dd:0f:ff"
DEVICE_OWNER = "oVirt"


class Process:
    """One `neutrino` program as a process that a test can stop, SIGKILL and start again (same arguments, so
    the same port, data directory and database)."""

    def __init__(
        self, name: str, args: list[str], ready_url: str, directory: Path, env: dict[str, str] | None = None
    ) -> None:
        self.name, self.args, self.ready_url, self.directory = name, args, ready_url, directory
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def log(self) -> Path:
        return self.directory / f"{self.name}-{self.starts}.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> Self:
        self.starts += 1
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "neutrino.cli", *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        wait_ready(self.proc, self.ready_url, self.log, timeout)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)

    def kill(self) -> None:
        """SIGKILL the whole process group: no cleanup, no lifespan shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Agent(Process):
    """A host agent on 127.0.0.1 with the in-memory host network (noop vNIC drivers, libvirt domain XML files),
    as ``tests.support.servers.agent_process`` runs it, but restartable on the same port and data directory (it
    replays what it was asked to run from its state file)."""

    def __init__(self, directory: Path, name: str, extra: tuple[str, ...] = ()) -> None:
        self.port, self.token = free_port(), secrets.token_urlsafe(16)
        self.data_dir = directory / f"agent-{name}"
        args = [
            "agent",
            "--listen",
            f"127.0.0.1:{self.port}",
            "--data-dir",
            str(self.data_dir),
            f"--token={self.token}",
            "--host-name",
            name,
            "--host-net",
            "memory",
            *extra,
        ]
        super().__init__(f"agent-{name}", args, f"{self.url}/capabilities", directory)
        self.host_name = name

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"


@dataclass
class Stack:
    """An engine and the network provider it uses, both on 127.0.0.1."""

    backend: str
    directory: Path
    engine: Process
    engine_url: str  # http://127.0.0.1:PORT/ovirt-engine/api
    provider_url: str  # http://127.0.0.1:PORT
    provider: Process | None = None  # set when the provider runs apart from the engine
    agents: list[Agent] = field(default_factory=list)
    _exit: ExitStack = field(default_factory=ExitStack)

    def connection(self) -> Any:
        import ovirtsdk4 as sdk

        return sdk.Connection(url=self.engine_url, username="admin@internal", password=PASSWORD, timeout=120)

    def api(self) -> httpx.Client:
        """The engine's API as JSON, for Neutrino's extension elements that ovirtsdk4 skips."""
        return httpx.Client(
            base_url=self.engine_url,
            auth=("admin@internal", PASSWORD),
            timeout=60.0,
            headers={"Accept": "application/json"},
        )

    def cleanup(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` when the stack stops (before the processes started so far are stopped)."""
        self._exit.callback(callback)

    def agent(self, name: str, *extra: str) -> Agent:
        """A new host agent process, stopped with the stack (or earlier, by the test)."""
        agent = Agent(self.directory, name, extra).start()
        self._exit.callback(agent.stop)
        self.agents.append(agent)
        return agent


@contextmanager
def database(backend: str) -> Iterator[str | None]:
    """None: SQLite in the engine's data directory; else a fresh PostgreSQL schema."""
    if backend == "sqlite":
        yield None
        return
    with backend_database(backend, Path(".")) as url:  # a PostgreSQL schema: no directory needed
        yield url


@contextmanager
def neutrino_up(backend: str, directory: Path, host_monitor_interval: float = 1.0) -> Iterator[Stack]:
    """`neutrino up`: engine and embedded provider in one process, as a user starts them (the engine's database
    comes from NEUTRINO_DB for PostgreSQL, the intervals from their NEUTRINO_* variables)."""
    engine_port, provider_port, agent_port = free_port(), free_port(), free_port()
    with database(backend) as db_url:
        env = {
            "NEUTRINO_ADMIN_PASSWORD": PASSWORD,
            "NEUTRINO_MAC_POOL_RANGE": MAC_POOL,
            "NEUTRINO_HOST_MONITOR_INTERVAL": str(host_monitor_interval),
        }
        if db_url is not None:
            env["NEUTRINO_DB"] = db_url
        engine_url = f"http://127.0.0.1:{engine_port}/ovirt-engine/api"
        # its own local agent (host `local` of the Default cluster) stays out of the tests' clusters
        up = Process(
            "up",
            [
                "up",
                "--data-dir",
                str(directory / "data"),
                "--engine-listen",
                f"127.0.0.1:{engine_port}",
                "--provider-listen",
                f"127.0.0.1:{provider_port}",
                "--agent-listen",
                f"127.0.0.1:{agent_port}",
                "--datapath",
                "memory",
            ],
            engine_url,
            directory,
            env,
        )
        stack = Stack(backend, directory, up, engine_url, f"http://127.0.0.1:{provider_port}")
        with stack._exit:
            up.start()
            stack._exit.callback(up.stop)
            assert up.proc is not None
            wait_ready(up.proc, f"{stack.provider_url}/", up.log, 30.0)  # the provider may answer a bit later
            yield stack


@contextmanager
def engine_and_provider(
    backend: str,
    directory: Path,
    janitor_interval: float = 2.0,
    host_monitor_interval: float = 1.0,
    agent_timeout: float = 10.0,
) -> Iterator[Stack]:
    """`neutrino provider` and `neutrino engine` as separate processes, so either can be stopped, killed and
    started again on the same port, data directory and database. The provider is not registered yet."""
    engine_port, provider_port = free_port(), free_port()
    provider_url = f"http://127.0.0.1:{provider_port}"
    provider = Process(
        "provider",
        [
            "provider",
            "--listen",
            f"127.0.0.1:{provider_port}",
            "--data-dir",
            str(directory / "provider"),
            "--db",
            sqlite_url(directory / "provider"),
        ],
        f"{provider_url}/",
        directory,
        {"NEUTRINO_ADMIN_PASSWORD": PASSWORD},
    )
    (directory / "provider").mkdir(parents=True, exist_ok=True)
    with database(backend) as db_url:
        engine_url = f"http://127.0.0.1:{engine_port}/ovirt-engine/api"
        args = [
            "engine",
            "--listen",
            f"127.0.0.1:{engine_port}",
            "--data-dir",
            str(directory / "engine"),
            "--mac-pool-range",
            MAC_POOL,
            "--janitor-interval",
            str(janitor_interval),
            "--host-monitor-interval",
            str(host_monitor_interval),
        ]
        if db_url is not None:
            args += ["--db", db_url]
        engine = Process(
            "engine",
            args,
            engine_url,
            directory,
            {"NEUTRINO_ADMIN_PASSWORD": PASSWORD, "NEUTRINO_AGENT_TIMEOUT": str(agent_timeout)},
        )
        stack = Stack(backend, directory, engine, engine_url, provider_url, provider)
        with stack._exit:
            provider.start()
            stack._exit.callback(provider.stop)
            engine.start()
            stack._exit.callback(engine.stop)
            yield stack
