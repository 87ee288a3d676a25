"""One HTTP call to Neutron through a keystoneauth1 session, its failures translated by one table."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import requests
from keystoneauth1 import exceptions as ksa_exc
from keystoneauth1 import session as ksa_session

from neutrino.neutron_client.endpoint import Endpoint, ImportedTrust, auth_plugin
from neutrino.neutron_client.errors import (
    AuthFailed,
    BadResponse,
    InvalidEndpoint,
    KeystoneError,
    NeutronClientError,
    Unreachable,
    status_error,
)

#: What keystoneauth1 (or the requests error it was raised from) raised -> our error and its message. The
#: first row that matches wins. Fields: ``url`` (the request's), ``where`` (the endpoint's), ``read_timeout``,
#: ``kind`` and ``cause`` (the exception's class name and text).
TRANSLATED: tuple[tuple[type[BaseException], type[NeutronClientError], str], ...] = (
    # NOTE: keystoneauth reports a read timeout as a ConnectTimeout too; requests' own error tells them apart
    (requests.exceptions.ReadTimeout, Unreachable, "no answer from {url} within {read_timeout:g} s"),
    (ksa_exc.SSLError, Unreachable, "TLS verification failed for {where}: {cause}"),
    (ksa_exc.ConnectTimeout, Unreachable, "timed out connecting to {url}"),
    (ksa_exc.ConnectFailure, Unreachable, "cannot connect to {url} (connection refused or unreachable)"),
    (ksa_exc.ConnectionError, Unreachable, "{kind}: {cause}"),
    (ksa_exc.RequestTimeout, Unreachable, "no answer from {url} within {read_timeout:g} s"),
    (
        ksa_exc.Unauthorized,
        AuthFailed,
        "authentication failed (HTTP 401 from Keystone): check user, password and project",
    ),
    (
        ksa_exc.EndpointNotFound,
        KeystoneError,
        "Keystone's catalog at {where} has no network endpoint: {cause}",
    ),
    (ksa_exc.ClientException, KeystoneError, "{kind}: {cause}"),
)


def translated(exc: ksa_exc.ClientException, url: str, endpoint: Endpoint) -> NeutronClientError:
    for raised, error, template in TRANSLATED:
        if isinstance(exc, raised) or isinstance(exc.__context__, raised):
            return error(
                template.format(
                    url=url,
                    where=endpoint.where,
                    read_timeout=endpoint.read_timeout,
                    kind=type(exc).__name__,
                    cause=exc,
                )
            )
    raise AssertionError("ClientException ends the table")  # pragma: no cover


def neutron_error(data: object) -> tuple[str | None, str]:
    """Neutron's ``NeutronError`` (type, message) from an error body; Keystone's ``error`` and other shapes
    give what they have."""
    if isinstance(data, dict):
        err = data.get("NeutronError") or data.get("error")
        if isinstance(err, dict):
            kind = err.get("type")
            return (str(kind) if kind else None), str(err.get("message") or kind or err)
        if isinstance(err, str):
            return None, err
        if "message" in data:
            return None, str(data["message"])
    return None, (str(data)[:200] if data else "no details")


@dataclass(frozen=True)
class Answer:
    status: int
    data: object  # the decoded JSON; None for an empty body


class Transport:
    """A keystoneauth1 session bound to one endpoint: the token, the TLS trust and the timeouts."""

    def __init__(self, endpoint: Endpoint, adapter: requests.adapters.BaseAdapter | None = None) -> None:
        self.endpoint = endpoint
        self._auth = auth_plugin(endpoint.credentials)
        if endpoint.url is None and self._auth is None:
            raise InvalidEndpoint(
                "an Endpoint needs a url or credentials (to find Neutron in Keystone's catalog)"
            )
        self._http = requests.Session()
        # what requests would read from the environment at every request (a stat of ~/.netrc, the proxy
        # variables scanned: a twentieth of the engine's time for a run when its threads are busy), read once
        self._http.trust_env = False
        self._http.proxies = requests.utils.get_environ_proxies(endpoint.where) if endpoint.where else {}
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if adapter is not None:
            self._http.mount("http://", adapter)
            self._http.mount("https://", adapter)
        elif endpoint.ca_file:
            try:
                self._http.mount("https://", ImportedTrust(endpoint.ca_file))
            except (OSError, ssl.SSLError) as exc:
                raise InvalidEndpoint(f"the CA file '{endpoint.ca_file}' cannot be used: {exc}") from exc
        self._session = ksa_session.Session(
            auth=self._auth,
            session=self._http,
            verify=True if _plain_http(endpoint) else (endpoint.ca_file or bundle or True),
            timeout=endpoint.read_timeout,
        )
        self._base = _v2(endpoint.url) if endpoint.url else None

    def close(self) -> None:
        self._http.close()

    def _neutron_base(self) -> str:
        if self._base is None:
            found = self._session.get_endpoint(
                service_type="network",
                interface=self.endpoint.interface,
                region_name=self.endpoint.region_name,
            )
            if not found:
                raise KeystoneError(
                    f"Keystone's catalog at {self.endpoint.where} has no network endpoint: "
                    f"none for interface {self.endpoint.interface}, region {self.endpoint.region_name or 'any'}"
                )
            self._base = _v2(found)
        return self._base

    def url(self, path: str) -> str:
        """The URL of ``path`` under ``/v2.0``; for a link Neutron gave (pagination), its path and query on
        our own scheme and host (a proxy in front of Neutron may not be the host Neutron names)."""
        base = self._neutron_base()
        if not path.startswith(("http://", "https://")):
            return f"{base}/{path.lstrip('/')}"
        ours, link = urlsplit(base), urlsplit(path)
        return urlunsplit((ours.scheme, ours.netloc, link.path, link.query, ""))

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, object] | None = None,
        params: dict[str, str | list[str]] | None = None,
        read_timeout: float | None = None,
    ) -> Answer:
        """One request; an error for no answer, a 401 or an answer that is not JSON, else status and data.
        ``read_timeout`` replaces the endpoint's for this request (a long poll)."""
        url = path
        try:
            url = self.url(path)
            resp = self._session.request(
                url,
                method,
                json=body,
                params=params,
                raise_exc=False,
                authenticated=self._auth is not None,
                timeout=(self.endpoint.connect_timeout, read_timeout or self.endpoint.read_timeout),
                connect_retries=self.endpoint.connect_retries,
                headers={"Accept": "application/json"},
                log=False,
            )
        except ksa_exc.ClientException as exc:
            raise translated(exc, url, self.endpoint) from exc
        status = resp.status_code
        data: object = None
        if status != 204 and resp.content:
            try:
                data = resp.json()
            except ValueError:
                kind = "an HTML page" if "html" in resp.headers.get("content-type", "") else "invalid JSON"
                raise BadResponse(f"HTTP {status} from {url} with {kind} instead of JSON", status) from None
        if status == 401:
            raise AuthFailed(f"authentication failed (HTTP 401): {neutron_error(data)[1]}")
        return Answer(status, data)

    def checked(
        self,
        method: str,
        path: str,
        body: dict[str, object] | None = None,
        params: dict[str, str | list[str]] | None = None,
        read_timeout: float | None = None,
    ) -> object:
        """The data of a successful answer; an error answer raises its category's error."""
        answer = self.call(method, path, body, params, read_timeout)
        if answer.status >= 400:
            kind, message = neutron_error(answer.data)
            shown = urlsplit(path).path.removeprefix("/v2.0/") if "://" in path else path
            raise status_error(answer.status, method, shown, kind, message)
        return answer.data


def _plain_http(endpoint: Endpoint) -> bool:
    """Whether every URL the endpoint names is plain HTTP (Neutron's, and Keystone's if any): then there is
    nothing to verify, and no CA path is given, which requests would stat at every request."""
    urls = [endpoint.url or "", endpoint.credentials.auth_url if endpoint.credentials else "http://"]
    return all(url.startswith("http://") for url in urls)


def _v2(url: str) -> str:
    base = url.rstrip("/")
    return base if base.endswith("/v2.0") else f"{base}/v2.0"
