"""What can go wrong talking to Neutron and Keystone, by category.

    NeutronClientError
     ├── InvalidEndpoint     the Endpoint cannot work (an auth URL naming no Keystone version); also a ValueError
     ├── Unreachable         no HTTP answer: refused, unreachable, timed out, TLS verification failed
     ├── AuthFailed          401: Keystone refused the credentials, or Neutron the token after one renewal
     ├── KeystoneError       no token or no Neutron endpoint for another reason (an error answer, an empty catalog)
     ├── BadResponse         an answer that is not Neutron's JSON (an HTML page, invalid JSON, a body without
     │                       the expected member): a proxy or a server that is not Neutron
     └── StatusError         Neutron answered with an error status; carries Neutron's ``NeutronError``
          ├── BadRequest     400: the request is invalid (or a filter this Neutron does not support)
          ├── Forbidden      403: the policy forbids it (e.g. ``binding:host_id`` for non-admins)
          ├── NotFound       404: no such resource (or no such collection: an extension this Neutron lacks)
          ├── Conflict       409: it collides with existing state (in use, an address taken)
          └── ServerError    5xx

Other error statuses raise ``StatusError`` itself. Exceptions of keystoneauth1 and requests are translated by
one table (``transport.TRANSLATED``) and chained with ``from``; ``str()`` of each error is a sentence a user
can act on.
"""

from __future__ import annotations


class NeutronClientError(Exception):
    """Base of every error the client raises."""


class InvalidEndpoint(NeutronClientError, ValueError):
    pass


class Unreachable(NeutronClientError):
    """No answer. NOTE: a request that timed out waiting for the answer may have been carried out."""


class AuthFailed(NeutronClientError):
    pass


class KeystoneError(NeutronClientError):
    pass


class BadResponse(NeutronClientError):
    """``status`` is the answer's HTTP status when it was the body that could not be read."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class StatusError(NeutronClientError):
    """An error answer. ``neutron_message`` is Neutron's own explanation (``NeutronError.message``), fit to
    show a user; ``str()`` says also which call failed."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        method: str,
        path: str,
        neutron_type: str | None,
        neutron_message: str,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.method = method
        self.path = path
        self.neutron_type = neutron_type
        self.neutron_message = neutron_message


class BadRequest(StatusError):
    pass


class Forbidden(StatusError):
    pass


class NotFound(StatusError):
    pass


class Conflict(StatusError):
    pass


class ServerError(StatusError):
    pass


#: Error statuses by category, with how ``str()`` describes them (``method``, ``path``, ``message``).
BY_STATUS: dict[int, tuple[type[StatusError], str]] = {
    400: (BadRequest, "{method} {path} is invalid (HTTP 400): {message}"),
    403: (Forbidden, "the provider forbids {method} {path} (HTTP 403): {message}"),
    404: (NotFound, "{method} {path} was not found (HTTP 404): {message}"),
    409: (Conflict, "{method} {path} conflicts with the provider's state (HTTP 409): {message}"),
}
OTHER_STATUS = "HTTP {status} from {method} {path}: {message}"


def status_error(
    status: int, method: str, path: str, neutron_type: str | None, neutron_message: str
) -> StatusError:
    """The error for an error answer (``status`` >= 400 but 401, which is :class:`AuthFailed`)."""
    cls, template = BY_STATUS.get(status, (ServerError if status >= 500 else StatusError, OTHER_STATUS))
    text = template.format(status=status, method=method, path=path, message=neutron_message)
    return cls(
        text,
        status=status,
        method=method,
        path=path,
        neutron_type=neutron_type,
        neutron_message=neutron_message,
    )
