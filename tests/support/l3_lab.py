"""A routed lab on the builtin backend: two hosts (namespaces ``h1``, ``h2``) with agents that are
L3 agents too, the embedded provider on their underlay, an external flat network ``public``
(a bridge ``phys`` in the underlay namespace, each host's ``eth9`` on it, mapped by
``--physical-interface-mapping public:eth9``) and the outside world: a namespace ``out`` on that
bridge holding the external subnet's gateway address. Nothing leaves the machine.

Guests are created as the engine would (a port on the provider, then the agent's create-VM verb)
and configured statically (address, default route via their subnet's gateway). Shared by the
routing system test and the L3 benchmark.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tests.support.netlab import AgentProcess, Lab, sh
from tests.support.provider_lab import PASSWORD, NeutronCalls, Provider

OUTSIDE_IP = "203.0.113.1"  # the external subnet's gateway: the outside world
EXTERNAL_CIDR = "203.0.113.0/24"
#: a TCP server in the outside namespace that answers each connection with the address it came from
WHOAMI = (
    "import socket\n"
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('0.0.0.0', 9000)); s.listen(16)\n"
    "while True:\n    c, a = s.accept(); c.sendall(a[0].encode()); c.close()\n"
)
#: a TCP server in a guest, on the ports given as arguments (accept, close)
LISTEN = (
    "import selectors, socket, sys\n"
    "sel = selectors.DefaultSelector()\n"
    "for port in sys.argv[1:]:\n"
    "    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "    s.bind(('0.0.0.0', int(port))); s.listen(16); sel.register(s, selectors.EVENT_READ)\n"
    "while True:\n"
    "    for key, _ in sel.select():\n        c, _ = key.fileobj.accept(); c.close()\n"
)


def eventually(what: str, check: Callable[[], bool], within: float = 10.0) -> float:
    """Seconds until ``check()`` held; fails after ``within``."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > within:
            raise AssertionError(f"not within {within} s: {what}")
        time.sleep(0.05)
    return time.monotonic() - start


class RoutedSite:
    """What a routed site's tests and benchmarks do on the provider and ask of its guests, whichever backend
    routes them: the builtin lab (:class:`RoutedLab`) and the OVN one (``bench/ovn_routed.py``) name their
    guests' namespaces in ``guests``, run commands through ``lab``, call the provider through ``provider``,
    and say what their tenant networks are (``tenant_type``) and which physical network the outside is on."""

    lab: Lab
    guests: dict[str, str]
    provider: NeutronCalls
    tenant_type: dict[str, str]  # a tenant network's provider attributes
    physnet: str  # the external network's physical network

    # -- the provider --------------------------------------------------------------------------
    def network(self, name: str, cidr: str) -> dict[str, Any]:
        """A tenant network (``tenant_type``) with one IPv4 subnet, no DHCP."""
        p = self.provider
        net = p.create("networks", "network", name=name, **self.tenant_type)
        subnet = p.create(
            "subnets", "subnet", network_id=net["id"], cidr=cidr, ip_version=4, enable_dhcp=False
        )
        return {**net, "subnet": subnet}

    def external_network(self) -> dict[str, Any]:
        """The flat external network on ``physnet`` and its subnet, the outside host its gateway."""
        p = self.provider
        net = p.create("networks", "network", name="public", **{
            "provider:network_type": "flat", "provider:physical_network": self.physnet, "router:external": True,
        })  # fmt: skip
        subnet = p.create(
            "subnets", "subnet", network_id=net["id"], cidr=EXTERNAL_CIDR, ip_version=4, enable_dhcp=False,
            gateway_ip=OUTSIDE_IP, allocation_pools=[{"start": "203.0.113.10", "end": "203.0.113.99"}],
        )  # fmt: skip
        return {**net, "subnet": subnet}

    def group(self, name: str, *rules: dict[str, Any]) -> str:
        group: str = self.provider.create("security-groups", "security_group", name=name)["id"]
        for rule in rules:
            self.provider.create(
                "security-group-rules",
                "security_group_rule",
                security_group_id=group,
                direction="ingress",
                **rule,
            )
        return group

    def put(self, path: str, body: Any) -> Any:
        response = self.provider.request("PUT", path, body)
        assert response.status_code == 200, response.text
        return response.json()

    def router_ports_active(self, router_id: str) -> bool:
        ports = self.provider.get("/v2.0/ports", device_id=router_id)["ports"]
        return bool(ports) and all(p["status"] == "ACTIVE" for p in ports)

    # -- the guests ----------------------------------------------------------------------------
    def listen(self, name: str, *ports: int) -> None:
        """A TCP server in the guest on these ports (accept, close)."""
        self.lab.spawn(self.guests[name], sys.executable, "-c", LISTEN, *map(str, ports))

    def ping(self, ns: str, address: str, wait: float = 1) -> bool:
        return self.lab.ping(ns, address, count=1, wait=wait)

    def tcp(self, ns: str, address: str, port: int) -> bool:
        """Whether a TCP connection from ``ns`` to ``address:port`` opens within a second."""
        code = f"import socket; socket.create_connection(('{address}', {port}), timeout=1).close()"
        return self.lab.in_ns(ns, sys.executable, "-c", code, check=False).returncode == 0

    def seen_from_outside(self, ns: str) -> str:
        """The source address the outside's server sees a connection from ``ns`` come from ("" if
        it cannot connect)."""
        code = (
            f"import socket\ns = socket.create_connection(('{OUTSIDE_IP}', 9000), timeout=2)\n"
            "print(s.recv(64).decode())"
        )
        proc = self.lab.in_ns(ns, sys.executable, "-c", code, check=False)
        return proc.stdout.strip() if proc.returncode == 0 else ""


class RoutedLab(RoutedSite):
    """The lab's handles and the steps tests and benchmarks take."""

    provider: Provider

    def __init__(self, lab: Lab, provider: Provider, hosts: dict[str, str]) -> None:
        self.lab, self.provider, self.hosts = lab, provider, hosts
        self.tenant_type, self.physnet = {"provider:network_type": "vxlan"}, "public"
        self.agents: dict[str, AgentProcess] = {}
        self.outside = f"{lab.prefix}out"
        self.ips: dict[str, str] = {}
        self.ports: dict[str, dict[str, Any]] = {}
        self.guests: dict[str, str] = {}

    # -- the agents ----------------------------------------------------------------------------
    def start_agent(self, name: str) -> AgentProcess:
        octet = {"h1": "1", "h2": "2"}[name]
        old = self.agents.get(name)
        if old is not None:
            old.start()  # the same process arguments and data dir: a restart
            return old
        self.agents[name] = self.lab.agent(
            self.hosts[name], name, "--host-net", "kernel", "--vm-backend", "netns",
            "--vnic-driver", "LINUX_BRIDGE=linux_bridge", "--tunnel-ip", f"10.199.0.{octet}",
            "--netns-prefix", f"{self.lab.prefix}{name}-", "--no-guest-dhcp", "--no-provider-dhcp",
            "--physical-interface-mapping", "public:eth9",
            "--provider-url", self.provider.url, "--provider-password", PASSWORD, "--report-interval", "0.5",
        )  # fmt: skip
        return self.agents[name]

    def router_namespace(self, host: str, router_id: str) -> str:
        return f"{self.lab.prefix}{host}-qrouter-{router_id}"

    def l3_hosts(self, router_id: str) -> list[str]:
        return [a["host"] for a in self.provider.get(f"/v2.0/routers/{router_id}/l3-agents")["agents"]]

    # -- guests ------------------------------------------------------------------------------------
    def vm(self, name: str, host: str, network: dict[str, Any], groups: list[str]) -> str:
        """A guest on ``network`` at ``host``, configured with its port's address; returns it."""
        nic_id = str(uuid.uuid4())
        port = self.provider.create(
            "ports", "port", network_id=network["id"], device_owner="oVirt", device_id=nic_id,
            security_groups=groups, **{"binding:host_id": host},
        )  # fmt: skip
        self.ports[name], self.ips[name] = port, port["fixed_ips"][0]["ip_address"]
        nic = {
            "nic_id": nic_id, "name": "nic1", "mac": port["mac_address"], "mtu": network["mtu"],
            "external": {"vnic_id": port["id"], "plugin_type": "LINUX_BRIDGE", "network_id": network["id"],
                         "network_type": "vxlan", "segmentation_id": network["provider:segmentation_id"],
                         "security_groups": groups},
        }  # fmt: skip
        created = self.agents[host].call("POST", "/vms", {"vm_id": name, "name": name, "nics": [nic]})
        assert created.status_code == 201, created.text
        guest = self.guests[name] = f"{self.lab.prefix}{host}-{name}"
        prefix = network["subnet"]["cidr"].split("/")[1]
        sh("ip", "-n", guest, "addr", "add", f"{self.ips[name]}/{prefix}", "dev", "eth0")
        sh("ip", "-n", guest, "route", "add", "default", "via", network["subnet"]["gateway_ip"])
        return guest

    def fip_status(self, fip_id: str) -> str:
        return str(self.provider.get(f"/v2.0/floatingips/{fip_id}")["floatingip"]["status"])

    def host_down(self, host: str) -> None:
        """The host is gone from both wires (its agent stopped first by the caller)."""
        for dev in ("ul0", "eth9"):
            sh("ip", "-n", self.hosts[host], "link", "set", dev, "down")

    def host_up(self, host: str) -> None:
        for dev in ("ul0", "eth9"):
            sh("ip", "-n", self.hosts[host], "link", "set", dev, "up")


@contextmanager
def routed_lab(lab: Lab, agent_down_time: float = 8.0) -> Iterator[RoutedLab]:
    """Everything above running; the provider (agents not alive after ``agent_down_time`` s, routers
    moved within a second) and the agents stopped afterwards (the lab removes the namespaces)."""
    hosts = lab.underlay({"h1": "1", "h2": "2"})
    ul = f"{lab.prefix}ul"
    sh("ip", "-n", ul, "link", "add", "phys", "type", "bridge")
    sh("ip", "-n", ul, "link", "set", "phys", "up")
    for name, ns in hosts.items():
        sh("ip", "-n", ns, "link", "add", "eth9", "type", "veth", "peer", "name", f"x-{name}", "netns", ul)
        sh("ip", "-n", ul, "link", "set", f"x-{name}", "master", "phys", "up")
        sh("ip", "-n", ns, "link", "set", "eth9", "up")
    outside = lab.netns("out")
    sh("ip", "-n", outside, "link", "add", "eth0", "type", "veth", "peer", "name", "x-out", "netns", ul)
    sh("ip", "-n", ul, "link", "set", "x-out", "master", "phys", "up")
    sh("ip", "-n", outside, "addr", "add", f"{OUTSIDE_IP}/24", "dev", "eth0")
    sh("ip", "-n", outside, "link", "set", "eth0", "up")
    sh("ip", "-n", ul, "addr", "add", "10.199.0.254/24", "dev", "br0")
    provider = Provider(
        lab, ul, args=["--agent-down-time", str(agent_down_time), "--l3-schedule-interval", "0.5"]
    )
    try:
        provider.start()
        routed = RoutedLab(lab, provider, hosts)
        lab.spawn(outside, sys.executable, "-c", WHOAMI)
        for name in ("h1", "h2"):
            routed.start_agent(name)
        yield routed
    finally:
        for agent in lab.agents:
            agent.stop()
        provider.stop()


def dump(routed: RoutedLab) -> str:
    """What the provider and the hosts hold, for a failure message."""
    out = [json.dumps(routed.provider.get("/v2.0/agents"), indent=1)]
    for host, ns in routed.hosts.items():
        out.append(f"== {host}\n" + sh("ip", "-n", ns, "-br", "link", check=False).stdout)
    return "\n".join(out)
