"""OpenStack's own API test suite (tempest, and its plugins) run against a provider on 127.0.0.1.

A workspace is a directory with ``etc/tempest.conf`` written from what the provider offers (its
``/v2.0/extensions``, an external network for the floating IP and gateway tests) and dynamic
credentials: tempest makes a project and user per test class through the Keystone v3 API as the
provider's admin. :func:`run` runs ``tempest run`` there (stestr workers) and reads the results back
from ``stestr last --subunit``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

#: where the external network lives (tempest's floating IP and router gateway tests)
PUBLIC_CIDR = "172.24.4.0/24"


@dataclass
class Results:
    """Every test's status (``success``, ``fail``, ``skip``, ...), and the details of the failures."""

    status: dict[str, str] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)
    skip_reasons: dict[str, str] = field(default_factory=dict)

    def named(self, status: str) -> list[str]:
        return sorted(test for test, s in self.status.items() if s == status)

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.status.values():
            out[s] = out.get(s, 0) + 1
        return out

    def summary(self) -> str:
        c = self.counts
        return (
            f"{len(self.status)} tests: {c.get('success', 0)} passed, {c.get('fail', 0)} failed, "
            f"{c.get('skip', 0)} skipped"
        )


def admin_client(url: str, auth_url: str, password: str) -> httpx.Client:
    """A client of the provider at ``url`` with a token of its admin."""
    answer = httpx.post(
        f"{auth_url}/auth/tokens",
        json={
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": "admin", "domain": {"id": "default"}, "password": password}
                    },
                },
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
            }
        },
        timeout=30,
    )
    answer.raise_for_status()
    return httpx.Client(base_url=url, headers={"X-Auth-Token": answer.headers["X-Subject-Token"]}, timeout=30)


def extensions(url: str, auth_url: str, password: str) -> list[str]:
    """The aliases the provider lists in ``/v2.0/extensions``."""
    with admin_client(url, auth_url, password) as client:
        answer = client.get("/v2.0/extensions")
        answer.raise_for_status()
        return sorted(e["alias"] for e in answer.json()["extensions"])


def public_network(url: str, auth_url: str, password: str) -> str:
    """An external network with an IPv4 subnet, as devstack's ``public``: its id."""
    with admin_client(url, auth_url, password) as client:
        net = client.post("/v2.0/networks", json={"network": {"name": "public", "router:external": True}})
        net.raise_for_status()
        network_id = str(net.json()["network"]["id"])
        subnet = {"network_id": network_id, "ip_version": 4, "cidr": PUBLIC_CIDR, "name": "public"}
        client.post("/v2.0/subnets", json={"subnet": subnet}).raise_for_status()
        return network_id


def write_config(
    workspace: Path,
    *,
    auth_url: str,
    admin_password: str,
    api_extensions: Iterable[str],
    public_network_id: str,
    extra: str = "",
) -> Path:
    """``workspace/etc/tempest.conf`` for a Neutron-only cloud behind Keystone v3 at ``auth_url``."""
    (workspace / "etc").mkdir(parents=True, exist_ok=True)
    (workspace / "logs").mkdir(exist_ok=True)
    (workspace / "locks").mkdir(exist_ok=True)
    conf = workspace / "etc" / "tempest.conf"
    conf.write_text(
        textwrap.dedent(
            f"""\
            [DEFAULT]
            log_dir = {workspace / "logs"}
            log_file = tempest.log

            [oslo_concurrency]
            lock_path = {workspace / "locks"}

            [auth]
            use_dynamic_credentials = true
            create_isolated_networks = false
            admin_username = admin
            admin_password = {admin_password}
            admin_project_name = admin
            admin_domain_name = Default

            [identity]
            auth_version = v3
            uri_v3 = {auth_url}
            region = RegionOne
            v3_endpoint_type = public
            disable_ssl_certificate_validation = true

            [identity-feature-enabled]
            api_v2 = false
            api_v3 = true

            [service_available]
            neutron = true
            nova = false
            cinder = false
            glance = false
            swift = false
            horizon = false

            [network]
            build_timeout = 20
            build_interval = 1
            catalog_type = network
            endpoint_type = publicURL
            region = RegionOne
            public_network_id = {public_network_id}
            floating_network_name = public
            project_network_cidr = 10.100.0.0/16
            project_network_mask_bits = 28
            project_network_v6_cidr = 2001:db8::/48
            project_network_v6_mask_bits = 64

            [network-feature-enabled]
            ipv6 = true
            ipv6_subnet_attributes = true
            port_security = true
            api_extensions = {",".join(sorted(api_extensions))}

            [validation]
            run_validation = false
            """
        )
        + extra
    )
    return conf


def run(
    workspace: Path,
    conf: Path,
    regex: str,
    *,
    exclude: Iterable[str] = (),
    concurrency: int = 2,
    timeout: float = 900,
    bin_dir: Path | None = None,
) -> tuple[Results, str]:
    """``tempest run`` in ``workspace`` (``exclude``: test ids not to run); the results and its output."""
    bin_dir = bin_dir or Path(sys.executable).parent
    excluded = workspace / "exclude.txt"
    excluded.write_text("".join(f"^{re.escape(name)}(\\.|\\[|$)\n" for name in exclude))
    args = [
        str(bin_dir / "tempest"),
        "run",
        "--config-file",
        str(conf),
        "--regex",
        regex,
        "--concurrency",
        str(concurrency),
        "--exclude-list",
        str(excluded),
    ]
    # the workers find tempest's config by these; nothing else of the caller's environment leaks in
    keep = {k: os.environ[k] for k in ("HOME", "LANG", "LC_ALL", "TMPDIR") if k in os.environ}
    env = {
        **keep,
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "TEMPEST_CONFIG_DIR": str(conf.parent),
        "TEMPEST_CONFIG": conf.name,
    }
    done = subprocess.run(
        args, cwd=workspace, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = done.stdout + done.stderr
    stream = subprocess.run(
        [str(bin_dir / "stestr"), "last", "--subunit"], cwd=workspace, capture_output=True, timeout=120
    )
    results = parse_subunit(stream.stdout)
    if not results.status:
        raise RuntimeError(f"tempest ran no test (exit {done.returncode}):\n{output[-4000:]}")
    return results, output


def parse_subunit(data: bytes) -> Results:
    """Each test's final status from a subunit v2 stream (tempest's setUpClass failures included, under
    the class's name)."""
    import io

    import subunit
    import testtools

    results = Results()

    def on_test(test: dict[str, Any]) -> None:
        name = test["id"].split("[", 1)[0]
        status = test["status"]
        if status in ("exists", "inprogress"):
            return
        if status in ("xfail",):
            status = "success"
        if status == "uxsuccess":
            status = "fail"
        results.status[name] = status
        details = test.get("details", {})
        if status == "fail":
            text = "\n".join(
                d.as_text() for key, d in details.items() if key in ("traceback", "reason", "pythonlogging")
            )
            results.details[name] = text
        elif status == "skip" and "reason" in details:
            results.skip_reasons[name] = details["reason"].as_text()

    case = subunit.ByteStreamToStreamResult(io.BytesIO(data), non_subunit_name="stdout")
    sink = testtools.StreamToDict(on_test)
    sink.startTestRun()
    case.run(sink)
    sink.stopTestRun()
    return results
