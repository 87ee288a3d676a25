"""A small forwarding HTTP proxy on 127.0.0.1 for tests: it sits between the engine and a host agent or the
network provider, and lets a test act at an exact point of the conversation (kill the server behind it, hold a
request back, change an answer) through three hooks.

``before(method, path)`` runs when a request arrives, before it is forwarded; ``after(method, path, status)``
once the server behind has answered, before the answer goes back (raising ``DropAnswer``, it keeps the answer:
the connection is closed as a server's that died once it had done the work); ``rewrite(method, path, status,
body)`` returns the body that goes back instead of the server's. When the server behind cannot be reached the
proxy closes the connection without answering, as the dead server would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

Before = Callable[[str, str], None]
After = Callable[[str, str, int], None]
Rewrite = Callable[[str, str, int, bytes], bytes]

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
    "host",
    "content-length",
}


class DropAnswer(Exception):
    """Raised by an ``after`` hook: the server's answer does not go back, the connection is closed."""


class Proxy:
    def __init__(
        self,
        target: str,
        before: Before | None = None,
        after: After | None = None,
        rewrite: Rewrite | None = None,
    ) -> None:
        self.target = target.rstrip("/")
        self.before, self.after, self.rewrite = before, after, rewrite
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request seen, in order
        self.closed = False
        self._upstream = httpx.Client(base_url=self.target, timeout=60.0)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="proxy", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Proxy:
        self._thread.start()
        return self

    def close(self) -> None:
        self.closed = True  # connections kept alive past this point are dropped at their next request
        self._server.shutdown()
        self._server.server_close()
        self._upstream.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
                pass

            def _forward(self) -> None:
                method, path = self.command, self.path
                if proxy.closed:
                    self.close_connection = True
                    return
                proxy.requests.append((method, path))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if proxy.before is not None:
                    proxy.before(method, path)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                try:
                    resp = proxy._upstream.request(method, path, content=body, headers=headers)
                except (httpx.HTTPError, RuntimeError):  # RuntimeError: the proxy closed meanwhile
                    self.close_connection = True  # the server behind is gone: so is the answer
                    return
                if proxy.after is not None:
                    try:
                        proxy.after(method, path, resp.status_code)
                    except DropAnswer:
                        self.close_connection = True
                        return
                content = resp.content
                if proxy.rewrite is not None:
                    content = proxy.rewrite(method, path, resp.status_code, content)
                try:
                    self.send_response(resp.status_code)
                    for key, value in resp.headers.items():
                        if key.lower() not in _HOP_BY_HOP and key.lower() != "content-encoding":
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                except OSError:  # the client is gone (e.g. a SIGKILLed engine)
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _forward

        return Handler


@contextmanager
def proxy_to(
    target: str, before: Before | None = None, after: After | None = None, rewrite: Rewrite | None = None
) -> Iterator[Proxy]:
    running = Proxy(target, before, after, rewrite).start()
    try:
        yield running
    finally:
        running.close()
