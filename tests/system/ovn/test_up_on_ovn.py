"""`neutrino up --backend ovn` as a user runs it, in a network namespace of its own (its default addresses,
its br-int and the local chassis' datapath stay there), checked through ovirtsdk4 and HTTP from a thread
that entered the namespace: OVN central and the local Open vSwitch started as its children, the provider
registered with OPEN_VSWITCH as the Default cluster's, the local chassis an alive `OVN Controller agent`,
host `local` Up, a network made on the provider a Logical_Switch in the northbound. Stopped, it leaves no
process, no socket and no datapath device behind; started again, it reuses its databases."""

from __future__ import annotations

import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from neutrino import up_ovn
from tests.conftest import _require
from tests.support import processes
from tests.support.netlab import Lab, root_reason, sh
from tests.support.ovn_lab import wait_for
from tests.support.servers import wait_ready

pytestmark = pytest.mark.root

PASSWORD = "up-ovn-secret"
ENGINE = "http://127.0.0.1:8443/ovirt-engine/api"  # up's default, plain HTTP as the suite asks
PROVIDER = "http://127.0.0.1:9696"
OVN_AGENT = "OVN Controller agent"
CLONE_NEWNET = 0x40000000
T = TypeVar("T")


def in_netns(ns: str, fn: Callable[[], T]) -> T:
    """``fn()`` in a thread that entered the network namespace ``ns`` (setns(2) moves only the calling
    thread), so the sockets it opens are there; its result or its exception."""
    outcome: dict[str, Any] = {}

    def enter_and_run() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns {ns}")
        finally:
            os.close(fd)
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            outcome["error"] = exc

    thread = threading.Thread(target=enter_and_run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


@pytest.fixture
def netns(tmp_path: Path) -> Iterator[str]:
    _require(root_reason() or up_ovn.missing())
    lab = Lab(prefix=f"nu{secrets.token_hex(2)}", workdir=tmp_path)
    try:
        yield lab.netns("up")
    finally:
        lab.cleanup()


def start(ns: str, data: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "NEUTRINO_ADMIN_PASSWORD": PASSWORD,
        "NEUTRINO_HOST_MONITOR_INTERVAL": "1",
        "NEUTRINO_PROVIDER_OVN_CHASSIS_INTERVAL": "0.3",
    }
    argv = [
        "nsenter", f"--net=/run/netns/{ns}", sys.executable, "-m", "neutrino.cli", "up", "--backend", "ovn",
        "--data-dir", str(data), "--local-ovs", "own",
    ]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        for url in (ENGINE, f"{PROVIDER}/"):
            in_netns(ns, lambda url=url: wait_ready(proc, url, log, 60))  # type: ignore[misc]
    except BaseException:
        stop(proc)
        raise
    return proc


def stop(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM, as a service manager stops it; its exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
            raise
    return proc.returncode


def neutron() -> httpx.Client:
    """The provider's Neutron API as its admin (to be called inside the namespace)."""
    auth = httpx.post(f"{PROVIDER}/v3/auth/tokens", json={"auth": {
        "identity": {"methods": ["password"],
                     "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": PASSWORD}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})  # fmt: skip
    auth.raise_for_status()
    return httpx.Client(
        base_url=f"{PROVIDER}/v2.0", headers={"X-Auth-Token": auth.headers["X-Subject-Token"]}
    )


def engine_view() -> dict[str, Any]:
    """The provider as registered in the engine, the Default cluster's providers, and host `local` once Up."""
    import ovirtsdk4 as sdk
    import ovirtsdk4.types as types

    conn = sdk.Connection(url=ENGINE, username="admin@internal", password=PASSWORD, timeout=60)
    try:
        system = conn.system_service()
        [provider] = system.openstack_network_providers_service().list()
        [cluster] = system.clusters_service().list(search="name=Default")
        cluster = system.clusters_service().cluster_service(cluster.id).get()

        def local_up() -> bool:
            hosts = system.hosts_service().list(search="name=local")
            return len(hosts) == 1 and hosts[0].status == types.HostStatus.UP

        wait_for("host local Up", local_up, timeout=20, every=0.3)
        return {
            "provider": (provider.name, provider.external_plugin_type, provider.url),
            "default_cluster_providers": [p.id for p in cluster.external_network_providers or []],
            "provider_id": provider.id,
        }
    finally:
        conn.close()


def chassis_and_network() -> tuple[dict[str, Any], str]:
    """The OVN agent `local` once alive, and the id of a network made on the provider."""
    with neutron() as api:

        def alive() -> dict[str, Any] | None:
            agents = api.get("/agents", params={"agent_type": OVN_AGENT}).json()["agents"]
            return next((a for a in agents if a["host"] == "local" and a["alive"]), None)

        wait_for("the local chassis an alive OVN agent", lambda: alive() is not None, timeout=20, every=0.2)
        agent = alive()
        assert agent is not None
        made = api.post("/networks", json={"network": {"name": "up-ovn-net"}})
        assert made.status_code == 201, made.text
        return agent, made.json()["network"]["id"]


def nbctl(data: Path, *args: str) -> str:
    sock = data / "ovn" / "central" / "ovnnb_db.sock"
    return sh("ovn-nbctl", "--timeout=10", f"--db=unix:{sock}", *args).stdout.strip()


def listening(ns: str) -> str:
    return sh("ip", "netns", "exec", ns, "ss", "-Hltnx").stdout.strip()


def socket_in_use(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True


def test_neutrino_up_on_ovn_runs_central_and_the_local_chassis_and_leaves_nothing(
    netns: str, tmp_path: Path
) -> None:
    data, log = tmp_path / "data", tmp_path / "up.log"
    proc = start(netns, data, log)
    try:
        out = log.read_text()
        assert "OVN central in" in out and "created ovnnb_db.db" in out and "created ovnsb_db.db" in out, out
        assert "our own in" in out and "ovs-vswitchd (pid" in out, out  # what it started, with pids
        seen = in_netns(netns, engine_view)
        assert seen["provider"] == ("neutrino-provider", "OPEN_VSWITCH", PROVIDER)
        assert seen["default_cluster_providers"] == [seen["provider_id"]]
        agent, network = in_netns(netns, chassis_and_network)
        assert agent["binary"] == "ovn-controller" and agent["configurations"]["chassis_name"] == "local"
        assert agent["configurations"]["encaps"] == [{"type": "geneve", "ip": "127.0.0.1"}]
        wait_for("the network's Logical_Switch", lambda: f"neutron-{network}" in nbctl(data, "ls-list"))
        # other chassis would reach the southbound on its TCP remote
        assert "127.0.0.1:6642" in listening(netns) and "127.0.0.1:6641" in listening(netns)
        daemons = [p for p in processes.naming(data, processes.running()) if not p.argv[0].endswith("python")]
        names = sorted(Path(p.argv[0]).name for p in daemons)
        assert names == sorted(["ovsdb-server"] * 3 + ["ovn-northd", "ovs-vswitchd", "ovn-controller"]), names
    finally:
        code = stop(proc)
    out = log.read_text()
    assert code == 0, out
    assert "stopped ovs-vswitchd" in out and "ovn-northd" in out.split("stopped", 1)[-1], out
    assert processes.outliving(data, grace=5) == []
    assert [p for p in data.rglob("*") if p.is_socket() and socket_in_use(p)] == []
    assert listening(netns) == ""
    links = sh("ip", "-n", netns, "-o", "link").stdout
    assert "br-int" not in links and "ovs-netdev" not in links, links  # the datapath went with ovs-vswitchd
    # its chassis left the southbound when it stopped (the local ovn-controller exited gracefully)
    query = '["OVN_Southbound",{"op":"select","table":"Chassis","where":[],"columns":["name"]}]'
    assert sh("ovsdb-tool", "query", str(data / "ovn" / "central" / "ovnsb_db.db"), query).stdout.strip() == (
        '[{"rows":[]}]'
    )

    # started again: the same databases, the switch still there, the chassis back
    started = time.monotonic()
    proc = start(netns, data, log)
    try:
        out = log.read_text()
        assert "reused ovnnb_db.db" in out and "reused ovnsb_db.db" in out and "reused conf.db" in out, out
        assert f"neutron-{network}" in nbctl(data, "ls-list")
        wait_for(
            "the chassis back in the southbound",
            lambda: "local" in sh("ovn-sbctl", f"--db=unix:{data / 'ovn' / 'central' / 'ovnsb_db.sock'}",
                                  "--bare", "--columns=name", "list", "Chassis").stdout,
        )  # fmt: skip
    finally:
        assert stop(proc) == 0, log.read_text()
    assert processes.outliving(data, grace=5) == [], (
        f"restart and stop took {time.monotonic() - started:.1f} s"
    )
