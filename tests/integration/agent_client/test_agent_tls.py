"""The engine calls an agent over HTTPS: it trusts the agent's certificate when the engine's CA signed it and
it names the address the engine dials, and refuses it otherwise (another CA, another name)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from neutrino.engine import pki as engine_pki
from neutrino.engine.bootstrap import agent_trust
from neutrino.engine.domain.errors import HostFailure
from neutrino.engine.hosts.agent_client import AgentAddress, AgentClient
from neutrino.engine.settings import EngineSettings
from tests.support.pki import make_pki
from tests.support.servers import free_port, neutrino_process

TOKEN = "agent-tls-token"


@pytest.fixture(scope="module")
def engine_settings(tmp_path_factory: pytest.TempPathFactory) -> EngineSettings:
    return EngineSettings(data_dir=tmp_path_factory.mktemp("engine"), insecure_http=False)


@pytest.fixture(scope="module")
def agent_port(tmp_path_factory: pytest.TempPathFactory, engine_settings: EngineSettings) -> Iterator[int]:
    """An agent serving HTTPS with a certificate for 127.0.0.1 issued by the engine's CA."""
    tmp: Path = tmp_path_factory.mktemp("agent")
    pki = engine_pki.ensure(engine_settings.data_dir / "pki", ["127.0.0.1"])
    cert, key = engine_pki.issue_server_pair(pki, tmp / "tls", "agent", ["127.0.0.1"])
    port = free_port()
    args = ["agent", "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp / "data"), "--token", TOKEN,
            "--host-name", "host-a", "--host-net", "memory", "--tls-cert", str(cert), "--tls-key", str(key)]  # fmt: skip
    url = f"https://127.0.0.1:{port}/api/v1/capabilities"
    with neutrino_process(args, url, tmp / "agent.log", env={"NEUTRINO_INSECURE_HTTP": "0"}):
        yield port


def _client(settings: EngineSettings, address: str, port: int) -> AgentClient:
    tls = agent_trust(settings, engine_pki.EnginePki(settings.data_dir / "pki"))
    return AgentClient(AgentAddress("host-a", address, port, TOKEN, timeout=10, tls=tls))


def test_the_engine_trusts_an_agent_its_ca_certified(
    engine_settings: EngineSettings, agent_port: int
) -> None:
    client = _client(engine_settings, "127.0.0.1", agent_port)
    assert client.where.base_url.startswith("https://")
    assert client.capabilities().host_name == "host-a"


def test_a_certificate_naming_another_host_is_refused(
    engine_settings: EngineSettings, agent_port: int
) -> None:
    # the same agent, dialled as "localhost": its certificate names 127.0.0.1 only
    with pytest.raises(
        HostFailure, match=r"Host host-a cannot be reached at https://localhost:.*(mismatch|match)"
    ):
        _client(engine_settings, "localhost", agent_port).capabilities()


def test_a_certificate_of_another_ca_is_refused(
    engine_settings: EngineSettings, agent_port: int, tmp_path: Path
) -> None:
    other = EngineSettings(data_dir=tmp_path, insecure_http=False)
    engine_pki.ensure(tmp_path / "pki", ["127.0.0.1"])  # another engine, another CA
    with pytest.raises(HostFailure, match="certificate verify failed"):
        _client(other, "127.0.0.1", agent_port).capabilities()
    # an extra CA for agents (--agent-ca-file) is trusted besides the engine's own, never instead of checking
    (tmp_path / "extra").mkdir()
    extra = make_pki(tmp_path / "extra")
    with_extra = EngineSettings(data_dir=tmp_path, insecure_http=False, agent_ca_file=extra.ca_file)
    with pytest.raises(HostFailure, match="certificate verify failed"):
        _client(with_extra, "127.0.0.1", agent_port).capabilities()


def test_insecure_http_calls_agents_over_plain_http(tmp_path: Path) -> None:
    settings = EngineSettings(data_dir=tmp_path, insecure_http=True)
    assert agent_trust(settings, engine_pki.ensure(tmp_path / "pki", ["127.0.0.1"])) is None
    assert AgentAddress("h", "127.0.0.1", 1, "t").base_url.startswith("http://")
