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
    parser.add_argument("--tls-cert", default=None, help="PEM certificate chain to serve HTTPS with")
    parser.add_argument("--tls-key", default=None, help="PEM private key of --tls-cert")
    parser.add_argument(
        "--insecure-http",
        action="store_true",
        default=None,
        help="serve plain HTTP instead of HTTPS (also NEUTRINO_INSECURE_HTTP=1)",
    )
    parser.add_argument("--no-auth", action="store_true", help="serve without tokens, acting as admin")
    parser.add_argument("--public-url", default="", help="base URL advertised in the Keystone catalog")
    parser.add_argument(
        "--member-port-binding",
        action="store_true",
        help="let project members set binding:host_id and binding:profile (admins only by default)",
    )
    parser.add_argument(
        "--agent-down-time",
        type=float,
        default=None,
        help="seconds without a report after which an agent is not alive (default 75)",
    )
    parser.add_argument(
        "--l3-schedule-interval",
        type=float,
        default=None,
        help="builtin backend: seconds between checks moving routers off agents not alive (default 10)",
    )
    ovn = parser.add_argument_group("OVN backend")
    parser.add_argument(
        "--backend",
        choices=("builtin", "ovn"),
        default=None,
        help="builtin: the host agents read the provider; ovn: write OVN's northbound (default builtin)",
    )
    ovn.add_argument(
        "--ovn-nb-connection", default="", help="northbound OVSDB, e.g. tcp:IP:6641 or ssl:IP:6641"
    )
    ovn.add_argument("--ovn-sb-connection", default="", help="southbound OVSDB, e.g. tcp:IP:6642")
    ovn.add_argument("--ovn-nb-private-key", default=None, help="client private key for ssl: connections")
    ovn.add_argument("--ovn-nb-certificate", default=None, help="client certificate for ssl: connections")
    ovn.add_argument("--ovn-ca-cert", default=None, help="CA certificate for ssl: connections")
    ovn.add_argument(
        "--ovn-maintenance-interval",
        type=float,
        default=None,
        help="seconds between northbound drift repairs (default 300)",
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
    for name in (
        "backend",
        "ovn_nb_connection",
        "ovn_sb_connection",
        "ovn_nb_private_key",
        "ovn_nb_certificate",
        "ovn_ca_cert",
        "ovn_maintenance_interval",
        "agent_down_time",
        "l3_schedule_interval",
        "tls_cert",
        "tls_key",
        "insecure_http",
    ):
        if getattr(args, name, None) not in (None, ""):
            overrides[name] = getattr(args, name)
    if getattr(args, "db", ""):
        overrides["db_url"] = args.db
    if getattr(args, "public_url", ""):
        overrides["public_url"] = args.public_url
    return ProviderSettings(**overrides)


def run(args: argparse.Namespace) -> int:
    import uvicorn
    from pydantic import ValidationError

    from neutrino.provider.app import bootstrap, create_app

    try:
        settings = settings_from(args)
        tls = settings.tls_options()
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            reason = error["msg"].removeprefix("Value error, ")
            print(f"neutrino provider: {field + ': ' if field else ''}{reason}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"neutrino provider: {exc}", file=sys.stderr)
        return 2
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
        # NOTE: closing an idle TLS keep-alive connection waits for the client's close_notify, which a pooled
        # client (the engine's, an agent's) reads only on its next request: bound the wait (asyncio's is 30 s)
        timeout_graceful_shutdown=3 if tls else None,
        **tls,
    )
    return 0
