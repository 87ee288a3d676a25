"""The engine's Neutron v2.0 client: works against the embedded provider and a real OpenStack Neutron.

Authentication is keystoneauth1's own Keystone v3 or v2.0 password plugin, chosen by the authentication
URL's suffix (or none). Every failure to talk to the provider becomes one ProviderFailure whose message is
``Failed to communicate with the external provider: <cause>``; a request the provider refuses on its
merits (400/409) keeps the provider's own message.

    ProviderFailure
     └── ProviderAuthFailure   401 from Keystone or Neutron (auto-sync turns itself off on it)
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass, field
from typing import Any

import requests
from keystoneauth1 import exceptions as ksa_exc
from keystoneauth1 import session as ksa_session
from keystoneauth1.identity import v2, v3

from neutrino.engine.domain.errors import BadRequest, Conflict, ProviderFailure
from neutrino.engine.providers.base import (
    DEVICE_OWNER,
    PortRequest,
    PortResult,
    ProviderAgent,
    ProviderNetwork,
    ProviderPort,
    ProviderSubnet,
)

PREFIX = "Failed to communicate with the external provider"


class ProviderAuthFailure(ProviderFailure):
    pass


def failure(cause: str, cls: type[ProviderFailure] = ProviderFailure) -> ProviderFailure:
    return cls(f"{PREFIX}: {cause}")


@dataclass(frozen=True)
class Endpoint:
    """How to reach one provider: its URL, its Keystone credentials and the TLS trust to use."""

    url: str
    requires_authentication: bool = False
    auth_url: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    project_name: str | None = None
    user_domain_name: str | None = None
    project_domain_name: str | None = None
    ca_file: str | None = None
    connect_timeout: float = 20.0
    read_timeout: float = 30.0


class NeutronClient:
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._auth = _auth_plugin(endpoint)
        verify: bool | str = endpoint.ca_file or True
        transport = None
        if endpoint.ca_file:
            transport = requests.Session()
            transport.mount("https://", _ImportedTrust(endpoint.ca_file))
        self._session = ksa_session.Session(
            auth=self._auth, session=transport, verify=verify, timeout=endpoint.read_timeout
        )
        base = endpoint.url.rstrip("/")
        self._base = base if base.endswith("/v2.0") else f"{base}/v2.0"

    # --- transport ------------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, body: dict[str, Any] | None = None, params: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        url = f"{self._base}/{path.lstrip('/')}"
        try:
            resp = self._session.request(
                url,
                method,
                json=body,
                params=params,
                raise_exc=False,
                authenticated=self._auth is not None,
                timeout=(self.endpoint.connect_timeout, self.endpoint.read_timeout),
                connect_retries=0,
                headers={"Accept": "application/json"},
                log=False,
            )
        except ksa_exc.SSLError as exc:
            raise failure(f"TLS verification failed for {self.endpoint.url}: {exc}") from exc
        except ksa_exc.ConnectTimeout as exc:
            # NOTE: keystoneauth reports a read timeout as a ConnectTimeout too; requests' own error tells them apart
            if isinstance(exc.__context__, requests.exceptions.ReadTimeout):
                raise failure(f"no answer from {url} within {self.endpoint.read_timeout:g} s") from exc
            raise failure(f"timed out connecting to {url}") from exc
        except ksa_exc.ConnectFailure as exc:
            raise failure(f"cannot connect to {url} (connection refused or unreachable)") from exc
        except ksa_exc.RequestTimeout as exc:
            raise failure(f"no answer from {url} within {self.endpoint.read_timeout:g} s") from exc
        except ksa_exc.Unauthorized as exc:
            raise failure(
                "authentication failed (HTTP 401 from Keystone): check user, password and project",
                ProviderAuthFailure,
            ) from exc
        except ksa_exc.ClientException as exc:
            raise failure(f"{exc.__class__.__name__}: {exc}") from exc
        status = resp.status_code
        if status == 204 or not resp.content:
            return status, None
        try:
            data = resp.json()
        except (ValueError, json.JSONDecodeError):
            kind = "an HTML page" if "html" in resp.headers.get("content-type", "") else "invalid JSON"
            raise failure(f"HTTP {status} from {url} with {kind} instead of JSON") from None
        return status, data

    def _checked(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        missing_ok: bool = False,
    ) -> Any:
        status, data = self._call(method, path, body, params)
        if status < 300:
            return data
        if status == 404 and missing_ok:
            return None
        message = _neutron_message(data)
        if status == 401:
            raise failure(f"authentication failed (HTTP 401): {message}", ProviderAuthFailure)
        if status == 400:
            raise BadRequest(f"The external provider refused the request: {message}")
        if status == 409:
            raise Conflict(f"The external provider refused the request: {message}")
        if status == 403:
            raise failure(f"the provider forbids {method} {path} (HTTP 403): {message}")
        if status == 404:
            raise failure(f"{method} {path} was not found (HTTP 404): {message}")
        raise failure(f"HTTP {status} from {method} {path}: {message}")

    # --- operations -----------------------------------------------------------------------------

    def test_connectivity(self) -> None:
        self._checked("GET", "networks", params={"limit": 1})

    def extensions(self) -> set[str]:
        data = self._checked("GET", "extensions") or {}
        return {str(e.get("alias")) for e in data.get("extensions", []) if isinstance(e, dict)}

    def list_networks(self) -> list[ProviderNetwork]:
        return [ProviderNetwork.from_json(n) for n in _items(self._checked("GET", "networks"), "networks")]

    def get_network(self, network_id: str) -> ProviderNetwork | None:
        data = self._checked("GET", f"networks/{network_id}", missing_ok=True)
        return ProviderNetwork.from_json(data["network"]) if data else None

    def create_network(self, name: str, mtu: int | None = None) -> ProviderNetwork:
        body: dict[str, Any] = {"name": name, "admin_state_up": True}
        if mtu:
            body["mtu"] = mtu
        return ProviderNetwork.from_json(self._checked("POST", "networks", {"network": body})["network"])

    def delete_network(self, network_id: str) -> None:
        self._checked("DELETE", f"networks/{network_id}", missing_ok=True)

    def list_subnets(self, network_id: str) -> list[ProviderSubnet]:
        data = self._checked("GET", "subnets", params={"network_id": network_id})
        return [ProviderSubnet.from_json(s) for s in _items(data, "subnets")]

    def create_subnet(
        self,
        network_id: str,
        name: str,
        cidr: str,
        ip_version: int,
        gateway_ip: str | None,
        dns_nameservers: list[str],
    ) -> ProviderSubnet:
        body: dict[str, Any] = {
            "network_id": network_id,
            "name": name,
            "cidr": cidr,
            "ip_version": ip_version,
        }
        if gateway_ip:
            body["gateway_ip"] = gateway_ip
        if dns_nameservers:
            body["dns_nameservers"] = dns_nameservers
        return ProviderSubnet.from_json(self._checked("POST", "subnets", {"subnet": body})["subnet"])

    def delete_subnet(self, subnet_id: str) -> None:
        self._checked("DELETE", f"subnets/{subnet_id}", missing_ok=True)

    def find_port(self, device_id: str) -> ProviderPort | None:
        data = self._checked("GET", "ports", params={"device_id": device_id, "device_owner": DEVICE_OWNER})
        ports = [ProviderPort.from_json(p) for p in _items(data, "ports")]
        return ports[0] if ports else None

    def list_ports(self, device_owner: str = DEVICE_OWNER) -> list[ProviderPort]:
        data = self._checked("GET", "ports", params={"device_owner": device_owner})
        return [ProviderPort.from_json(p) for p in _items(data, "ports")]

    def create_port(self, request: PortRequest) -> PortResult:
        body = _port_body(request, with_binding=True, creating=True)
        try:
            return PortResult(ProviderPort.from_json(self._checked("POST", "ports", {"port": body})["port"]))
        except ProviderFailure as exc:
            if "HTTP 403" not in exc.message or "binding:host_id" not in body:
                raise
        # real Neutron's default policy lets only admins bind: create the port unbound, and say so
        body = _port_body(request, with_binding=False, creating=True)
        port = ProviderPort.from_json(self._checked("POST", "ports", {"port": body})["port"])
        return PortResult(port, binding_refused=True)

    def update_port(self, port_id: str, request: PortRequest) -> PortResult:
        body = _port_body(request, with_binding=True, creating=False)
        try:
            data = self._checked("PUT", f"ports/{port_id}", {"port": body})
            return PortResult(ProviderPort.from_json(data["port"]))
        except ProviderFailure as exc:
            if "HTTP 403" not in exc.message or "binding:host_id" not in body:
                raise
        body = _port_body(request, with_binding=False, creating=False)
        data = self._checked("PUT", f"ports/{port_id}", {"port": body})
        return PortResult(ProviderPort.from_json(data["port"]), binding_refused=True)

    def delete_port(self, port_id: str) -> None:
        self._checked("DELETE", f"ports/{port_id}", missing_ok=True)

    def agents(self) -> list[ProviderAgent] | None:
        """The provider's agents (Neutron's ``agent`` extension), or None when it has none to show or forbids
        the call (a real Neutron's default policy lets only admins list agents)."""
        status, data = self._call("GET", "agents")
        if status >= 300:
            return None
        return [ProviderAgent.from_json(a) for a in _items(data, "agents")]


class _ImportedTrust(ksa_session.TCPKeepAliveAdapter):
    """HTTPS that trusts exactly the imported certificates, each one as an anchor.

    NOTE: OpenSSL only accepts a self-signed root as an anchor unless X509_V_FLAG_PARTIAL_CHAIN is set; oVirt's
    Java trust store accepts any imported certificate, so importing just a provider's own (CA-signed) certificate
    works there and must work here.
    """

    def __init__(self, ca_file: str) -> None:
        self._context = ssl.create_default_context(cafile=ca_file)
        self._context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)


def _auth_plugin(endpoint: Endpoint) -> Any:
    if not endpoint.requires_authentication:
        return None
    auth_url = (endpoint.auth_url or "").rstrip("/")
    if auth_url.endswith("/v3"):
        return v3.Password(
            auth_url=auth_url,
            username=endpoint.username,
            password=endpoint.password or "",
            project_name=endpoint.project_name,
            user_domain_name=endpoint.user_domain_name or "Default",
            project_domain_name=endpoint.project_domain_name or "Default",
        )
    if auth_url.endswith("/v2.0"):
        return v2.Password(
            auth_url=auth_url,
            username=endpoint.username,
            password=endpoint.password,
            tenant_name=endpoint.project_name,
        )
    raise failure(f"the authentication URL '{endpoint.auth_url}' ends neither in /v3 nor in /v2.0")


def _port_body(request: PortRequest, *, with_binding: bool, creating: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "mac_address": request.mac_address,
        "name": request.name,
        "device_id": request.device_id,
        "device_owner": request.device_owner,
    }
    if creating:
        body["network_id"] = request.network_id
        body["admin_state_up"] = True
        if request.project_id:
            body["tenant_id"] = request.project_id
    else:
        body.pop("mac_address")  # Neutron lets only admins change a MAC; a changed MAC means a new port
    if request.security_groups is not None:
        body["security_groups"] = list(request.security_groups)
    if with_binding and request.host_id:
        body["binding:host_id"] = request.host_id
    return body


def _items(data: Any, key: str) -> list[dict[str, Any]]:
    items = data.get(key, []) if isinstance(data, dict) else []
    return [i for i in items if isinstance(i, dict) and "id" in i]


def _neutron_message(data: Any) -> str:
    if isinstance(data, dict):
        err = data.get("NeutronError") or data.get("error")
        if isinstance(err, dict):
            return str(err.get("message") or err.get("type") or err)
        if isinstance(err, str):
            return err
        if "message" in data:
            return str(data["message"])
    return str(data)[:200] if data else "no details"
