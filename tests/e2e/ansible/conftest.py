"""The stack Ansible's ovirt.ovirt modules drive: `neutrino engine` and the embedded `neutrino provider` (apart,
the provider not registered yet: the playbook registers it) and one host agent.

ovirt_host has no port parameter (oVirt's hosts answer on VDSM's 54321), so the agent listens on port 54321 of
an address of its own in 127.0.0.0/8: the host's address is all the playbook gives, as with a real host.
"""

from __future__ import annotations

import random
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.lifecycle.conftest import PASSWORD, Process, Stack, engine_and_provider

AGENT_PORT = 54321  # what the engine dials when a host is added without a port


@dataclass
class AgentHost:
    address: str
    token: str
    process: Process


@dataclass
class AnsibleSite:
    stack: Stack
    host: AgentHost
    password: str = PASSWORD


def loopback_address_with_free_agent_port() -> str:
    """A 127.x.y.z on which port 54321 is free (another test's agent may hold 127.0.0.1:54321)."""
    for _ in range(50):
        address = f"127.{random.randrange(1, 255)}.{random.randrange(1, 255)}.{random.randrange(2, 255)}"
        with socket.socket() as probe:
            try:
                probe.bind((address, AGENT_PORT))
            except OSError:
                continue
        return address
    raise RuntimeError("no loopback address with port 54321 free")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnsibleSite]:
    directory: Path = tmp_path_factory.mktemp("ansible-stack")
    with engine_and_provider("sqlite", directory) as stack:
        address, token = loopback_address_with_free_agent_port(), secrets.token_urlsafe(16)
        agent = Process(
            "agent-ansible",
            [
                "agent",
                "--listen",
                f"{address}:{AGENT_PORT}",
                "--data-dir",
                str(directory / "agent"),
                f"--token={token}",
                "--host-name",
                "ansible-host",
                "--host-net",
                "memory",
            ],
            f"http://{address}:{AGENT_PORT}/api/v1/capabilities",
            directory,
        )
        agent.start()
        stack.cleanup(agent.stop)
        yield AnsibleSite(stack, AgentHost(address, token, agent))
