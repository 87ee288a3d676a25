"""The whole loop on a real kernel: the embedded provider on the underlay, two host agents that
report to it and learn each other's tunnel addresses from it (no static ``--vxlan-peer``), guests
on one VXLAN network ping across hosts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest

from .netlab import Lab, sh

pytestmark = pytest.mark.root

PROVIDER = "http://10.199.0.254:9696"


def start_provider(lab: Lab, ns: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, NEUTRINO_ADMIN_PASSWORD="pw")
    log = open(lab.workdir / "provider.log", "wb")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(
        ["nsenter", f"--net=/run/netns/{ns}", sys.executable, "-m", "neutrino.cli", "provider",
         "--listen", "10.199.0.254:9696", "--data-dir", str(lab.workdir / "provider")],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    probe = (
        "import httpx, sys\n"
        "body = {'auth': {'identity': {'methods': ['password'], 'password': {'user': {'name': 'admin',"
        " 'domain': {'name': 'Default'}, 'password': 'pw'}}}, 'scope': {'project': {'name': 'admin',"
        " 'domain': {'name': 'Default'}}}}}\n"
        f"r = httpx.post('{PROVIDER}/v3/auth/tokens', json=body, timeout=5)\n"
        f"e = httpx.get('{PROVIDER}/v2.0/extensions', headers={{'X-Auth-Token': r.headers['X-Subject-Token']}})\n"
        "print(e.text)\n"
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        out = sh("ip", "netns", "exec", ns, sys.executable, "-c", probe, check=False)
        if out.returncode == 0:
            if "neutrino-agent-report" not in out.stdout:
                proc.terminate()
                pytest.skip("this provider takes no agent reports (extension neutrino-agent-report)")
            return proc
        if proc.poll() is not None:
            raise AssertionError((lab.workdir / "provider.log").read_text())
        time.sleep(0.3)
    proc.terminate()
    raise AssertionError("the provider did not start: " + (lab.workdir / "provider.log").read_text())


def test_agents_learn_their_vxlan_peers_from_the_provider(lab: Lab) -> None:
    hosts = lab.underlay({"h1": "1", "h2": "2"})
    sh("ip", "-n", f"{lab.prefix}ul", "addr", "add", "10.199.0.254/24", "dev", "br0")
    provider = start_provider(lab, f"{lab.prefix}ul")
    try:
        agents = {}
        for name, ip in (("h1", "10.199.0.1"), ("h2", "10.199.0.2")):
            agents[name] = lab.agent(
                hosts[name], name, "--host-net", "kernel", "--vm-backend", "netns",
                "--vnic-driver", "LINUX_BRIDGE=linux_bridge", "--tunnel-ip", ip,
                "--netns-prefix", f"{lab.prefix}{name}-", "--no-guest-dhcp",
                "--provider-url", PROVIDER, "--provider-password", "pw", "--report-interval", "0.5",
            )  # fmt: skip
        red = str(uuid.uuid4())
        for n, name in enumerate(("h1", "h2"), 1):
            nic = {"nic_id": f"n{n}", "name": "nic1", "mac": f"56:6f:1a:00:05:{n:02x}", "mtu": 1450,
                   "external": {"vnic_id": str(uuid.uuid4()), "plugin_type": "LINUX_BRIDGE", "network_id": red,
                                "network_type": "vxlan", "segmentation_id": 3001}}  # fmt: skip
            created = agents[name].call("POST", "/vms", {"vm_id": f"vm{n}", "name": f"vm{n}", "nics": [nic]})
            assert created.status_code == 201, created.text
            sh("ip", "-n", f"{lab.prefix}{name}-vm{n}", "addr", "add", f"10.77.0.{n}/24", "dev", "eth0")
        deadline = time.monotonic() + 15
        fdb = ""
        while time.monotonic() < deadline:
            fdb = sh("bridge", "-n", hosts["h1"], "fdb", "show", "dev", "vxlan-3001").stdout
            if "dst 10.199.0.2" in fdb:
                break
            time.sleep(0.3)
        assert "00:00:00:00:00:00 dst 10.199.0.2" in fdb
        assert lab.ping(f"{lab.prefix}h1-vm1", "10.77.0.2")
    finally:
        provider.terminate()
        try:
            provider.wait(10)
        except subprocess.TimeoutExpired:
            provider.kill()
