"""``neutrino agent``: run the host agent (the agent API over HTTP or a unix socket)."""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key or not value:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _mapping(text: str) -> tuple[str, str]:
    key, sep, value = text.partition(":")
    if not sep or not key or not value:
        raise argparse.ArgumentTypeError(f"expected PHYSNET:INTERFACE, got {text!r}")
    return key, value


def _mappings(text: str) -> dict[str, str]:
    return dict(_mapping(item) for item in text.split(",") if item)


#: seconds a TLS server's shutdown waits for its connections and requests before it cancels them
TLS_SHUTDOWN_SECONDS = 3


def configure(parser: argparse.ArgumentParser) -> None:
    """The agent's command-line arguments; unset ones fall back to ``NEUTRINO_AGENT_*``."""
    add = parser.add_argument
    add(
        "--config",
        metavar="FILE",
        help="TOML file with any of these options (by field name, e.g. provider_url); "
        "arguments and NEUTRINO_AGENT_* override it",
    )
    add("--listen", help="HOST:PORT or unix:PATH to serve the agent API on (default 127.0.0.1:54321)")
    add(
        "--tls-cert",
        help="PEM certificate chain to serve HTTPS with (default: the engine issues one when it adds the host)",
    )
    add("--tls-key", help="PEM private key of --tls-cert")
    add(
        "--insecure-http",
        action="store_true",
        default=None,
        help="serve plain HTTP on a TCP --listen (also NEUTRINO_INSECURE_HTTP=1)",
    )
    add(
        "--cert-renew-days",
        type=float,
        help="ask the engine for a new certificate once the one it issued has fewer days left (default 30)",
    )
    add("--data-dir", help="where the agent keeps its state (default /var/lib/neutrino/agent)")
    add("--token", help="the API token clients must send (default $NEUTRINO_AGENT_TOKEN)")
    add("--host-name", help="this host's name (default: the system host name)")
    add(
        "--vnic-driver",
        action="append",
        type=_pair,
        metavar="PLUGIN_TYPE=DRIVER",
        help="plug PLUGIN_TYPE vNICs with DRIVER (repeatable; default LINUX_BRIDGE=noop OPEN_VSWITCH=noop)",
    )
    add(
        "--binding-host-id",
        action="append",
        type=_pair,
        metavar="PLUGIN_TYPE=ID",
        help="binding:host_id to report for PLUGIN_TYPE (default: the host name)",
    )
    add(
        "--vm-backend",
        choices=["libvirt", "netns"],
        help="what runs guests (default libvirt: domain XML files)",
    )
    add("--host-net", choices=["kernel", "memory"], help="touch the kernel, or only an in-memory model")
    add("--tunnel-ip", help="this host's VXLAN tunnel (underlay) address")
    add("--vxlan-peer", action="append", metavar="IP", help="another host's tunnel address (repeatable)")
    add("--vxlan-port", type=int, help="VXLAN UDP port (default 4789)")
    add("--underlay-dev", help="the device VXLAN traffic leaves by")
    add("--underlay-mtu", type=int, help="MTU of the underlay (default 1500; VXLAN networks get 50 less)")
    add(
        "--physical-interface-mapping",
        action="append",
        type=_mapping,
        metavar="PHYSNET:INTERFACE",
        help="host interface of a flat physical network (repeatable)",
    )
    add("--netns-prefix", help="name prefix of guest namespaces (netns backend; default nvm-)")
    add("--no-guest-dhcp", action="store_true", help="netns guests do not run a DHCP client")
    add(
        "--firewall",
        choices=["iptables", "none"],
        help="apply security groups with iptables (br_netfilter; default) or not at all",
    )
    add(
        "--ovs-db",
        help="OVSDB of the open_vswitch driver (default: Open vSwitch's own, unix:/run/openvswitch/db.sock)",
    )
    add("--ovs-datapath-type", help="datapath type of br-int (e.g. netdev for the userspace datapath)")
    add("--integration-bridge", help="the Open vSwitch bridge of OPEN_VSWITCH vNICs (default br-int)")
    add("--ovs-rundir", help="Open vSwitch's run dir, with its db.sock (default /run/openvswitch)")
    add(
        "--ovn-remote",
        help="OVN mode: the OVN southbound DB (tcp:IP:6642); the host becomes an OVN chassis, "
        "OVN serves DHCP and applies security groups",
    )
    add("--ovn-encap-ip", help="OVN mode: this chassis' tunnel address")
    add("--ovn-encap-type", choices=["geneve", "vxlan"], help="OVN mode: tunnel type (default geneve)")
    add(
        "--ovn-bridge-mappings",
        type=_mappings,
        metavar="PHYSNET:BRIDGE[,...]",
        help="OVN mode: the OVS bridge of each physical network",
    )
    add("--ovn-rundir", help="where the system's ovn-controller keeps its pid file (default /run/ovn)")
    add("--ovn-private-key", metavar="PEM", help="OVN mode, ssl: remote: this chassis' private key")
    add("--ovn-certificate", metavar="PEM", help="OVN mode, ssl: remote: this chassis' certificate")
    add("--ovn-ca-cert", metavar="PEM", help="OVN mode, ssl: remote: the southbound's CA certificate")
    add(
        "--provider-url",
        help="report to this network provider (Neutron endpoint, e.g. http://127.0.0.1:9696)",
    )
    add("--provider-auth-url", help="its Keystone URL, ending in /v3 or /v2.0 (default PROVIDER_URL/v3)")
    add("--provider-username", help="Keystone user (default admin)")
    add(
        "--provider-password",
        help="Keystone password (default $NEUTRINO_AGENT_PROVIDER_PASSWORD; none: no token)",
    )
    add("--provider-project", help="Keystone project (default admin)")
    add("--provider-domain", help="Keystone domain of the user and project (default Default)")
    add("--provider-ca-file", help="PEM certificates to trust for https provider and Keystone URLs")
    add("--report-interval", type=float, help="seconds between reports to the provider (default 30)")
    add(
        "--sync-interval",
        type=float,
        help="seconds between syncs with a provider without a change feed, a real Neutron (default 2)",
    )
    add(
        "--resync-interval",
        type=float,
        help="seconds between full syncs while following the provider's change feed (default 300)",
    )
    add(
        "--no-change-feed",
        dest="change_feed",
        action="store_false",
        default=None,
        help="poll the provider every --sync-interval even when it has a change feed",
    )
    add(
        "--feed-wait",
        type=float,
        help="seconds a long poll of the change feed waits (default 300, at most 300)",
    )
    add(
        "--no-provider-dhcp",
        action="store_true",
        help="serve no DHCP on provider networks (the provider's own DHCP agents do, e.g. a real Neutron's)",
    )
    add(
        "--no-l3-agent",
        action="store_true",
        help="run no routers here (by default an agent linked to a provider with a linux_bridge driver is an L3 agent)",
    )
    add("--log-level", default="info", help="uvicorn log level")


#: arguments that map one to one onto :class:`~neutrino.agent.settings.AgentSettings` fields
SCALAR_FIELDS = (
    "listen", "tls_cert", "tls_key", "insecure_http", "cert_renew_days", "data_dir", "token", "host_name", "vm_backend", "host_net", "tunnel_ip", "vxlan_port",
    "underlay_dev", "underlay_mtu", "netns_prefix", "firewall", "ovs_db", "ovs_datapath_type", "integration_bridge",
    "ovs_rundir", "ovn_remote", "ovn_encap_ip", "ovn_encap_type", "ovn_rundir", "ovn_private_key",
    "ovn_certificate", "ovn_ca_cert",
    "provider_url", "provider_auth_url", "provider_username", "provider_password", "provider_project",
    "provider_domain", "provider_ca_file", "report_interval", "sync_interval",
    "resync_interval", "feed_wait", "change_feed",
)  # fmt: skip


def settings_from_args(args: argparse.Namespace) -> object:
    from neutrino.agent.settings import AgentSettings

    given: dict[str, object] = {}
    for field in SCALAR_FIELDS:
        value = getattr(args, field, None)
        if value is not None:
            given[field] = value
    if args.vnic_driver:
        given["vnic_drivers"] = dict(args.vnic_driver)
    if args.binding_host_id:
        given["binding_host_ids"] = dict(args.binding_host_id)
    if args.vxlan_peer:
        given["vxlan_peers"] = list(args.vxlan_peer)
    if args.physical_interface_mapping:
        given["physical_interface_mappings"] = dict(args.physical_interface_mapping)
    if getattr(args, "ovn_bridge_mappings", None):
        given["ovn_bridge_mappings"] = args.ovn_bridge_mappings
    if args.no_guest_dhcp:
        given["guest_dhcp"] = False
    if getattr(args, "no_provider_dhcp", False):
        given["provider_dhcp"] = False
    if getattr(args, "no_l3_agent", False):
        given["l3_agent"] = False
    config = getattr(args, "config", None)
    if config:
        return AgentSettings.from_file(Path(config), **given)
    return AgentSettings(**given)  # type: ignore[arg-type]


def run(args: argparse.Namespace) -> int:
    """Serve the agent API until interrupted."""
    import uvicorn
    from pydantic import ValidationError

    from neutrino.agent.app import create_app
    from neutrino.agent.enrollment import Enrollment
    from neutrino.agent.settings import AgentSettings
    from neutrino.agent.vnic.base import VnicDriverError

    try:
        settings = settings_from_args(args)
        assert isinstance(settings, AgentSettings)
        bind = settings.bind()
        enrollment = None
        if settings.tls_mode == "enroll":
            enrollment = Enrollment(
                settings.data_dir / "pki",
                settings.host_name,
                renew_before=datetime.timedelta(days=settings.cert_renew_days),
            )
            # uvicorn serves with this very context: enrolling swaps its certificate in place
            context = enrollment.context
            bind["ssl_context_factory"] = lambda config, default: context
            state = (
                "enrolled by the engine"
                if enrollment.enrolled
                else "not enrolled yet: a bootstrap certificate"
            )
            print(f"neutrino agent: HTTPS, {state} ({enrollment.directory})", file=sys.stderr, flush=True)
        app = create_app(settings, enrollment=enrollment)
    except (ValidationError, ValueError, OSError, VnicDriverError) as exc:
        print(f"neutrino agent: {exc}", file=sys.stderr)
        return 2
    if settings.tls_mode in ("files", "enroll"):
        # NOTE: closing an idle TLS keep-alive connection waits for the client's close_notify, which a pooled
        # client (the engine's) reads only on its next request: bound the wait (asyncio's is 30 s)
        bind["timeout_graceful_shutdown"] = TLS_SHUTDOWN_SECONDS
    uvicorn.run(app, log_level=args.log_level, **bind)  # type: ignore[arg-type]
    return 0
