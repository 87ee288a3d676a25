"""``/ovirt-engine/services/pki-resource``: the engine's CA and server certificate, as oVirt's
PKIResourceServlet serves them, without authentication.

Clients fetch the CA here before they trust the engine (``ovirtsdk4.Connection(ca_file=...)``), so it is
served on the HTTPS listener and, read-only, on the plain-HTTP one too (``curl -o ca.pem
'http://ENGINE/ovirt-engine/services/pki-resource?resource=ca-certificate&format=X509-PEM-CA'``).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

PATH = "/ovirt-engine/services/pki-resource"

#: format -> content type, as oVirt answers them
FORMATS = {"X509-PEM-CA": "application/x-x509-ca-cert", "X509-PEM": "application/x-x509-cert"}


def pki_routes(ca_pem: Callable[[], str], engine_pem: Callable[[], str]) -> list[BaseRoute]:
    """The PKI resource, reading the certificates on each request (a re-issued one is served at once)."""
    resources = {"ca-certificate": ca_pem, "engine-certificate": engine_pem}

    async def pki_resource(request: Request) -> Response:
        resource = request.query_params.get("resource", "")
        fmt = request.query_params.get("format", "X509-PEM-CA")
        if resource not in resources:
            return _bad(f"resource: '{resource}' is not one of {', '.join(sorted(resources))}")
        if fmt not in FORMATS:
            return _bad(f"format: '{fmt}' is not one of {', '.join(sorted(FORMATS))}")
        return Response(
            resources[resource](),
            media_type=FORMATS[fmt],
            headers={"Content-Disposition": f'attachment; filename="{resource}.pem"'},
        )

    return [Route(PATH, pki_resource, methods=["GET", "HEAD"])]


def _bad(reason: str) -> Response:
    return PlainTextResponse(f"Bad PKI resource request: {reason}.\n", status_code=400)
