"""``/api/v1/enrollment``: the engine certifies this agent (``neutrino.agent.enrollment``).

No bearer token here: before enrollment the engine cannot tell this agent from an impostor, so it does not
send the token; each side proves it knows it instead (``schema.enrollment_proof``: the agent over its
certificate request, the engine over the certificate it answers with). After enrollment TLS only lets in
clients with a certificate from the engine's CA, so a later ``PUT`` (a renewal, oVirt's enrollcertificate)
needs both the engine's client certificate and the proof.
"""

from __future__ import annotations

import hmac
import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from neutrino.agent.api.routes import PREFIX, _body, _json, error
from neutrino.agent.enrollment import Enrollment, EnrollmentRefused
from neutrino.agent_api.schema import EnrollmentCertificate, EnrollmentState, enrollment_proof

log = logging.getLogger(__name__)


def _enrollment(request: Request) -> Enrollment | JSONResponse:
    found: Enrollment | None = getattr(request.app.state, "enrollment", None)
    if found is None:
        return error(
            409,
            "NotEnrollable",
            "this agent serves a certificate of its own (--tls-cert) or plain HTTP: the engine cannot enroll it",
        )
    return found


async def get_enrollment(request: Request) -> Response:
    enrollment = _enrollment(request)
    if isinstance(enrollment, JSONResponse):
        return enrollment
    csr = await run_in_threadpool(enrollment.certificate_request)
    proof = enrollment_proof(_token(request), csr)
    return _json(EnrollmentState(enrolled=enrollment.enrolled, certificate_request=csr, proof=proof))


async def put_enrollment(request: Request) -> Response:
    enrollment = _enrollment(request)
    if isinstance(enrollment, JSONResponse):
        return enrollment
    given = _body(EnrollmentCertificate, await request.body())
    expected = enrollment_proof(_token(request), given.certificate, given.ca_certificate)
    if not hmac.compare_digest(given.proof, expected):
        return error(401, "Unauthorized", "proof: the certificate is not vouched for by this host's token")
    try:
        await run_in_threadpool(enrollment.install, given.certificate, given.ca_certificate)
    except EnrollmentRefused as exc:
        log.warning("certificate from the engine refused (the current one stays): %s", exc)
        return error(400, "BadRequest", str(exc))
    return _json(EnrollmentState(enrolled=True, certificate_request="", proof=""))


def _token(request: Request) -> str:
    return str(request.app.state.settings.token.get_secret_value())


ROUTES = [
    Route(f"{PREFIX}/enrollment", get_enrollment, methods=["GET"]),
    Route(f"{PREFIX}/enrollment", put_enrollment, methods=["PUT"]),
]
