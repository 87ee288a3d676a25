"""The engine's client for the host agent API (the contract and its wire models: ``neutrino.agent_api``).

Requests and answers are the contract's typed models (``neutrino.agent_api.schema``). Every failure is a
HostFailure naming the host and the cause; the agent's own error message (which names the vNIC when a plug
failed) is kept, and an answer that does not follow the contract is one too.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from neutrino.agent_api import schema as wire
from neutrino.engine.domain import model
from neutrino.engine.domain.errors import HostFailure

API = "/api/v1"
#: seconds an idle connection to an agent is kept for the next call: below the agent server's own keep-alive
#: (uvicorn's default, 5 s), so the client never reuses a connection the agent is closing at that moment (the
#: call then failed with "connection reset by peer")
KEEPALIVE_EXPIRY = 3.0
M = TypeVar("M", bound=BaseModel)


class Decrypter(Protocol):
    """What the client cache needs of the engine's secret box: the agent's token in clear."""

    def decrypt(self, token: str) -> str: ...


@dataclass(frozen=True)
class AgentAddress:
    name: str  # the host's name in the engine, for messages
    address: str
    port: int
    token: str = field(repr=False)
    timeout: float = 30.0
    # HTTPS trusting this context (the engine's CA; host names checked); None: plain HTTP (--insecure-http)
    tls: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    @property
    def base_url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{host}:{self.port}{API}"


class HostAgent(Protocol):
    """The agent API as the engine's commands use it (``AgentClient`` over HTTP; a fake in unit tests)."""

    def capabilities(self) -> wire.Capabilities: ...
    def list_vms(self) -> list[wire.VmState]: ...
    def get_vm(self, vm_id: str) -> wire.VmState | None: ...
    def create_vm(self, spec: wire.VmSpec) -> wire.VmState: ...
    def destroy_vm(self, vm_id: str) -> None: ...
    def hotplug_nic(self, vm_id: str, nic: wire.NicSpec) -> wire.NicState: ...
    def hotunplug_nic(self, vm_id: str, nic_id: str) -> None: ...
    def sync_networks(self, networks: list[wire.NetworkSyncItem]) -> wire.NetworkSyncResult: ...


class AgentError(HostFailure):
    """The agent answered with an error: ``code`` is its error leaf (e.g. ``PlugFailed``)."""

    def __init__(self, message: str, code: str, status: int) -> None:
        super().__init__(message)
        self.code, self.status = code, status


class AgentClient:
    def __init__(self, where: AgentAddress, transport: httpx.BaseTransport | None = None) -> None:
        self.where = where
        try:
            httpx.URL(where.base_url)
        except httpx.InvalidURL as exc:
            raise HostFailure(
                f"Host {where.name}: '{where.address}' is not an address the agent can be reached at ({exc})."
            ) from exc
        self._http = httpx.Client(
            base_url=where.base_url,
            timeout=where.timeout,
            transport=transport,
            verify=where.tls if where.tls is not None else True,
            headers={"Authorization": f"Bearer {where.token}"},
            limits=httpx.Limits(
                max_connections=100, max_keepalive_connections=20, keepalive_expiry=KEEPALIVE_EXPIRY
            ),
        )

    def close(self) -> None:
        self._http.close()

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        ok: tuple[int, ...] = (200, 201, 204),
        missing_ok: bool = False,
    ) -> Any:
        try:
            resp = self._http.request(method, path, json=body)
        except httpx.TimeoutException as exc:
            raise HostFailure(
                f"Host {self.where.name} did not answer within {self.where.timeout:g} s."
            ) from exc
        except httpx.HTTPError as exc:
            cause = str(exc).rstrip(".") or exc.__class__.__name__
            raise HostFailure(
                f"Host {self.where.name} cannot be reached at {self.where.base_url}: {cause}."
            ) from exc
        if resp.status_code == 404 and missing_ok:
            return None
        if resp.status_code not in ok:
            try:
                err = resp.json().get("error", {})
            except ValueError:
                err = {}
            code = str(err.get("code") or f"HTTP{resp.status_code}")
            message = str(err.get("message") or resp.text[:200] or resp.reason_phrase)
            if resp.status_code == 401:
                message = "the agent refused the engine's token"
            raise AgentError(f"Host {self.where.name}: {message}", code, resp.status_code)
        if resp.status_code == 204 or not resp.content:
            return None
        return resp.json()

    def _answer(self, model_: type[M], data: Any) -> M:
        try:
            return model_.model_validate(data)
        except ValidationError as exc:
            raise HostFailure(
                f"Host {self.where.name} answered what the agent API does not say ({model_.__name__}): "
                f"{exc.error_count()} problem(s), first: {exc.errors()[0]['msg']}."
            ) from exc

    def capabilities(self) -> wire.Capabilities:
        return self._answer(wire.Capabilities, self._call("GET", "/capabilities"))

    def list_vms(self) -> list[wire.VmState]:
        return self._answer(wire.VmList, self._call("GET", "/vms")).vms

    def get_vm(self, vm_id: str) -> wire.VmState | None:
        found = self._call("GET", f"/vms/{vm_id}", missing_ok=True)
        return None if found is None else self._answer(wire.VmState, found)

    def create_vm(self, spec: wire.VmSpec) -> wire.VmState:
        return self._answer(wire.VmState, self._call("POST", "/vms", _json(spec)))

    def destroy_vm(self, vm_id: str) -> None:
        self._call("DELETE", f"/vms/{vm_id}", missing_ok=True)

    def hotplug_nic(self, vm_id: str, nic: wire.NicSpec) -> wire.NicState:
        return self._answer(wire.NicState, self._call("POST", f"/vms/{vm_id}/nics", _json(nic)))

    def hotunplug_nic(self, vm_id: str, nic_id: str) -> None:
        self._call("DELETE", f"/vms/{vm_id}/nics/{nic_id}", missing_ok=True)

    def sync_networks(self, networks: list[wire.NetworkSyncItem]) -> wire.NetworkSyncResult:
        body = _json(wire.NetworkSync(networks=networks))
        return self._answer(wire.NetworkSyncResult, self._call("PUT", "/networks", body))


def _json(request: BaseModel) -> Any:
    return request.model_dump(mode="json")


class AgentClients:
    """``clients(host)`` -> an AgentClient for the host's agent (its token decrypted), kept per host while its
    address, port and token stay the same."""

    def __init__(
        self,
        secrets: Decrypter,
        timeout: float = 30.0,
        factory: Callable[[AgentAddress], AgentClient] = AgentClient,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.secrets, self.timeout, self.factory, self.tls = secrets, timeout, factory, tls
        self._clients: dict[str, tuple[tuple[str, int, str], AgentClient]] = {}
        self._lock = threading.Lock()

    def __call__(self, host: model.Host) -> AgentClient:
        key = (host.address, host.port, host.agent_token)
        with self._lock:
            cached = self._clients.get(host.id)
            if cached is not None and cached[0] == key:
                return cached[1]
        token = self.secrets.decrypt(host.agent_token) if host.agent_token else ""
        client = self.factory(AgentAddress(host.name, host.address, host.port, token, self.timeout, self.tls))
        with self._lock:
            self._clients[host.id] = (key, client)
        # the replaced client is not closed: an operation in flight may still hold it (it goes with its last user)
        return client
