"""The embedded provider inside a lab namespace, and ways for a test to speak to it.

The provider (``neutrino provider``) listens on the underlay of a :class:`~.netlab.Lab`, where the
host agents reach it. The test process stays in the machine's namespace; it calls the provider
from one worker thread that joined the underlay namespace (``setns`` changes only the calling
thread's namespace), and runs the ``openstack`` CLI there with ``ip netns exec``.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from neutrino.neutron_client import REPORT_EXTENSION
from tests.support.netlab import AgentProcess, Lab, sh

PASSWORD = "pw"
CLONE_NEWNET = 0x40000000
OPENSTACK = Path(sys.executable).with_name("openstack")


def enter_netns(ns: str) -> None:
    """Move the calling thread into the named network namespace."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {ns}")
    finally:
        os.close(fd)


def openstack_reason() -> str | None:
    if not OPENSTACK.exists() and shutil.which("openstack") is None:
        return "the openstack CLI is missing (pip install -e .[test])"
    return None


class NeutronCalls:
    """The Neutron calls labs and benchmarks make, over whatever ``request`` a subclass sends them
    with (an admin's token either way)."""

    def request(self, method: str, path: str, body: Any = None, params: Any = None) -> httpx.Response:
        raise NotImplementedError

    def get(self, path: str, **params: Any) -> Any:
        response = self.request("GET", path, params=params or None)
        response.raise_for_status()
        return response.json()

    def create(self, collection: str, member: str, **body: Any) -> dict[str, Any]:
        response = self.request("POST", f"/v2.0/{collection}", {member: body})
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()[member]
        return created

    def delete(self, collection: str, resource_id: str) -> None:
        response = self.request("DELETE", f"/v2.0/{collection}/{resource_id}")
        assert response.status_code == 204, response.text


class Provider(NeutronCalls):
    """``neutrino provider`` on ``address:9696`` in namespace ``ns`` (the lab's underlay)."""

    def __init__(self, lab: Lab, ns: str, address: str = "10.199.0.254", args: Sequence[str] = ()) -> None:
        self.lab = lab
        self.ns = ns
        self.args = list(args)  # more ``neutrino provider`` options (e.g. the OVN backend's)
        self.url = f"http://{address}:9696"
        self.proc: subprocess.Popen[bytes] | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, initializer=enter_netns, initargs=(ns,))
        self._client: httpx.Client | None = None
        self._stopped = False

    def start(self) -> None:
        log = open(self.lab.workdir / "provider.log", "wb")  # noqa: SIM115 - lives as long as the process
        listen = self.url.removeprefix("http://")
        self.proc = subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{self.ns}", sys.executable, "-m", "neutrino.cli", "provider",
             "--listen", listen, "--data-dir", str(self.lab.workdir / "provider"), *self.args],
            env=dict(os.environ, NEUTRINO_ADMIN_PASSWORD=PASSWORD), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("the provider exited: " + self.log())
            try:
                extensions = self.get("/v2.0/extensions")["extensions"]
            except httpx.TransportError:
                time.sleep(0.2)
                continue
            aliases = {e["alias"] for e in extensions}
            assert REPORT_EXTENSION in aliases, f"the provider does not list {REPORT_EXTENSION}: {aliases}"
            return
        raise AssertionError("the provider did not start: " + self.log())

    def log(self) -> str:
        return (self.lab.workdir / "provider.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if not self._stopped:  # stop() may be called twice
            self._stopped = True
            self._pool.submit(self._close).result()
            self._pool.shutdown()

    # -- the Neutron API, from inside the namespace --------------------------------------------
    def _connected(self) -> httpx.Client:
        if self._client is None:
            body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"name": "Default"}, "password": PASSWORD}}},
                "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}  # fmt: skip
            response = httpx.post(f"{self.url}/v3/auth/tokens", json=body, timeout=5)
            response.raise_for_status()
            token = response.headers["X-Subject-Token"]
            self._client = httpx.Client(base_url=self.url, headers={"X-Auth-Token": token}, timeout=15)
        return self._client

    def _close(self) -> None:
        if self._client is not None:
            self._client.close()

    def request(self, method: str, path: str, body: Any = None, params: Any = None) -> httpx.Response:
        def call() -> httpx.Response:
            return self._connected().request(method, path, json=body, params=params)

        return self._pool.submit(call).result()

    # -- the openstack CLI ------------------------------------------------------------------------
    def openstack(self, *args: str) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update(
            OS_AUTH_URL=f"{self.url}/v3", OS_USERNAME="admin", OS_PASSWORD=PASSWORD, OS_PROJECT_NAME="admin",
            OS_USER_DOMAIN_NAME="Default", OS_PROJECT_DOMAIN_NAME="Default", OS_IDENTITY_API_VERSION="3",
        )  # fmt: skip
        cli = str(OPENSTACK) if OPENSTACK.exists() else "openstack"
        proc = subprocess.run(
            ["ip", "netns", "exec", self.ns, cli, *args], env=env, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, f"openstack {' '.join(args)}: {proc.stderr}"
        return proc.stdout


def provider_on_underlay(lab: Lab, args: Sequence[str] = ()) -> Provider:
    """The provider on the lab's underlay bridge (call after :meth:`Lab.underlay`), with more
    ``neutrino provider`` options ``args``."""
    ul = f"{lab.prefix}ul"
    sh("ip", "-n", ul, "addr", "add", "10.199.0.254/24", "dev", "br0")
    provider = Provider(lab, ul, args=args)
    try:
        provider.start()
    except BaseException:
        provider.stop()
        raise
    return provider


def linux_bridge_agents(lab: Lab, hosts: dict[str, str], provider: Provider) -> dict[str, AgentProcess]:
    """Agents on the lab's hosts h1 (10.199.0.1) and h2 (10.199.0.2): kernel datapath, netns guests, linux_bridge,
    linked to ``provider`` (groups, fixed IPs and DHCP from it; reports every 0.5 s)."""
    return {
        name: lab.agent(
            hosts[name],
            name,
            "--host-net",
            "kernel",
            "--vm-backend",
            "netns",
            "--vnic-driver",
            "LINUX_BRIDGE=linux_bridge",
            "--tunnel-ip",
            ip,
            "--netns-prefix",
            f"{lab.prefix}{name}-",
            "--provider-url",
            provider.url,
            "--provider-password",
            PASSWORD,
            "--report-interval",
            "0.5",
        )  # fmt: skip
        for name, ip in (("h1", "10.199.0.1"), ("h2", "10.199.0.2"))
    }
