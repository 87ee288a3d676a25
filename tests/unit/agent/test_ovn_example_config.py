"""contrib/systemd/agent-ovn.toml.example is a config the agent takes: an OVN chassis over TLS."""

from __future__ import annotations

from pathlib import Path

from neutrino.agent.app import build_agent
from neutrino.agent.settings import AgentSettings, read_config

EXAMPLE = Path(__file__).parents[3] / "contrib" / "systemd" / "agent-ovn.toml.example"


def test_the_ovn_example_makes_an_ovn_chassis_over_tls(tmp_path: Path) -> None:
    pki = {}
    for name in ("ovn_private_key", "ovn_certificate", "ovn_ca_cert"):
        assert read_config(EXAMPLE)[name].startswith("/etc/neutrino/ovn/")  # where the docs put them
        pki[name] = tmp_path / f"{name}.pem"  # the files must exist: stand-ins here
        pki[name].write_text("PEM")
    settings = AgentSettings.from_file(EXAMPLE, data_dir=tmp_path, host_net="memory", **pki)
    assert settings.ovn and settings.ovn_remote == "ssl:192.0.2.1:6642"
    assert settings.ovn_bridge_mappings == {"physnet1": "br-ext"} and settings.provider_url is None
    agent = build_agent(settings)
    assert agent.ovn is not None and agent.follower is None
    assert agent.ovn.config.system_id == "host1.example.com"
    assert f"--ca-cert={pki['ovn_ca_cert']}" in agent.ovn.config.ssl_options()
