"""The real `openstack` CLI against `neutrino provider --tls-cert/--tls-key`: it works with ``--os-cacert``
naming the provider's CA and refuses the provider without it (SQLite only: each command is ~1.5 s)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.provider.conftest import ADMIN_PASSWORD, ProviderProcess
from tests.support.databases import sqlite_url
from tests.support.pki import Pki, make_pki
from tests.support.servers import free_port, neutrino_process

if shutil.which("openstack") is None:
    if os.environ.get("CI") == "true":  # in CI nothing skips
        raise RuntimeError("python-openstackclient is not installed (pip install -e .[test])")
    pytest.skip("python-openstackclient is not installed (pip install -e .[test])", allow_module_level=True)


@pytest.fixture(scope="module")
def https_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ProviderProcess, Pki]]:
    data_dir = tmp_path_factory.mktemp("provider-tls")
    pki = make_pki(data_dir)
    port = free_port()
    args = ["provider", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir),
            "--db", sqlite_url(data_dir), "--tls-cert", str(pki.chain_file), "--tls-key", str(pki.key_file)]  # fmt: skip
    env = {"NEUTRINO_ADMIN_PASSWORD": ADMIN_PASSWORD, "NEUTRINO_INSECURE_HTTP": "0"}
    base = f"https://127.0.0.1:{port}"
    with neutrino_process(args, f"{base}/", data_dir / "provider.log", env=env):
        yield ProviderProcess(base, sqlite_url(data_dir)), pki


def _openstack(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openstack", *args], env=env, capture_output=True, text=True, timeout=120)


def test_the_cli_works_over_https_with_the_ca(https_provider: tuple[ProviderProcess, Pki]) -> None:
    provider, pki = https_provider
    env = provider.cli_env()
    done = _openstack(
        env, "--os-cacert", str(pki.ca_file), "network", "create", "tls-net", "-f", "value", "-c", "name"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "tls-net"
    # the catalog the CLI followed to Neutron advertises the provider's https URL
    listed = _openstack(env, "--os-cacert", str(pki.ca_file), "catalog", "list", "-f", "json")
    assert listed.returncode == 0 and provider.url in listed.stdout, listed.stderr


def test_the_cli_refuses_the_provider_without_its_ca(
    https_provider: tuple[ProviderProcess, Pki], tmp_path: Path
) -> None:
    provider, _ = https_provider
    other = make_pki(tmp_path)
    for cacert in ([], ["--os-cacert", str(other.ca_file)]):
        done = _openstack(provider.cli_env(), *cacert, "network", "list")
        assert done.returncode != 0
        assert "CERTIFICATE_VERIFY_FAILED" in done.stderr or "certificate verify failed" in done.stderr, (
            done.stderr
        )
