"""`neutrino up` on TLS by default: its own PKI, the CA's path printed, and the SDK, the openstack CLI and
the engine's own calls (to the provider, to the local agent) all over HTTPS trusting that CA."""

from __future__ import annotations

import os
import re
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.servers import free_port, neutrino_process

PASSWORD = "up-tls-secret"


@dataclass
class Up:
    api: str
    provider: str
    ca_file: Path
    log: Path


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    tmp = tmp_path_factory.mktemp("up-tls")
    engine, plain, provider, agent = free_port(), free_port(), free_port(), free_port()
    args = ["up", "--data-dir", str(tmp / "data"), "--engine-listen", f"127.0.0.1:{engine}",
            "--engine-http-listen", f"127.0.0.1:{plain}", "--provider-listen", f"127.0.0.1:{provider}",
            "--agent-listen", f"127.0.0.1:{agent}", "--datapath", "memory"]  # fmt: skip
    api = f"https://127.0.0.1:{engine}/ovirt-engine/api"
    env = {"NEUTRINO_ADMIN_PASSWORD": PASSWORD, "NEUTRINO_INSECURE_HTTP": "0"}
    with neutrino_process(args, api, tmp / "up.log", env=env):
        yield Up(
            api, f"https://127.0.0.1:{provider}", tmp / "data" / "engine" / "pki" / "ca.pem", tmp / "up.log"
        )


def _printed_ca(log: Path) -> Path:
    found = re.search(r"neutrino up: TLS with Neutrino's own PKI; CA certificate: (\S+)", log.read_text())
    assert found, log.read_text()
    return Path(found.group(1))


def test_up_prints_its_ca_and_the_sdk_connects_with_it(up: Up) -> None:
    import ovirtsdk4 as sdk

    assert _printed_ca(up.log) == up.ca_file.resolve()
    conn = sdk.Connection(url=up.api, username="admin@internal", password=PASSWORD, ca_file=str(up.ca_file))
    try:
        system = conn.system_service()
        # the engine reached the local agent over HTTPS (a certificate from its CA naming 127.0.0.1) ...
        # (`neutrino up` enrolls it once the servers answer: it may take a moment more than the API)
        deadline, hosts = time.monotonic() + 30, []
        while time.monotonic() < deadline:
            hosts = [(h.name, h.status.value) for h in system.hosts_service().list()]
            if hosts == [("local", "up")]:
                break
            time.sleep(0.2)
        assert hosts == [("local", "up")], (hosts, up.log.read_text()[-2000:])
        # ... and reaches the provider over HTTPS, trusting the CA imported with it
        providers = system.openstack_network_providers_service()
        registered = providers.list()[0]
        assert registered.url == up.provider
        providers.provider_service(registered.id).test_connectivity()
    finally:
        conn.close()
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(up.api)


def test_the_openstack_cli_works_with_the_ca(up: Up) -> None:
    if shutil.which("openstack") is None:
        pytest.skip("python-openstackclient is not installed")
    secret = (up.ca_file.parents[2] / "provider" / "engine-user.secret").read_text().strip()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(OS_AUTH_URL=f"{up.provider}/v3", OS_USERNAME="neutrino-engine", OS_PASSWORD=secret,
               OS_PROJECT_NAME="service", OS_USER_DOMAIN_NAME="Default", OS_PROJECT_DOMAIN_NAME="Default",
               OS_IDENTITY_API_VERSION="3")  # fmt: skip
    done = subprocess.run(["openstack", "--os-cacert", str(up.ca_file), "network", "agent", "list", "-f", "value",
                           "-c", "Host"], env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "local" in done.stdout.split()
    assert (
        httpx.get(f"{up.provider}/", verify=ssl.create_default_context(cafile=up.ca_file)).status_code < 500
    )
