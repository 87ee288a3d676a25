"""The agent's certificate from the engine's CA, as VDSM gets its own from oVirt's engine at host deploy.

An agent started without ``--tls-cert`` (and not ``--insecure-http``) makes a private key (0600) and serves
HTTPS with a self-signed bootstrap certificate. When the engine adds the host it reads the agent's
certificate request (``GET /api/v1/enrollment``, the host's token authorizing it) and answers with a
certificate its CA signed for the host's address and the CA itself (``PUT /api/v1/enrollment``). From then on
the agent serves that certificate and requires the engine's client certificate on every connection (mutual
TLS): the token alone can never enroll it again, and a renewal comes over that channel.

Renewal: once fewer than ``renew_before`` (``cert_renew_days``) are left on the engine's certificate, the agent
says so in its capabilities (``certificate.renewal_due``); the engine, reading them on its next monitoring pass,
signs a new one for the same host and key and sends it with ``PUT /api/v1/enrollment`` over mutual TLS. The old
certificate serves until the new one is installed (connections already open keep it); one refused leaves
it in place.

Files under ``DATA_DIR/pki``: ``agent.key`` (0600), ``bootstrap.pem``, and once enrolled ``agent.pem`` (the
chain) and ``engine-ca.pem``.
"""

from __future__ import annotations

import datetime
import logging
import os
import ssl
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from neutrino.agent_api.schema import CertificateState

log = logging.getLogger(__name__)

#: ask for a new certificate once fewer days than this are left on the engine's (it issues 398-day ones)
RENEW_BEFORE = datetime.timedelta(days=30)


class EnrollmentRefused(ValueError):
    """What the engine sent cannot be this agent's certificate (the message says why)."""


class Enrollment:
    def __init__(
        self, directory: Path, host_name: str, renew_before: datetime.timedelta = RENEW_BEFORE
    ) -> None:
        self.directory, self.host_name, self.renew_before = directory, host_name, renew_before
        self.key_file = directory / "agent.key"
        self.bootstrap_file = directory / "bootstrap.pem"
        self.cert_file = directory / "agent.pem"
        self.ca_file = directory / "engine-ca.pem"
        self._lock = threading.Lock()
        self._ensure_key()
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._load()

    @property
    def enrolled(self) -> bool:
        return self.cert_file.exists() and self.ca_file.exists()

    def state(self, now: datetime.datetime | None = None) -> CertificateState | None:
        """The engine-issued certificate being served and whether it is time to renew it (None before
        enrollment)."""
        if not self.enrolled:
            return None
        now = now or datetime.datetime.now(datetime.UTC)
        with self._lock:
            cert = self._served()
        not_after = cert.not_valid_after_utc
        return CertificateState(
            serial_number=f"{cert.serial_number:x}",
            not_after=not_after,
            renewal_due=not_after - now < self.renew_before,
        )

    def certificate_request(self) -> str:
        """A CSR for this agent's key, naming the host; the engine puts the host's address in what it signs."""
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.host_name[:64])]))
            .sign(self._key(), hashes.SHA256())
        )
        return csr.public_bytes(serialization.Encoding.PEM).decode()

    def install(self, chain_pem: str, ca_pem: str) -> None:
        """Serve ``chain_pem`` from now on and require client certificates from ``ca_pem``'s CA; refused
        unless the chain's first certificate is for this agent's key and signed by that CA."""
        try:
            chain = x509.load_pem_x509_certificates(chain_pem.encode())
            ca = x509.load_pem_x509_certificate(ca_pem.encode())
        except ValueError as exc:
            raise EnrollmentRefused(f"certificate: not PEM certificates ({exc})") from exc
        if chain[0].public_key() != self._key().public_key():
            raise EnrollmentRefused("certificate: it is not for this agent's key (the request's)")
        try:
            chain[0].verify_directly_issued_by(ca)
        except (ValueError, TypeError) as exc:
            raise EnrollmentRefused(f"ca_certificate: it did not sign the certificate ({exc})") from exc
        with self._lock:
            before = self._served() if self.enrolled else None
            _write(self.ca_file, ca_pem.encode(), 0o644)
            _write(self.cert_file, chain_pem.encode(), 0o644)
            self._load()
        new = chain[0]
        if before is None:
            log.info("enrolled: serving certificate %x from the engine's CA, valid until %s",
                     new.serial_number, new.not_valid_after_utc.isoformat())  # fmt: skip
        else:
            log.warning(
                "certificate renewed: serving %x valid until %s instead of %x valid until %s",
                new.serial_number, new.not_valid_after_utc.isoformat(),
                before.serial_number, before.not_valid_after_utc.isoformat(),
            )  # fmt: skip

    def _served(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_file.read_bytes())

    def _load(self) -> None:
        """Point the serving context at the current certificate: the engine's once enrolled (and then only
        clients the engine's CA certified get through), the bootstrap one before."""
        if self.enrolled:
            self.context.load_cert_chain(self.cert_file, self.key_file)
            self.context.load_verify_locations(cafile=str(self.ca_file))
            self.context.verify_mode = ssl.CERT_REQUIRED
        else:
            self.context.load_cert_chain(self.bootstrap_file, self.key_file)
            self.context.verify_mode = ssl.CERT_NONE

    def _ensure_key(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        if not self.key_file.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            _write(self.key_file, pem, 0o600)
            self.bootstrap_file.unlink(missing_ok=True)
        if not self.bootstrap_file.exists():
            _write(self.bootstrap_file, _self_signed(self._key(), self.host_name), 0o644)

    def _key(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(self.key_file.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{self.key_file}: not an ECDSA private key")
        return key


def _self_signed(key: ec.EllipticCurvePrivateKey, host_name: str) -> bytes:
    """The certificate served until enrollment: nobody trusts it; it only carries TLS for the enrollment."""
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{host_name[:40]} (not enrolled)")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=10))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)
