"""`neutrino up`: Neutrino on its embedded defaults, each program in a process of its own.

Starts the engine (oVirt API) on https://127.0.0.1:8443 and the embedded network provider (Neutron v2.0 +
Keystone) on https://127.0.0.1:9696, each with SQLite under ``--data-dir``, and registers the provider in the
engine as oVirt's setup registers its OVN provider: Keystone v3 authentication as a service user of the
provider, auto-sync on, and the ``Default`` cluster's default network provider. A local host agent
(127.0.0.1:54321) joins them and is enrolled as host ``local`` of the ``Default`` cluster, so VMs run out of
the box. ``--datapath auto`` (the default) gives it the real datapath when it can have one — root, and a kernel
that makes network namespaces and bridges, with dnsmasq and busybox installed: VMs are network namespaces
plugged by the ``linux_bridge`` driver, with DHCP and security groups — and otherwise an in-memory one (vNIC
driver ``noop``, libvirt domain XML files) that touches nothing in the kernel. It says which, and why.

All three serve HTTPS with the engine's PKI (``neutrino.engine.pki``): the engine's CA (``DATA_DIR/engine/pki/
ca.pem``, also at the PKI resource on http://127.0.0.1:8080) signs the provider's and the agent's
certificates (``DATA_DIR/tls``); the engine trusts the provider through that CA (imported with the provider)
and the agent through its own CA; the agent trusts the provider the same way. ``--insecure-http`` (or
``NEUTRINO_INSECURE_HTTP=1``) serves all three over plain HTTP instead. It prints which, and the CA's path.

``--backend ovn`` (root) makes the network distributed: it first starts OVN central and, unless the
system's runs, an Open vSwitch for the local host, as child processes with their files under
``DATA_DIR/ovn`` (:mod:`neutrino.up_ovn`); the provider writes OVN's northbound and lists the southbound's
chassis as agents; the local agent runs in OVN mode (the host an OVN chassis, its ovn-controller
supervised by the agent, VMs as network namespaces on ``br-int``, OVN serving DHCP and security groups);
and the provider is registered with plugin type ``OPEN_VSWITCH``. Stopping ``neutrino up`` stops the
local ovn-controller first (its chassis leaves the southbound), then every daemon it started.

Once bootstrapped, the engine, the provider and the agent are served each by a child process of its own
(forked, so each has its own interpreter lock and the engine's work does not wait for the provider's on a
machine with more than one core); ``neutrino up`` supervises them: one that ends ends the others, and a
SIGTERM or SIGINT stops them all. ``--one-process`` serves the three in this process instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import os
import secrets
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neutrino.private_files import private_dir

if TYPE_CHECKING:
    from neutrino.up_ovn import OvnStack

PROVIDER_NAME = "neutrino-provider"
LOCAL_HOST = "local"
SERVICE_PROJECT = "service"
SERVICE_USER = "neutrino-engine"
#: the plugin type the embedded provider is registered with, by backend
PLUGIN_TYPES = {"builtin": "LINUX_BRIDGE", "ovn": "OPEN_VSWITCH"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default="data", type=Path, help="state directory (default %(default)s)")
    parser.add_argument(
        "--engine-listen", default="127.0.0.1:8443", help="engine HOST:PORT (default %(default)s)"
    )
    parser.add_argument(
        "--engine-http-listen",
        default="127.0.0.1:8080",
        help="the engine's plain-HTTP HOST:PORT serving only its CA (pki-resource); '' for none "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--insecure-http",
        action="store_true",
        default=None,
        help="serve all three over plain HTTP, no TLS (also NEUTRINO_INSECURE_HTTP=1)",
    )
    parser.add_argument(
        "--provider-listen", default="127.0.0.1:9696", help="network provider HOST:PORT (default %(default)s)"
    )
    parser.add_argument(
        "--agent-listen", default="127.0.0.1:54321", help="local host agent HOST:PORT (default %(default)s)"
    )
    parser.add_argument(
        "--one-process",
        action="store_true",
        help="serve the engine, the provider and the agent in this process (default: a child process each)",
    )
    parser.add_argument(
        "--datapath",
        choices=["auto", "kernel", "memory"],
        default="auto",
        help="the local agent's datapath: kernel (root: namespaces, bridges, VXLAN, DHCP), memory "
        "(touches nothing), or auto: kernel when possible (default %(default)s)",
    )
    parser.add_argument(
        "--provider-sync-interval",
        default=None,
        type=float,
        help="seconds between synchronizations with the provider (default 300)",
    )
    parser.add_argument(
        "--backend",
        choices=["builtin", "ovn"],
        default="builtin",
        help="the network backend: builtin (the agents follow the provider; one machine or a handful) or "
        "ovn (root: OVN central and the local OVN chassis started here; many hosts) (default %(default)s)",
    )
    ovn = parser.add_argument_group("--backend ovn")
    ovn.add_argument(
        "--ovn-nb-listen",
        default="127.0.0.1:6641",
        metavar="HOST:PORT",
        help="TCP remote of OVN's northbound, besides its unix socket; '' for none (default %(default)s)",
    )
    ovn.add_argument(
        "--ovn-sb-listen",
        default="127.0.0.1:6642",
        metavar="HOST:PORT",
        help="TCP remote of OVN's southbound, which other chassis connect to; '' for none "
        "(default %(default)s)",
    )
    ovn.add_argument(
        "--ovn-encap-ip",
        default=None,
        metavar="IP",
        help="the local chassis' tunnel address (default: the host of --ovn-sb-listen, else 127.0.0.1)",
    )
    ovn.add_argument(
        "--local-ovs",
        choices=["auto", "system", "own"],
        default="auto",
        help="the local chassis' Open vSwitch: the system's (/run/openvswitch), our own in DATA_DIR/ovn/ovs "
        "(where no system one runs, or in a network namespace of its own), or auto: the system's when it runs "
        "(default %(default)s)",
    )


@dataclass
class Service:
    name: str
    # makes the ASGI app: called where it is served (in its own process, after the fork), so no thread,
    # connection or lock of the app is made before the fork
    build: Callable[[], Any]
    listen: str
    # run once every service answers (e.g. enroll the local agent as a host)
    after_start: Any = None
    # uvicorn's ssl_certfile/ssl_keyfile; empty: plain HTTP
    tls: dict[str, str] = field(default_factory=dict)
    # services of one process name are served by one child process (default: the service's own name)
    process: str = ""

    @functools.cached_property
    def app(self) -> Any:
        return self.build()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.listen}"

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host, int(port)


def build_services(args: argparse.Namespace, ovn: OvnStack | None = None) -> list[Service]:
    """The engine (and its plain-HTTP PKI listener), the provider and the local agent (with ``ovn``: on that
    OVN central and local OVS), on TLS from the engine's PKI unless plain HTTP was asked for."""
    from neutrino.engine import cli as engine_cli
    from neutrino.engine.app import create_app as create_engine_app
    from neutrino.engine.app import create_http_app
    from neutrino.engine.bootstrap import build as build_engine

    engine_args = argparse.Namespace(
        listen=args.engine_listen,
        http_listen=getattr(args, "engine_http_listen", ""),
        insecure_http=getattr(args, "insecure_http", None),
        db=None,
        data_dir=args.data_dir / "engine",
        mac_pool_range=None,
        provider_sync_interval=args.provider_sync_interval,
        janitor_interval=None,
        host_monitor_interval=None,
    )
    settings = engine_cli.settings_from(engine_args)
    engine = build_engine(settings)
    tls = _LocalTls(args, engine) if not settings.insecure_http else None
    provider_settings, password = _bootstrap_provider(args, ovn, tls)
    engine_cli.announce(engine)
    _register_provider(
        engine.ctx,
        args.provider_listen,
        password,
        PLUGIN_TYPES[getattr(args, "backend", "builtin")],
        ca_pem=tls.ca_pem if tls else None,
    )

    from neutrino.provider.app import create_app as create_provider_app

    agent_app, token = _local_agent(args, password, ovn, tls)
    services = [
        # the engine enrolls the local agent: in the engine's process, once the agent answers
        Service("engine", lambda: create_engine_app(settings, engine), args.engine_listen,
                after_start=lambda: _enroll_local_host(engine.ctx, args.agent_listen, token),
                tls=engine_cli.tls_options(engine)),
        Service("provider", lambda: create_provider_app(provider_settings), args.provider_listen,
                tls=provider_settings.tls_options()),
        Service("agent", agent_app, args.agent_listen, tls=tls.options("agent") if tls else {}),
    ]  # fmt: skip
    if settings.http_host_port is not None:
        services.append(
            Service(
                "engine CA", lambda: create_http_app(settings, engine), settings.http_listen, process="engine"
            )
        )
    return services


class _LocalTls:
    """The certificates ``neutrino up`` serves with: the provider's and the agent's issued by the engine's
    CA for the addresses they listen on (kept in ``DATA_DIR/tls`` while valid)."""

    def __init__(self, args: argparse.Namespace, engine: Any) -> None:
        from neutrino.engine import pki

        self.pki, self.directory = engine.pki, args.data_dir / "tls"
        self.ca_file: Path = engine.pki.ca_cert.resolve()
        self.ca_pem: str = engine.pki.ca_pem()
        self._pairs = {
            name: pki.issue_server_pair(self.pki, self.directory, name, pki.host_names(_host(listen)))
            for name, listen in (("provider", args.provider_listen), ("agent", args.agent_listen))
        }

    def files(self, name: str) -> tuple[Path, Path]:
        return self._pairs[name]

    def options(self, name: str) -> dict[str, str]:
        cert, key = self._pairs[name]
        return {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}


def _host(listen: str) -> str:
    return listen.rpartition(":")[0].strip("[]")


def _local_agent(
    args: argparse.Namespace,
    provider_password: str,
    ovn: OvnStack | None = None,
    tls: _LocalTls | None = None,
) -> tuple[Callable[[], Any], str]:
    """What makes the local host agent's app, and its API token (made once, kept in its data dir)."""
    from neutrino.agent.app import create_app as create_agent_app
    from neutrino.agent.settings import AgentSettings

    data_dir: Path = private_dir(args.data_dir / "agent")
    token_file = data_dir / "token"
    if not token_file.exists():
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(24))
    token = token_file.read_text().strip()
    from pydantic import SecretStr

    if ovn is not None:
        datapath, message = _ovn_chassis(args, ovn)
    else:
        datapath, message = _builtin_datapath(args)
    scheme = "https" if tls else "http"
    cert, key = tls.files("agent") if tls else (None, None)
    settings = AgentSettings(
        listen=args.agent_listen,
        tls_cert=cert,
        tls_key=key,
        insecure_http=tls is None,
        data_dir=data_dir,
        token=SecretStr(token),
        host_name=LOCAL_HOST,
        provider_url=f"{scheme}://{args.provider_listen}",
        provider_ca_file=tls.ca_file if tls else None,
        provider_username=SERVICE_USER,
        provider_password=SecretStr(provider_password),
        provider_project=SERVICE_PROJECT,
        **datapath,
    )
    print(f"neutrino up: local host agent at {scheme}://{args.agent_listen} {message}", flush=True)
    return (lambda: create_agent_app(settings)), token


def _builtin_datapath(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """The local agent's datapath settings with the builtin backend, and what to tell the user."""
    kernel, why = _kernel_datapath(getattr(args, "datapath", "auto"))
    if kernel:
        datapath = {
            "host_net": "kernel",
            "vm_backend": "netns",
            "guest_dhcp": True,
            "vnic_drivers": {"LINUX_BRIDGE": "linux_bridge", "OPEN_VSWITCH": "noop"},
        }
        return datapath, (
            "with the kernel datapath: VMs are network namespaces, LINUX_BRIDGE vNICs on Linux bridges "
            f"(linux_bridge driver, DHCP, security groups); OPEN_VSWITCH vNICs: noop ({why})"
        )
    memory = {"host_net": "memory", "vm_backend": "libvirt", "guest_dhcp": False}
    return memory, f"with an in-memory datapath (vNIC driver noop, libvirt domain XML files): {why}"


def _ovn_chassis(args: argparse.Namespace, ovn: OvnStack) -> tuple[dict[str, Any], str]:
    """The local agent's settings in OVN mode (the host an OVN chassis of ``ovn``'s central), and what
    to tell the user."""
    encap_ip = encap_address(args)
    datapath = {
        "host_net": "kernel",
        "vm_backend": "netns",
        "guest_dhcp": True,
        "ovn_remote": f"unix:{ovn.central.sb_socket}",
        "ovn_encap_ip": encap_ip,
        "ovs_rundir": ovn.ovs_rundir,
        # with our own Open vSwitch, a system ovn-controller (serving the system's) is not this chassis'
        "ovn_rundir": ovn.ovn_rundir,
    }
    return datapath, (
        f"as OVN chassis '{LOCAL_HOST}' (tunnel address {encap_ip}; its ovn-controller run by the agent unless "
        "the system runs one): VMs are network namespaces, OPEN_VSWITCH vNICs on br-int; OVN serves DHCP "
        "and applies security groups"
    )


def encap_address(args: argparse.Namespace) -> str:
    """The local chassis' tunnel address: ``--ovn-encap-ip``, else the southbound's listening host."""
    if args.ovn_encap_ip:
        return str(args.ovn_encap_ip)
    host = args.ovn_sb_listen.rpartition(":")[0].strip("[]")
    if host in ("0.0.0.0", "::"):
        raise SystemExit(
            f"neutrino up: --ovn-encap-ip: required with --ovn-sb-listen {args.ovn_sb_listen} "
            "(the local chassis' tunnel address, one the other chassis reach)"
        )
    return host or "127.0.0.1"


def _kernel_datapath(choice: str) -> tuple[bool, str]:
    """Whether the local agent gets the kernel datapath, and why (or why not)."""
    import shutil
    import subprocess

    if choice == "memory":
        return False, "--datapath memory"
    missing = [tool for tool in ("ip", "dnsmasq", "busybox", "iptables") if shutil.which(tool) is None]
    reason = ""
    if os.geteuid() != 0:
        reason = "not running as root"
    elif missing:
        reason = f"missing {', '.join(missing)} (Debian: iproute2, dnsmasq-base, busybox, iptables)"
    else:
        probe = f"neutrino-probe-{os.getpid()}"
        steps = [
            ["ip", "netns", "add", probe],
            ["ip", "-n", probe, "link", "add", "probe0", "type", "bridge"],
        ]
        try:
            for cmd in steps:
                done = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    reason = f"the kernel refused `{' '.join(cmd)}`: {done.stderr.strip()}"
                    break
        finally:
            subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False)
    if reason:
        if choice == "kernel":
            raise SystemExit(f"neutrino up: --datapath kernel is not possible here: {reason}")
        return False, reason
    return True, "Open vSwitch is not set up by neutrino up"


def _enroll_local_host(ctx: Any, agent_listen: str, token: str) -> None:
    """Enroll the local agent as host ``local`` of the Default cluster (once; later, keep its address current)."""
    from neutrino.engine.commands import hosts
    from neutrino.engine.commands.common import Ref

    host, _, port = agent_listen.rpartition(":")
    with ctx.reader() as uow:
        existing = uow.hosts.first(name=LOCAL_HOST)
        default = uow.clusters.first(name="Default")
    if existing is not None:
        hosts.update_host(
            ctx, existing.id, hosts.HostChanges(address=host, port=int(port), root_password=token)
        )
        return
    if default is None:
        print("neutrino up: no Default cluster; the local agent is not enrolled as a host", flush=True)
        return
    added = hosts.add_host(ctx, LOCAL_HOST, host, Ref(id=default.id), port=int(port), root_password=token)
    print(
        f"neutrino up: enrolled the local agent as host '{LOCAL_HOST}' (status: {added.status.value})",
        flush=True,
    )


def _bootstrap_provider(
    args: argparse.Namespace, ovn: OvnStack | None = None, tls: _LocalTls | None = None
) -> tuple[Any, str]:
    """Migrate the provider, create its admin, and the engine's service user (password kept in the data dir)."""
    from neutrino.provider import cli as provider_cli
    from neutrino.provider.app import bootstrap

    provider_args = argparse.Namespace(
        listen=args.provider_listen, db="", data_dir=args.data_dir / "provider", no_auth=False, public_url=""
    )
    if tls is not None:
        provider_args.tls_cert, provider_args.tls_key = tls.files("provider")
    else:
        provider_args.insecure_http = True
    backend = ""
    if ovn is not None:
        provider_args.backend = "ovn"
        provider_args.ovn_nb_connection = f"unix:{ovn.central.nb_socket}"
        provider_args.ovn_sb_connection = f"unix:{ovn.central.sb_socket}"
        backend = (
            f", backend ovn (northbound {provider_args.ovn_nb_connection}, "
            f"southbound {provider_args.ovn_sb_connection})"
        )
    settings = provider_cli.settings_from(provider_args)
    result = bootstrap(settings)
    print(
        f"neutrino provider: Neutron v2.0 and Keystone v3 at {'https' if tls else 'http'}://{args.provider_listen}"
        f"{backend}",
        flush=True,
    )
    if result.admin_password:
        print(
            f"neutrino provider: created user 'admin' (project 'admin') with password: {result.admin_password}",
            flush=True,
        )
    return settings, _ensure_service_user(settings)


def _ensure_service_user(settings: Any) -> str:
    import sqlalchemy as sa

    from neutrino.provider.identity import service
    from neutrino.provider.store import tables as t
    from neutrino.provider.store.db import Database

    secret_file: Path = settings.data_dir / "engine-user.secret"
    db = Database(settings.database_url(), pool_size=1)
    try:
        with db.uow() as uow:
            exists = uow.one_or_none(sa.select(t.users.c.id).where(t.users.c.name == SERVICE_USER))
            if exists is not None and secret_file.exists():
                return secret_file.read_text().strip()
            if exists is not None:
                raise SystemExit(
                    f"neutrino up: provider user '{SERVICE_USER}' exists but {secret_file} is gone"
                )
            project = uow.one_or_none(sa.select(t.projects.c.id).where(t.projects.c.name == SERVICE_PROJECT))
            project_id = (
                project.id if project else service.create_project(uow, SERVICE_PROJECT, "Service users")
            )
            password = secrets.token_urlsafe(18)
            # admin in its project, as OpenStack's service users are: the engine may bind ports to hosts
            service.create_user(uow, SERVICE_USER, password, project_id, roles=("admin", "member", "reader"))
            fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(password)
            uow.commit()
            return password
    finally:
        db.dispose()


def _register_provider(
    ctx: Any,
    provider_listen: str,
    password: str,
    plugin_type: str = "LINUX_BRIDGE",
    ca_pem: str | None = None,
) -> None:
    """Register the embedded provider once; a user's later changes to it are kept, except that the
    plugin type follows the backend when it is the other backend's (a data dir started anew with
    another ``--backend``), and the URL's scheme and the trusted CA follow TLS (``ca_pem``: https with
    that CA imported; None: plain http)."""
    from neutrino.engine.commands import clusters, providers
    from neutrino.engine.commands.common import Ref

    with ctx.reader() as uow:
        existing = uow.providers.first(name=PROVIDER_NAME)
        default = uow.clusters.first(name="Default")
    url = f"{'https' if ca_pem else 'http'}://{provider_listen}"
    if existing is not None:
        _follow_tls(ctx, existing, url, ca_pem)
        if (
            existing.effective_plugin_type != plugin_type
            and existing.effective_plugin_type in PLUGIN_TYPES.values()
        ):
            providers.update_provider(
                ctx,
                existing.id,
                providers.ProviderChanges(plugin_type=None, external_plugin_type=plugin_type),
            )
            print(
                f"neutrino up: provider '{PROVIDER_NAME}' now has plugin type {plugin_type} "
                f"(was {existing.effective_plugin_type})",
                flush=True,
            )
        return
    provider = providers.add_provider(
        ctx,
        PROVIDER_NAME,
        password,
        description="Neutrino's embedded network provider",
        url=url,
        requires_authentication=True,
        username=SERVICE_USER,
        authentication_url=f"{url}/v3",
        project_name=SERVICE_PROJECT,
        user_domain_name="Default",
        project_domain_name="Default",
        external_plugin_type=plugin_type,
        auto_sync=True,
    )
    if ca_pem:
        providers.import_certificates(ctx, provider.id, [ca_pem])
    if default is not None:
        clusters.update_cluster(
            ctx, default.id, clusters.ClusterChanges(default_provider=Ref(id=provider.id))
        )
    print(
        f"neutrino up: registered provider '{PROVIDER_NAME}' ({url}, plugin type {plugin_type}, auto-sync) as "
        "the Default cluster's network provider",
        flush=True,
    )


def _follow_tls(ctx: Any, existing: Any, url: str, ca_pem: str | None) -> None:
    """A data dir started before with the other choice of TLS: the embedded provider's URLs take this
    start's scheme, and with TLS the engine's CA is what the engine trusts for it."""
    from neutrino.engine.commands import providers

    if existing.url.split("://")[0] != url.split("://")[0]:
        providers.update_provider(
            ctx, existing.id, providers.ProviderChanges(url=url, authentication_url=f"{url}/v3")
        )
        print(f"neutrino up: provider '{PROVIDER_NAME}' now at {url}", flush=True)
    if ca_pem and existing.ca_certificates != [ca_pem]:
        providers.import_certificates(ctx, existing.id, [ca_pem])


async def serve(services: list[Service], everyone: list[Service] | None = None) -> None:
    """Serve ``services`` until a signal ends them; their ``after_start`` runs once they and ``everyone``
    (all of ``neutrino up``'s services, some served by other processes) answer."""
    import uvicorn

    servers = []
    for svc in services:
        host, port = svc.host_port
        # NOTE: an idle TLS keep-alive connection closes only when its client reads close_notify: bound the wait
        tls: dict[str, Any] = dict(svc.tls)
        config = uvicorn.Config(svc.app, host=host, port=port, log_level="warning",
                                timeout_graceful_shutdown=3 if tls else None, **tls)  # fmt: skip
        servers.append(uvicorn.Server(config))

    async def after_start() -> None:
        if not any(svc.after_start is not None for svc in services):
            return
        while not all(s.started for s in servers):
            if any(s.should_exit for s in servers):
                return
            await asyncio.sleep(0.05)
        others = [svc for svc in everyone or [] if svc not in services]
        if not await asyncio.to_thread(_answering, others, lambda: any(s.should_exit for s in servers)):
            return
        for svc in services:
            if svc.after_start is not None:
                await asyncio.to_thread(svc.after_start)

    await asyncio.gather(*(s.serve() for s in servers), after_start())


def _tls_summary(services: list[Service], data_dir: Path) -> str:
    """What a user needs to connect: the CA's path (and how the SDK and the CLI take it), or that there is
    no TLS."""
    if not services[0].tls:
        return "plain HTTP, no TLS (--insecure-http): passwords and tokens cross the network in clear"
    ca = (data_dir / "engine" / "pki" / "ca.pem").resolve()
    return (
        f"TLS with Neutrino's own PKI; CA certificate: {ca} "
        f"(ovirtsdk4: ca_file='{ca}'; openstack: --os-cacert {ca}; curl: --cacert {ca})"
    )


def _answering(services: list[Service], stopping: Callable[[], bool], timeout: float = 120.0) -> bool:
    """Wait until each service accepts connections (served by another process); False if ``stopping``
    or the time is up."""
    deadline = time.monotonic() + timeout
    for svc in services:
        while True:
            try:
                with socket.create_connection(svc.host_port, timeout=1.0):
                    break
            except OSError:
                if stopping() or time.monotonic() > deadline:
                    return False
                time.sleep(0.05)
    return True


FIRST = "provider"  # the process serve_apart starts before the others


def serve_apart(services: list[Service]) -> int:
    """Serve each process' services in a child of its own and supervise them until a signal stops this
    process or one of them ends (then the others are stopped): 0 after a signal, 1 when one ended."""
    groups: dict[str, list[Service]] = {}
    for svc in services:
        groups.setdefault(svc.process or svc.name, []).append(svc)
    children: dict[int, str] = {}
    status = 0
    try:
        # the provider first, and answering before the others start: the agent reports to it at its start
        # (else `openstack network agent list` shows no agent until its next report) and the engine asks it
        for name, group in sorted(groups.items(), key=lambda item: item[0] != FIRST):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child; measured by the tests that run `neutrino up`
                _serve_child(name, group, services)
            children[pid] = name
            if name == FIRST:
                _answering(group, functools.partial(_exited, pid))
        pid, how = os.wait()
        name = children.pop(pid)
        print(f"neutrino up: the {name} process ended ({_ended(how)}); stopping the others", flush=True)
        status = 1
    except (KeyboardInterrupt, _Stopped):
        pass
    finally:
        _stop_children(children)
    return status


def _serve_child(name: str, group: list[Service], everyone: list[Service]) -> None:  # pragma: no cover
    """In a forked child: serve ``group`` and exit (never returns)."""
    code = 0
    try:
        from neutrino.up_ovn import _die_with_parent

        _die_with_parent()  # a `neutrino up` killed with SIGKILL leaves no server behind
        _forget_inherited_connections()
        asyncio.run(serve(group, everyone))
    except (KeyboardInterrupt, _Stopped):
        pass
    except BaseException:
        print(f"neutrino up: the {name} process failed:", file=sys.stderr, flush=True)
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _exited(pid: int) -> bool:
    """Whether child ``pid`` has ended, leaving it to be reaped (``WNOWAIT``)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _forget_inherited_connections() -> None:  # pragma: no cover - runs in a forked child
    """The database connections the bootstrap left in its pools are the parent's: each child opens its own
    (SQLAlchemy's advice for a fork: ``dispose(close=False)`` drops them without closing the parent's)."""
    import sqlalchemy as sa

    for obj in gc.get_objects():
        if isinstance(obj, sa.Engine):
            obj.dispose(close=False)


def _ended(how: int) -> str:
    if os.WIFSIGNALED(how):
        return f"signal {signal.Signals(os.WTERMSIG(how)).name}"
    return f"exit status {os.WEXITSTATUS(how)}"


def _stop_children(children: dict[int, str], timeout: float = 25.0) -> None:
    """SIGTERM each child still running, then wait for it; SIGKILL the ones that outlast ``timeout``. A
    second SIGTERM or SIGINT meanwhile does not cut the wait short (the children got it too)."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    waiting = dict(children)
    while waiting:
        for pid in list(waiting):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                del waiting[pid]
        if not waiting:
            break
        if time.monotonic() > deadline:
            for pid, name in waiting.items():
                print(f"neutrino up: the {name} process did not stop in {timeout:g} s: killed", flush=True)
                try:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except (ProcessLookupError, ChildProcessError):
                    pass
            break
        time.sleep(0.05)


class _Stopped(Exception):
    """SIGTERM, once the servers have shut down (uvicorn raises the signal again when it is done)."""


def _stopped(signum: int, frame: Any) -> None:
    raise _Stopped


def start_ovn(args: argparse.Namespace) -> OvnStack:
    """OVN central and, unless the system's runs (``--local-ovs``), the local Open vSwitch, started;
    a clear exit when that is not possible here."""
    from neutrino import up_ovn

    why = up_ovn.missing()
    if why is None and getattr(args, "datapath", "auto") == "memory":
        why = "its local chassis needs the kernel datapath, not --datapath memory"
    if why is not None:
        raise SystemExit(f"neutrino up: --backend ovn is not possible here: {why}")
    base = args.data_dir.resolve() / "ovn"
    system = up_ovn.system_ovs_running()
    if args.local_ovs == "system" and not system:
        raise SystemExit(
            f"neutrino up: --local-ovs system: the system's Open vSwitch does not run ({up_ovn.SYSTEM_OVS_RUNDIR})"
        )
    use_system = system and args.local_ovs != "own"
    try:
        stack = up_ovn.OvnStack(
            central=up_ovn.Central(
                base / "central",
                up_ovn.split_listen("--ovn-nb-listen", args.ovn_nb_listen),
                up_ovn.split_listen("--ovn-sb-listen", args.ovn_sb_listen),
            ),
            ovs=None if use_system else up_ovn.OwnOvs(base / "ovs"),
        )
        stack.start()
    except up_ovn.OvnStartError as exc:
        raise SystemExit(f"neutrino up: --backend ovn: {exc}") from exc
    for line in stack.describe():
        print(f"neutrino up: {line}", flush=True)
    return stack


def run(args: argparse.Namespace) -> int:
    # uvicorn re-raises a SIGTERM it handled once its servers are down: end here, not by the signal,
    # so what runs beside the servers (OVN) is stopped too
    signal.signal(signal.SIGTERM, _stopped)
    ovn: OvnStack | None = None
    status = 0
    private_dir(args.data_dir)  # 0700: the three programs' keys, tokens and databases are below it
    try:
        if getattr(args, "backend", "builtin") == "ovn":
            ovn = start_ovn(args)
        services = build_services(args, ovn)
        print("neutrino up: serving " + ", ".join(f"{s.name} on {s.url}" for s in services), flush=True)
        print(f"neutrino up: {_tls_summary(services, args.data_dir)}", flush=True)
        if getattr(args, "one_process", False):
            asyncio.run(serve(services))
        else:
            status = serve_apart(services)
    except (KeyboardInterrupt, _Stopped):
        pass
    finally:
        if ovn is not None:
            stopped = ovn.stop()
            print(f"neutrino up: stopped {', '.join(stopped) or 'nothing (all had exited)'}", flush=True)
    return status
