"""``neutrino provider``: serve the Neutron v2.0 and Keystone APIs (imports stay cheap here)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--listen", default="127.0.0.1:9696", help="HOST:PORT to serve on (default %(default)s)"
    )
    parser.add_argument("--db", default="", help="SQLAlchemy URL (default: SQLite file in the data dir)")
    parser.add_argument(
        "--data-dir", default="/var/lib/neutrino/provider", help="state directory (default %(default)s)"
    )
    parser.add_argument("--no-auth", action="store_true", help="serve without tokens, acting as admin")
    parser.add_argument("--public-url", default="", help="base URL advertised in the Keystone catalog")
    parser.add_argument(
        "--member-port-binding",
        action="store_true",
        help="let project members set binding:host_id and binding:profile (admins only by default)",
    )


def settings_from(args: argparse.Namespace):  # -> ProviderSettings
    from neutrino.provider.settings import ProviderSettings

    host, _, port = args.listen.rpartition(":")
    overrides: dict[str, Any] = {
        "listen_host": host or "127.0.0.1",
        "listen_port": int(port),
        "data_dir": Path(args.data_dir),
        "no_auth": getattr(args, "no_auth", False),
        # getattr: callers such as `neutrino up` build their own Namespace with the older options only
        "member_port_binding": getattr(args, "member_port_binding", False),
    }
    if getattr(args, "db", ""):
        overrides["db_url"] = args.db
    if getattr(args, "public_url", ""):
        overrides["public_url"] = args.public_url
    return ProviderSettings(**overrides)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from neutrino.provider.app import bootstrap, create_app

    settings = settings_from(args)
    result = bootstrap(settings)
    if result.admin_password:
        print(
            f"neutrino provider: created user 'admin' (project 'admin') with password: {result.admin_password}",
            file=sys.stderr,
            flush=True,
        )
    uvicorn.run(
        create_app(settings),
        host=settings.listen_host,
        port=settings.listen_port,
        log_level="warning",
        access_log=False,
    )
    return 0
