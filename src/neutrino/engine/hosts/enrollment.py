"""Enroll a host's agent: the engine's CA certifies the agent's key for the host's address, as oVirt's host
deploy gives VDSM its certificate (the agent's side: ``neutrino.agent.enrollment``).

The engine first calls the agent as it always does (HTTPS trusting its CA, host name checked, its own client
certificate presented). An agent that answers there is enrolled already (or has a certificate the engine
trusts); ``renew`` then has it certified again over that channel. An agent whose certificate the engine does
not trust yet is asked over TLS that checks nothing, so nothing secret is sent: the host's token never crosses
the wire; each side proves it knows it (``schema.enrollment_proof``), the agent over its certificate request
(the engine signs no impostor's key), the engine over the certificate it answers with (the agent installs no
impostor's). An enrolled agent takes nothing more without the engine's client certificate.
"""

from __future__ import annotations

import hmac
import ssl
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from neutrino.agent_api import schema as wire
from neutrino.engine.domain import model
from neutrino.engine.domain.errors import HostFailure
from neutrino.engine.hosts.agent_client import API, Decrypter
from neutrino.engine.pki import EnginePki

PATH = f"{API}/enrollment"


class NotEnrollable(HostFailure):
    """The agent serves a certificate of its own (or plain HTTP): the engine does not issue it one."""


class AgentEnroller:
    """``enroller(host, renew=False)``: make sure the host's agent serves a certificate of the engine's CA
    naming the host's address. A HostFailure names the host and what went wrong."""

    def __init__(
        self, secrets: Decrypter, pki: EnginePki, trust: ssl.SSLContext, timeout: float = 30.0
    ) -> None:
        self.secrets, self.pki, self.trust, self.timeout = secrets, pki, trust, timeout

    def __call__(self, host: model.Host, renew: bool = False) -> None:
        token = self.secrets.decrypt(host.agent_token) if host.agent_token else ""
        base = f"https://{f'[{host.address}]' if ':' in host.address else host.address}:{host.port}"
        try:
            state = self._get(base, token, self.trust, host)
        except NotEnrollable:
            if renew:
                raise
            return  # a certificate of its own that the engine trusts: nothing to issue
        except httpx.ConnectError as exc:
            if not _untrusted(exc):
                raise _failure(host, base, exc) from exc
            # not enrolled yet: TLS that vouches for nothing, the token's proofs for everything
            try:
                self._enroll(host, base, token, _unverified())
            except httpx.ConnectError as again:
                raise _failure(host, base, again) from again
            return
        if renew or not state.enrolled:
            try:
                self._enroll(host, base, token, self.trust)
            except httpx.ConnectError as again:
                raise _failure(host, base, again) from again

    def _enroll(self, host: model.Host, base: str, token: str, verify: ssl.SSLContext) -> None:
        state = self._get(base, token, verify, host)
        if not hmac.compare_digest(state.proof, wire.enrollment_proof(token, state.certificate_request)):
            raise HostFailure(
                f"Host {host.name}: the certificate request at {base} is not vouched for by the host's token "
                "(another machine answers at that address, or the token given for the host is not the agent's)."
            )
        try:
            request = x509.load_pem_x509_csr(state.certificate_request.encode())
        except ValueError as exc:
            raise HostFailure(
                f"Host {host.name}: its agent sent no valid certificate request ({exc})."
            ) from exc
        if not request.is_signature_valid:
            raise HostFailure(f"Host {host.name}: its agent's certificate request is not signed by its key.")
        key = request.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            raise HostFailure(f"Host {host.name}: its agent's key is neither ECDSA nor RSA.")
        chain, ca = self.pki.sign(key, host.name, [host.address]), self.pki.ca_pem()
        body = wire.EnrollmentCertificate(
            certificate=chain, ca_certificate=ca, proof=wire.enrollment_proof(token, chain, ca)
        )
        self._call(base, token, verify, host, "PUT", body.model_dump())

    def _get(self, base: str, token: str, verify: ssl.SSLContext, host: model.Host) -> wire.EnrollmentState:
        return wire.EnrollmentState.model_validate(self._call(base, token, verify, host, "GET", None))

    def _call(
        self, base: str, token: str, verify: ssl.SSLContext, host: model.Host, method: str, body: Any
    ) -> Any:
        try:
            with httpx.Client(base_url=base, verify=verify, timeout=self.timeout) as http:
                answer = http.request(method, PATH, json=body)
        except httpx.ConnectError:
            raise
        except httpx.HTTPError as exc:
            raise _failure(host, base, exc) from exc
        if answer.status_code == 409:
            raise NotEnrollable(f"Host {host.name}: {answer.json()['error']['message']}.")
        if answer.status_code != 200:
            try:
                message = answer.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = answer.text[:200] or answer.reason_phrase
            raise HostFailure(f"Host {host.name}: the agent refused the certificate enrollment: {message}.")
        return answer.json()


def _untrusted(exc: httpx.ConnectError) -> bool:
    """Whether the connection failed on the agent's certificate (not one the engine trusts yet)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        cause = cause.__cause__ or cause.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def _unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _failure(host: model.Host, base: str, exc: Exception) -> HostFailure:
    return HostFailure(f"Host {host.name} cannot be reached at {base}{API}: {str(exc).rstrip('.')}.")
