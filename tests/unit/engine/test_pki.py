"""The engine's PKI: a CA made once with a key only its owner reads, a server certificate it signs that names
the engine's host names, re-issued when a name is missing; and the PKI resource that serves them."""

from __future__ import annotations

import datetime
import stat
from pathlib import Path

from cryptography import x509
from starlette.applications import Starlette
from starlette.testclient import TestClient

from neutrino.engine import pki
from neutrino.engine.web.pki_resource import PATH, pki_routes


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _names(cert: x509.Certificate) -> set[str]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(n) for n in san.get_values_for_type(x509.IPAddress)} | set(
        san.get_values_for_type(x509.DNSName)
    )


def test_first_start_makes_a_ca_and_a_server_certificate_it_signed(tmp_path: Path) -> None:
    made = pki.ensure(tmp_path / "pki", ["engine.example", "127.0.0.1"])
    assert _mode(made.ca_key) == 0o600 and _mode(made.server_key) == 0o600
    assert _mode(made.ca_key.parent) == 0o700
    assert _mode(made.ca_cert) == 0o644
    ca, server = _cert(made.ca_cert), _cert(made.server_cert)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    server.verify_directly_issued_by(ca)
    assert _names(server) == {"engine.example", "127.0.0.1"}
    # the chain TLS presents: the server's certificate, then the CA's
    assert made.server_cert.read_text().endswith(made.ca_pem())
    assert made.server_pem().count("BEGIN CERTIFICATE") == 1


def test_a_second_start_keeps_both_and_a_new_name_reissues_only_the_server_certificate(
    tmp_path: Path,
) -> None:
    first = pki.ensure(tmp_path, ["127.0.0.1"])
    ca_pem, server_pem, key = first.ca_pem(), first.server_pem(), first.server_key.read_bytes()
    again = pki.ensure(tmp_path, ["127.0.0.1"])
    assert (again.ca_pem(), again.server_pem(), again.server_key.read_bytes()) == (ca_pem, server_pem, key)

    renamed = pki.ensure(tmp_path, ["127.0.0.1", "engine.example"])
    assert renamed.ca_pem() == ca_pem and renamed.server_pem() != server_pem
    assert _names(_cert(renamed.server_cert)) == {"127.0.0.1", "engine.example"}
    _cert(renamed.server_cert).verify_directly_issued_by(_cert(renamed.ca_cert))


def test_a_certificate_about_to_expire_is_reissued(tmp_path: Path) -> None:
    old = pki.ensure(
        tmp_path, ["127.0.0.1"], now=datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=380)
    )
    before = old.server_pem()
    assert pki.ensure(tmp_path, ["127.0.0.1"]).server_pem() != before


def test_certificates_issued_for_the_other_programs_are_signed_by_the_ca(tmp_path: Path) -> None:
    made = pki.ensure(tmp_path / "pki", ["127.0.0.1"])
    cert_file, key_file = pki.issue_server_pair(
        made, tmp_path / "tls", "provider", ["127.0.0.1", "localhost"]
    )
    assert _mode(key_file) == 0o600
    cert = _cert(cert_file)
    cert.verify_directly_issued_by(_cert(made.ca_cert))
    assert _names(cert) == {"127.0.0.1", "localhost"}
    again = pki.issue_server_pair(made, tmp_path / "tls", "provider", ["127.0.0.1", "localhost"])
    assert again == (cert_file, key_file) and _cert(cert_file) == cert


def test_the_pki_resource_serves_the_ca_as_ovirt_does(tmp_path: Path) -> None:
    made = pki.ensure(tmp_path, ["127.0.0.1"])
    client = TestClient(Starlette(routes=pki_routes(made.ca_pem, made.server_pem)))

    answer = client.get(PATH, params={"resource": "ca-certificate", "format": "X509-PEM-CA"})
    assert answer.status_code == 200 and answer.text == made.ca_pem()
    assert answer.headers["content-type"] == "application/x-x509-ca-cert"
    engine = client.get(PATH, params={"resource": "engine-certificate", "format": "X509-PEM"})
    assert engine.text == made.server_pem()

    unknown = client.get(PATH, params={"resource": "ca-key", "format": "X509-PEM-CA"})
    assert unknown.status_code == 400 and "resource: 'ca-key'" in unknown.text
    bad_format = client.get(PATH, params={"resource": "ca-certificate", "format": "DER"})
    assert bad_format.status_code == 400 and "format: 'DER'" in bad_format.text
