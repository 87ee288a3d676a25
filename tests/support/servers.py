"""Real servers for tests: started as processes on 127.0.0.1, waited for, and stopped by PID."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def listening_socket() -> socket.socket:
    """A TCP socket bound to a free port of 127.0.0.1, for a uvicorn server run in a test's thread
    (``uvicorn.Server.run(sockets=[...])``). Made with ``IPPROTO_TCP`` named: asyncio sets
    ``TCP_NODELAY`` on the connections it accepts only when the socket says so, and a plain
    ``socket.socket()`` (protocol 0) left Nagle's algorithm on, so every answer's body waited for the
    client's delayed ACK of its headers: ~44 ms a request where a served process answers in 3."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def neutrino_process(
    args: Sequence[str], ready_url: str, log: Path, env: dict[str, str] | None = None, timeout: float = 30.0
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``python -m neutrino.cli ARGS`` until the block ends; wait until ``ready_url`` answers."""
    full_env = {**os.environ, **(env or {})}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "neutrino.cli", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full_env,
            start_new_session=True,
        )
    try:
        wait_ready(proc, ready_url, log, timeout)
        yield proc
    finally:
        stop(proc)


def wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            # only "does it answer": an HTTPS server's certificate is the test's to check, not the probe's
            httpx.get(url, timeout=1.0, verify=False)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    stop(proc)
    raise RuntimeError(f"server did not answer {url} within {timeout}s:\n{log.read_text()}")


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the process group by PID, then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout)
    except ProcessLookupError:
        pass


@dataclass
class RunningAgent:
    """A `neutrino agent` process: what the engine needs to add it as a host."""

    name: str
    port: int
    token: str
    data_dir: Path
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"


@contextmanager
def agent_process(
    directory: Path,
    name: str = "host1",
    extra: Sequence[str] = (),
    env: dict[str, str] | None = None,
    scheme: str = "http",
) -> Iterator[RunningAgent]:
    """A host agent on 127.0.0.1 with the in-memory host network (noop drivers, libvirt domain XML files):
    everything of the agent API, nothing touched in the kernel, no root needed."""
    port, token = free_port(), secrets.token_urlsafe(16)
    data_dir = directory / f"agent-{name}"
    args = [
        "agent",
        "--listen",
        f"127.0.0.1:{port}",
        "--data-dir",
        str(data_dir),
        f"--token={token}",
        "--host-name",
        name,
        "--host-net",
        "memory",
        *extra,
    ]
    with neutrino_process(
        args, f"{scheme}://127.0.0.1:{port}/api/v1/capabilities", directory / f"agent-{name}.log", env=env
    ) as p:
        yield RunningAgent(name, port, token, data_dir, p)
