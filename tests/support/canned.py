"""A real HTTP server on 127.0.0.1 that answers with canned bodies: the seam where a test stands in for a
real Neutron (recorded responses, failures a live server would not produce on demand)."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.pki import Pki


@dataclass
class Canned:
    status: int = 200
    body: Any = None  # dict -> JSON; str/bytes sent as is
    content_type: str = "application/json"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    body: Any


@dataclass
class CannedServer:
    url: str
    routes: dict[tuple[str, str], Canned | Callable[[Any], Canned]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def on(self, method: str, path: str, reply: Canned | Callable[[Any], Canned]) -> None:
        self.routes[(method, path)] = reply


def encoded(reply: Canned) -> bytes:
    """The body's bytes: a str or bytes as is, anything else as JSON, None as nothing."""
    data = reply.body
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode()
    return json.dumps(data).encode() if data is not None else b""


@contextmanager
def canned_server(tls: Pki | None = None) -> Iterator[CannedServer]:
    """The server until the block ends; with ``tls``, over HTTPS with the PKI's server certificate chain."""
    state = CannedServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            path = self.path.split("?", 1)[0]
            state.seen.append(Seen(self.command, self.path, body))
            reply = state.routes.get((self.command, path))
            if callable(reply):
                reply = reply(body)
            if reply is None:
                reply = Canned(
                    404, {"NeutronError": {"type": "NotFound", "message": f"no route {path}", "detail": ""}}
                )
            if reply.delay:
                time.sleep(reply.delay)
            payload = encoded(reply)
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to answer

        do_GET = do_POST = do_PUT = do_DELETE = _serve

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.chain_file, tls.key_file)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    state.url = f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
