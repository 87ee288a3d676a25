"""The input boundary the three servers share: what any request must satisfy before a route sees it.

Each server wraps its app in :class:`Boundary` (ASGI middleware) and parses its JSON bodies with
:func:`parse_json`. Together they refuse, with the server's own fault shape (a ``Fault`` the server passes in):

- a body larger than the server's limit (1 MiB unless configured): 413 naming the limit, read no further;
- a NUL in the path or the query string: 400 naming where (PostgreSQL cannot store or even compare it);
- a JSON body that is not JSON, not UTF-8, nested deeper than :data:`MAX_DEPTH`, or holding a string with a NUL
  or a lone surrogate (no database, XML answer or UTF-8 log line can carry it), an integer outside 64 bits (no
  column holds it) or NaN/Infinity: :class:`InputError` naming the field (``network.name``), which the server
  maps to its own 400;
- and, last, any exception a route did not turn into an answer: logged with its traceback and a request id,
  answered with the server's own 500 fault naming that id, never a bare page.

Every request gets a request id (``req-<uuid>``), in ``scope["state"]["request_id"]`` for the server's own logs
and in a response header. The standard library only, as ``access_log``: each program imports it.

Exceptions::

    ValueError
     └── InputError     field, reason           -> the server's 400
          └── BodyTooLarge   limit             -> the server's 413
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The default largest request body, in bytes (a server's setting may change it).
DEFAULT_MAX_BODY = 1 << 20
#: The deepest JSON nesting accepted: far beyond any body of the three APIs (a Neutron port's
#: binding:profile is the deepest, at four or five), far below what would exhaust the parser's stack.
MAX_DEPTH = 64
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1

log = logging.getLogger(__name__)


class InputError(ValueError):
    """An input refused at the boundary: ``field`` says where (``body``, ``port.fixed_ips[0]``, ``query
    parameter 'limit'``), ``reason`` what is wrong with it."""

    status = 400

    def __init__(self, field: str, reason: str) -> None:
        self.field, self.reason = field, reason
        super().__init__(f"Invalid input for {field}: {reason}.")


class BodyTooLarge(InputError):
    status = 413

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__("body", f"the request body is larger than the limit of {limit} bytes")


# --- text ----------------------------------------------------------------------------------------


def text_problem(text: str) -> str | None:
    """Why a string cannot be taken (a NUL, a lone surrogate), or None when it can."""
    if "\x00" in text:
        return "it contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "it contains a lone surrogate (not valid Unicode)"
    return None


def check_text(text: str, field: str) -> str:
    """``text`` itself, or InputError naming ``field``."""
    if (problem := text_problem(text)) is not None:
        raise InputError(field, problem)
    return text


def check_int64(value: int, field: str) -> int:
    """``value`` itself when a signed 64-bit column can hold it, else InputError naming ``field``."""
    if not INT64_MIN <= value <= INT64_MAX:
        raise InputError(field, f"{value} is outside the 64-bit integer range")
    return value


# --- JSON ----------------------------------------------------------------------------------------


def _no_constant(name: str) -> Any:
    raise InputError("body", f"{name} is not a JSON number")


def parse_json(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of a request body, or InputError naming the field that cannot be taken.

    The parser is the standard library's; what it accepts but no server can use is refused after it by one
    walk of the value (iterative, so its own depth costs no stack)."""
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise InputError("body", f"JSON nested deeper than {max_depth} levels") from None
    except UnicodeDecodeError as exc:
        raise InputError("body", f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    except ValueError as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError("body", f"malformed JSON ({exc})") from None
    check_value(value, max_depth=max_depth)
    return value


def _where(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "body"


def check_value(value: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """Refuse, naming the field, a value too deep or holding unusable text, integers or floats."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if len(path) >= max_depth and isinstance(item, dict | list):  # the outermost value is level 1
            raise InputError(_where(path), f"JSON nested deeper than {max_depth} levels")
        if isinstance(item, str):
            check_text(item, _where(path))
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            check_int64(item, _where(path))
        elif isinstance(item, float) and not math.isfinite(item):
            raise InputError(_where(path), "the number is out of range")
        elif isinstance(item, dict):
            for key, child in item.items():
                check_text(key, _where((*path, "<key>")))
                stack.append((child, (*path, key)))
        elif isinstance(item, list):
            stack.extend((child, (*path, i)) for i, child in enumerate(item))


# --- the middleware ------------------------------------------------------------------------------

#: How a server words a refusal: (scope, status, message) -> (body, content type).
Fault = Callable[[Scope, int, str], tuple[bytes, str]]


def check_url(scope: Scope) -> None:
    """Refuse a NUL in the path or the query string (both arrive percent-decoded to the routes)."""
    if "\x00" in scope.get("path", ""):
        raise InputError("the URL path", "it contains a NUL character")
    query = scope.get("query_string", b"").decode("latin-1")
    if "%00" in query or "\x00" in query:
        for key, value in parse_qsl(query, keep_blank_values=True):
            if "\x00" in key or "\x00" in value:
                name = key.replace("\x00", "\\0")
                raise InputError(f"query parameter '{name}'", "it contains a NUL character")


async def read_body(scope: Scope, receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The whole request body, and whether the client went away; BodyTooLarge once past ``limit``."""
    for name, value in scope.get("headers") or []:
        if name.lower() == b"content-length" and value.strip().isdigit() and int(value) > limit:
            raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), True
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False


class Boundary:
    """ASGI middleware: the request id, the URL and body checks, and the last-resort 500 (see the module).

    ``fault`` renders the server's fault body; ``header`` is the response header carrying the request id."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        program: str,
        fault: Fault,
        max_body: int = DEFAULT_MAX_BODY,
        header: str = "x-request-id",
    ) -> None:
        self.app, self.program, self.fault, self.max_body = app, program, fault, max_body
        self.header = header.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"req-{uuid.uuid4()}"
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), (self.header, request_id.encode())]
            await send(message)

        try:
            check_url(scope)
            body, gone = await read_body(scope, receive, self.max_body)
        except InputError as exc:
            await self.answer(scope, sending, exc.status, str(exc))
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                if gone:
                    return {"type": "http.disconnect"}
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        try:
            await self.app(scope, replay, sending)
        except Exception:
            log.exception(
                "%s: unexpected error on %s %s (request %s)",
                self.program,
                scope.get("method"),
                scope.get("path"),
                request_id,
            )
            if not started:
                message = f"An internal error occurred; it was logged as request {request_id}."
                await self.answer(scope, sending, 500, message)

    async def answer(self, scope: Scope, send: Send, status: int, message: str) -> None:
        body, content_type = self.fault(scope, status, message)
        headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
        if status == 413:
            headers.append((b"connection", b"close"))  # the rest of the body is not read
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def request_id(scope_or_state: Any) -> str:
    """The request id the Boundary gave a request (``request.state`` or its scope), or ``-`` outside one."""
    if isinstance(scope_or_state, MutableMapping):
        return str((scope_or_state.get("state") or {}).get("request_id", "-"))
    return str(getattr(scope_or_state, "request_id", "-"))
