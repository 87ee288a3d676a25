"""The engine on TLS with its own PKI, as oVirt's: ovirtsdk4 connects with the CA fetched from the PKI
resource (over plain HTTP, to bootstrap) as ``ca_file``, and fails without it or with another CA."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.engine.conftest import ADMIN_PASSWORD
from tests.support.pki import make_pki
from tests.support.servers import free_port, neutrino_process

CA_QUERY = "/ovirt-engine/services/pki-resource?resource=ca-certificate&format=X509-PEM-CA"


@dataclass
class TlsEngine:
    api: str  # https://127.0.0.1:PORT/ovirt-engine/api
    plain: str  # http://127.0.0.1:PORT, the bootstrap listener
    data_dir: Path


@pytest.fixture(scope="module")
def tls_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsEngine]:
    tmp = tmp_path_factory.mktemp("tls-engine")
    port, plain_port = free_port(), free_port()
    args = ["engine", "--listen", f"127.0.0.1:{port}", "--http-listen", f"127.0.0.1:{plain_port}",
            "--data-dir", str(tmp / "engine")]  # fmt: skip
    api = f"https://127.0.0.1:{port}/ovirt-engine/api"
    env = {"NEUTRINO_ADMIN_PASSWORD": ADMIN_PASSWORD, "NEUTRINO_INSECURE_HTTP": "0"}
    with neutrino_process(args, api, tmp / "engine.log", env=env):
        yield TlsEngine(api, f"http://127.0.0.1:{plain_port}", tmp / "engine")


def _connect(engine: TlsEngine, **kw: object) -> object:
    import ovirtsdk4 as sdk

    return sdk.Connection(url=engine.api, username="admin@internal", password=ADMIN_PASSWORD, **kw)


def test_the_sdk_connects_with_the_ca_from_the_pki_resource(tls_engine: TlsEngine, tmp_path: Path) -> None:
    answer = httpx.get(tls_engine.plain + CA_QUERY)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/x-x509-ca-cert"
    assert answer.text == (tls_engine.data_dir / "pki" / "ca.pem").read_text()
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(answer.text)

    conn = _connect(tls_engine, ca_file=str(ca_file))
    try:
        names = [dc.name for dc in conn.system_service().data_centers_service().list()]  # type: ignore[attr-defined]
        assert "Default" in names
    finally:
        conn.close()  # type: ignore[attr-defined]
    # the same resource over HTTPS too
    assert httpx.get(tls_engine.api.removesuffix("/api") + CA_QUERY.removeprefix("/ovirt-engine"),
                     verify=ssl.create_default_context(cafile=ca_file)).text == answer.text  # fmt: skip


def test_the_sdk_refuses_the_engine_without_its_ca_or_with_another(
    tls_engine: TlsEngine, tmp_path: Path
) -> None:
    import ovirtsdk4 as sdk

    for kw in ({}, {"ca_file": str(make_pki(tmp_path).ca_file)}):
        conn = _connect(tls_engine, **kw)
        try:
            with pytest.raises(sdk.Error, match="(?i)certificate|SSL"):
                conn.test(raise_exception=True)  # type: ignore[attr-defined]
        finally:
            conn.close()  # type: ignore[attr-defined]


def test_plain_http_serves_the_ca_and_sends_everything_else_to_https(tls_engine: TlsEngine) -> None:
    answer = httpx.get(tls_engine.plain + "/ovirt-engine/api/vms", auth=("admin@internal", ADMIN_PASSWORD))
    assert answer.status_code == 301
    assert answer.headers["location"] == tls_engine.api + "/vms"
    refused = httpx.post(tls_engine.plain + "/ovirt-engine/sso/oauth/token", data={"username": "x"})
    assert refused.status_code == 405
