"""The engine's PKI, as oVirt's engine-setup makes one: a CA of its own, created at first start, and the
engine's server certificate signed by it.

Files under ``DATA_DIR/pki`` (oVirt keeps the same under ``/etc/pki/ovirt-engine``)::

    ca.pem              the CA certificate: public, served at /ovirt-engine/services/pki-resource
    certs/engine.pem    the engine's server certificate (then the CA: the chain TLS presents)
    private/ca.key      the CA's private key          (0600, in a 0700 directory)
    private/engine.key  the server certificate's key  (0600)

The CA is made once and never replaced (clients trust it); the server certificate is issued again when it is
missing, expires within ``RENEW_BEFORE``, or does not name a host name the engine is now reached by. Keys are
ECDSA P-256: as strong as RSA 3072 for TLS, and made in a millisecond, so a first start costs nothing.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from neutrino.private_files import private_dir

CA_LIFETIME = datetime.timedelta(days=3650)  # oVirt's CA: ten years
CERT_LIFETIME = datetime.timedelta(days=398)  # oVirt's server certificates (the CA/Browser limit)
RENEW_BEFORE = datetime.timedelta(days=30)
ORGANIZATION = "Neutrino"


@dataclass(frozen=True)
class EnginePki:
    """Where the engine's PKI files are (see the module docstring)."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "private" / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.directory / "certs" / "engine.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "private" / "engine.key"

    def ca_pem(self) -> str:
        return self.ca_cert.read_text()

    def server_pem(self) -> str:
        """The engine's own certificate (the chain file's first one)."""
        return _first_pem(self.server_cert.read_text())

    def sign(
        self,
        public_key: CertificateIssuerPublicKeyTypes,
        common_name: str,
        names: Iterable[str],
        *,
        lifetime: datetime.timedelta = CERT_LIFETIME,
    ) -> str:
        """A server certificate for another program's key (a host agent's, from its request), signed by this
        CA for ``names`` and valid for ``lifetime`` (bounded by the CA's); the chain (it, then the CA) as PEM."""
        cert = issue(
            _load_key(self.ca_key),
            x509.load_pem_x509_certificate(self.ca_cert.read_bytes()),
            public_key,
            common_name=common_name,
            names=names,
            usages=[ExtendedKeyUsageOID.SERVER_AUTH],
            lifetime=lifetime,
        )
        return _pem(cert).decode() + self.ca_pem()


def host_names(listen_host: str) -> list[str]:
    """The names a client may reach the engine by: the listen address (unless a wildcard), this machine's
    host name and fully qualified name, and the loopback names."""
    names = [listen_host] if listen_host not in ("", "0.0.0.0", "::") else []
    names += [socket.gethostname(), socket.getfqdn(), "localhost", "127.0.0.1", "::1"]
    return list(dict.fromkeys(n for n in names if n))


def ensure(directory: Path, names: Iterable[str], *, now: datetime.datetime | None = None) -> EnginePki:
    """The PKI under ``directory``: its CA made if there is none, its server certificate (re)issued if it is
    missing, about to expire or does not name all of ``names``."""
    pki = EnginePki(directory)
    now = now or datetime.datetime.now(datetime.UTC)
    # owner-only like the rest of the data dir; the certificates in it are public (the CA is served over
    # plain HTTP) and stay 0644 for whoever may enter
    private_dir(directory)
    private_dir(directory / "certs")
    private_dir(pki.ca_key.parent)
    if not pki.ca_cert.exists() or not pki.ca_key.exists():
        _make_ca(pki, now)
    wanted = list(dict.fromkeys(names))
    if _needs_server_cert(pki, wanted, now):
        ca_key = _load_key(pki.ca_key)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = issue(
            ca_key,
            x509.load_pem_x509_certificate(pki.ca_cert.read_bytes()),
            key.public_key(),
            common_name=wanted[0] if wanted else "localhost",
            names=wanted,
            # also the engine's client certificate towards the host agents it enrolled (mutual TLS)
            usages=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
            now=now,
        )
        write_private_key(pki.server_key, key)
        _write_atomically(pki.server_cert, _pem(cert) + pki.ca_pem().encode(), 0o644)
    return pki


def issue(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    public_key: CertificateIssuerPublicKeyTypes,
    *,
    common_name: str,
    names: Iterable[str],
    usages: list[x509.ObjectIdentifier],
    now: datetime.datetime | None = None,
    lifetime: datetime.timedelta = CERT_LIFETIME,
) -> x509.Certificate:
    """A certificate for ``public_key`` signed by the CA: ``names`` go into the subject alternative name
    (addresses as IP entries, the rest as DNS names), which is what TLS clients check."""
    now = now or datetime.datetime.now(datetime.UTC)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        # a few minutes back: a client whose clock is a little behind still accepts it
        .not_valid_before(now - datetime.timedelta(minutes=10))
        .not_valid_after(min(now + lifetime, ca_cert.not_valid_after_utc))
        .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


def issue_server_pair(pki: EnginePki, directory: Path, name: str, names: Iterable[str]) -> tuple[Path, Path]:
    """A key and a server certificate signed by the engine's CA for another program on this machine (the
    provider and the agent of ``neutrino up``), written as ``NAME.pem`` (chain) and ``NAME.key`` (0600) in
    ``directory``; reused while valid for ``names``."""
    cert_file, key_file = directory / f"{name}.pem", directory / f"{name}.key"
    wanted = list(dict.fromkeys(names))
    now = datetime.datetime.now(datetime.UTC)
    if key_file.exists() and not _stale(cert_file, wanted, now, pki.ca_pem()):
        return cert_file, key_file
    private_dir(directory)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = issue(
        _load_key(pki.ca_key),
        x509.load_pem_x509_certificate(pki.ca_cert.read_bytes()),
        key.public_key(),
        common_name=wanted[0],
        names=wanted,
        usages=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        now=now,
    )
    write_private_key(key_file, key)
    _write_atomically(cert_file, _pem(cert) + pki.ca_pem().encode(), 0o644)
    return cert_file, key_file


def write_private_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    """The key as unencrypted PKCS#8 PEM, readable by its owner only from the first byte on."""
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_atomically(path, data, 0o600)


def _make_ca(pki: EnginePki, now: datetime.datetime) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    # oVirt names its CA after the engine host and a random number, so two engines' CAs never share a name
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(
                NameOID.COMMON_NAME, f"{socket.gethostname()[:40]}.{x509.random_serial_number() % 100000}"
            ),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=10))
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_private_key(pki.ca_key, key)
    _write_atomically(pki.ca_cert, _pem(cert), 0o644)


def _needs_server_cert(pki: EnginePki, names: list[str], now: datetime.datetime) -> bool:
    if not pki.server_key.exists():
        return True
    return _stale(pki.server_cert, names, now, pki.ca_pem())


def _stale(cert_file: Path, names: list[str], now: datetime.datetime, ca_pem: str) -> bool:
    """True when the certificate is missing, not the CA's, about to expire, or misses one of ``names``."""
    try:
        text = cert_file.read_text()
        cert = x509.load_pem_x509_certificate(_first_pem(text).encode())
    except (OSError, ValueError):
        return True
    if ca_pem.strip() not in text:
        return True
    if cert.not_valid_after_utc - now < RENEW_BEFORE:
        return True
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return True
    if ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
        return True
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return True
    present = {str(v) for v in san.get_values_for_type(x509.IPAddress)} | set(
        san.get_values_for_type(x509.DNSName)
    )
    return not {str(_general_name(n).value) for n in names} <= present


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not ca,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path}: not an ECDSA private key")
    return key


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _first_pem(text: str) -> str:
    end = "-----END CERTIFICATE-----"
    return text[: text.index(end) + len(end)] + "\n" if end in text else text


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Write through a temporary file created with ``mode`` (never wider for a moment), then rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)  # the umask may have narrowed it; state it exactly
    os.replace(tmp, path)
