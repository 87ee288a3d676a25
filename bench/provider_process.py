"""What the provider benches share: ``neutrino provider`` run as a real process on 127.0.0.1, a token
for it, a client, and percentiles.

A bench measures the provider the way its clients meet it: a separate process (its own interpreter,
so the bench's own work does not share its GIL), every request with a Keystone token.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson

PASSWORD = "bench-secret"


# the benches measure the programs over plain HTTP unless the environment says otherwise
PLAIN_HTTP = {"NEUTRINO_INSECURE_HTTP": "1"}
#: base URL -> process id of the providers running now (see :func:`provider_pid`)
_PIDS: dict[str, int] = {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def provider_process(
    data_dir: Path,
    db_url: str = "",
    args: Sequence[str] = (),
    tls: tuple[Path, Path] | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """``neutrino provider`` on a free port of 127.0.0.1 with its state in ``data_dir`` (its log in
    ``data_dir/provider.log``); yields its base URL, stops it on the way out. ``tls``: HTTPS with this
    certificate chain and key (``https://`` URL; the caller trusts its CA). ``env``: variables to add
    (``PYTHONPATH`` runs another checkout's provider, as a baseline)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "neutrino.cli", "provider", "--listen", f"127.0.0.1:{port}",
            "--data-dir", str(data_dir), *(["--db", db_url] if db_url else []), *args]  # fmt: skip
    environ = {**PLAIN_HTTP, **os.environ, "NEUTRINO_ADMIN_PASSWORD": PASSWORD, **(env or {})}
    if tls:
        argv += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
        environ["NEUTRINO_INSECURE_HTTP"] = "0"
    log_path = data_dir / "provider.log"
    log = open(log_path, "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=environ)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/", timeout=1, verify=False)  # only "does it answer"
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the provider did not start:\n{log_path.read_text()}") from None
                time.sleep(0.1)
        _PIDS[base] = proc.pid
        yield base
    finally:
        _PIDS.pop(base, None)
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()


def provider_pid(base: str) -> int:
    """The process id of the provider :func:`provider_process` runs at ``base``."""
    return _PIDS[base]


def token(base: str, verify: ssl.SSLContext | bool = True) -> str:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"name": "Default"}, "password": PASSWORD}}},
                     "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}  # fmt: skip
    response = httpx.post(f"{base}/v3/auth/tokens", json=body, verify=verify)
    response.raise_for_status()
    return response.headers["X-Subject-Token"]


def admin_client(base: str, connections: int = 4) -> httpx.Client:
    """A client of the provider with the admin's token (safe to share between threads)."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.Client(base_url=base, headers={"X-Auth-Token": token(base)}, timeout=120, limits=limits)


def created(response: httpx.Response, member: str) -> dict[str, object]:
    """The created resource of a 201 answer; anything else fails naming the answer."""
    if response.status_code != 201:
        raise RuntimeError(f"create {member}: {response.status_code} {response.text}")
    body: dict[str, object] = response.json()[member]
    return body


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class PortCreates:
    """Port creates on a network from ``clients`` concurrent clients, each one keep-alive connection
    speaking HTTP/1.1 itself: the request's bytes made once, the answer's framing read and its status
    checked, nothing parsed. An httpx client took ~2 ms of CPU per create, a whole core at 500
    creates/s on a 2-core machine, so a bench's figure was the client's as much as the server's; this
    one takes ~0.15 ms. ``open`` the connections, ``run`` as many creates as wanted, ``close``."""

    def __init__(
        self, base: str, token: str, network_id: str, clients: int, verify: ssl.SSLContext | bool = True
    ) -> None:
        url = urlsplit(base)
        assert url.hostname is not None and url.port is not None
        self.host, self.port, self.clients = url.hostname, url.port, clients
        body = orjson.dumps({"port": {"network_id": network_id}})
        self.request = (
            f"POST /v2.0/ports HTTP/1.1\r\nHost: {url.netloc}\r\nX-Auth-Token: {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        self.tls: ssl.SSLContext | None = None
        if url.scheme == "https":
            self.tls = verify if isinstance(verify, ssl.SSLContext) else ssl.create_default_context()
            if verify is False:
                self.tls.check_hostname, self.tls.verify_mode = False, ssl.CERT_NONE
        self.streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def open(self) -> None:
        for _ in range(self.clients):
            self.streams.append(await asyncio.open_connection(self.host, self.port, ssl=self.tls))

    async def run(self, count: int) -> list[float]:
        """``count`` creates, at most one in flight per connection: each one's seconds, in the order
        they were answered."""
        latencies: list[float] = []
        left = count

        async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal left
            while left > 0:
                left -= 1
                started = time.perf_counter()
                writer.write(self.request)
                status, answer = await http_answer(reader)
                latencies.append(time.perf_counter() - started)
                if status != 201:
                    raise RuntimeError(f"create port: {status} {answer.decode(errors='replace')}")

        await asyncio.gather(*[client(r, w) for r, w in self.streams])
        return latencies

    def close(self) -> None:
        for _, writer in self.streams:
            writer.close()
        self.streams.clear()


async def http_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """An HTTP/1.1 answer's status and body (Content-Length or chunked), nothing parsed but the framing."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {
        n.strip().lower(): v.strip() for n, _, v in (line.partition(":") for line in lines[1:] if line)
    }
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"]))
    if headers.get("transfer-encoding", "").lower() != "chunked":
        raise ValueError(f"an answer with neither length nor chunks: {headers}")
    parts = []
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        parts.append((await reader.readexactly(size + 2))[:-2])
    while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, then the empty line
        pass
    return status, b"".join(parts)
