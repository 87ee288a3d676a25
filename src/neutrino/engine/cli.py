"""`neutrino engine`: run the virtualization manager and its oVirt REST API v4."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported lazily at run time: `neutrino --help` stays fast
    from neutrino.engine.bootstrap import Engine
    from neutrino.engine.settings import EngineSettings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--listen", default="127.0.0.1:8080", help="HOST:PORT to serve on (default %(default)s)"
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
    if args.db:
        overrides["db"] = args.db
    if args.mac_pool_range:
        overrides["mac_pool_range"] = args.mac_pool_range
    for option in ("provider_sync_interval", "janitor_interval", "host_monitor_interval"):
        if getattr(args, option, None):
            overrides[option] = getattr(args, option)
    return EngineSettings(**overrides)


def announce(engine: Engine) -> None:
    host, port = engine.settings.host_port
    print(f"neutrino engine: oVirt API at http://{host}:{port}/ovirt-engine/api", flush=True)
    if engine.admin_password:
        print(f"neutrino engine: created admin@internal with password: {engine.admin_password}", flush=True)
        print(
            "neutrino engine: (shown once; set NEUTRINO_ADMIN_PASSWORD before first start to choose it)",
            flush=True,
        )


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from neutrino.engine.app import create_app
    from neutrino.engine.bootstrap import build

    settings = settings_from(args)
    engine = build(settings)
    announce(engine)
    host, port = settings.host_port
    uvicorn.run(create_app(settings, engine), host=host, port=port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(run(argparse.Namespace()))
