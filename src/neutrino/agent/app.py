"""Composition root of the agent: :func:`create_app` builds everything from the settings.

Nothing is built at import time. ``neutrino up`` starts a local agent with, e.g.::

    settings = AgentSettings(listen="127.0.0.1:54321", data_dir=DIR / "agent", token=TOKEN,
                             host_net="memory", vm_backend="libvirt", guest_dhcp=False)
    app = create_app(settings)          # then serve it with uvicorn (settings.bind())
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette

from neutrino import heap
from neutrino.access_log import AccessLog
from neutrino.agent.api import enrollment_routes, routes
from neutrino.agent.change_feed import FeedReader
from neutrino.agent.datapath.dhcp import DhcpServers, Launcher, MemoryLauncher, ProcessLauncher
from neutrino.agent.datapath.firewall import Firewall
from neutrino.agent.datapath.hostnet import HostNet
from neutrino.agent.datapath.iproute import IpRouteNet
from neutrino.agent.datapath.memory import MemoryNet
from neutrino.agent.datapath.router import RouterNamespaces
from neutrino.agent.datapath.vswitch import DEFAULT_OVSDB, IdlOvsDb, MemoryOvsDb, OvsDb
from neutrino.agent.dhcp_service import DhcpService
from neutrino.agent.enrollment import Enrollment
from neutrino.agent.host_agent import HostAgent
from neutrino.agent.identity import HostIdentity
from neutrino.agent.internal_networks import InternalNetworks
from neutrino.agent.l3_follower import L3Follower
from neutrino.agent.l3_routers import L3Routers
from neutrino.agent.neutron_follower import NeutronFollower, Prefetcher
from neutrino.agent.ovn_announcer import NatAnnouncer
from neutrino.agent.ovn_chassis import ControllerProcesses, OvnChassis, OvnConfig
from neutrino.agent.plugging import Plugging
from neutrino.agent.port_security import PortSecurity
from neutrino.agent.reporting import Reporter
from neutrino.agent.settings import AgentSettings
from neutrino.agent.state import HostStore, StateFile
from neutrino.agent.vm.base import BackendContext, VmBackend
from neutrino.agent.vm.libvirt_domain import LibvirtBackend
from neutrino.agent.vm.netns import NetnsBackend
from neutrino.agent.vnic.base import DriverContext, VnicDriver, load_drivers
from neutrino.http_input import Boundary
from neutrino.neutron_client import Credentials, Endpoint, NeutronClient
from neutrino.private_files import private_dir

VM_BACKENDS: dict[str, type[VmBackend]] = {"libvirt": LibvirtBackend, "netns": NetnsBackend}
#: the plugin types an agent in OVN mode plugs with the open_vswitch driver's OVN plug
OVN_VNIC_DRIVERS = {"OPEN_VSWITCH": "open_vswitch", "OVIRT_PROVIDER_OVN": "open_vswitch"}


def userspace_datapath() -> str | None:
    """``netdev`` when the kernel has no openvswitch module (Open vSwitch runs its userspace
    datapath), else None (the default, kernel datapath)."""
    return None if Path("/sys/module/openvswitch").exists() else "netdev"


def ovn_config(settings: AgentSettings, datapath_type: str | None) -> OvnConfig:
    """The chassis the settings describe (OVN mode)."""
    assert settings.ovn_remote and settings.ovn_encap_ip and settings.ovsdb
    return OvnConfig(
        system_id=settings.host_name,
        remote=settings.ovn_remote,
        encap_ip=settings.ovn_encap_ip,
        encap_type=settings.ovn_encap_type,
        bridge_mappings=dict(settings.ovn_bridge_mappings),
        integration_bridge=settings.integration_bridge,
        datapath_type=datapath_type,
        ovs_db=settings.ovsdb,
        ovs_rundir=settings.ovs_rundir,
        ovn_rundir=settings.ovn_rundir,
        run_dir=settings.data_dir / "ovn",
        private_key=settings.ovn_private_key,
        certificate=settings.ovn_certificate,
        ca_cert=settings.ovn_ca_cert,
    )


def neutron_endpoint(settings: AgentSettings) -> Endpoint:
    """The network provider as the settings name it; without a password, requests carry no token
    (a provider in no-auth mode)."""
    if not settings.provider_url:
        raise ValueError("provider_url: the agent has no network provider to reach")
    credentials = None
    if settings.provider_password and settings.provider_password.get_secret_value():
        credentials = Credentials(
            auth_url=settings.provider_auth_url or f"{settings.provider_url.rstrip('/')}/v3",
            username=settings.provider_username,
            password=settings.provider_password.get_secret_value(),
            project_name=settings.provider_project,
            user_domain_name=settings.provider_domain,
            project_domain_name=settings.provider_domain,
        )
    return Endpoint(
        url=settings.provider_url,
        credentials=credentials,
        ca_file=str(settings.provider_ca_file) if settings.provider_ca_file else None,
        connect_timeout=10,
        read_timeout=10,
    )


def build_agent(
    settings: AgentSettings, host_net: HostNet | None = None, neutron: NeutronClient | None = None
) -> HostAgent:
    """The :class:`HostAgent` the settings describe (``host_net`` overrides ``settings.host_net``);
    with a client of the network provider, its follower and reporter too (threads not started).

    In OVN mode (``settings.ovn_remote``) the host is an OVN chassis (the ``ovn`` part): vNICs of
    ``OPEN_VSWITCH`` and ``OVIRT_PROVIDER_OVN`` get the open_vswitch driver's OVN plug, and the agent
    writes no firewall and follows no provider (OVN serves DHCP and applies the groups)."""
    if host_net is None:
        host_net = MemoryNet() if settings.host_net == "memory" else IpRouteNet()
    private_dir(settings.data_dir)  # 0700: the state names every plugged port and network
    ovn = settings.ovn
    firewall = Firewall(host_net) if settings.firewall == "iptables" and not ovn else None
    ovs: OvsDb = MemoryOvsDb()
    if settings.host_net != "memory":
        # a plug is one ovsdbapp transaction on one connection kept open (made on the first plug),
        # in both modes: no ovs-vsctl process that connects and reads the whole switch three times
        ovs = IdlOvsDb(settings.ovsdb or DEFAULT_OVSDB)
    datapath_type = settings.ovs_datapath_type
    if ovn and datapath_type is None and settings.host_net == "kernel":
        datapath_type = userspace_datapath()
    vnic_drivers = {**settings.vnic_drivers, **OVN_VNIC_DRIVERS} if ovn else settings.vnic_drivers
    drivers = load_drivers(
        vnic_drivers,
        DriverContext(
            host_net=host_net,
            tunnel_ip=settings.tunnel_ip,
            vxlan_peers=tuple(settings.vxlan_peers),
            vxlan_port=settings.vxlan_port,
            underlay_dev=settings.underlay_dev,
            underlay_mtu=settings.underlay_mtu,
            physical_interfaces=dict(settings.physical_interface_mappings),
            firewall=firewall,
            ovs=ovs,
            ovs_datapath_type=datapath_type,
            integration_bridge=settings.integration_bridge,
            ovn=ovn,
        ),
    )
    backend = VM_BACKENDS[settings.vm_backend](
        BackendContext(
            host_net=host_net,
            data_dir=settings.data_dir,
            netns_prefix=settings.netns_prefix,
            guest_dhcp=settings.guest_dhcp and settings.host_net == "kernel",
            integration_bridge=settings.integration_bridge,
        )
    )
    identity = HostIdentity(
        host_name=settings.host_name,
        binding_host_ids=dict(settings.binding_host_ids),
        tunnel_ip=settings.tunnel_ip,
    )
    dhcp_dir = settings.data_dir / "dhcp"
    launcher: Launcher = MemoryLauncher() if settings.host_net == "memory" else ProcessLauncher(dhcp_dir)
    store = HostStore(StateFile(settings.data_dir / "state.json"))
    security = PortSecurity(store, drivers, firewall)
    dhcp = DhcpService(store, drivers, DhcpServers(host_net, launcher, dhcp_dir, settings.netns_prefix))
    wake = threading.Event()
    prefetcher = (
        Prefetcher(neutron, security, wake, dhcp if settings.provider_dhcp else None, identity)
        if neutron is not None and not ovn
        else None
    )
    vms = Plugging(store, backend, drivers, host_net, security, prefetcher)
    agent = HostAgent(
        identity=identity,
        store=store,
        backend=backend,
        drivers=drivers,
        vms=vms,
        networks=InternalNetworks(store, host_net),
        dhcp=dhcp,
        security=security,
        vswitch=ovs,
    )
    if ovn:
        config = ovn_config(settings, datapath_type)
        announcer = NatAnnouncer(config) if settings.host_net != "memory" else None
        # floating IPs announced at once from their gateway chassis (ovn-controller waits a second)
        agent.ovn = OvnChassis(config, ovs, ControllerProcesses(), announcer=announcer)
    elif neutron is not None:
        agent.follower = NeutronFollower(
            neutron,
            identity,
            vms,
            security,
            dhcp,
            wake,
            settings.sync_interval,
            serve_dhcp=settings.provider_dhcp,
            resync_interval=settings.resync_interval,
        )
        agent.routers, agent.l3 = _l3_agent(settings, neutron, identity, store, drivers, host_net)
        agent.reporter = Reporter(
            neutron,
            identity,
            store,
            drivers,
            vms,
            dhcp,
            settings.report_interval,
            routers=agent.routers,
            resync_interval=settings.resync_interval,
        )
        if settings.change_feed:  # one long poll of the provider's change feed for the three that follow it
            agent.changes = FeedReader(neutron, settings.feed_wait)
            for part in (agent.follower, agent.l3, agent.reporter):
                if part is not None:
                    agent.changes.subscribe(part)
    return agent


def _l3_agent(
    settings: AgentSettings,
    neutron: NeutronClient,
    identity: HostIdentity,
    store: HostStore,
    drivers: dict[str, VnicDriver],
    host_net: HostNet,
) -> tuple[L3Routers | None, L3Follower | None]:
    """The L3 part and its follower, when the settings ask for them and a plugin type's driver is
    ``linux_bridge`` (the router's legs are plugged as that type's vNICs)."""
    plugin_type = next((p for p, d in sorted(drivers.items()) if d.name == "linux_bridge"), None)
    if not settings.l3_agent or plugin_type is None:
        return None, None
    routers = L3Routers(store, drivers, RouterNamespaces(host_net, settings.netns_prefix))
    follower = L3Follower(
        neutron,
        identity,
        routers,
        plugin_type=plugin_type,
        underlay_mtu=settings.underlay_mtu,
        interface_mappings=settings.physical_interface_mappings,
        sync_interval=settings.sync_interval,
        report_interval=settings.report_interval,
        resync_interval=settings.resync_interval,
    )
    return routers, follower


def create_app(
    settings: AgentSettings, *, host_net: HostNet | None = None, enrollment: Enrollment | None = None
) -> Starlette:
    """The agent's ASGI application. On startup it replays its saved state onto the host; with
    a provider URL it then reports to the provider and syncs security groups and DHCP with it
    (:class:`~neutrino.agent.neutron_follower.NeutronFollower`) in background threads."""
    if settings.token is None or not settings.token.get_secret_value():
        raise ValueError("the agent needs a token (--token or NEUTRINO_AGENT_TOKEN)")
    neutron = NeutronClient(neutron_endpoint(settings)) if settings.provider_url else None
    agent = build_agent(settings, host_net, neutron)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(agent.recover)
        agent.start()
        try:
            with heap.settled():
                yield
        finally:
            await run_in_threadpool(agent.stop)
            if neutron is not None:
                neutron.close()

    app = Starlette(
        routes=[*routes.ROUTES, *enrollment_routes.ROUTES],
        middleware=[routes.auth_middleware(settings.token.get_secret_value())],
        exception_handlers=routes.EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.add_middleware(
        Boundary, program="agent", fault=routes.boundary_fault, max_body=settings.max_body_bytes
    )
    app.add_middleware(AccessLog, program="agent", path=settings.data_dir / "agent.log")
    app.state.agent = agent
    app.state.settings = settings
    app.state.enrollment = enrollment  # None: a certificate of its own, plain HTTP or a unix socket
    return app
