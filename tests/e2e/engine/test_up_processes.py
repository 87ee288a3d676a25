"""`neutrino up` serves the engine, the provider and the local agent from a child process each and
supervises them: a child that ends ends the others (and `neutrino up`, with status 1), SIGTERM stops them
all, and a `neutrino up` killed outright takes its children with it (``PR_SET_PDEATHSIG``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from bench.engine_run_vms import children_of, serving

from tests.e2e.engine.conftest import ADMIN_PASSWORD
from tests.support.servers import free_port, stop, wait_ready


@dataclass
class Up:
    proc: subprocess.Popen[bytes]
    log: Path
    ports: dict[str, int]

    def children(self) -> dict[str, int]:
        """The process serving each port, by service name (from /proc: who listens on it)."""
        found = {name: serving(self.proc.pid, port) for name, port in self.ports.items()}
        return {name: pid for name, pid in found.items() if pid is not None}


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _gone(pids: list[int], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(_alive(pid) for pid in pids):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    ports = {"engine": free_port(), "provider": free_port(), "agent": free_port()}
    log = tmp_path / "up.log"
    args = ["up", "--data-dir", str(tmp_path / "up"), "--datapath", "memory", "--engine-http-listen", "",
            "--engine-listen", f"127.0.0.1:{ports['engine']}", "--provider-listen", f"127.0.0.1:{ports['provider']}",
            "--agent-listen", f"127.0.0.1:{ports['agent']}"]  # fmt: skip
    env = {**os.environ, "NEUTRINO_INSECURE_HTTP": "1", "NEUTRINO_ADMIN_PASSWORD": ADMIN_PASSWORD}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "neutrino.cli", *args], stdout=out,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)  # fmt: skip
    running = Up(proc, log, ports)
    kids: list[int] = []
    try:
        wait_ready(proc, f"http://127.0.0.1:{ports['engine']}/ovirt-engine/api", log, 60)
        _enrolled(running)
        kids = children_of(proc.pid)
        yield running
    finally:
        stop(proc)
        for pid in kids:  # nothing outlives the test, whatever it did to `neutrino up`
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _enrolled(up: Up, timeout: float = 60.0) -> None:
    """The engine enrolled the local agent (once every service answered)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "enrolled the local agent as host 'local'" in up.log.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"the local agent was not enrolled:\n{up.log.read_text()}")


def test_each_program_is_served_by_a_child_of_its_own(up: Up) -> None:
    served = up.children()
    assert set(served) == {"engine", "provider", "agent"}, (served, up.log.read_text())
    assert len(set(served.values())) == 3
    assert up.proc.pid not in served.values()  # `neutrino up` itself serves nothing
    # each answers its own API
    base = "http://127.0.0.1:{}"
    assert httpx.get(base.format(up.ports["provider"]) + "/").status_code == 200
    assert httpx.get(base.format(up.ports["agent"]) + "/api/v1/capabilities").status_code in (200, 401)
    hosts = httpx.get(
        base.format(up.ports["engine"]) + "/ovirt-engine/api/hosts",
        auth=("admin@internal", ADMIN_PASSWORD),
        headers={"Accept": "application/json"},
    )
    assert [h["name"] for h in hosts.json()["host"]] == ["local"]


def test_a_child_that_ends_ends_the_others_and_up(up: Up) -> None:
    served = up.children()
    os.kill(served["provider"], signal.SIGKILL)
    assert up.proc.wait(30) == 1
    assert _gone(list(served.values()))
    assert "the provider process ended (signal SIGKILL); stopping the others" in up.log.read_text()


def test_sigterm_stops_all(up: Up) -> None:
    served = up.children()
    up.proc.send_signal(signal.SIGTERM)  # to `neutrino up` alone, not its process group
    assert up.proc.wait(30) == 0
    assert _gone(list(served.values()))


def test_children_die_with_up(up: Up) -> None:
    served = up.children()
    up.proc.kill()
    up.proc.wait(10)
    assert _gone(list(served.values())), "a child outlived a killed `neutrino up`"
