"""The certificate chain a provider's HTTPS endpoint presents, fetched without trusting it (so a user can
look at it and import it, as oVirt's importcertificates flow does)."""

from __future__ import annotations

import select
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL

from neutrino.engine.domain.errors import BadRequest
from neutrino.engine.provider_clients.neutron import failure


@dataclass(frozen=True)
class Certificate:
    content: str  # PEM
    subject: str
    organization: str | None


def describe(pem: str) -> Certificate:
    cert = x509.load_pem_x509_certificate(pem.encode())
    orgs = cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)
    return Certificate(pem, cert.subject.rfc4514_string(), str(orgs[0].value) if orgs else None)


def _handshake(conn: SSL.Connection, sock: socket.socket, deadline: float) -> None:
    """Handshake on a socket with a timeout. NOTE: such a socket is non-blocking underneath, so pyOpenSSL
    raises WantRead/WantWrite (with an empty message) until the peer has answered: wait and retry."""
    while True:
        try:
            conn.do_handshake()
            return
        except (SSL.WantReadError, SSL.WantWriteError) as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                raise OSError("timed out during the TLS handshake") from exc
            want_read = isinstance(exc, SSL.WantReadError)
            select.select([sock] if want_read else [], [] if want_read else [sock], [], left)


def fetch_chain(url: str, timeout: float = 20.0) -> list[Certificate]:
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise BadRequest(f"The provider URL '{url}' is not https: there is no certificate to import.")
    host, port = parts.hostname or "", parts.port or 443
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_verify(SSL.VERIFY_NONE, lambda *args: True)
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise failure(f"cannot connect to {host}:{port}: {exc}") from exc
    try:
        conn = SSL.Connection(ctx, sock)
        conn.set_tlsext_host_name(host.encode())
        conn.set_connect_state()
        _handshake(conn, sock, time.monotonic() + timeout)
        chain = conn.get_peer_cert_chain(as_cryptography=True) or []
    except (SSL.Error, OSError) as exc:
        raise failure(f"TLS handshake with {host}:{port} failed: {exc!r}") from exc
    finally:
        sock.close()
    return [describe(c.public_bytes(serialization.Encoding.PEM).decode()) for c in chain]
