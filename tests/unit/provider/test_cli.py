"""`neutrino provider` options, and the Namespace other programs (``neutrino up``) build for it."""

from __future__ import annotations

import argparse
from pathlib import Path

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
