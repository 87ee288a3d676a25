"""An engine-driven lab: two host namespaces with their own agent process (linux_bridge, netns guests), the
embedded provider and the engine on the underlay, and the real ovirtsdk4 speaking to the engine from a thread
inside the underlay. Shared by the scenario system test and the first-ping benchmark.

:func:`stack` is the part that takes namespaces made elsewhere: the engine beside a provider already
running, and an agent per host with options of the caller's (the OVN lab's chassis use it, with the engine and
the provider in the OVN central's namespace)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.netlab import Lab, netns_names, sh
from tests.support.provider_lab import PASSWORD, Provider, enter_netns, provider_on_underlay

ENGINE = "10.199.0.254:8080"
ADMIN = "scenario-admin-pw"
TOKEN = "scenario-agent-token"
PROPAGATION = 5.0
HOSTS = {"host1": "1", "host2": "2"}


def eventually(what: str, check: Callable[[], bool], within: float = PROPAGATION) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > within:
            raise AssertionError(f"not within {within} s: {what}")
        time.sleep(0.1)
    return time.monotonic() - start


class InNetns:
    """Runs calls in one worker thread that joined a namespace (``setns`` moves only that thread): the SDK's
    sockets are opened inside the underlay, where the engine listens."""

    def __init__(self, ns: str) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, initializer=enter_netns, initargs=(ns,))

    def __call__(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        return self.pool.submit(fn, *args, **kw).result()

    def close(self) -> None:
        self.pool.shutdown()


class World:
    def __init__(
        self,
        lab: Lab,
        provider: Provider,
        hosts: dict[str, str],
        procs: list[subprocess.Popen[bytes]],
        run: InNetns,
        conn: Any,
        addresses: dict[str, str] | None = None,
    ) -> None:
        self.lab, self.provider, self.hosts, self.procs, self.run, self.conn = (
            lab,
            provider,
            hosts,
            procs,
            run,
            conn,
        )
        #: host name -> its agent's address (what the engine is given)
        self.addresses = addresses or {name: f"10.199.0.{octet}" for name, octet in HOSTS.items()}
        self.ips: dict[str, str] = {}
        self.vm_ids: dict[str, str] = {}
        self.nic_ids: dict[str, str] = {}

    @property
    def system(self) -> Any:
        return self.conn.system_service()

    def guest(self, vm: str) -> str:
        """The namespace of the VM's guest (the netns backend names it after the VM id)."""
        found = [ns for ns in netns_names() if ns.endswith(self.vm_ids[vm])]
        assert len(found) == 1, (vm, found)
        return found[0]

    def ping(self, src: str, dst: str, wait: float = 1) -> bool:
        """One ping from VM ``src`` to VM ``dst`` (or an address), its reply awaited ``wait`` seconds."""
        return self.lab.ping(self.guest(src), self.ips.get(dst, dst), count=1, wait=wait)

    def has_address(self, vm: str) -> bool:
        out = sh("ip", "-n", self.guest(vm), "-4", "addr", "show", check=False).stdout
        return f"{self.ips[vm]}/24" in out


def _spawn(
    lab: Lab, ns: str, name: str, argv: list[str], env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    log = open(lab.workdir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(
        ["nsenter", f"--net=/run/netns/{ns}", sys.executable, "-m", "neutrino.cli", *argv],
        stdout=log,
        stderr=subprocess.STDOUT,
        # plain HTTP, asked for (tests/conftest.py does too; benches use this stack without it)
        env={"NEUTRINO_INSECURE_HTTP": "1", **os.environ, **(env or {})},
        start_new_session=True,
    )


def _wait(run: InNetns, url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited: {log.read_text()}")
        try:
            run(httpx.get, url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer: {log.read_text()}")


@dataclass(frozen=True)
class HostSpec:
    """One host of the stack: its namespace, the address its agent listens on, and the agent's options
    beyond the common ones (how it plugs vNICs and reaches the network)."""

    ns: str
    ip: str
    args: tuple[str, ...]


@contextmanager
def engine_stack(lab: Lab, driver: str = "linux_bridge") -> Iterator[World]:
    """Everything up and the SDK connected; all stopped (by PID) afterwards. The lab removes the namespaces.

    ``driver``: the hosts plug LINUX_BRIDGE vNICs with ``linux_bridge``, or OPEN_VSWITCH vNICs with
    ``open_vswitch`` on Open vSwitch's userspace datapath (an ovsdb-server and ovs-vswitchd per host)."""
    hosts = lab.underlay(HOSTS)
    provider = provider_on_underlay(lab)
    specs = {}
    for name, octet in HOSTS.items():
        ip = f"10.199.0.{octet}"
        plug: tuple[str, ...] = ("--vnic-driver", "LINUX_BRIDGE=linux_bridge")
        if driver == "open_vswitch":
            plug = ("--vnic-driver", "OPEN_VSWITCH=open_vswitch", "--ovs-db", lab.ovs(hosts[name], name),
                    "--ovs-datapath-type", "netdev")  # fmt: skip
        specs[name] = HostSpec(hosts[name], ip, (
            *plug, "--host-net", "kernel", "--tunnel-ip", ip, "--provider-url", provider.url,
            "--provider-password", PASSWORD, "--report-interval", "0.5",
        ))  # fmt: skip
    with stack(lab, f"{lab.prefix}ul", ENGINE, provider, specs) as world:
        yield world


@contextmanager
def stack(lab: Lab, ns: str, engine: str, provider: Provider, hosts: dict[str, HostSpec]) -> Iterator[World]:
    """The engine on ``engine`` (HOST:PORT) in namespace ``ns``, where ``provider`` runs and every host's
    agent is reachable, one agent per host, and the SDK connected from ``ns``. Everything it started is
    stopped by PID afterwards, and ``provider`` too."""
    run = InNetns(ns)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        argv = ["engine", "--listen", engine, "--data-dir", str(lab.workdir / "engine"),
                "--host-monitor-interval", "2", "--janitor-interval", "2"]  # fmt: skip
        procs.append(_spawn(lab, ns, "engine", argv, env={"NEUTRINO_ADMIN_PASSWORD": ADMIN}))
        for name, host in hosts.items():
            argv = ["agent", "--listen", f"{host.ip}:54321", f"--token={TOKEN}", "--host-name", name,
                    "--data-dir", str(lab.workdir / name), "--vm-backend", "netns",
                    "--netns-prefix", f"{lab.prefix}{name}-", *host.args]  # fmt: skip
            procs.append(_spawn(lab, host.ns, name, argv))
            _wait(run, f"http://{host.ip}:54321/api/v1/capabilities", procs[-1], lab.workdir / f"{name}.log")
        _wait(run, f"http://{engine}/ovirt-engine/api", procs[0], lab.workdir / "engine.log")
        import ovirtsdk4 as sdk

        conn = run(
            sdk.Connection, url=f"http://{engine}/ovirt-engine/api", username="admin@internal", password=ADMIN
        )
        addresses = {name: host.ip for name, host in hosts.items()}
        yield World(lab, provider, {n: h.ns for n, h in hosts.items()}, procs, run, conn, addresses)
        run(conn.close)
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, 15)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, 9)
        run.close()
        provider.stop()


def require_tools() -> str | None:
    if not (shutil.which("dnsmasq") and shutil.which("busybox")):
        return "dnsmasq/busybox missing (Debian dnsmasq-base, busybox)"
    return None


def setup_site(w: World, plugin_type: str = "LINUX_BRIDGE", one_cluster: bool = False) -> dict[str, Any]:
    """Provider networks and groups; the engine's DC with one cluster per host (to place the VMs), or with
    ``one_cluster`` a single cluster of all hosts (the scheduler places the VMs; they can migrate).
    ``clusters`` maps each host name to its cluster."""
    import ovirtsdk4.types as types

    p = w.provider
    net_a = p.create("networks", "network", name="a")
    net_b = p.create("networks", "network", name="b")
    p.create("subnets", "subnet", network_id=net_a["id"], cidr="10.10.0.0/24", ip_version=4)
    p.create(
        "subnets",
        "subnet",
        network_id=net_b["id"],
        cidr="10.10.0.0/24",
        ip_version=4,
        allocation_pools=[{"start": "10.10.0.100", "end": "10.10.0.200"}],
    )
    web = p.create("security-groups", "security_group", name="web")["id"]
    p.create(
        "security-group-rules",
        "security_group_rule",
        security_group_id=web,
        direction="ingress",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
    )
    s = w.system
    provider = w.run(
        s.openstack_network_providers_service().add,
        types.OpenStackNetworkProvider(
            name="osp",
            url=p.url,
            requires_authentication=True,
            username="admin",
            password=PASSWORD,
            authentication_url=f"{p.url}/v3",
            tenant_name="admin",
            user_domain_name="Default",
            project_domain_name="Default",
            external_plugin_type=plugin_type,
        ),
    )
    dc = w.run(s.data_centers_service().add, types.DataCenter(name="scenario", local=False))
    clusters: dict[str, Any] = {}
    for name in w.addresses:
        if one_cluster and clusters:
            clusters[name] = next(iter(clusters.values()))
        else:
            clusters[name] = w.run(
                s.clusters_service().add,
                types.Cluster(
                    name="cl" if one_cluster else f"cl-{name}",
                    data_center=types.DataCenter(id=dc.id),
                    cpu=types.Cpu(architecture=types.Architecture.X86_64, type="Intel Nehalem Family"),
                ),
            )
        host = w.run(
            s.hosts_service().add,
            types.Host(
                name=name,
                address=w.addresses[name],
                port=54321,
                root_password=TOKEN,
                cluster=types.Cluster(id=clusters[name].id),
            ),
        )
        assert host.status == types.HostStatus.UP, host.status_detail
    profiles = {}
    providers = s.openstack_network_providers_service().provider_service(provider.id)
    for key, net in (("a", net_a), ("b", net_b)):
        imported = w.run(
            providers.networks_service().network_service(net["id"]).import_,
            data_center=types.DataCenter(id=dc.id),
        )
        del imported
        [engine_net] = [
            n
            for n in w.run(s.networks_service().list, search=f"name={net['name']}")
            if n.data_center.id == dc.id
        ]
        for cluster in {c.id: c for c in clusters.values()}.values():
            w.run(
                s.clusters_service().cluster_service(cluster.id).networks_service().add,
                types.Network(id=engine_net.id, required=False),
            )
        [profiles[key]] = w.run(
            s.networks_service().network_service(engine_net.id).vnic_profiles_service().list
        )
    # VM1 gets the group that only lets TCP 22 in, through its profile's SecurityGroups
    profiles["a-web"] = w.run(
        s.vnic_profiles_service().add,
        types.VnicProfile(
            name="a-web",
            network=types.Network(id=profiles["a"].network.id),
            custom_properties=[types.CustomProperty(name="SecurityGroups", value=web)],
        ),
    )
    return {"clusters": clusters, "profiles": profiles, "web": web, "a": net_a, "b": net_b}


def add_vm(w: World, name: str, cluster: Any, profile: Any) -> Any:
    import ovirtsdk4.types as types

    s = w.system
    vm = w.run(
        s.vms_service().add,
        types.Vm(name=name, cluster=types.Cluster(id=cluster.id), template=types.Template(name="Blank")),
    )
    service = s.vms_service().vm_service(vm.id)
    nic = w.run(
        service.nics_service().add, types.Nic(name="nic1", vnic_profile=types.VnicProfile(id=profile.id))
    )
    w.vm_ids[name], w.nic_ids[name] = vm.id, nic.id
    return service


def start_vm(w: World, name: str, service: Any) -> None:
    import ovirtsdk4.types as types

    w.run(service.start)
    assert w.run(service.get).status == types.VmStatus.UP
    [port] = w.provider.get("/v2.0/ports", device_id=w.nic_ids[name])["ports"]
    w.ips[name] = port["fixed_ips"][0]["ip_address"]
    eventually(f"{name} got {w.ips[name]} by DHCP", lambda: w.has_address(name), within=30)
