"""What the provider benches share: ``neutrino provider`` run as a real process on 127.0.0.1, a token
for it, a client, and percentiles.

A bench measures the provider the way its clients meet it: a separate process (its own interpreter,
so the bench's own work does not share its GIL), every request with a Keystone token.
"""

from __future__ import annotations

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

import httpx

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
