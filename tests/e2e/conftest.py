"""What every end-to-end tier shares: a real host agent process the engines under test enroll as hosts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.servers import RunningAgent, agent_process


@pytest.fixture(scope="session")
def host_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAgent]:
    """One `neutrino agent` (in-memory host network, noop vNIC drivers) for the whole session: VMs are keyed by
    id, so the hosts of many engines and clusters can all point at it."""
    with agent_process(tmp_path_factory.mktemp("agent"), "e2e-host") as agent:
        yield agent
