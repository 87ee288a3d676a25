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

from starlette.applications import Starlette

from neutrino.agent.api import routes
from neutrino.agent.datapath.dhcp import DhcpServers, Launcher, MemoryLauncher, ProcessLauncher
from neutrino.agent.datapath.firewall import Firewall
from neutrino.agent.datapath.hostnet import HostNet
from neutrino.agent.datapath.iproute import IpRouteNet
from neutrino.agent.datapath.memory import MemoryNet
from neutrino.agent.datapath.vswitch import MemoryOvsDb, OvsDb, VsctlOvsDb
from neutrino.agent.dhcp_service import DhcpService
from neutrino.agent.host_agent import HostAgent
from neutrino.agent.identity import HostIdentity
from neutrino.agent.internal_networks import InternalNetworks
from neutrino.agent.neutron_follower import NeutronFollower, Prefetcher
from neutrino.agent.neutron_link import NeutronLink, connect
from neutrino.agent.plugging import Plugging
from neutrino.agent.port_security import PortSecurity
from neutrino.agent.reporting import Reporter
from neutrino.agent.settings import AgentSettings
from neutrino.agent.state import HostStore, StateFile
from neutrino.agent.vm.base import BackendContext, VmBackend
from neutrino.agent.vm.libvirt_domain import LibvirtBackend
from neutrino.agent.vm.netns import NetnsBackend
from neutrino.agent.vnic.base import DriverContext, load_drivers

VM_BACKENDS: dict[str, type[VmBackend]] = {"libvirt": LibvirtBackend, "netns": NetnsBackend}


def build_agent(
    settings: AgentSettings, host_net: HostNet | None = None, link: NeutronLink | None = None
) -> HostAgent:
    """The :class:`HostAgent` the settings describe (``host_net`` overrides ``settings.host_net``);
    with a ``link`` to the network provider, its follower and reporter too (threads not started)."""
    if host_net is None:
        host_net = MemoryNet() if settings.host_net == "memory" else IpRouteNet()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    firewall = Firewall(host_net) if settings.firewall == "iptables" else None
    ovs: OvsDb = MemoryOvsDb() if settings.host_net == "memory" else VsctlOvsDb(settings.ovs_db)
    drivers = load_drivers(
        settings.vnic_drivers,
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
            ovs_datapath_type=settings.ovs_datapath_type,
            integration_bridge=settings.integration_bridge,
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
    prefetcher = Prefetcher(link, security, wake) if link is not None else None
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
    )
    if link is not None:
        agent.follower = NeutronFollower(
            link,
            identity,
            vms,
            security,
            dhcp,
            wake,
            settings.sync_interval,
            serve_dhcp=settings.provider_dhcp,
        )
        agent.reporter = Reporter(link, identity, store, drivers, vms, dhcp, settings.report_interval)
    return agent


def create_app(settings: AgentSettings, *, host_net: HostNet | None = None) -> Starlette:
    """The agent's ASGI application. On startup it replays its saved state onto the host; with
    a provider URL it then reports to the provider and syncs security groups and DHCP with it
    (:class:`~neutrino.agent.neutron_follower.NeutronFollower`) in background threads."""
    if settings.token is None or not settings.token.get_secret_value():
        raise ValueError("the agent needs a token (--token or NEUTRINO_AGENT_TOKEN)")
    link = None
    if settings.provider_url:
        password = settings.provider_password.get_secret_value() if settings.provider_password else None
        link = connect(
            settings.provider_url,
            username=settings.provider_username,
            password=password,
            project=settings.provider_project,
            domain=settings.provider_domain,
            auth_url=settings.provider_auth_url,
        )
    agent = build_agent(settings, host_net, link)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(agent.recover)
        agent.start()
        try:
            yield
        finally:
            await run_in_threadpool(agent.stop)
            if link is not None:
                link.close()

    app = Starlette(
        routes=routes.ROUTES,
        middleware=[routes.auth_middleware(settings.token.get_secret_value())],
        exception_handlers=routes.EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.agent = agent
    app.state.settings = settings
    return app
