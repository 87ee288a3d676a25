"""`neutrino engine`: run the virtualization manager and its oVirt REST API v4."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

PKI_CA_PATH = "/ovirt-engine/services/pki-resource?resource=ca-certificate&format=X509-PEM-CA"

if TYPE_CHECKING:  # imported lazily at run time: `neutrino --help` stays fast
    from neutrino.engine.bootstrap import Engine
    from neutrino.engine.settings import EngineSettings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--listen", default="127.0.0.1:8443", help="HOST:PORT to serve HTTPS on (default %(default)s)"
    )
    parser.add_argument(
        "--http-listen",
        default="127.0.0.1:8080",
        help="HOST:PORT of plain HTTP serving only the CA (pki-resource), for clients to bootstrap, and "
        "redirecting the rest to HTTPS; '' for none (default %(default)s)",
    )
    parser.add_argument(
        "--tls-cert",
        type=Path,
        default=None,
        help="PEM certificate chain (default: the engine's own, data dir pki/)",
    )
    parser.add_argument("--tls-key", type=Path, default=None, help="PEM private key of --tls-cert")
    parser.add_argument(
        "--insecure-http",
        action="store_true",
        default=None,
        help="serve plain HTTP on --listen and call host agents over plain HTTP (also NEUTRINO_INSECURE_HTTP=1)",
    )
    parser.add_argument(
        "--agent-ca-file",
        type=Path,
        default=None,
        help="PEM certificates trusted for host agents, besides the engine CA",
    )
    parser.add_argument(
        "--db",
        default=None,
        help="SQLAlchemy URL (default: SQLite in the data dir), "
        "e.g. postgresql+psycopg://user@127.0.0.1:5432/neutrino",
    )
    parser.add_argument(
        "--data-dir", default="data/engine", type=Path, help="state directory (default %(default)s)"
    )
    parser.add_argument(
        "--mac-pool-range", default=None, help="MAC pool, FIRST-LAST (default: chosen on first start)"
    )
    parser.add_argument(
        "--provider-sync-interval",
        default=None,
        type=float,
        help="seconds between synchronizations with each network provider (default 300)",
    )
    parser.add_argument(
        "--janitor-interval",
        default=None,
        type=float,
        help="seconds between deletions of provider ports the engine gave up (default 60)",
    )
    parser.add_argument(
        "--host-monitor-interval",
        default=None,
        type=float,
        help="seconds between two looks at each host's agent (default 10)",
    )


def settings_from(args: argparse.Namespace) -> EngineSettings:
    from neutrino.engine.settings import EngineSettings

    overrides: dict[str, Any] = {"listen": args.listen, "data_dir": args.data_dir}
    # getattr: callers such as tests build their own Namespace with the older options only
    for option in ("http_listen", "tls_cert", "tls_key", "insecure_http", "agent_ca_file"):
        if getattr(args, option, None) is not None:
            overrides[option] = getattr(args, option)
    if args.db:
        overrides["db"] = args.db
    if args.mac_pool_range:
        overrides["mac_pool_range"] = args.mac_pool_range
    for option in ("provider_sync_interval", "janitor_interval", "host_monitor_interval"):
        if getattr(args, option, None):
            overrides[option] = getattr(args, option)
    return EngineSettings(**overrides)


def announce(engine: Engine) -> None:
    settings = engine.settings
    host, port = settings.host_port
    print(f"neutrino engine: oVirt API at {settings.scheme}://{host}:{port}/ovirt-engine/api", flush=True)
    if settings.insecure_http:
        print(
            "neutrino engine: plain HTTP (--insecure-http): credentials and tokens cross the network in clear"
        )
    else:
        print(f"neutrino engine: CA certificate: {engine.pki.ca_cert.resolve()}", flush=True)
        if settings.http_host_port is not None:
            h, p = settings.http_host_port
            print(f"neutrino engine: CA over plain HTTP at http://{h}:{p}{PKI_CA_PATH}", flush=True)
    if engine.admin_password:
        print(f"neutrino engine: created admin@internal with password: {engine.admin_password}", flush=True)
        print(
            "neutrino engine: (shown once; set NEUTRINO_ADMIN_PASSWORD before first start to choose it)",
            flush=True,
        )


def run(args: argparse.Namespace) -> int:
    import asyncio

    from pydantic import ValidationError

    from neutrino.engine.bootstrap import build

    try:
        settings = settings_from(args)
    except ValidationError as exc:
        for error in exc.errors():
            print(f"neutrino engine: {error['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 2
    engine = build(settings)
    announce(engine)
    asyncio.run(serve(engine))
    return 0


async def serve(engine: Engine) -> None:
    """The API on ``listen`` (HTTPS unless insecure_http) and the PKI resource on ``http_listen``."""
    import asyncio

    import uvicorn

    from neutrino.engine.app import create_app, create_http_app

    settings = engine.settings
    host, port = settings.host_port
    tls = tls_options(engine)
    # NOTE: closing an idle TLS keep-alive connection waits for the client's close_notify, which a pooled
    # client reads only on its next request: bound the wait (asyncio's is 30 s)
    servers = [uvicorn.Server(uvicorn.Config(create_app(settings, engine), host=host, port=port,
                                             log_level="warning", timeout_graceful_shutdown=3 if tls else None,
                                             **tls))]  # fmt: skip
    if settings.http_host_port is not None:
        h, p = settings.http_host_port
        app = create_http_app(settings, engine)
        servers.append(uvicorn.Server(uvicorn.Config(app, host=h, port=p, log_level="warning")))
    await asyncio.gather(*(s.serve() for s in servers))


def tls_options(engine: Engine) -> dict[str, Any]:
    """uvicorn's certificate options: the given pair, else the engine's own; none over plain HTTP."""
    settings = engine.settings
    if settings.insecure_http:
        return {}
    if settings.tls_cert is not None and settings.tls_key is not None:
        return {"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)}
    return {"ssl_certfile": str(engine.pki.server_cert), "ssl_keyfile": str(engine.pki.server_key)}


if __name__ == "__main__":
    sys.exit(run(argparse.Namespace()))
