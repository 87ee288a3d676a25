"""Adding a host enrolls its agent, as oVirt's host deploy does: the agent (started without a certificate)
gets one from the engine's CA naming the host's address, and from then on lets in only clients with the
engine's certificate; the token alone enrolls nothing; ``enrollcertificate`` renews it, in Maintenance only."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509

from tests.e2e.engine.conftest import ADMIN_PASSWORD
from tests.support.servers import RunningAgent, agent_process, free_port, neutrino_process

TLS = {"NEUTRINO_INSECURE_HTTP": "0"}


@dataclass
class Engine:
    api: str
    ca_file: Path


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    tmp = tmp_path_factory.mktemp("enroll-engine")
    port = free_port()
    args = ["engine", "--listen", f"127.0.0.1:{port}", "--http-listen", "", "--data-dir", str(tmp / "engine"),
            "--host-monitor-interval", "3600"]  # fmt: skip
    api = f"https://127.0.0.1:{port}/ovirt-engine/api"
    with neutrino_process(
        args, api, tmp / "engine.log", env={"NEUTRINO_ADMIN_PASSWORD": ADMIN_PASSWORD, **TLS}
    ):
        yield Engine(api, tmp / "engine" / "pki" / "ca.pem")


@pytest.fixture
def system(engine: Engine) -> Iterator[Any]:
    import ovirtsdk4 as sdk

    conn = sdk.Connection(url=engine.api, username="admin@internal", password=ADMIN_PASSWORD,
                          ca_file=str(engine.ca_file))  # fmt: skip
    yield conn.system_service()
    conn.close()


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[RunningAgent]:
    """An agent with no certificate of its own: HTTPS with a bootstrap certificate until enrolled."""
    with agent_process(tmp_path, "enrolled-host", env=TLS, scheme="https") as running:
        yield running


def _add(system: Any, name: str, agent: RunningAgent, token: str) -> Any:
    import ovirtsdk4.types as types

    return system.hosts_service().add(
        types.Host(
            name=name,
            address="127.0.0.1",
            port=agent.port,
            root_password=token,
            cluster=types.Cluster(name="Default"),
        )  # fmt: skip
    )


def _served(agent: RunningAgent) -> x509.Certificate:
    return x509.load_pem_x509_certificate((agent.data_dir / "pki" / "agent.pem").read_bytes())


def test_adding_a_host_enrolls_its_agent(system: Any, engine: Engine, agent: RunningAgent) -> None:
    host = _add(system, "enrolled", agent, agent.token)
    try:
        assert host.status.value == "up", host.status_detail
        cert = _served(agent)
        ca = x509.load_pem_x509_certificate(engine.ca_file.read_bytes())
        cert.verify_directly_issued_by(ca)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]

        # mutual TLS now: trusting the agent and holding its token is not enough without the engine's certificate
        trusted = ssl.create_default_context(cafile=str(engine.ca_file))
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"https://127.0.0.1:{agent.port}/api/v1/capabilities", verify=trusted,
                      headers={"Authorization": f"Bearer {agent.token}"})  # fmt: skip

        # enrollcertificate follows oVirt's rule: Maintenance, else 409
        hosts = system.hosts_service().host_service(host.id)
        with pytest.raises(Exception, match="409") as refused:
            hosts.enroll_certificate()
        assert "Maintenance" in str(refused.value)
        hosts.deactivate()
        hosts.enroll_certificate()
        assert _served(agent).serial_number != cert.serial_number
        hosts.activate()
        assert hosts.get().status.value == "up"
    finally:
        system.hosts_service().host_service(host.id).remove()


def test_a_wrong_token_enrolls_nothing(system: Any, agent: RunningAgent) -> None:
    host = _add(system, "wrong-token", agent, "not-the-agent-token")
    try:
        assert host.status.value == "non_responsive"
        assert "not vouched for by the host's token" in (host.status_detail or ""), host.status_detail
        assert not (agent.data_dir / "pki" / "agent.pem").exists()
    finally:
        system.hosts_service().host_service(host.id).remove()
