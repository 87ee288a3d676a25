"""``neutrino agent``'s arguments become one typed settings object."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from pydantic import ValidationError

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
    pki = {name: tmp_path / f"{name}.pem" for name in ("key", "cert", "ca")}
    for path in pki.values():
        path.write_text("PEM")
    args = parse(
        "--data-dir", str(tmp_path), "--token", "t", "--firewall", "none", "--ovs-db", "unix:/x.sock",
        "--ovs-datapath-type", "netdev", "--integration-bridge", "br-vm", "--provider-url", "http://p:9696", "--provider-auth-url", "http://k/v3",
        "--provider-username", "u", "--provider-password", "pw", "--provider-project", "p",
        "--provider-domain", "d", "--provider-ca-file", "/etc/pki/p.pem", "--report-interval", "5", "--sync-interval", "0.5", "--resync-interval", "60", "--feed-wait", "30", "--no-change-feed", "--underlay-dev", "eth1", "--underlay-mtu", "9000", "--vxlan-port", "8472",
        "--netns-prefix", "x-", "--host-name", "h", "--vm-backend", "netns", "--host-net", "memory",
        "--tunnel-ip", "192.0.2.1", "--listen", "unix:/a.sock", "--ovs-rundir", "/r/ovs",
        "--ovn-remote", "tcp:192.0.2.9:6642", "--ovn-encap-ip", "192.0.2.1", "--ovn-encap-type", "vxlan",
        "--ovn-rundir", "/r/ovn", "--ovn-private-key", str(pki["key"]), "--ovn-certificate", str(pki["cert"]),
        "--ovn-ca-cert", str(pki["ca"]), "--tls-cert", str(pki["cert"]), "--tls-key", str(pki["key"]),
        "--insecure-http", "--cert-renew-days", "12.5",
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
    assert settings.provider_ca_file == Path("/etc/pki/p.pem")
    assert settings.cert_renew_days == 12.5
    assert (settings.report_interval, settings.underlay_mtu, settings.vxlan_port) == (5, 9000, 8472)
    assert (settings.provider_domain, settings.sync_interval, settings.integration_bridge) == (
        "d",
        0.5,
        "br-vm",
    )
    assert (settings.resync_interval, settings.feed_wait, settings.change_feed) == (60, 30, False)
    assert (settings.ovs_rundir, settings.ovn_rundir) == (Path("/r/ovs"), Path("/r/ovn"))
    assert (settings.ovn_remote, settings.ovn_encap_ip, settings.ovn_encap_type) == (
        "tcp:192.0.2.9:6642", "192.0.2.1", "vxlan")  # fmt: skip
    assert (settings.ovn_private_key, settings.ovn_certificate, settings.ovn_ca_cert) == (
        pki["key"], pki["cert"], pki["ca"])  # fmt: skip
    assert (settings.tls_cert, settings.tls_key, settings.insecure_http) == (pki["cert"], pki["key"], True)


def test_a_tcp_listener_serves_https_unless_plain_http_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEUTRINO_INSECURE_HTTP", raising=False)
    tls = cli.settings_from_args(parse("--tls-cert", "/p/agent.pem", "--tls-key", "/p/agent.key"))
    assert isinstance(tls, AgentSettings)
    assert tls.bind() == {"host": "127.0.0.1", "port": 54321, "ssl_certfile": "/p/agent.pem",
                          "ssl_keyfile": "/p/agent.key"}  # fmt: skip
    assert tls.tls_mode == "files"
    neither = cli.settings_from_args(parse())
    # no certificate of its own: HTTPS with the one the engine issues when it adds the host
    assert isinstance(neither, AgentSettings) and neither.tls_mode == "enroll"
    assert neither.bind() == {"host": "127.0.0.1", "port": 54321}
    with pytest.raises(ValueError, match="tls_cert and tls_key: give both"):
        cli.settings_from_args(parse("--tls-cert", "/p/agent.pem"))
    monkeypatch.setenv("NEUTRINO_INSECURE_HTTP", "1")
    plain = cli.settings_from_args(parse())
    assert isinstance(plain, AgentSettings) and plain.bind() == {"host": "127.0.0.1", "port": 54321}
    assert cli.settings_from_args(parse("--listen", "unix:/run/a.sock")).bind() == {"uds": "/run/a.sock"}  # type: ignore[attr-defined]


def test_ovn_mode_options_and_their_errors(tmp_path: Path) -> None:
    args = parse("--data-dir", str(tmp_path), "--ovn-remote", "tcp:192.0.2.9:6642", "--ovn-encap-ip", "192.0.2.1",
                 "--ovn-bridge-mappings", "physnet1:br-ext,physnet2:br-two", "--ovs-rundir", "/r/ovs")  # fmt: skip
    settings = cli.settings_from_args(args)
    assert isinstance(settings, AgentSettings) and settings.ovn
    assert settings.ovn_bridge_mappings == {"physnet1": "br-ext", "physnet2": "br-two"}
    assert settings.ovn_encap_type == "geneve"
    assert settings.ovsdb == "unix:/r/ovs/db.sock"  # OVN mode: the OVSDB in the OVS run dir
    assert AgentSettings(ovs_rundir=Path("/r/ovs")).ovsdb is None  # otherwise ovs-vsctl's default
    with pytest.raises(ValidationError, match="ovn_encap_ip"):
        AgentSettings(ovn_remote="tcp:192.0.2.9:6642")
    with pytest.raises(ValidationError, match="ovn_remote"):
        AgentSettings(ovn_remote="192.0.2.9:6642", ovn_encap_ip="192.0.2.1")
    with pytest.raises(ValidationError, match="ovn_encap_type"):
        AgentSettings(ovn_remote="tcp:192.0.2.9:6642", ovn_encap_ip="192.0.2.1", ovn_encap_type="gre")
    with pytest.raises(SystemExit):
        parse("--ovn-bridge-mappings", "physnet1")


def test_an_ssl_southbound_needs_the_chassis_pki_and_each_file_must_exist(tmp_path: Path) -> None:
    pki = {name: tmp_path / f"{name}.pem" for name in ("ovn_private_key", "ovn_certificate", "ovn_ca_cert")}
    for path in pki.values():
        path.write_text("PEM")
    ssl = {"ovn_remote": "ssl:192.0.2.9:6642", "ovn_encap_ip": "192.0.2.1"}
    settings = AgentSettings(**ssl, **pki)
    assert settings.ovn_ca_cert == pki["ovn_ca_cert"]
    for name in pki:
        with pytest.raises(ValidationError, match=f"{name}: required for an ssl: ovn_remote"):
            AgentSettings(**ssl, **{k: v for k, v in pki.items() if k != name})
    with pytest.raises(ValidationError, match="ovn_certificate: .*nope.pem is not a file"):
        AgentSettings(**ssl, **{**pki, "ovn_certificate": tmp_path / "nope.pem"})
    # a second remote over TLS needs them as much as the first
    with pytest.raises(ValidationError, match="ovn_private_key: required"):
        AgentSettings(ovn_remote="tcp:192.0.2.9:6642,ssl:192.0.2.10:6642", ovn_encap_ip="192.0.2.1")


def test_the_sync_intervals_default_and_dhcp_may_be_left_to_the_provider() -> None:
    settings = AgentSettings(token="t")  # type: ignore[arg-type]
    # polling a provider without a change feed every 2 s; with one, a full resync every 5 minutes
    assert (settings.sync_interval, settings.resync_interval, settings.feed_wait) == (2, 300, 300)
    assert settings.change_feed is True
    assert settings.provider_dhcp is True
    with pytest.raises(ValidationError, match="feed_wait"):
        AgentSettings(token="t", feed_wait=301)  # type: ignore[arg-type]
    off = cli.settings_from_args(parse("--token", "t", "--no-provider-dhcp"))
    assert isinstance(off, AgentSettings) and off.provider_dhcp is False


CONFIG = """
# /etc/neutrino/agent.toml
listen = "0.0.0.0:54321"
host-name = "host1"
vm_backend = "netns"
tunnel_ip = "192.0.2.11"
vnic_drivers = { LINUX_BRIDGE = "linux_bridge", OPEN_VSWITCH = "open_vswitch" }
physical_interface_mappings = { physnet1 = "eth1" }
vxlan_peers = ["192.0.2.12"]
provider_url = "http://192.0.2.1:9696"
provider_password = "from-file"
sync_interval = 1.5
token = "file-token"
"""


def test_options_come_from_a_config_file_and_arguments_and_environment_override_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(CONFIG)
    monkeypatch.delenv("NEUTRINO_AGENT_TOKEN", raising=False)
    settings = cli.settings_from_args(parse("--config", str(config), "--tunnel-ip", "192.0.2.99"))
    assert isinstance(settings, AgentSettings)
    assert settings.listen == "0.0.0.0:54321" and settings.host_name == "host1"
    assert settings.vnic_drivers == {"LINUX_BRIDGE": "linux_bridge", "OPEN_VSWITCH": "open_vswitch"}
    assert settings.physical_interface_mappings == {"physnet1": "eth1"}
    assert settings.vxlan_peers == ["192.0.2.12"] and settings.sync_interval == 1.5
    assert settings.provider_password is not None
    assert settings.provider_password.get_secret_value() == "from-file"
    assert settings.tunnel_ip == "192.0.2.99"  # the argument wins
    assert settings.token is not None and settings.token.get_secret_value() == "file-token"

    monkeypatch.setenv("NEUTRINO_AGENT_TOKEN", "env-token")
    monkeypatch.setenv("NEUTRINO_AGENT_VM_BACKEND", "libvirt")
    settings = cli.settings_from_args(parse("--config", str(config)))
    assert isinstance(settings, AgentSettings)
    assert settings.token is not None and settings.token.get_secret_value() == "env-token"
    assert settings.vm_backend == "libvirt"  # the environment wins over the file
    # and nothing of the file sticks to settings built without it
    assert AgentSettings(token="t").host_name != "host1"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('provider_ulr = "http://x"\n', "unknown option(s) provider_ulr"),
        ("listen = \n", "agent.toml"),
        ('vm_backend = "qemu"\n', "vm_backend"),
    ],
)
def test_a_bad_config_file_stops_the_agent_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(f'token = "t"\nhost_net = "memory"\n{text}')
    assert cli.run(parse("--config", str(config), "--data-dir", str(tmp_path))) == 2
    assert message in capsys.readouterr().err


def test_a_missing_config_file_stops_the_agent_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.run(parse("--config", str(tmp_path / "nope.toml"))) == 2
    assert "nope.toml" in capsys.readouterr().err


def test_the_example_config_and_the_systemd_unit_agree_with_the_agent(tmp_path: Path) -> None:
    contrib = Path(__file__).parents[3] / "contrib" / "systemd"
    settings = AgentSettings.from_file(contrib / "agent.toml.example", data_dir=tmp_path)
    assert (
        settings.provider_url
        and settings.tunnel_ip
        and settings.vnic_drivers["LINUX_BRIDGE"] == "linux_bridge"
    )
    unit = (contrib / "neutrino-agent.service").read_text()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    argv = exec_start.split("=", 1)[1].split()
    assert argv[1] == "agent"
    args = parse(*argv[2:])
    assert args.config == "/etc/neutrino/agent.toml"
    assert "KillMode=process" in unit  # a restarted agent leaves guests and DHCP servers running
