"""The agent API's routes over the parts of a :class:`neutrino.agent.host_agent.HostAgent`
(contract: :mod:`neutrino.agent_api`, wire models :mod:`neutrino.agent_api.schema`)."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from neutrino.agent.errors import AgentError
from neutrino.agent.host_agent import HostAgent
from neutrino.agent_api.schema import (
    DhcpList,
    DhcpSpec,
    NetworkList,
    NetworkSpec,
    NetworkSync,
    NetworkSyncItem,
    NicSpec,
    SecurityGroupList,
    SecurityGroupSpec,
    VmDestroyed,
    VmList,
    VmSpec,
)
from neutrino.http_input import InputError, parse_json

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
ENROLLMENT_PATH = f"{PREFIX}/enrollment"

_HTTP_CODES = {404: "NotFound", 405: "MethodNotAllowed", 400: "BadRequest", 413: "RequestTooLarge"}


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


class BearerAuth:
    """Answers 401 unless the request carries ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # the enrollment proves the token with an HMAC instead (api/enrollment_routes.py): it runs before
        # the engine can trust this agent's certificate, so the token must not be sent there
        if scope["type"] == "http" and scope["path"] != ENROLLMENT_PATH:
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                response = error(
                    401,
                    "Unauthorized",
                    "missing or wrong agent token",
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _agent(request: Request) -> HostAgent:
    agent: HostAgent = request.app.state.agent
    return agent


M = TypeVar("M", bound=BaseModel)


def _body(model: type[M], raw: bytes) -> M:
    """The request as ``model``; what the input boundary refuses (too deep, a NUL, an integer beyond 64 bits)
    or the model does is a 400 naming the field."""
    try:
        parse_json(raw or b"{}")
    except InputError as exc:
        raise AgentBadRequest(str(exc)) from exc
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise AgentBadRequest(_problems(exc)) from exc


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())


class AgentBadRequest(AgentError):
    status = 400

    @property
    def code(self) -> str:
        return "BadRequest"


def _json(data: BaseModel, status: int = 200) -> JSONResponse:
    return JSONResponse(data.model_dump(mode="json"), status_code=status)


def capabilities(request: Request) -> Response:
    caps = _agent(request).capabilities()
    enrollment = getattr(request.app.state, "enrollment", None)
    if enrollment is not None:  # the engine's certificate, and whether the agent asks for a new one
        caps = caps.model_copy(update={"certificate": enrollment.state()})
    return _json(caps)


def list_vms(request: Request) -> Response:
    return _json(VmList(vms=_agent(request).vms.list_vms()))


def get_vm(request: Request) -> Response:
    return _json(_agent(request).vms.get_vm(request.path_params["vm_id"]))


async def create_vm(request: Request) -> Response:
    spec = _body(VmSpec, await request.body())
    vm, created = await _in_thread(_agent(request).vms.create_vm, spec)
    return _json(vm, 201 if created else 200)


async def destroy_vm(request: Request) -> Response:
    vm_id = request.path_params["vm_id"]
    warnings = await _in_thread(_agent(request).vms.destroy_vm, vm_id)
    return _json(VmDestroyed(vm_id=vm_id, warnings=warnings))


async def plug_nic(request: Request) -> Response:
    spec = _body(NicSpec, await request.body())
    nic, added = await _in_thread(_agent(request).vms.plug_nic, request.path_params["vm_id"], spec)
    return _json(nic, 201 if added else 200)


async def unplug_nic(request: Request) -> Response:
    await _in_thread(
        _agent(request).vms.unplug_nic, request.path_params["vm_id"], request.path_params["nic_id"]
    )
    return Response(status_code=204)


def list_networks(request: Request) -> Response:
    return _json(NetworkList(networks=_agent(request).networks.list_networks()))


async def sync_networks(request: Request) -> Response:
    spec = _body(NetworkSync, await request.body())
    return _json(await _in_thread(_agent(request).networks.sync_networks, [n.state() for n in spec.networks]))


async def setup_network(request: Request) -> Response:
    spec = _body(NetworkSpec, await request.body())
    name = request.path_params["name"]
    try:  # the URL's name is held to a sync item's rules (its length; a bridge name when it is the bridge)
        NetworkSyncItem(network=name, bridge=spec.bridge, mtu=spec.mtu)
    except ValidationError as exc:
        raise AgentBadRequest(_problems(exc).replace("network:", "name (in the URL):", 1)) from exc
    net, created = await _in_thread(_agent(request).networks.setup_network, name, spec)
    return _json(net, 201 if created else 200)


async def teardown_network(request: Request) -> Response:
    await _in_thread(_agent(request).networks.teardown_network, request.path_params["name"])
    return Response(status_code=204)


def list_dhcp(request: Request) -> Response:
    return _json(DhcpList(dhcp=_agent(request).dhcp.list_dhcp()))


async def setup_dhcp(request: Request) -> Response:
    raw = await request.body()
    try:
        body = parse_json(raw or b"{}")
    except InputError as exc:
        raise AgentBadRequest(str(exc)) from exc
    if not isinstance(body, dict):
        raise AgentBadRequest("body: must be a JSON object")
    body["network_id"] = request.path_params["network_id"]
    spec = _body(DhcpSpec, json.dumps(body).encode())
    stored, created = await _in_thread(_agent(request).dhcp.setup_dhcp, spec)
    return _json(stored, 201 if created else 200)


async def teardown_dhcp(request: Request) -> Response:
    await _in_thread(_agent(request).dhcp.teardown_dhcp, request.path_params["network_id"])
    return Response(status_code=204)


def list_security_groups(request: Request) -> Response:
    return _json(SecurityGroupList(security_groups=_agent(request).security.list_security_groups()))


async def set_security_group(request: Request) -> Response:
    spec = _body(SecurityGroupSpec, await request.body())
    stored, created = await _in_thread(
        _agent(request).security.set_security_group, request.path_params["group_id"], spec
    )
    return _json(stored, 201 if created else 200)


async def delete_security_group(request: Request) -> Response:
    await _in_thread(_agent(request).security.delete_security_group, request.path_params["group_id"])
    return Response(status_code=204)


R = TypeVar("R")


async def _in_thread(func: Callable[..., R], *args: Any) -> R:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(func, *args)


async def on_agent_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AgentError)
    return error(exc.status, exc.code, str(exc))


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error(exc.status_code, _HTTP_CODES.get(exc.status_code, "HTTPError"), str(exc.detail))


def boundary_fault(scope: Scope, status: int, message: str) -> tuple[bytes, str]:
    """What the input boundary (``neutrino.http_input.Boundary``) answers: the agent's error body. A 500 is the
    last resort for an exception no handler took: it names the logged request, never the exception."""
    code = {500: "InternalError"}.get(status) or _HTTP_CODES.get(status, "HTTPError")
    return bytes(error(status, code, message).body), "application/json"


ROUTES = [
    Route(f"{PREFIX}/capabilities", capabilities, methods=["GET"]),
    Route(f"{PREFIX}/vms", list_vms, methods=["GET"]),
    Route(f"{PREFIX}/vms", create_vm, methods=["POST"]),
    Route(f"{PREFIX}/vms/{{vm_id}}", get_vm, methods=["GET"]),
    Route(f"{PREFIX}/vms/{{vm_id}}", destroy_vm, methods=["DELETE"]),
    Route(f"{PREFIX}/vms/{{vm_id}}/nics", plug_nic, methods=["POST"]),
    Route(f"{PREFIX}/vms/{{vm_id}}/nics/{{nic_id}}", unplug_nic, methods=["DELETE"]),
    Route(f"{PREFIX}/networks", list_networks, methods=["GET"]),
    Route(f"{PREFIX}/networks", sync_networks, methods=["PUT"]),
    Route(f"{PREFIX}/networks/{{name}}", setup_network, methods=["PUT"]),
    Route(f"{PREFIX}/networks/{{name}}", teardown_network, methods=["DELETE"]),
    Route(f"{PREFIX}/dhcp", list_dhcp, methods=["GET"]),
    Route(f"{PREFIX}/dhcp/{{network_id}}", setup_dhcp, methods=["PUT"]),
    Route(f"{PREFIX}/dhcp/{{network_id}}", teardown_dhcp, methods=["DELETE"]),
    Route(f"{PREFIX}/security-groups", list_security_groups, methods=["GET"]),
    Route(f"{PREFIX}/security-groups/{{group_id}}", set_security_group, methods=["PUT"]),
    Route(f"{PREFIX}/security-groups/{{group_id}}", delete_security_group, methods=["DELETE"]),
]

EXCEPTION_HANDLERS = {
    AgentError: on_agent_error,
    HTTPException: on_http_error,
}


def auth_middleware(token: str) -> Middleware:
    return Middleware(BearerAuth, token=token)
