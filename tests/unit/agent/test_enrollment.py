"""The agent's side of enrollment: its key stays its own (0600), it installs only a certificate for that key
signed by the CA sent with it and vouched for by the token, and then requires client certificates."""

from __future__ import annotations

import datetime
import ssl
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography import x509
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.testclient import TestClient

from neutrino.agent.api import enrollment_routes
from neutrino.agent.enrollment import Enrollment, EnrollmentRefused
from neutrino.agent_api.schema import enrollment_proof
from neutrino.engine import pki as engine_pki

TOKEN = "host-token"


@pytest.fixture
def enrollment(tmp_path: Path) -> Enrollment:
    return Enrollment(tmp_path / "agent-pki", "host-1")


@pytest.fixture
def ca(tmp_path: Path) -> engine_pki.EnginePki:
    return engine_pki.ensure(tmp_path / "engine-pki", ["127.0.0.1"])


def _signed(ca: engine_pki.EnginePki, csr_pem: str) -> str:
    request = x509.load_pem_x509_csr(csr_pem.encode())
    key = request.public_key()
    assert request.is_signature_valid
    return ca.sign(key, "host-1", ["192.0.2.7"])  # type: ignore[arg-type]


def test_the_key_is_private_and_the_bootstrap_lets_anyone_in(enrollment: Enrollment) -> None:
    assert stat.S_IMODE(enrollment.key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(enrollment.directory.stat().st_mode) == 0o700
    assert not enrollment.enrolled and enrollment.context.verify_mode == ssl.CERT_NONE
    csr = x509.load_pem_x509_csr(enrollment.certificate_request().encode())
    assert csr.subject.rfc4514_string() == "CN=host-1"


def test_installing_the_engines_certificate_requires_its_clients(
    enrollment: Enrollment, ca: engine_pki.EnginePki, tmp_path: Path
) -> None:
    chain = _signed(ca, enrollment.certificate_request())
    enrollment.install(chain, ca.ca_pem())
    assert enrollment.enrolled and enrollment.context.verify_mode == ssl.CERT_REQUIRED
    # a restarted agent serves it again, still requiring the engine's client certificate
    again = Enrollment(enrollment.directory, "host-1")
    assert again.enrolled and again.context.verify_mode == ssl.CERT_REQUIRED


def test_a_certificate_for_another_key_or_from_another_ca_is_refused(
    enrollment: Enrollment, ca: engine_pki.EnginePki, tmp_path: Path
) -> None:
    other = Enrollment(tmp_path / "other-agent", "host-2")
    with pytest.raises(EnrollmentRefused, match="not for this agent's key"):
        enrollment.install(_signed(ca, other.certificate_request()), ca.ca_pem())
    another_ca = engine_pki.ensure(tmp_path / "another-engine", ["127.0.0.1"])
    with pytest.raises(EnrollmentRefused, match="ca_certificate: it did not sign"):
        enrollment.install(_signed(ca, enrollment.certificate_request()), another_ca.ca_pem())
    with pytest.raises(EnrollmentRefused, match="not PEM"):
        enrollment.install("garbage", ca.ca_pem())
    assert not enrollment.enrolled


def _client(enrollment: Enrollment | None) -> TestClient:
    app = Starlette(routes=enrollment_routes.ROUTES)
    app.state.enrollment = enrollment
    app.state.settings = SimpleNamespace(token=SecretStr(TOKEN))
    return TestClient(app)


def test_the_routes_prove_the_token_instead_of_taking_it(
    enrollment: Enrollment, ca: engine_pki.EnginePki
) -> None:
    client = _client(enrollment)
    state = client.get("/api/v1/enrollment").json()
    assert state["enrolled"] is False
    assert state["proof"] == enrollment_proof(TOKEN, state["certificate_request"])

    chain, ca_pem = _signed(ca, state["certificate_request"]), ca.ca_pem()
    forged = {
        "certificate": chain,
        "ca_certificate": ca_pem,
        "proof": enrollment_proof("guess", chain, ca_pem),
    }
    refused = client.put("/api/v1/enrollment", json=forged)
    assert refused.status_code == 401 and "proof" in refused.json()["error"]["message"]
    assert not enrollment.enrolled

    good = {**forged, "proof": enrollment_proof(TOKEN, chain, ca_pem)}
    assert client.put("/api/v1/enrollment", json=good).json()["enrolled"] is True
    assert enrollment.enrolled


def test_an_agent_with_a_certificate_of_its_own_is_not_enrollable() -> None:
    answer = _client(None).get("/api/v1/enrollment")
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "NotEnrollable"


def test_the_agent_asks_for_renewal_once_few_days_are_left(
    enrollment: Enrollment, ca: engine_pki.EnginePki, tmp_path: Path
) -> None:
    assert enrollment.state() is None  # nothing of the engine's to renew before enrollment
    request = x509.load_pem_x509_csr(enrollment.certificate_request().encode())
    short = ca.sign(request.public_key(), "host-1", ["192.0.2.7"], lifetime=datetime.timedelta(days=20))  # type: ignore[arg-type]
    enrollment.install(short, ca.ca_pem())
    state = enrollment.state()
    assert state is not None and state.renewal_due  # 20 days left, fewer than the default 30
    served = x509.load_pem_x509_certificate(short.encode())
    assert state.serial_number == f"{served.serial_number:x}"
    assert state.not_after == served.not_valid_after_utc
    # the threshold is the agent's own setting
    assert not Enrollment(enrollment.directory, "host-1", datetime.timedelta(days=10)).state().renewal_due  # type: ignore[union-attr]

    long = ca.sign(request.public_key(), "host-1", ["192.0.2.7"])
    enrollment.install(long, ca.ca_pem())
    renewed = enrollment.state()
    assert renewed is not None and not renewed.renewal_due and renewed.serial_number != state.serial_number


def test_a_refused_renewal_leaves_the_old_certificate_served(
    enrollment: Enrollment, ca: engine_pki.EnginePki, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    enrollment.install(_signed(ca, enrollment.certificate_request()), ca.ca_pem())
    before = (enrollment.cert_file.read_bytes(), enrollment.ca_file.read_bytes(), enrollment.state())
    client = _client(enrollment)
    other = Enrollment(tmp_path / "other-agent", "host-2")
    chain, ca_pem = _signed(ca, other.certificate_request()), ca.ca_pem()
    body = {"certificate": chain, "ca_certificate": ca_pem, "proof": enrollment_proof(TOKEN, chain, ca_pem)}
    with caplog.at_level("WARNING", "neutrino.agent"):
        refused = client.put("/api/v1/enrollment", json=body)
    assert refused.status_code == 400 and "not for this agent's key" in refused.json()["error"]["message"]
    assert "certificate from the engine refused (the current one stays)" in caplog.text
    assert (enrollment.cert_file.read_bytes(), enrollment.ca_file.read_bytes(), enrollment.state()) == before

    # the one the engine does sign for this key replaces it, and the agent logs it
    with caplog.at_level("WARNING", "neutrino.agent"):
        enrollment.install(_signed(ca, enrollment.certificate_request()), ca.ca_pem())
    assert "certificate renewed: serving" in caplog.text
    assert enrollment.state() != before[2]
