"""``neutrino agent``'s arguments become one typed settings object."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from neutrino.agent import cli
from neutrino.agent.settings import AgentSettings


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.configure(parser)
    return parser.parse_args(list(argv))


def test_arguments_map_onto_the_settings(tmp_path: Path) -> None:
    args = parse(
        "--listen",
        "127.0.0.1:54321",
        "--data-dir",
        str(tmp_path),
        "--token",
        "t",
        "--vnic-driver",
        "LINUX_BRIDGE=linux_bridge",
        "--vnic-driver",
        "OPEN_VSWITCH=noop",
        "--binding-host-id",
        "LINUX_BRIDGE=h1",
        "--vm-backend",
        "netns",
        "--tunnel-ip",
        "192.0.2.1",
        "--vxlan-peer",
        "192.0.2.2",
        "--vxlan-peer",
        "192.0.2.3",
        "--physical-interface-mapping",
        "physnet1:eth1",
        "--no-guest-dhcp",
    )
    settings = cli.settings_from_args(args)
    assert isinstance(settings, AgentSettings)
    assert settings.vnic_drivers == {"LINUX_BRIDGE": "linux_bridge", "OPEN_VSWITCH": "noop"}
    assert settings.binding_host_ids == {"LINUX_BRIDGE": "h1"}
    assert settings.vxlan_peers == ["192.0.2.2", "192.0.2.3"]
    assert settings.physical_interface_mappings == {"physnet1": "eth1"}
    assert settings.token is not None and settings.token.get_secret_value() == "t"
    assert (settings.vm_backend, settings.guest_dhcp, settings.data_dir) == ("netns", False, tmp_path)
    assert settings.bind() == {"host": "127.0.0.1", "port": 54321}


def test_the_token_and_other_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEUTRINO_AGENT_TOKEN", "from-env")
    monkeypatch.setenv("NEUTRINO_AGENT_VNIC_DRIVERS", '{"LINUX_BRIDGE": "linux_bridge"}')
    settings = cli.settings_from_args(parse("--listen", "unix:/run/agent.sock"))
    assert isinstance(settings, AgentSettings)
    assert settings.token is not None and settings.token.get_secret_value() == "from-env"
    assert settings.vnic_drivers == {"LINUX_BRIDGE": "linux_bridge"}
    assert settings.bind() == {"uds": "/run/agent.sock"}


@pytest.mark.parametrize(
    "argv", [["--vnic-driver", "LINUX_BRIDGE"], ["--physical-interface-mapping", "eth1"]]
)
def test_malformed_pairs_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse(*argv)


def test_run_refuses_to_start_without_a_token_or_with_an_unknown_driver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("NEUTRINO_AGENT_TOKEN", raising=False)
    assert cli.run(parse("--data-dir", str(tmp_path), "--host-net", "memory")) == 2
    assert "needs a token" in capsys.readouterr().err
    assert cli.run(parse("--data-dir", str(tmp_path), "--token", "t", "--vnic-driver", "X=nope")) == 2
    assert "unknown vNIC driver" in capsys.readouterr().err
    assert cli.run(parse("--listen", "nowhere", "--token", "t")) == 2


def test_every_scalar_argument_reaches_the_settings(tmp_path: Path) -> None:
    args = parse(
        "--data-dir", str(tmp_path), "--token", "t", "--firewall", "none", "--ovs-db", "unix:/x.sock",
        "--ovs-datapath-type", "netdev", "--provider-url", "http://p:9696", "--provider-auth-url", "http://k/v3",
        "--provider-username", "u", "--provider-password", "pw", "--provider-project", "p",
        "--report-interval", "5", "--underlay-dev", "eth1", "--underlay-mtu", "9000", "--vxlan-port", "8472",
        "--netns-prefix", "x-", "--host-name", "h", "--vm-backend", "netns", "--host-net", "memory",
        "--tunnel-ip", "192.0.2.1", "--listen", "unix:/a.sock",
    )  # fmt: skip
    settings = cli.settings_from_args(args)
    assert isinstance(settings, AgentSettings)
    for field in cli.SCALAR_FIELDS:
        assert getattr(args, field) is not None, field
    assert (settings.firewall, settings.ovs_db, settings.ovs_datapath_type) == (
        "none",
        "unix:/x.sock",
        "netdev",
    )
    assert (settings.provider_url, settings.provider_auth_url, settings.provider_username) == (
        "http://p:9696", "http://k/v3", "u")  # fmt: skip
    assert settings.provider_password is not None and settings.provider_password.get_secret_value() == "pw"
    assert (settings.report_interval, settings.underlay_mtu, settings.vxlan_port) == (5, 9000, 8472)
