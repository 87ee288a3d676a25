"""The agent renews its certificate before it expires, over the mutual-TLS channel: real engine and agent
over HTTPS. The test gives the enrolled agent a short-lived certificate from the engine's CA (as if 398 days
had passed); the agent then asks for renewal in its capabilities, and the engine's next monitoring pass signs a
new one for the same host and key. The old one serves until then; the renewal is logged on both sides."""

from __future__ import annotations

import datetime
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509

from neutrino.agent_api.schema import enrollment_proof
from neutrino.engine.pki import EnginePki
from tests.e2e.engine.conftest import ADMIN_PASSWORD
from tests.support.servers import RunningAgent, agent_process, free_port, neutrino_process

TLS = {"NEUTRINO_INSECURE_HTTP": "0"}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, EnginePki]]:
    tmp = tmp_path_factory.mktemp("renew-engine")
    port = free_port()
    args = ["engine", "--listen", f"127.0.0.1:{port}", "--http-listen", "", "--data-dir", str(tmp / "engine"),
            "--host-monitor-interval", "1"]  # fmt: skip
    api = f"https://127.0.0.1:{port}/ovirt-engine/api"
    with neutrino_process(
        args, api, tmp / "engine.log", env={"NEUTRINO_ADMIN_PASSWORD": ADMIN_PASSWORD, **TLS}
    ):
        yield api, EnginePki(tmp / "engine" / "pki")


def _served(pki: EnginePki, port: int) -> x509.Certificate:
    """The certificate the agent serves on a new connection (as the engine sees it: its client certificate)."""
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    context.load_cert_chain(pki.server_cert, pki.server_key)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def _install_short_lived(pki: EnginePki, agent: RunningAgent, days: float) -> x509.Certificate:
    """What the engine's enrollment does, with a certificate that has only ``days`` left."""
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    context.load_cert_chain(pki.server_cert, pki.server_key)
    url = f"https://127.0.0.1:{agent.port}/api/v1/enrollment"
    with httpx.Client(verify=context, timeout=10) as http:
        state = http.get(url).json()
        assert state["enrolled"] is True
        key = x509.load_pem_x509_csr(state["certificate_request"].encode()).public_key()
        chain = pki.sign(key, "renewing", ["127.0.0.1"], lifetime=datetime.timedelta(days=days))  # type: ignore[arg-type]
        ca = pki.ca_pem()
        body = {"certificate": chain, "ca_certificate": ca, "proof": enrollment_proof(agent.token, chain, ca)}
        assert http.put(url, json=body).status_code == 200
    return x509.load_pem_x509_certificate(chain.encode())


def test_the_agent_renews_its_certificate_before_it_expires(
    engine: tuple[str, EnginePki], tmp_path: Path
) -> None:
    import ovirtsdk4 as sdk
    import ovirtsdk4.types as types

    api, pki = engine
    conn = sdk.Connection(
        url=api, username="admin@internal", password=ADMIN_PASSWORD, ca_file=str(pki.ca_cert)
    )
    system = conn.system_service()
    with agent_process(
        tmp_path, "renewing", env=TLS, scheme="https", extra=["--cert-renew-days", "30"]
    ) as agent:
        host = system.hosts_service().add(
            types.Host(
                name="renewing",
                address="127.0.0.1",
                port=agent.port,
                root_password=agent.token,
                cluster=types.Cluster(name="Default"),
            )  # fmt: skip
        )
        try:
            assert host.status.value == "up", host.status_detail
            enrolled = _served(pki, agent.port)
            assert enrolled.not_valid_after_utc - enrolled.not_valid_before_utc > datetime.timedelta(days=390)

            short = _install_short_lived(pki, agent, days=2)  # 2 days left: fewer than 30, renewal due
            deadline = time.monotonic() + 30
            while (served := _served(pki, agent.port)).serial_number in (
                short.serial_number,
                enrolled.serial_number,
            ):
                assert time.monotonic() < deadline, "the agent's short-lived certificate was not renewed"
                time.sleep(0.2)
            # a new certificate of the engine's CA, for the same host and key, valid for the full lifetime again
            served.verify_directly_issued_by(x509.load_pem_x509_certificate(pki.ca_cert.read_bytes()))
            assert served.public_key() == short.public_key()
            san = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
            assert served.not_valid_after_utc - datetime.datetime.now(datetime.UTC) > datetime.timedelta(
                days=390
            )

            # logged: an audit event on the engine, a line in the agent's log; the host stayed up throughout
            events = _wait_for(lambda: [e for e in system.events_service().list(search="type=19050")
                                        if e.host is not None and e.host.id == host.id])  # fmt: skip
            assert "certificate of host renewing was renewed" in events[0].description
            assert system.hosts_service().host_service(host.id).get().status.value == "up"
            assert "certificate renewed: serving" in (tmp_path / "agent-renewing.log").read_text()
        finally:
            system.hosts_service().host_service(host.id).remove()
            conn.close()


def _wait_for(found: Any, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := found()):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    return result
