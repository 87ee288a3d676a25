"""The access log the three servers share: one line per HTTP request, to stderr and to a file in the data dir.

    2027-01-12T09:00:00.123Z engine GET /ovirt-engine/api/vms 200 12.3ms user=admin@internal

Each line says the method, the path (never the query string: a client may put a password there, as the SSO
form allows), the status, the time the server took, and who asked: the user the server recognised (it puts
the name in ``request.state.user``), else a short hash of the bearer token (``token=1f2e3d4c5b6a``), the
user name of HTTP Basic credentials, or ``-``. Never a token, a password or a body.

``AccessLog`` is plain ASGI middleware; each program wraps its app (``engine.log``, ``provider.log``,
``agent.log``). The file is opened for each line, so nothing stays open when an app is dropped (tests build
many), and a log rotated away is simply started again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# stderr goes through logging, so a deployment can route or silence it; the file is the program's own
log = logging.getLogger("neutrino.access")
_stderr_lock = threading.Lock()


def _stderr_handler() -> None:
    """One stderr handler for every program in the process (``neutrino up`` runs three), added once."""
    with _stderr_lock:
        if not any(getattr(h, "neutrino_access", False) for h in log.handlers):
            handler = logging.StreamHandler()
            handler.neutrino_access = True  # type: ignore[attr-defined]
            handler.setFormatter(logging.Formatter("%(message)s"))
            log.addHandler(handler)
            log.setLevel(logging.INFO)
            log.propagate = False


def token_id(token: str) -> str:
    """A token's name in the log: a hash prefix, which says which token without giving it away."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def _clean(text: str) -> str:
    """One word of the line: what a client controls (a path, a user name) cannot add a line or a field —
    spaces, control and non-ASCII characters are percent-encoded."""
    return quote(text, safe="/:@!$&'()*+,;=-._~")


def who(scope: Scope) -> str:
    """Who made the request, as far as the log may say it."""
    state = scope.get("state") or {}
    if state.get("user"):
        return f"user={_clean(str(state['user']))}"
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return f"token={token_id(value.strip())}"
    if scheme.lower() == "basic" and value.strip():
        try:
            name = base64.b64decode(value.strip()).decode("utf-8", "replace").partition(":")[0]
        except (ValueError, binascii.Error):
            name = "?"
        return f"user={_clean(name)}"
    if headers.get("x-auth-token"):
        return f"token={token_id(headers['x-auth-token'])}"
    return "-"


class AccessLog:
    """ASGI middleware: after each HTTP request, its line to stderr and appended to ``path``."""

    #: seconds between checks that ``path`` is still the file written to (rotated or removed: reopened)
    RECHECK = 1.0

    def __init__(self, app: ASGIApp, *, program: str, path: Path | None) -> None:
        self.app, self.program, self.path = app, program, path
        self._file_lock = threading.Lock()
        # the log file kept open (opening it per line cost the event loop an open, a close and a text wrapper
        # per request); its identity checked every RECHECK seconds, so a rotated or removed file is reopened
        self._fd: int | None = None
        self._identity: tuple[int, int] | None = None
        self._checked = 0.0
        _stderr_handler()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # the log file goes with the app
            try:
                await self.app(scope, receive, send)
            finally:
                with self._file_lock:
                    self._close()
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before it answers

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.write(scope, status, (time.perf_counter() - started) * 1000)

    def write(self, scope: Scope, status: int, ms: float) -> None:
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        path = _clean(scope.get("root_path", "") + scope.get("path", ""))
        method = _clean(str(scope.get("method", "?")))
        line = f"{stamp} {self.program} {method} {path} {status} {ms:.1f}ms {who(scope)}"
        log.info(line)
        if self.path is not None:
            try:
                with self._file_lock:
                    os.write(self._file(), (line + "\n").encode("utf-8"))
            except OSError as exc:  # a full disk must not fail the request
                log.warning("cannot write the access log %s: %s", self.path, exc)

    def _file(self) -> int:
        """The log file's descriptor, (re)opened when none is open or ``path`` is no longer that file."""
        assert self.path is not None
        now = time.monotonic()
        if self._fd is not None and now - self._checked < self.RECHECK:
            return self._fd
        self._checked = now
        try:
            st = os.stat(self.path)
            current: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            current = None
        if self._fd is None or current != self._identity:
            self._close()
            # 0600 when new: the log names users and who called what (issue 14)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            st = os.fstat(self._fd)
            self._identity = (st.st_dev, st.st_ino)
        return self._fd

    def __del__(self) -> None:
        self._close()

    def _close(self) -> None:
        fd: int | None = getattr(self, "_fd", None)  # None too when __init__ did not get that far
        if fd is not None:
            self._fd = None
            os.close(fd)
