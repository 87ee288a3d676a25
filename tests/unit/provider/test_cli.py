"""`neutrino provider` options, and the Namespace other programs (``neutrino up``) build for it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from pydantic import ValidationError

from neutrino.provider import cli


def test_options_become_settings() -> None:
    parser = argparse.ArgumentParser()
    cli.configure(parser)
    args = parser.parse_args(
        ["--listen", "0.0.0.0:9797", "--data-dir", "/tmp/x", "--no-auth", "--db", "sqlite:///y.db"]
    )
    settings = cli.settings_from(args)
    assert (settings.listen_host, settings.listen_port) == ("0.0.0.0", 9797)
    assert settings.data_dir == Path("/tmp/x") and settings.no_auth is True
    assert settings.database_url() == "sqlite:///y.db"
    assert settings.member_port_binding is False


def test_a_namespace_with_the_original_options_only_still_works() -> None:
    args = argparse.Namespace(listen="127.0.0.1:9696", db="", data_dir="/tmp/p", no_auth=False, public_url="")
    settings = cli.settings_from(args)
    assert settings.database_url() == "sqlite:////tmp/p/provider.db"


def _settings(*argv: str):  # -> ProviderSettings
    parser = argparse.ArgumentParser()
    cli.configure(parser)
    return cli.settings_from(parser.parse_args(list(argv)))


def test_the_builtin_backend_is_the_default() -> None:
    settings = _settings()
    assert settings.backend == "builtin"
    assert settings.ovn_nb_connection == ""


def test_ovn_options_become_settings() -> None:
    settings = _settings(
        "--backend", "ovn", "--ovn-nb-connection", "tcp:10.0.0.1:6641", "--ovn-sb-connection", "tcp:10.0.0.1:6642",
        "--ovn-maintenance-interval", "30",
    )  # fmt: skip
    assert settings.backend == "ovn"
    assert settings.ovn_nb_connection == "tcp:10.0.0.1:6641"
    assert settings.ovn_sb_connection == "tcp:10.0.0.1:6642"
    assert settings.ovn_maintenance_interval == 30


def test_tls_options_become_settings() -> None:
    settings = _settings(
        "--backend", "ovn", "--ovn-nb-connection", "ssl:10.0.0.1:6641", "--ovn-nb-private-key", "/k.pem",
        "--ovn-nb-certificate", "/c.pem", "--ovn-ca-cert", "/ca.pem",
    )  # fmt: skip
    assert (settings.ovn_nb_private_key, settings.ovn_nb_certificate, settings.ovn_ca_cert) == (
        Path("/k.pem"),
        Path("/c.pem"),
        Path("/ca.pem"),
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--backend", "ovn"], "ovn_nb_connection: required with backend 'ovn'"),
        (
            ["--backend", "ovn", "--ovn-nb-connection", "10.0.0.1:6641"],
            "ovn_nb_connection: '10.0.0.1:6641' is not",
        ),
        (["--ovn-sb-connection", "http://x"], "ovn_sb_connection: 'http://x' is not"),
        (
            ["--backend", "ovn", "--ovn-nb-connection", "ssl:10.0.0.1:6641", "--ovn-ca-cert", "/ca.pem"],
            "ovn_nb_private_key: required for an ssl: northbound connection",
        ),
        (["--ovn-maintenance-interval", "0"], "greater than 0"),
    ],
)
def test_bad_ovn_options_are_refused_naming_the_option(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    cli.configure(parser)
    with pytest.raises(ValidationError, match=message):
        cli.settings_from(parser.parse_args(argv))
    assert cli.run(parser.parse_args(argv)) == 2
    err = capsys.readouterr().err
    assert err.startswith("neutrino provider: ovn_") and message in err


def test_ovn_options_not_given_leave_the_environment_its_say(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEUTRINO_PROVIDER_BACKEND", "ovn")
    monkeypatch.setenv("NEUTRINO_PROVIDER_OVN_NB_CONNECTION", "tcp:10.0.0.9:6641")
    monkeypatch.setenv("NEUTRINO_PROVIDER_OVN_MAINTENANCE_INTERVAL", "12")
    settings = _settings()
    assert (settings.backend, settings.ovn_nb_connection, settings.ovn_maintenance_interval) == (
        "ovn",
        "tcp:10.0.0.9:6641",
        12,
    )


def test_the_provider_serves_https_or_plain_http_only_when_asked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("NEUTRINO_INSECURE_HTTP", raising=False)
    tls = _settings("--tls-cert", "/p/provider.pem", "--tls-key", "/p/provider.key")
    assert tls.tls_options() == {"ssl_certfile": "/p/provider.pem", "ssl_keyfile": "/p/provider.key"}
    assert _settings("--insecure-http").tls_options() == {}
    monkeypatch.setenv("NEUTRINO_INSECURE_HTTP", "1")
    assert _settings().tls_options() == {}
    monkeypatch.delenv("NEUTRINO_INSECURE_HTTP")

    parser = argparse.ArgumentParser()
    cli.configure(parser)
    assert cli.run(parser.parse_args(["--data-dir", str(tmp_path), "--tls-cert", "/p/provider.pem"])) == 2
    err = capsys.readouterr().err
    assert err.startswith("neutrino provider: tls_cert and tls_key: required to serve HTTPS")
    assert "--insecure-http" in err and not (tmp_path / "provider.db").exists()
