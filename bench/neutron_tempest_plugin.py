"""neutron-tempest-plugin's API tests (``neutron_tempest_plugin.api``) against ``neutrino provider``, by hand.

Not part of CI: the plugin brings Neutron's own libraries (neutron-lib, os-ken, oslo.messaging,
eventlet...), so it lives in a venv of its own, ``.venv-tempest-plugin`` at the checkout's root, made on
first use from pinned requirements. The provider runs from this interpreter (the checkout under test);
tempest and the plugin from that venv. Prints the counts and the failures grouped by their error line.

    python -m bench.neutron_tempest_plugin [--regex R] [--keep DIR] [--concurrency N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from tests.support import tempest
from tests.support.servers import agent_process

from bench.provider_process import PASSWORD, PLAIN_HTTP, provider_process

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-tempest-plugin"
REQUIREMENTS = ("tempest==47.0.0", "neutron-tempest-plugin==3.3.0")

#: the plugin's own options: what this provider's networks are made of
PLUGIN_OPTIONS = """
[neutron_plugin_options]
available_type_drivers = vxlan,vlan,flat
provider_vlans = physnet1
default_image_is_advanced = false
create_shared_resources = false
ipv6_metadata = false
"""


#: Neutron's own ``[QUOTAS]`` defaults, which the plugin's quota tests take for granted (they create up to
#: the default and double it); the embedded provider's defaults are unlimited (-1) unless configured,
#: so this run configures Neutron's, as a deployment's neutron.conf would
NEUTRON_QUOTA_DEFAULTS = {
    "network": 100,
    "subnet": 100,
    "port": 500,
    "router": 10,
    "floatingip": 50,
    "security_group": 10,
    "security_group_rule": 100,
    "rbac_policy": 10,
}


def ensure_venv() -> Path:
    bin_dir = VENV / "bin"
    marker = VENV / "requirements.txt"
    if marker.exists() and marker.read_text().split() == list(REQUIREMENTS):
        return bin_dir
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(bin_dir / "pip"), "install", "-q", *REQUIREMENTS], check=True)
    marker.write_text("\n".join(REQUIREMENTS) + "\n")
    return bin_dir


def failure_line(details: str) -> str:
    """The last line of a traceback that names an error: what a failure group is keyed by."""
    lines = [line.strip() for line in details.splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error" in line or "Exception" in line or "Mismatch" in line or line.startswith("Details:"):
            return line[:200]
    return lines[-1][:200] if lines else "(no details)"


def wait_for_l3_agent(url: str, auth_url: str, host: str, timeout: float = 30.0) -> None:
    with tempest.admin_client(url, auth_url, PASSWORD) as client:
        deadline = time.monotonic() + timeout
        while True:
            answer = client.get("/v2.0/agents", params={"agent_type": "L3 agent", "host": host})
            answer.raise_for_status()
            if any(agent["alive"] for agent in answer.json()["agents"]):
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"the agent {host}'s L3 agent never reported to the provider")
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regex", default=r"^neutron_tempest_plugin\.api\.")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it (logs, subunit)")
    args = parser.parse_args()
    bin_dir = ensure_venv()
    work = args.keep or Path(tempfile.mkdtemp(prefix="ntp-"))
    work.mkdir(parents=True, exist_ok=True)
    quotas = {f"NEUTRINO_PROVIDER_QUOTA_{name.upper()}": str(n) for name, n in NEUTRON_QUOTA_DEFAULTS.items()}
    with provider_process(work / "provider", env=quotas) as url:
        auth_url = f"{url}/v3"
        # a host agent as the deployment's L2 and L3 agent (in-memory host network), as tempest's own run has:
        # the plugin's router interface and agent tests need one
        agent_args = [
            "--vnic-driver",
            "LINUX_BRIDGE=linux_bridge",
            "--provider-url",
            url,
            "--provider-password",
        ]
        with agent_process(work, "plugin-host", [*agent_args, PASSWORD], env=dict(PLAIN_HTTP)) as agent:
            wait_for_l3_agent(url, auth_url, agent.name)
            conf = tempest.write_config(
                work / "ws",
                auth_url=auth_url,
                admin_password=PASSWORD,
                api_extensions=tempest.extensions(url, auth_url, PASSWORD),
                public_network_id=tempest.public_network(url, auth_url, PASSWORD),
                extra=PLUGIN_OPTIONS,
            )
            results, _ = tempest.run(
                work / "ws", conf, args.regex, concurrency=args.concurrency, timeout=3600, bin_dir=bin_dir
            )
    print(results.summary())
    groups = Counter(failure_line(results.details.get(name, "")) for name in results.named("fail"))
    print("\nfailures by error:")
    for line, count in groups.most_common():
        print(f"{count:4d}  {line}")
    print("\nfailed tests:")
    for name in results.named("fail"):
        print(f"  {name}  --  {failure_line(results.details.get(name, ''))}")
    reasons = Counter(results.skip_reasons.values())
    print("\nskips by reason:")
    for reason, count in reasons.most_common():
        print(f"{count:4d}  {reason.strip()[:160]}")
    print(f"\nwork directory: {work}")


if __name__ == "__main__":
    main()
