"""The OVN backend's group commit of port writes: concurrent requests' ports written together, each
request returning only once its own ports are written, with its write's error."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from neutrino.provider.backends.ovn.backend import _GroupCommit


class Writer:
    """A write that blocks until released, recording each batch it was given."""

    def __init__(self, fail_on: str = "") -> None:
        self.batches: list[list[str]] = []
        self.written: set[str] = set()
        self.release = threading.Event()
        self.started = threading.Semaphore(0)
        self.fail_on = fail_on

    def __call__(self, port_ids: Sequence[str]) -> None:
        self.batches.append(list(port_ids))
        self.started.release()
        assert self.release.wait(10)
        if self.fail_on in port_ids:
            raise RuntimeError(f"northbound refused {self.fail_on}")
        self.written.update(port_ids)


def test_a_lone_request_writes_at_once() -> None:
    writer = Writer()
    writer.release.set()
    commit = _GroupCommit(writer)
    commit.write(["a"])
    commit.write(["b", "c"])
    assert writer.batches == [["a"], ["b", "c"]]


def test_requests_arriving_during_a_write_are_written_together_after_it() -> None:
    writer = Writer()
    commit = _GroupCommit(writer)
    with ThreadPoolExecutor(6) as pool:
        first = pool.submit(commit.write, ["p0"])
        assert writer.started.acquire(timeout=10)  # p0 is being written
        later = [pool.submit(commit.write, [f"p{n}"]) for n in range(1, 6)]
        while len(commit._pending) < 5:  # all five queued behind p0
            threading.Event().wait(0.01)
        assert not any(f.done() for f in later)
        writer.release.set()
        first.result(10)
        for f in later:
            f.result(10)
            # each returned only once its port was written
    assert writer.batches[0] == ["p0"]
    assert sorted(writer.batches[1]) == [f"p{n}" for n in range(1, 6)]
    assert len(writer.batches) == 2
    assert writer.written == {f"p{n}" for n in range(6)}


def test_a_failed_write_raises_in_every_request_of_its_batch_and_no_other() -> None:
    writer = Writer(fail_on="bad")
    commit = _GroupCommit(writer)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(commit.write, ["ok0"])
        assert writer.started.acquire(timeout=10)
        batch = [pool.submit(commit.write, ids) for ids in (["bad"], ["ok1"])]
        while len(commit._pending) < 2:
            threading.Event().wait(0.01)
        writer.release.set()
        first.result(10)
        for f in batch:
            with pytest.raises(RuntimeError, match="refused bad"):
                f.result(10)
        commit.write(["ok2"])  # the next one is written again
    assert "ok2" in writer.written


def test_a_batch_holds_at_most_the_limit_and_the_rest_follows() -> None:
    writer = Writer()
    commit = _GroupCommit(writer)
    commit.LIMIT = 3
    with ThreadPoolExecutor(5) as pool:
        first = pool.submit(commit.write, ["x"])
        assert writer.started.acquire(timeout=10)
        later = [pool.submit(commit.write, [f"y{n}", f"z{n}"]) for n in range(3)]
        while len(commit._pending) < 3:
            threading.Event().wait(0.01)
        writer.release.set()
        for f in [first, *later]:
            f.result(10)
    assert [len(b) for b in writer.batches] == [1, 2, 2, 2]
    assert all(len(b) <= 3 for b in writer.batches)
