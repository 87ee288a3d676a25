"""One table from error category to HTTP status, and the oVirt fault body."""

from __future__ import annotations

from neutrino.engine.api.resource import MethodNotAllowed
from neutrino.engine.domain import errors

STATUS: list[tuple[type[errors.EngineError], int]] = [
    (errors.NotFound, 404),
    (errors.BadRequest, 400),
    (errors.InUse, 409),
    (errors.Conflict, 409),
    (errors.ProviderFailure, 400),
    (errors.HostFailure, 400),
    (MethodNotAllowed, 405),
]


def status_of(exc: errors.EngineError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def fault(detail: str, reason: str = "Operation Failed") -> dict[str, str]:
    return {"reason": reason, "detail": f"[{detail}]"}
