"""Bench: the engine's own cost of running, hot plugging and stopping VMs with 2 external vNICs, through the oVirt
API, against fixed baselines of the same calls made directly.

`neutrino up` (engine and embedded provider; the engine on SQLite by default) and host agents (in-memory host
network) run as processes on 127.0.0.1, as a user runs them. N VMs with 2 external vNICs each (and a third,
unplugged, for hot plug) are made through the SDK (not timed); then three phases, P calls at a time, each in
rounds that alternate the baseline and the engine on slices of the VMs (so both see the same load and the same
number of VMs on the hosts):

- run: ``POST /vms/{id}/start``, answered once the VM is Up. Baseline, frozen as the engine's calls were when
  this bench was written (issue 17), made directly with the engine's own clients and bodies: per vNIC the port
  found by device_id and created (the vNIC's id, MAC, name, network and binding host), then one agent
  create-VM with the NICs the engine sends and one list-VMs. The baseline VM has an id of its own and is
  destroyed, and its ports deleted, before the engine runs the same VM (not timed).
- hot plug: ``POST /vms/{id}/nics/{nic}/activate`` of the third vNIC of a running VM. Baseline: its port found
  and created, the agent's hot-plug and one list-VMs, on a VM the bench runs on the agent itself.
- stop: ``POST /vms/{id}/stop``. Baseline: one agent destroy-VM of a VM of the same shape (3 vNICs).

The target (issue 17): run and hot plug within 1.5x their baselines; stop within 1.5x one destroy-VM + 20 ms.

    python bench/engine_run_vms.py [--vms 100] [--parallel 10] [--agents 2] [--rounds 4] [--db URL]
                                   [--profile-engine FILE]   # py-spy record of `neutrino up` while timed
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as types

from neutrino.agent_api import schema as wire
from neutrino.engine.hosts.agent_client import AgentAddress, AgentClient
from neutrino.engine.provider_clients.base import PortRequest, ProviderNetwork
from neutrino.engine.provider_clients.neutron import NeutronProvider
from neutrino.neutron_client import Credentials, Endpoint

PASSWORD = "bench-secret"
PROVIDER_NAME, SERVICE_USER, SERVICE_PROJECT = (
    "neutrino-provider",
    "neutrino-engine",
    "service",
)  # see neutrino.up
PLUGIN_TYPE = "LINUX_BRIDGE"  # `neutrino up`'s builtin backend registers its provider with it
MEMORY_MB = 1024  # the Blank template's
STOP_SLACK = 0.020  # stop's target: 1.5 x (one destroy-VM) + 20 ms


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def process(
    args: list[str], ready_url: str, log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m neutrino.cli ARGS`` until the block ends (SIGTERM to its process group)."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "neutrino.cli", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            # over plain HTTP, as the bench always measured, unless the environment says otherwise
            env={"NEUTRINO_INSECURE_HTTP": "1", **os.environ, **(env or {})},
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{args[0]} did not start:\n{log.read_text()}")
            try:
                httpx.get(ready_url, timeout=1.0)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed_in_parallel(
    items: list[Any], parallel: int, call: Callable[[Any], None]
) -> tuple[list[float], float]:
    """Each item's call time, and the wall time of all of them, ``parallel`` at a time."""

    def one(item: Any) -> float:
        t0 = time.perf_counter()
        call(item)
        return time.perf_counter() - t0

    t0 = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        durations = list(pool.map(one, items))
    return durations, time.perf_counter() - t0


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process, its reaped children and its live descendants (`neutrino up`
    serves the engine, the provider and its agent from child processes); 0 where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    own = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return own + sum(process_cpu(child) for child in children_of(pid))


def serving(pid: int, port: int) -> int | None:
    """The process of ``pid``'s tree that holds the listening socket of ``port`` (from /proc), if any."""
    inodes = {
        f[9]
        for f in (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
        if f[3] == "0A" and int(f[1].split(":")[1], 16) == port
    }
    for candidate in [pid, *children_of(pid)]:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{candidate}/fd").iterdir()]
        except OSError:
            continue
        if any(link[8:-1] in inodes for link in links if link.startswith("socket:[")):
            return candidate
    return None


def children_of(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def untimed(items: list[Any], parallel: int, call: Callable[[Any], None]) -> None:
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(call, items))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


@dataclass
class Phase:
    """One phase's times (seconds): the engine's per call and the baseline's per call set, and their walls."""

    name: str
    baseline_is: str
    engine: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    engine_wall: float = 0.0
    baseline_wall: float = 0.0
    slack: float = 0.0  # added to the baseline before the ratio (stop: 20 ms)
    engine_cpu: float = 0.0  # CPU seconds of `neutrino up` (engine + provider) while the engine's calls ran
    engine_own_cpu: float = 0.0  # ... of which the engine's process
    baseline_cpu: float = 0.0  # ... while the baseline's ran (the provider's share of it)
    parallel: int = 1

    @property
    def ratio_median(self) -> float:
        return statistics.median(self.engine) / (statistics.median(self.baseline) + self.slack)

    @property
    def ratio_total(self) -> float:
        n = len(self.engine)
        return self.engine_wall / (self.baseline_wall + self.slack * n / max(1, self.parallel))

    def report(self) -> str:
        n = max(1, len(self.engine))
        slack = f" + {ms(self.slack)}" if self.slack else ""
        return (
            f"{self.name:9} engine   median {ms(statistics.median(self.engine))}, p95 "
            f"{ms(percentile(self.engine, 0.95))}; wall {self.engine_wall:.2f} s "
            f"({len(self.engine) / self.engine_wall:.1f}/s)\n"
            f"{'':9} baseline median {ms(statistics.median(self.baseline))}, p95 "
            f"{ms(percentile(self.baseline, 0.95))}; wall {self.baseline_wall:.2f} s  [{self.baseline_is}]\n"
            f"{'':9} engine/(baseline{slack}): median {self.ratio_median:.2f}, wall {self.ratio_total:.2f}; "
            f"CPU of `neutrino up` per call: engine {ms(self.engine_cpu / n)} (the engine's process "
            f"{ms(self.engine_own_cpu / n)}), baseline {ms(self.baseline_cpu / n)}"
        )


@dataclass
class Figures:
    vms: int
    parallel: int
    agents: int
    backend: str
    setup: float
    phases: dict[str, Phase]

    def report(self) -> str:
        head = (
            f"backend: {self.backend}; {self.vms} VMs x 2 external vNICs (+1 hot plugged), "
            f"{self.parallel} at a time, {self.agents} agent(s) (setup {self.setup:.1f} s); load {load()}"
        )
        return "\n".join([head, *(p.report() for p in self.phases.values())])


def load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


@dataclass
class BenchVm:
    id: str
    name: str
    nics: list[types.Nic]  # nic1, nic2 (plugged) and nic3 (unplugged, for hot plug)


class Bench:
    """The running programs, the clients the baseline uses (the engine's own), and the SDK-made inventory."""

    def __init__(self, data: Path, engine_port: int, provider_port: int, parallel: int) -> None:
        self.parallel, self.engine_port = parallel, engine_port
        self.api_url = f"http://127.0.0.1:{engine_port}/ovirt-engine/api"
        self.sso_url = f"http://127.0.0.1:{engine_port}/ovirt-engine/sso/oauth/token"
        self.provider_url = f"http://127.0.0.1:{provider_port}"
        self.data = data
        self.agents: dict[str, AgentClient] = {}  # by host name
        self.host_names: dict[str, str] = {}  # host id -> name
        self.vms: list[BenchVm] = []
        self.networks: dict[str, ProviderNetwork] = {}  # by profile id
        self.provider: NeutronProvider | None = None
        self.api: httpx.Client | None = None
        self.up_pid = 0  # `neutrino up`: the engine, the provider and its agent in child processes
        self.engine_pid = 0  # the one of them serving the engine
        self.engine_cpu = 0.0  # CPU seconds of the engine's process in the last `timed`

    def timed(self, items: list[Any], call: Callable[[Any], None]) -> tuple[list[float], float, float]:
        """``timed_in_parallel``, and the CPU seconds `neutrino up` used meanwhile (robust where the wall clock
        is not: on a loaded machine the engine's own work shows here whatever the scheduler does)."""
        cpu0, own0 = process_cpu(self.up_pid), self._engine_process_cpu()
        times, wall = timed_in_parallel(items, self.parallel, call)
        self.engine_cpu = self._engine_process_cpu() - own0
        return times, wall, process_cpu(self.up_pid) - cpu0

    def _engine_process_cpu(self) -> float:
        """CPU seconds of the process serving the engine's port (`neutrino up`'s engine child)."""
        if not self.engine_pid:
            self.engine_pid = serving(self.up_pid, self.engine_port) or self.up_pid
        return process_cpu(self.engine_pid)

    # --- setup ---------------------------------------------------------------------------------------------

    def setup(self, agents: list[tuple[str, int, str]], vms: int) -> None:
        conn = sdk.Connection(url=self.api_url, username="admin@internal", password=PASSWORD, timeout=300)
        try:
            self._inventory(conn, agents, vms)
        finally:
            conn.close()
        secret = (self.data / "up" / "provider" / "engine-user.secret").read_text().strip()
        self.provider = NeutronProvider(
            Endpoint(
                url=self.provider_url,
                credentials=Credentials(f"{self.provider_url}/v3", SERVICE_USER, secret, SERVICE_PROJECT),
            )
        )
        for profile_id, net_id in self._profile_networks.items():
            found = self.provider.get_network(net_id)
            assert found is not None, net_id
            self.networks[profile_id] = found
        for name, port, token in agents:
            self.agents[name] = AgentClient(AgentAddress(name, "127.0.0.1", port, token))
        for client in self.agents.values():
            client.list_vms()  # the connection, as the engine has it by now
        token = httpx.post(
            self.sso_url,
            data={
                "grant_type": "password",
                "scope": "ovirt-app-api",
                "username": "admin@internal",
                "password": PASSWORD,
            },
        ).json()["access_token"]
        self.api = httpx.Client(
            base_url=self.api_url,
            timeout=300,
            limits=httpx.Limits(max_connections=self.parallel),
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "Content-Type": "application/json",
            },
        )

    def _inventory(self, conn: sdk.Connection, agents: list[tuple[str, int, str]], count: int) -> None:
        system = conn.system_service()
        [provider] = [
            x for x in system.openstack_network_providers_service().list() if x.name == PROVIDER_NAME
        ]
        dc = system.data_centers_service().add(types.DataCenter(name="bench", local=False))
        cluster = system.clusters_service().add(
            types.Cluster(
                name="bench",
                data_center=types.DataCenter(id=dc.id),
                cpu=types.Cpu(architecture=types.Architecture.X86_64, type="Intel Nehalem Family"),
                external_network_providers=[types.ExternalProvider(id=provider.id)],
            )
        )
        profiles = []
        for name in ("bench-red", "bench-blue"):
            net = system.networks_service().add(
                types.Network(
                    name=name,
                    data_center=types.DataCenter(id=dc.id),
                    external_provider=types.OpenStackNetworkProvider(id=provider.id),
                )
            )
            system.clusters_service().cluster_service(cluster.id).networks_service().add(
                types.Network(id=net.id, required=False)
            )
            [profile] = system.networks_service().network_service(net.id).vnic_profiles_service().list()
            profiles.append((name, profile))
        ext_ids = {
            ext.name: ext.id
            for ext in system.openstack_network_providers_service()
            .provider_service(provider.id)
            .networks_service()
            .list()
        }
        self._profile_networks = {profile.id: ext_ids[name] for name, profile in profiles}
        for name, port, token in agents:
            host = system.hosts_service().add(
                types.Host(
                    name=name,
                    address="127.0.0.1",
                    port=port,
                    root_password=token,
                    cluster=types.Cluster(id=cluster.id),
                )
            )
            assert host.status == types.HostStatus.UP, (name, host.status, host.status_detail)
            self.host_names[host.id] = name
        red, blue = profiles[0][1], profiles[1][1]
        for i in range(count):
            vm = system.vms_service().add(
                types.Vm(
                    name=f"bench-vm-{i:04d}",
                    cluster=types.Cluster(id=cluster.id),
                    template=types.Template(name="Blank"),
                )
            )
            nics_svc = system.vms_service().vm_service(vm.id).nics_service()
            nics = [
                nics_svc.add(types.Nic(name=name, vnic_profile=types.VnicProfile(id=pr.id), plugged=plugged))
                for name, pr, plugged in (("nic1", red, True), ("nic2", blue, True), ("nic3", red, False))
            ]
            self.vms.append(BenchVm(vm.id, vm.name, nics))

    # --- what the engine sends, made directly ------------------------------------------------------------

    def port_request(self, nic_id: str, mac: str, name: str, profile_id: str, host: str) -> PortRequest:
        return PortRequest(
            network_id=self.networks[profile_id].id,
            mac_address=mac.lower(),
            name=name,
            device_id=nic_id,
            host_id=host,
        )

    def nic_spec(
        self, nic_id: str, mac: str, name: str, profile_id: str, port: Any
    ) -> wire.NicSpec:  # as engine.commands.placement.nic_spec builds it
        pn = self.networks[profile_id]
        return wire.NicSpec(
            nic_id=nic_id,
            name=name,
            mac=mac.lower(),
            mtu=pn.mtu or None,
            external=wire.ExternalNet(
                vnic_id=port.id,
                plugin_type=PLUGIN_TYPE,
                network_id=port.network_id,
                network_type=pn.network_type,
                segmentation_id=pn.segmentation_id,
                physical_network=pn.physical_network,
                security_groups=list(port.security_groups),
            ),
        )

    def ensure_port_directly(self, nic_id: str, mac: str, name: str, profile_id: str, host: str) -> Any:
        """The engine's port calls for one vNIC: find by device_id (nothing there), create."""
        assert self.provider is not None
        assert self.provider.find_port(nic_id) is None
        return self.provider.create_port(self.port_request(nic_id, mac, name, profile_id, host)).port

    # --- the engine through the API -------------------------------------------------------------------------

    def post(self, path: str) -> None:
        assert self.api is not None
        resp = self.api.post(path, content=b"{}")
        if resp.status_code != 200:
            raise SystemExit(f"POST {path} failed: {resp.status_code} {resp.text}")

    def hosts_of_vms(self) -> dict[str, str]:
        assert self.api is not None
        listed = self.api.get("/vms", params={"search": "cluster=bench"}).json()["vm"]
        return {v["id"]: self.host_names[v["host"]["id"]] for v in listed if v.get("host")}

    def statuses(self) -> list[str]:
        assert self.api is not None
        return [v["status"] for v in self.api.get("/vms", params={"search": "cluster=bench"}).json()["vm"]]


def slices(items: list[Any], rounds: int) -> list[list[Any]]:
    rounds = max(1, min(rounds, len(items)))
    return [items[r::rounds] for r in range(rounds)]


def run_phase(b: Bench, rounds: int) -> Phase:
    phase = Phase("run", "find + create port per vNIC, agent create-VM, agent list-VMs")
    hosts = list(b.agents)
    assert b.provider is not None

    def baseline(item: tuple[int, BenchVm]) -> None:
        i, vm = item
        host = hosts[i % len(hosts)]
        nics = []
        for nic in vm.nics[:2]:
            port = b.ensure_port_directly(nic.id, nic.mac.address, nic.name, nic.vnic_profile.id, host)
            nics.append(b.nic_spec(nic.id, nic.mac.address, nic.name, nic.vnic_profile.id, port))
        spec = wire.VmSpec(vm_id=f"base-{vm.id}", name=vm.name, memory_mb=MEMORY_MB, nics=nics)
        agent = b.agents[host]
        agent.create_vm(spec)
        assert any(v.vm_id == spec.vm_id for v in agent.list_vms())

    def undo_baseline(item: tuple[int, BenchVm]) -> None:
        i, vm = item
        b.agents[hosts[i % len(hosts)]].destroy_vm(f"base-{vm.id}")
        assert b.provider is not None
        for nic in vm.nics[:2]:
            port = b.provider.find_port(nic.id)
            if port is not None:
                b.provider.delete_port(port.id)

    for part in slices(list(enumerate(b.vms)), rounds):
        times, wall, cpu = b.timed(part, baseline)
        phase.baseline_cpu += cpu
        phase.baseline += times
        phase.baseline_wall += wall
        untimed(part, b.parallel, undo_baseline)  # the engine must find nothing and create them itself
        times, wall, cpu = b.timed([vm for _, vm in part], lambda vm: b.post(f"/vms/{vm.id}/start"))
        phase.engine_cpu += cpu
        phase.engine_own_cpu += b.engine_cpu
        phase.engine += times
        phase.engine_wall += wall
    return phase


@dataclass
class BaselineVm:
    """A VM the bench runs on an agent itself (the engine knows nothing of it): hot plug and stop baselines."""

    vm_id: str
    host: str
    nics: list[tuple[str, str, str, str]]  # nic id, MAC, name, profile id

    @classmethod
    def like(cls, vm: BenchVm, host: str, n: int) -> BaselineVm:
        return cls(
            f"base-{uuid.uuid4()}",
            host,
            [
                (
                    str(uuid.uuid4()),
                    f"0a:be:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}:{k:02x}",
                    nic.name,
                    nic.vnic_profile.id,
                )
                for k, nic in enumerate(vm.nics)
            ],
        )


def hotplug_phase(b: Bench, rounds: int, on_host: dict[str, str]) -> tuple[Phase, list[BaselineVm]]:
    phase = Phase("hot plug", "find + create port, agent hot-plug, agent list-VMs")
    assert b.provider is not None
    base_vms = [BaselineVm.like(vm, on_host[vm.id], i) for i, vm in enumerate(b.vms)]

    def start_base(vm: BaselineVm) -> None:  # two vNICs plugged, as the engine's VMs are by now
        nics = []
        for nic_id, mac, name, profile_id in vm.nics[:2]:
            port = b.ensure_port_directly(nic_id, mac, name, profile_id, vm.host)
            nics.append(b.nic_spec(nic_id, mac, name, profile_id, port))
        b.agents[vm.host].create_vm(
            wire.VmSpec(vm_id=vm.vm_id, name=vm.vm_id, memory_mb=MEMORY_MB, nics=nics)
        )

    def baseline(vm: BaselineVm) -> None:
        nic_id, mac, name, profile_id = vm.nics[2]
        port = b.ensure_port_directly(nic_id, mac, name, profile_id, vm.host)
        agent = b.agents[vm.host]
        state = agent.hotplug_nic(vm.vm_id, b.nic_spec(nic_id, mac, name, profile_id, port))
        assert state.state == "plugged", state
        assert any(v.vm_id == vm.vm_id for v in agent.list_vms())

    untimed(base_vms, b.parallel, start_base)
    pairs = list(zip(b.vms, base_vms, strict=True))
    for part in slices(pairs, rounds):
        times, wall, cpu = b.timed([bv for _, bv in part], baseline)
        phase.baseline_cpu += cpu
        phase.baseline += times
        phase.baseline_wall += wall
        times, wall, cpu = b.timed(
            [vm for vm, _ in part],
            lambda vm: b.post(f"/vms/{vm.id}/nics/{vm.nics[2].id}/activate"),
        )
        phase.engine_cpu += cpu
        phase.engine_own_cpu += b.engine_cpu
        phase.engine += times
        phase.engine_wall += wall
    return phase, base_vms


def stop_phase(b: Bench, rounds: int, base_vms: list[BaselineVm]) -> Phase:
    phase = Phase("stop", "one agent destroy-VM (3 vNICs)", slack=STOP_SLACK)
    pairs = list(zip(b.vms, base_vms, strict=True))
    for part in slices(pairs, rounds):
        times, wall, cpu = b.timed([bv for _, bv in part], lambda bv: b.agents[bv.host].destroy_vm(bv.vm_id))
        phase.baseline_cpu += cpu
        phase.baseline += times
        phase.baseline_wall += wall
        times, wall, cpu = b.timed([vm for vm, _ in part], lambda vm: b.post(f"/vms/{vm.id}/stop"))
        phase.engine_cpu += cpu
        phase.engine_own_cpu += b.engine_cpu
        phase.engine += times
        phase.engine_wall += wall
    return phase


@contextmanager
def profiled(pid: int, out: str | None) -> Iterator[None]:
    """py-spy records ``pid`` (all its threads, idle ones too) while the block runs."""
    if out is None:
        yield
        return
    spy = subprocess.Popen(
        [
            "py-spy",
            "record",
            "--pid",
            str(pid),
            "--output",
            out,
            "--format",
            "raw",
            "--rate",
            "200",
            "--threads",
            "--nonblocking",
            "--subprocesses",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(60)


def run(
    vms: int = 100,
    parallel: int = 10,
    agents: int = 2,
    rounds: int = 4,
    db: str | None = None,
    profile_engine: str | None = None,
) -> Figures:
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as running:
        data = Path(tmp)
        engine_port, provider_port, local_agent_port = free_port(), free_port(), free_port()
        b = Bench(data, engine_port, provider_port, parallel)
        env = {
            "NEUTRINO_ADMIN_PASSWORD": PASSWORD,
            "NEUTRINO_JANITOR_INTERVAL": "3600",
            **({"NEUTRINO_DB": db} if db else {}),
        }
        # `neutrino up` brings its own agent too (host `local` of the Default cluster, not of the bench's cluster)
        up = running.enter_context(
            process(
                [
                    "up",
                    "--data-dir",
                    str(data / "up"),
                    "--engine-listen",
                    f"127.0.0.1:{engine_port}",
                    "--provider-listen",
                    f"127.0.0.1:{provider_port}",
                    "--agent-listen",
                    f"127.0.0.1:{local_agent_port}",
                    "--datapath",
                    "memory",
                ],
                b.api_url,
                data / "up.log",
                env,
            )
        )
        hosts = []
        for i in range(agents):
            port, token, name = free_port(), secrets.token_urlsafe(16), f"bench-host{i + 1}"
            running.enter_context(
                process(
                    [
                        "agent",
                        "--listen",
                        f"127.0.0.1:{port}",
                        "--data-dir",
                        str(data / name),
                        f"--token={token}",
                        "--host-name",
                        name,
                        "--host-net",
                        "memory",
                        "--log-level",
                        "warning",
                    ],
                    f"http://127.0.0.1:{port}/api/v1/capabilities",
                    data / f"{name}.log",
                )
            )
            hosts.append((name, port, token))

        b.up_pid = up.pid
        t0 = time.perf_counter()
        b.setup(hosts, vms)
        setup = time.perf_counter() - t0
        assert b.provider is not None

        with profiled(up.pid, profile_engine):
            ran = run_phase(b, rounds)
            assert b.statuses().count("up") == vms
            on_host = b.hosts_of_vms()
            plugged, base_vms = hotplug_phase(b, rounds, on_host)
            stopped = stop_phase(b, rounds, base_vms)
        assert b.statuses().count("down") == vms
        ports = b.provider.list_ports()
        mine = {nic.id for vm in b.vms for nic in vm.nics}
        assert len([p for p in ports if p.device_id in mine]) == 3 * vms, len(ports)
        for bv in base_vms:
            for nic_id, *_ in bv.nics:
                port = b.provider.find_port(nic_id)
                if port is not None:
                    b.provider.delete_port(port.id)
        for phase in (ran, plugged, stopped):
            phase.parallel = parallel
        assert b.api is not None
        b.api.close()
        return Figures(
            vms,
            parallel,
            agents,
            "SQLite" if not db else db.split(":")[0],
            setup,
            {p.name: p for p in (ran, plugged, stopped)},
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vms", type=int, default=100)
    p.add_argument("--parallel", type=int, default=10)
    p.add_argument("--agents", type=int, default=2)
    p.add_argument("--rounds", type=int, default=4, help="baseline/engine alternations per phase")
    p.add_argument("--db", default=None, help="engine SQLAlchemy URL (default: SQLite in the data directory)")
    p.add_argument("--profile-engine", default=None, help="py-spy raw output file for `neutrino up`")
    args = p.parse_args()
    figures = run(args.vms, args.parallel, args.agents, args.rounds, args.db, args.profile_engine)
    print(figures.report())


if __name__ == "__main__":
    main()
