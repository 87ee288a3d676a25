"""The guard that no process outlives the test (or the session) that started it: tests/conftest.py and
tests/support/processes.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tests.conftest
from tests.support import processes
from tests.support.processes import Proc

pytest_plugins = ["pytester"]

SLEEPER = "import time; time.sleep(60)"


def test_a_process_is_found_by_a_path_its_command_line_names() -> None:
    procs = [
        Proc(1, 1, ("dnsmasq", "--pid-file=/tmp/t/h1/dhcp/x.pid")),
        Proc(2, 1, ("ovsdb-server", "--remote=punix:/tmp/t/ovs/db.sock")),
        Proc(3, 1, ("neutrino", "--data-dir", "/tmp/t")),
        Proc(4, 1, ("dhclient", "-pf", "/tmp/t1/run/x.pid")),  # another test's directory
        Proc(5, 1, ("sleep", "/tmp/tx")),
        Proc(6, 1, ("sleep", "60")),
    ]
    assert [p.pid for p in processes.naming(Path("/tmp/t"), procs)] == [1, 2, 3]


def _exec_done(proc: subprocess.Popen[bytes], path: Path) -> None:
    """Wait until ``proc`` runs its own command line: between fork and exec /proc shows the parent's."""
    deadline = time.monotonic() + 10
    while not [p for p in processes.naming(path, processes.running()) if p.pid == proc.pid]:
        assert time.monotonic() < deadline, f"pid {proc.pid} never named {path}"
        time.sleep(0.01)


def test_outliving_names_new_processes_still_running_after_the_grace(tmp_path: Path) -> None:
    before = processes.snapshot()
    proc = subprocess.Popen([sys.executable, "-c", SLEEPER, str(tmp_path / "marker")])
    try:
        _exec_done(proc, tmp_path)
        [left] = processes.outliving(tmp_path, before, grace=0.2)
        assert left.pid == proc.pid and str(tmp_path / "marker") in str(left)
        # a process the machine had before is never blamed
        assert processes.outliving(tmp_path, before | {left.key}, grace=0.2) == []
        processes.kill([left])
        assert proc.wait(5) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()


def test_a_process_that_exits_within_the_grace_is_not_reported(tmp_path: Path) -> None:
    before = processes.snapshot()
    proc = subprocess.Popen([sys.executable, "-c", SLEEPER, str(tmp_path)])
    try:
        proc.terminate()
        assert processes.outliving(tmp_path, before, grace=5) == []
    finally:
        proc.wait()


def test_a_reused_pid_is_not_the_same_process() -> None:
    [me_now] = [p for p in processes.running() if p.pid == os.getppid()]
    assert processes.alive([me_now]) == [me_now]
    assert processes.alive([Proc(me_now.pid, me_now.started + 1, me_now.argv)]) == []


CONFTEST = "from tests.conftest import _no_process_outlives_its_test, _no_process_outlives_the_session\n"


@pytest.fixture
def short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tests.conftest, "GRACE", 0.3)


@pytest.mark.usefixtures("short_grace")
def test_a_test_that_leaves_a_process_running_fails_and_the_process_is_killed(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        f"""
        import subprocess, sys

        def test_leaves_one(tmp_path):
            subprocess.Popen([sys.executable, "-c", {SLEEPER!r}, str(tmp_path / "pid")])

        def test_stops_its_own(tmp_path):
            proc = subprocess.Popen([sys.executable, "-c", {SLEEPER!r}, str(tmp_path / "pid")])
            proc.terminate()
            proc.wait()
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaves_one*",
            "*1 process(es) outlived the test test_a_test_that_leaves*.py::test_leaves_one (killed now):",
            "*time.sleep(60)*/test_leaves_one0/pid",
        ]
    )
    assert processes.naming(pytester.path, processes.running()) == []


@pytest.mark.usefixtures("short_grace")
def test_a_module_fixture_that_leaves_a_process_running_fails_the_session(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        f"""
        import subprocess, sys
        import pytest

        @pytest.fixture(scope="module")
        def server(tmp_path_factory):
            subprocess.Popen([sys.executable, "-c", {SLEEPER!r}, str(tmp_path_factory.mktemp("server"))])

        def test_uses_it(server):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*1 process(es) outlived the test session (killed now):", "*/server0"])
    assert processes.naming(pytester.path, processes.running()) == []
