"""The machine's processes as ``/proc`` shows them, to find those a test left running.

A process belongs to a test when its command line names a path of the test's own (a data dir, a
pid file, a socket under its ``tmp_path`` or the session's base temp dir): agents, providers,
engines, dnsmasq, DHCP clients and OVS daemons started by tests all do. A process is named by its
pid *and* its start time, so a pid the kernel reused is never taken for another.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Proc:
    pid: int
    started: int  # clock ticks after boot, field 22 of /proc/PID/stat
    argv: tuple[str, ...]

    @property
    def key(self) -> tuple[int, int]:
        return self.pid, self.started

    def __str__(self) -> str:
        line = " ".join(self.argv)
        return f"pid {self.pid}: {line[:400]}{'...' if len(line) > 400 else ''}"


def _read(pid: int, skip: frozenset[tuple[int, int]] = frozenset()) -> Proc | None:
    """The process ``pid``, or None when it is gone, a zombie, a kernel thread or in ``skip``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        fields = stat[stat.rindex(b")") + 2 :].split()  # the command name may hold spaces and parentheses
        if fields[0] == b"Z" or (pid, int(fields[19])) in skip:
            return None
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    if not raw:
        return None
    argv = tuple(arg.decode(errors="replace") for arg in raw.rstrip(b"\0").split(b"\0"))
    return Proc(pid, int(fields[19]), argv)


def running(skip: frozenset[tuple[int, int]] = frozenset()) -> list[Proc]:
    """Every live process but this one and those in ``skip`` (keys of :func:`snapshot`)."""
    me = os.getpid()
    found = (_read(int(name), skip) for name in os.listdir(PROC) if name.isdigit() and int(name) != me)
    return [p for p in found if p is not None]


def snapshot() -> frozenset[tuple[int, int]]:
    """The keys of the processes running now, to tell them from those started later."""
    return frozenset(p.key for p in running())


def naming(path: Path, procs: Iterable[Proc]) -> list[Proc]:
    """The processes whose command line names ``path`` or something under it (``/tmp/x`` does not
    match ``/tmp/x1``)."""
    pattern = re.compile(re.escape(str(path)) + r"(?![^/\s'\",:])")
    return [p for p in procs if any(pattern.search(arg) for arg in p.argv)]


def alive(procs: Iterable[Proc]) -> list[Proc]:
    """Those of ``procs`` still running (the same process: same pid and start time)."""
    return [p for p in procs if (now := _read(p.pid)) is not None and now.started == p.started]


def outliving(path: Path, before: frozenset[tuple[int, int]] = frozenset(), grace: float = 3.0) -> list[Proc]:
    """Processes naming ``path`` that were not running at ``before`` and are still running after
    ``grace`` seconds (a process sent SIGTERM a moment ago gets time to exit)."""
    left = naming(path, running(skip=before))
    deadline = time.monotonic() + grace
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = alive(left)
    return left


def kill(procs: Iterable[Proc]) -> None:
    """SIGKILL each process that is still the one it was."""
    for p in alive(procs):
        with contextlib.suppress(ProcessLookupError):
            os.kill(p.pid, signal.SIGKILL)
