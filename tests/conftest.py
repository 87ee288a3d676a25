from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest
from hypothesis import settings

from tests.support import processes
from tests.support.databases import backend_database
from tests.support.require import require as _require

__all__ = ["_require"]  # what the test modules import from here

# property tests: a small, derandomized profile (the same examples on every run); a longer search is a
# HYPOTHESIS_PROFILE=long run
settings.register_profile("ci", max_examples=50, derandomize=True, deadline=None)
settings.register_profile("long", max_examples=2000, derandomize=False, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# the processes the machine had before this session: never blamed on a test
_BEFORE: frozenset[tuple[int, int]] = frozenset()
GRACE = 3.0  # seconds a process that was just told to stop gets to exit before it is blamed


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    global _BEFORE
    _BEFORE = processes.snapshot()
    # The servers the tests start (and everything they start) serve plain HTTP, asked for explicitly as a
    # deployment would, once here rather than at each of their many launch sites; the TLS tests set it to
    # 0 for the servers they start (tests/e2e/engine/test_sdk_tls.py, tests/e2e/provider/test_openstack_cli_tls.py).
    os.environ.setdefault("NEUTRINO_INSECURE_HTTP", "1")
    # a run stopped with SIGTERM (a CI or shell time limit) still tears its fixtures down, so the
    # agents, namespaces and DHCP clients they started do not outlive it
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


def _fail_on(left: list[processes.Proc], what: str) -> None:
    if left:
        processes.kill(left)
        listed = "\n".join(f"  {p}" for p in left)
        pytest.fail(f"{len(left)} process(es) outlived {what} (killed now):\n{listed}", pytrace=False)


@pytest.fixture(autouse=True)
def _no_process_outlives_its_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test's processes (those naming its tmp_path) end with it: checked after its fixtures' teardown."""
    if "tmp_path" not in request.fixturenames:
        yield
        return
    tmp_path: Path = request.getfixturevalue("tmp_path")
    yield
    _fail_on(processes.outliving(tmp_path, _BEFORE, GRACE), f"the test {request.node.nodeid}")


@pytest.fixture(autouse=True, scope="session")
def _no_process_outlives_the_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Processes naming the session's base temp dir (module and session fixtures' servers) end with it."""
    yield
    _fail_on(processes.outliving(tmp_path_factory.getbasetemp(), _BEFORE, GRACE), "the test session")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each backend the suite runs on."""
    with backend_database(request.param, tmp_path) as url:
        yield url


def _worker_group(item: pytest.Item) -> str:
    """The unit ``pytest -n N --dist loadgroup`` (scripts/test.sh) hands to one worker, whole and in order.

    A module stays on one worker so its module fixtures start once. What shares a session fixture that is
    costly or single by nature stays together too: the OVN lab (one per session, its daemons on fixed ports
    inside its namespaces), the OVN northbound server, and the UI tests' `neutrino up` and browser.
    """
    path = item.path.relative_to(item.config.rootpath).as_posix()
    if path.startswith("tests/system/ovn/") or "ovn_lab" in item.fixturenames:
        return "ovn-lab"
    if "ovn_northbound_server" in item.fixturenames:
        return "ovn-northbound"
    if path.startswith("tests/e2e/ui/"):
        return "ui"
    return path


# the longest groups go first, so that no worker starts one of them while the other is nearly done
_LONG_GROUPS = ("ovn-lab", "ui")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    groups = {item: _worker_group(item) for item in items}
    for item, group in groups.items():
        item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=lambda item: groups[item] not in _LONG_GROUPS)  # stable: the order is otherwise kept
