"""Bench: port create throughput and latency (1, 8, 16, 32 concurrent clients), and listing 10,000 ports
with every extension field present, against `neutrino provider` run as a real process, on SQLite and on
PostgreSQL; optionally against a baseline provider from another source tree in the same run.

    python bench/provider_ports.py [--backends sqlite,postgresql] [--creates 400] [--levels 1,8,16,32 ("": the list only)]
                                   [--list-ports 10000] [--rounds 3] [--baseline-src DIR]
                                   [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Every request carries a Keystone token (validated on each call, as clients do). The creates' clients
are lean (``_creates``: one keep-alive connection each, HTTP/1.1 framing read and nothing parsed), so the
figure is the server's: httpx cost ~2 ms of CPU per create, a core of this 2-core machine at 500/s. ``--baseline-src`` (the
``src`` directory of another checkout, e.g. a detached worktree of main) starts a second provider from
that code (``PYTHONPATH``) next to this one, each on its own database, and alternates the rounds between
them (who goes first alternates too), so both see the same machine load; the report gives both figures
and their ratio (median over rounds).

The list measurement first gives each of ``--list-ports`` ports every extension field (tags, allowed
address pairs, a security group, a fixed IP, a bound host; made with Neutron bulk creates of 500: setup,
not timed), then times ``GET /v2.0/ports`` on a keep-alive connection from the request's first byte to
the answer's last, reading raw bytes: the client parses nothing, so the figure is the server's. The
provider keeps the ports it rendered for a list, by version (``provider.api.rendered``), and those it wrote:
the first list after the creates is reported on its own line, the timed ones follow it, and last the first list
of a second provider started on the same database, which has rendered none of them (a list after a restart).
For scale: a real Neutron server's create_port median is published around 0.37 s at low load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import ssl
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.provider_process import PortCreates, cpu_seconds, pct, provider_pid, provider_process  # noqa: E402
from bench.provider_process import token as get_token  # noqa: E402

LEVELS = (1, 8, 16, 32)
#: The issue's target level and the figure it must reach against the baseline.
TARGET_CLIENTS = 16
TARGET_LIST_MS = 250.0
#: What each listed port carries besides the basics: every extension field the provider has.
EXTENSION_FIELDS = (
    "tags",
    "allowed_address_pairs",
    "security_groups",
    "fixed_ips",
    "binding:host_id",
    "binding:vif_type",
    "binding:vif_details",
    "binding:profile",
    "binding:vnic_type",
    "port_security_enabled",
    "revision_number",
    "created_at",
    "updated_at",
)


@contextmanager
def _pg_schema(pg_url: str) -> Iterator[str]:
    import psycopg

    libpq = pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    schema = "bench_" + uuid.uuid4().hex[:12]
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        sep = "&" if "?" in pg_url else "?"
        yield f"{pg_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


async def _creates(
    base: str, token: str, network_id: str, clients: int, total: int, verify: ssl.SSLContext | bool = True
) -> tuple[float, list[float]]:
    """``total`` port creates from ``clients`` concurrent lean clients (:class:`PortCreates`, every
    connection opened before the timed part): elapsed seconds and each create's latency."""
    creates = PortCreates(base, token, network_id, clients, verify)
    await creates.open()
    try:
        started = time.perf_counter()
        latencies = await creates.run(max(1, total // clients) * clients)
        return time.perf_counter() - started, latencies
    finally:
        creates.close()


class RawClient:
    """One keep-alive HTTP/1.1 connection that reads answers as bytes (Content-Length or chunked) and
    parses nothing but the framing: what a list costs the server, not what parsing JSON costs us."""

    def __init__(self, base: str, token: str) -> None:
        url = urlsplit(base)
        if url.scheme != "http":
            raise ValueError("the raw client speaks plain HTTP only")
        self.host = f"{url.hostname}:{url.port}"
        self.token = token
        self.sock = socket.create_connection((url.hostname, url.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # a bytearray, consumed from the front by position: appending to (and slicing) a bytes buffer
        # would copy all of a 10 MB answer for every chunk received, and time the client, not the server
        self.buffer = bytearray()
        self.pos = 0

    def close(self) -> None:
        self.sock.close()

    def _fill(self) -> None:
        if self.pos:
            del self.buffer[: self.pos]
            self.pos = 0
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("the provider closed the connection")
        self.buffer += chunk

    def _take(self, n: int) -> bytes:
        if len(self.buffer) - self.pos < n:
            del self.buffer[: self.pos]
            self.pos = 0
            view = memoryview(bytearray(n - len(self.buffer)))
            got = 0
            while got < len(view):  # the rest of a known length straight into its place
                read = self.sock.recv_into(view[got:])
                if not read:
                    raise ConnectionError("the provider closed the connection")
                got += read
            self.buffer += view
        out = bytes(self.buffer[self.pos : self.pos + n])
        self.pos += n
        return out

    def _line(self) -> bytes:
        while (end := self.buffer.find(b"\r\n", self.pos)) < 0:
            self._fill()
        line = bytes(self.buffer[self.pos : end])
        self.pos = end + 2
        return line

    def get(self, path: str) -> tuple[int, bytes]:
        """Status and body of ``GET path``."""
        request = f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\nX-Auth-Token: {self.token}\r\n\r\n"
        self.sock.sendall(request.encode())
        status = int(self._line().split()[1])
        headers = {}
        while line := self._line():
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            return status, self._take(int(headers["content-length"]))
        if headers.get("transfer-encoding", "").lower() != "chunked":
            raise ValueError(f"an answer with neither length nor chunks: {headers}")
        parts = []
        while size := int(self._line().split(b";")[0], 16):
            parts.append(self._take(size))
            self._take(2)
        while self._line():  # trailers, then the empty line
            pass
        return status, b"".join(parts)


@dataclass
class Side:
    """One provider under test (this tree's, or the baseline's) on one database."""

    label: str
    base: str
    token: str
    network_id: str
    #: clients -> ports/s of each round
    rates: dict[int, list[float]] = field(default_factory=dict)
    latencies: dict[int, list[float]] = field(default_factory=dict)
    #: the provider's CPU seconds per create, each round at the target level (steadier than rates on a loaded machine)
    create_cpu: list[float] = field(default_factory=list)
    #: GET of every port: (seconds, bytes, the provider's CPU seconds) per timed call
    lists: list[tuple[float, int, float]] = field(default_factory=list)
    #: the first GET of every port (seconds), after the creates (the provider keeps the renders of the
    #: ports it wrote)
    first_list: float | None = None
    #: the first GET of every port by a second provider started on the same database (seconds): nothing
    #: of them rendered in that process (what a list costs after a restart)
    cold_list: float | None = None
    listed: int = 0

    def rate(self, clients: int) -> float:
        return statistics.median(self.rates[clients])

    def list_ms(self) -> float:
        return statistics.median(s for s, _, _ in self.lists) * 1000

    def list_cpu_ms(self) -> float:
        return statistics.median(c for _, _, c in self.lists) * 1000

    def create_cpu_ms(self) -> float:
        return statistics.median(self.create_cpu) * 1000


@dataclass
class BackendResult:
    backend: str
    new: Side
    old: Side | None

    def report(self) -> list[str]:
        lines = []
        for clients in sorted(self.new.rates):
            for side in (s for s in (self.old, self.new) if s is not None):
                lat = side.latencies[clients]
                rounds = " ".join(f"{r:.0f}" for r in side.rates[clients])
                lines.append(f"{self.backend:10} {side.label:8} create_port clients={clients:<3} "
                             f"{side.rate(clients):8.1f} ports/s (rounds {rounds})   p50 {pct(lat, 0.5) * 1000:6.1f} ms"
                             f"   p95 {pct(lat, 0.95) * 1000:6.1f} ms")  # fmt: skip
            if self.old is not None:
                lines.append(f"{self.backend:10} ratio    create_port clients={clients:<3} "
                             f"{self.new.rate(clients) / self.old.rate(clients):8.2f}x")  # fmt: skip
        for side in (s for s in (self.old, self.new) if s is not None):
            if side.create_cpu:
                lines.append(f"{self.backend:10} {side.label:8} create_port provider CPU {side.create_cpu_ms():6.2f} ms per create")  # fmt: skip
        for side in (s for s in (self.old, self.new) if s is not None):
            if side.lists:
                lines.append(f"{self.backend:10} {side.label:8} list_ports  all {side.listed:<6} median "
                             f"{side.list_ms():8.1f} ms, provider CPU {side.list_cpu_ms():7.1f} ms   "
                             f"({side.lists[0][1] / 1e6:.1f} MB; target {TARGET_LIST_MS:.0f} ms)")  # fmt: skip
                if side.first_list is not None:
                    lines.append(f"{self.backend:10} {side.label:8} list_ports  all {side.listed:<6} first  "
                                 f"{side.first_list * 1000:8.1f} ms (the first list after the creates)")  # fmt: skip
                if side.cold_list is not None:
                    lines.append(f"{self.backend:10} {side.label:8} list_ports  all {side.listed:<6} cold   "
                                 f"{side.cold_list * 1000:8.1f} ms (a provider just started on the database: nothing rendered)")  # fmt: skip
        if self.old is not None and self.old.lists and self.new.lists:
            lines.append(f"{self.backend:10} ratio    list_ports  {self.old.list_ms() / self.new.list_ms():8.2f}x faster")  # fmt: skip
        return lines


def _prepare(label: str, base: str) -> Side:
    token = get_token(base)
    with httpx.Client(base_url=base, headers={"X-Auth-Token": token}, timeout=300) as c:
        net = c.post("/v2.0/networks", json={"network": {"name": "bench"}}).json()["network"]
        subnet = c.post(
            "/v2.0/subnets",
            json={"subnet": {"network_id": net["id"], "cidr": "10.128.0.0/16", "ip_version": 4}},
        )
        assert subnet.status_code == 201, subnet.text
    side = Side(label=label, base=base, token=token, network_id=net["id"])
    asyncio.run(_creates(base, token, net["id"], 4, 40))  # warm-up
    return side


def _populate(side: Side, ports: int) -> None:
    """Bring the bench network to ``ports`` ports, each with every extension field set."""
    with httpx.Client(base_url=side.base, headers={"X-Auth-Token": side.token}, timeout=300) as c:
        have = len(
            c.get("/v2.0/ports", params={"network_id": side.network_id, "fields": "id"}).json()["ports"]
        )
        while have < ports:
            batch = [
                {
                    "network_id": side.network_id,
                    "tags": ["bench", f"n{(have + i) % 97}"],
                    "allowed_address_pairs": [{"ip_address": f"10.200.{(have + i) // 250 % 250}.{(have + i) % 250 + 1}"}],
                    "binding:host_id": f"host-{(have + i) % 10}",
                    "device_owner": "compute:nova",
                    "device_id": str(uuid.uuid4()),
                }
                for i in range(min(500, ports - have))
            ]  # fmt: skip
            response = c.post("/v2.0/ports", json={"ports": batch})
            assert response.status_code == 201, response.text
            have += len(batch)
    side.listed = have


def _list_path(side: Side) -> str:
    """The timed list: every port of the bench's network."""
    return "/v2.0/ports?" + urlencode({"network_id": side.network_id})


def _time_list(side: Side, calls: int) -> None:
    raw = RawClient(side.base, side.token)
    path = _list_path(side)
    try:
        started = time.perf_counter()
        raw.get(path)  # warm: the connection, the server's caches
        if side.first_list is None:
            side.first_list = time.perf_counter() - started
        for _ in range(calls):
            cpu, started = cpu_seconds(provider_pid(side.base)), time.perf_counter()
            status, body = raw.get(path)
            elapsed = time.perf_counter() - started
            side.lists.append((elapsed, len(body), cpu_seconds(provider_pid(side.base)) - cpu))
            assert status == 200, body[:500]
    finally:
        raw.close()


def _time_cold_list(side: Side, data_dir: Path, db_url: str, env: dict[str, str] | None) -> None:
    """The first list of a second provider started on ``side``'s database: nothing rendered there."""
    with provider_process(data_dir, db_url, env=env) as base:
        raw = RawClient(base, get_token(base))
        try:
            started = time.perf_counter()
            status, body = raw.get(_list_path(side))
            side.cold_list = time.perf_counter() - started
            assert status == 200, body[:500]
        finally:
            raw.close()


def check_listing(side: Side) -> None:
    """The listed body holds every port, each with every extension field filled in (not timed)."""
    with httpx.Client(base_url=side.base, headers={"X-Auth-Token": side.token}, timeout=300) as c:
        ports = c.get("/v2.0/ports", params={"network_id": side.network_id}).json()["ports"]
    assert len(ports) == side.listed, (len(ports), side.listed)
    full = [p for p in ports if p["tags"]]
    assert full, "no port with the extension fields: --list-ports must exceed the ports the creates left"
    for port in full:
        missing = [name for name in EXTENSION_FIELDS if port.get(name) in (None, [], "")]
        assert not missing, (missing, port)


def _measure_lists(
    new: Side,
    old: Side | None,
    list_ports: int,
    list_calls: int,
    data_dirs: Sequence[Path],
    db_urls: Sequence[str],
    env: dict[str, str] | None,
) -> None:
    """Bring both sides to ``list_ports`` ports, time their lists (alternating), then each one's
    cold list (a second provider on its database)."""
    sides = [s for s in (old, new) if s is not None]
    for side in sides:
        _populate(side, list_ports)
    for r in range(list_calls):
        for side in sides if r % 2 == 0 else sides[::-1]:
            _time_list(side, 1)
    for side in sides:
        check_listing(side)
    for i, side in enumerate((new, old)):
        if side is not None:  # the baseline's with its own code
            _time_cold_list(side, data_dirs[i] / "cold", db_urls[i], env if i else None)


def measure(
    backend: str,
    db_urls: Sequence[str],
    data_dirs: Sequence[Path],
    *,
    creates: int,
    levels: Sequence[int],
    list_ports: int,
    rounds: int,
    list_calls: int = 5,
    baseline_src: Path | None = None,
) -> BackendResult:
    """Start this tree's provider (and the baseline's, on the second database) and measure them in
    alternating rounds."""
    with ExitStack() as stack:
        new = _prepare("new", stack.enter_context(provider_process(data_dirs[0], db_urls[0])))
        old = None
        env: dict[str, str] | None = None
        if baseline_src is not None:
            env = {"PYTHONPATH": str(baseline_src)}
            old = _prepare(
                "baseline", stack.enter_context(provider_process(data_dirs[1], db_urls[1], env=env))
            )
        sides = [s for s in (old, new) if s is not None]
        for r in range(rounds):
            for clients in levels:
                total = creates if clients > 1 else max(50, creates // 4)
                for side in sides if r % 2 == 0 else sides[::-1]:
                    cpu = cpu_seconds(provider_pid(side.base))
                    elapsed, lat = asyncio.run(
                        _creates(side.base, side.token, side.network_id, clients, total)
                    )
                    if clients == TARGET_CLIENTS:
                        side.create_cpu.append((cpu_seconds(provider_pid(side.base)) - cpu) / len(lat))
                    side.rates.setdefault(clients, []).append(len(lat) / elapsed)
                    side.latencies.setdefault(clients, []).extend(lat)
        if list_ports:
            _measure_lists(new, old, list_ports, list_calls, data_dirs, db_urls, env)
        return BackendResult(backend, new, old)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--creates", type=int, default=400, help="port creates per concurrency level and round"
    )
    parser.add_argument(
        "--levels", default=",".join(map(str, LEVELS)), help="concurrent clients, comma-separated"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds per level (the median is reported)")
    parser.add_argument("--list-ports", type=int, default=10_000)
    parser.add_argument("--list-calls", type=int, default=7, help="timed lists per provider")
    parser.add_argument(
        "--baseline-src", type=Path, default=None, help="src/ of a checkout to compare against"
    )
    parser.add_argument("--pg-url", default=os.environ.get("NEUTRINO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))  # fmt: skip
    args = parser.parse_args()
    # a stopped bench (SIGTERM, e.g. from `timeout`) still stops its providers and drops its schemas
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    levels = [int(n) for n in args.levels.split(",") if n]
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} on {os.cpu_count()} CPUs", flush=True)  # fmt: skip
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
            dirs = [Path(tmp) / "new", Path(tmp) / "baseline"]
            if backend == "sqlite":
                urls = [f"sqlite:///{d / 'provider.db'}" for d in dirs]
            else:
                urls = [stack.enter_context(_pg_schema(args.pg_url)) for _ in dirs]
            result = measure(
                backend,
                urls,
                dirs,
                creates=args.creates,
                levels=levels,
                list_ports=args.list_ports,
                rounds=args.rounds,
                list_calls=args.list_calls,
                baseline_src=args.baseline_src,
            )
            print("\n".join(result.report()), flush=True)
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
