"""A routed site on the OVN backend: the OVN rig (``bench/ovn_rig.py``, with routing: each chassis maps
``physnet1`` onto its provider bridge, the provider reads the southbound) plus an external flat network
on ``physnet1`` and the outside world: a namespace on the provider wire (the lab's ``br1``, which joins
the chassis' ``br-prov``) holding the external subnet's gateway address.

Guests are namespaces whose ``eth0`` pairs with a device on a chassis' ``br-int`` (``iface-id`` = the
port's id, as the agent plugs a netns guest), configured statically (address, default route via the
subnet's gateway). It offers the steps ``bench/l3_routing.py`` takes on the builtin backend's lab
(``tests/support/l3_lab.py``), under the same names, so the bench measures both alike; the OVN
routing system test uses it too.
"""

from __future__ import annotations

import ipaddress
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from tests.support.l3_lab import OUTSIDE_IP, RoutedSite
from tests.support.netlab import Lab, sh
from tests.support.ovn_lab import PHYSNET, OvnLab, wait_for
from tests.support.provider_lab import NeutronCalls

from bench.ovn_rig import Rig, ovn_rig
from neutrino.agent.datapath.ethtool import set_tx_checksum

MTU = "1400"  # below Geneve's 1442 on the lab's 1500 underlay
#: a TCP server in the outside namespace that answers each connection with the address it came from
WHOAMI = (
    "import socket\n"
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('0.0.0.0', 9000)); s.listen(16)\n"
    "while True:\n    c, a = s.accept(); c.sendall(a[0].encode()); c.close()\n"
)


class _Api(NeutronCalls):
    """The rig's admin client."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def request(self, method: str, path: str, body: Any = None, params: Any = None) -> httpx.Response:
        return self.client.request(method, path, json=body, params=params)


class OvnRouted(RoutedSite):
    """The site's handles and steps (names as :class:`tests.support.l3_lab.RoutedLab`'s)."""

    def __init__(self, rig: Rig, outside: str) -> None:
        self.rig, self.lab, self.outside = rig, rig.lab, outside
        self.provider = _Api(rig.client)
        self.tenant_type, self.physnet = {}, PHYSNET
        #: "h1", "h2" (the builtin lab's host names) → the rig's chassis hosts
        self.hosts = dict(zip(("h1", "h2"), rig.hosts, strict=True))
        self.ips: dict[str, str] = {}
        self.ports: dict[str, dict[str, Any]] = {}
        self.guests: dict[str, str] = {}

    def l3_hosts(self, router_id: str) -> list[str]:
        """The chassis the router's gateway port is bound to, by the northbound (as the builtin lab
        names the host of the router's L3 agent)."""
        owner = "network:router_gateway"
        ports = self.provider.get("/v2.0/ports", device_id=router_id, device_owner=owner)["ports"]
        out = []
        for port in ports:
            listed = self.rig.ovn.nbctl("lrp-get-gateway-chassis", f"lrp-{port['id']}")
            out += [
                line.split()[0].removeprefix(f"lrp-{port['id']}_") for line in listed.splitlines() if line
            ]
        return out

    def vm(self, name: str, host: str, network: dict[str, Any], groups: list[str]) -> str:
        """A guest on ``network`` at ``host`` ("h1" or "h2"), configured with its port's address."""
        chassis_host = self.hosts[host]
        port = self.rig.port(chassis_host, network_id=network["id"], security_groups=groups)
        self.ports[name], self.ips[name] = port, port["fixed_ips"][0]["ip_address"]
        chassis_ns = self.rig.hosts[chassis_host].ns
        device = f"g{self.rig.tag}{name}"
        guest = self.guests[name] = self.lab.netns(f"g-{name}")
        prefix = ipaddress.ip_network(network["subnet"]["cidr"]).prefixlen
        sh(
            "ip",
            "-n",
            guest,
            "link",
            "add",
            "eth0",
            "type",
            "veth",
            "peer",
            "name",
            device,
            "netns",
            chassis_ns,
        )
        for args in (("link", "set", "eth0", "address", port["mac_address"]), ("link", "set", "eth0", "mtu", MTU),
                     ("addr", "add", f"{self.ips[name]}/{prefix}", "dev", "eth0"), ("link", "set", "eth0", "up"),
                     ("route", "add", "default", "via", network["subnet"]["gateway_ip"])):  # fmt: skip
            sh("ip", "-n", guest, *args)
        sh("ip", "-n", chassis_ns, "link", "set", device, "mtu", MTU, "up")
        # the netdev datapath forwards frames as they are: no checksum left to offload (PLATFORM.md)
        set_tx_checksum("eth0", False, netns=guest)
        set_tx_checksum(device, False, netns=chassis_ns)
        self.rig.plug(chassis_host, device, port["id"])
        return guest


def _outside(ovn: OvnLab, lab: Lab, tag: str) -> str:
    """The outside namespace, its ``eth0`` on the provider wire (the underlay namespace's ``br1``)."""
    outside = lab.netns("out")
    wire = f"x{tag}out"
    sh(
        "ip",
        "-n",
        outside,
        "link",
        "add",
        "eth0",
        "type",
        "veth",
        "peer",
        "name",
        wire,
        "netns",
        ovn.underlay_ns,
    )
    sh("ip", "-n", ovn.underlay_ns, "link", "set", wire, "master", "br1", "up")
    set_tx_checksum("eth0", False, netns=outside)
    set_tx_checksum(wire, False, netns=ovn.underlay_ns)
    for args in (("addr", "add", f"{OUTSIDE_IP}/24", "dev", "eth0"), ("link", "set", "eth0", "mtu", MTU),
                 ("link", "set", "eth0", "up")):  # fmt: skip
        sh("ip", "-n", outside, *args)
    return outside


@contextmanager
def ovn_routed(ovn: OvnLab, lab: Lab, workdir: Path, maintenance: float = 3600) -> Iterator[OvnRouted]:
    """The rig with routing (the provider's maintenance every ``maintenance`` s), the outside namespace
    and its server; all undone afterwards (the outside's wire goes with its namespace, which ``lab``
    deletes)."""
    with ovn_rig(ovn, lab, workdir, routing=True, maintenance=maintenance) as rig:
        outside = _outside(ovn, lab, secrets.token_hex(2))
        lab.spawn(outside, sys.executable, "-c", WHOAMI)
        site = OvnRouted(rig, outside)
        agents = lambda: site.provider.get("/v2.0/agents", agent_type="OVN Controller agent")["agents"]  # noqa: E731
        wait_for(
            "the chassis listed as agents",
            lambda: {a["host"] for a in agents()} >= set(rig.hosts),
            timeout=30,
        )
        yield site
