"""The rig of the OVN benches that bind ports on chassis: an OVN lab (central and two chassis in
namespaces, ``tests/support/ovn_lab.py``) whose chassis a ``neutrino agent`` each makes OVN chassis
(``system-id`` = the host name, ``br-int``, ovn-controller), and ``neutrino provider --backend ovn``
as a process writing the lab's northbound, with one network and one subnet.

A port is bound the way a host does it: an Open vSwitch port on the chassis' ``br-int`` whose
``external_ids:iface-id`` is the port's id (ovn-controller claims it, ovn-northd sets the logical
port ``up``, the provider makes it ACTIVE). :func:`ovn_rig` undoes everything it did on the way out
(the lab may be a test session's, shared with other tests): ports off ``br-int``, agents stopped,
chassis forgotten in the southbound, the provider's rows gone from the northbound.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tests.support.netlab import AgentProcess, Lab
from tests.support.ovn_lab import PHYSNET, PROVIDER_BRIDGE, Chassis, OvnLab, wait_for

from bench.provider_process import admin_client, created, provider_process
from neutrino.agent.datapath.vswitch import IdlOvsDb

CIDR = "10.78.0.0/16"  # the rig's subnet


@dataclass
class Rig:
    ovn: OvnLab
    lab: Lab  # where this rig's agents and guest namespaces live
    tag: str  # in every name the rig makes
    hosts: dict[str, Chassis]  # binding:host_id -> chassis
    client: httpx.Client  # the provider's Neutron API, as admin
    network: dict[str, Any]
    subnet: dict[str, Any]
    on_br_int: dict[str, list[str]] = field(default_factory=dict)  # host -> OVS ports the rig added
    #: how :meth:`plug` writes the chassis' OVSDB: "ovsdb", one transaction on a long-lived
    #: connection (ovsdbapp, :class:`~neutrino.agent.datapath.vswitch.IdlOvsDb`, as the agent plugs);
    #: "vsctl", an ``ovs-vsctl`` process per plug
    plug_with: str = "ovsdb"
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _switches: dict[str, IdlOvsDb] = field(default_factory=dict)

    def port(self, host: str, **body: Any) -> dict[str, Any]:
        """A port on the rig's network bound to ``host`` (``binding:host_id``)."""
        request = {"network_id": self.network["id"], "binding:host_id": host, "device_owner": "bench", **body}
        return created(self.client.post("/v2.0/ports", json={"port": request}), "port")

    def plug(self, host: str, device: str, port_id: str, internal: bool = False) -> None:
        """``device`` onto ``host``'s ``br-int`` with ``iface-id`` = ``port_id`` (an OVS internal port
        of that name with ``internal``), as an agent plugs a vNIC."""
        with self._lock:
            self.on_br_int.setdefault(host, []).append(device)
            switch = self._switches.get(host)
            if switch is None and self.plug_with == "ovsdb":
                switch = self._switches[host] = IdlOvsDb(self.hosts[host].db, timeout=20)
        if switch is not None:
            switch.ensure_port("br-int", device, None, {"iface-id": port_id}, "internal" if internal else "")
            return
        kind = ["type=internal"] if internal else []
        self.hosts[host].vsctl("add-port", "br-int", device, "--", "set", "Interface", device, *kind,
                               f"external_ids:iface-id={port_id}")  # fmt: skip

    def close(self) -> None:
        """The rig's OVSDB connections closed."""
        for switch in self._switches.values():
            switch.close()
        self._switches.clear()

    def unplug(self, host: str, device: str) -> None:
        self.hosts[host].vsctl("--if-exists", "del-port", "br-int", device)
        with self._lock:
            self.on_br_int[host].remove(device)

    def status(self, port_ids: list[str]) -> dict[str, str]:
        """The provider's status of these ports, by id."""
        params = [("id", i) for i in port_ids] + [("fields", "id"), ("fields", "status")]
        response = self.client.get("/v2.0/ports", params=params)
        response.raise_for_status()
        return {p["id"]: p["status"] for p in response.json()["ports"]}


def _chassis_agents(
    ovn: OvnLab, lab: Lab, hosts: dict[str, Chassis], more: Sequence[str], env: dict[str, str] | None = None
) -> list[AgentProcess]:
    agents = []
    for host, ch in hosts.items():
        agents.append(
            lab.agent(
                ch.ns,
                host,
                "--vm-backend",
                "netns",
                "--netns-prefix",
                f"{lab.prefix}{ch.name}-",
                "--ovn-remote",
                ovn.sb_remote,
                "--ovn-encap-ip",
                ch.ip,
                "--ovs-rundir",
                str(ch.rundir),
                "--ovn-rundir",
                str(ch.rundir),
                *more,
                env=env,
            )  # fmt: skip
        )
    return agents


@contextmanager
def ovn_rig(
    ovn: OvnLab,
    lab: Lab,
    workdir: Path,
    connections: int = 20,
    routing: bool = False,
    maintenance: float = 3600,
    env: dict[str, str] | None = None,
) -> Iterator[Rig]:
    """The rig on ``ovn``'s central and chassis; ``lab`` holds its agents (and the benches' guests).
    The provider reads the southbound too, as ``neutrino up`` has it (its chassis are agents and the
    candidates for routers' gateways, and ports' bindings say when they are up). With ``routing``,
    each agent maps the lab's physical network onto its provider bridge. The
    provider's northbound maintenance runs every ``maintenance`` seconds; ``env`` is added to the
    environment of the provider and the agents (``PYTHONPATH``: another checkout's, as a baseline)."""
    tag = secrets.token_hex(2)
    hosts = {f"b{tag}{ch.name}": ch for ch in ovn.chassis}
    agents: list[AgentProcess] = []
    rig: Rig | None = None
    nb = f"unix:{ovn.workdir / 'central' / 'ovnnb_db.sock'}"
    # what the agents add to each switch's external ids stays after them: put back as found, so the
    # next rig on this lab (another checkout's agents) starts from the same chassis
    found = {host: _switch_ids(ch) for host, ch in hosts.items()}
    try:
        mappings = ("--ovn-bridge-mappings", f"{PHYSNET}:{PROVIDER_BRIDGE}") if routing else ()
        agents = _chassis_agents(ovn, lab, hosts, mappings, env)
        wait_for("the chassis in the southbound", lambda: set(hosts) <= ovn.sb_chassis(), timeout=60)
        # the southbound as `neutrino up` gives it: the chassis as agents, ports' `up` from their bindings
        sb = f"unix:{ovn.workdir / 'central' / 'ovnsb_db.sock'}"
        args = ["--backend", "ovn", "--ovn-nb-connection", nb, "--ovn-sb-connection", sb,
                "--ovn-maintenance-interval", str(maintenance)]  # fmt: skip
        with (
            provider_process(workdir / f"provider-{tag}", "", args, env=env) as base,
            admin_client(base, connections) as client,
        ):
            network = created(client.post("/v2.0/networks", json={"network": {"name": "bench"}}), "network")
            body = {"network_id": network["id"], "cidr": CIDR, "ip_version": 4}
            subnet = created(client.post("/v2.0/subnets", json={"subnet": body}), "subnet")
            rig = Rig(ovn, lab, tag, hosts, client, network, subnet)
            yield rig
    finally:
        if rig is not None:
            rig.close()
            for host, devices in rig.on_br_int.items():
                for start in range(0, len(devices), 100):  # one ovs-vsctl call per 100 ports
                    commands = [
                        a
                        for d in devices[start : start + 100]
                        for a in ("--", "--if-exists", "del-port", "br-int", d)
                    ]
                    hosts[host].vsctl(*commands[1:])
        for agent in agents:
            agent.stop()
        for host, ch in hosts.items():
            added = set(_switch_ids(ch)) - set(found[host])
            if added:
                ch.vsctl("remove", "Open_vSwitch", ".", "external_ids", *sorted(added))
            if found[host]:
                ch.vsctl(
                    "set",
                    "Open_vSwitch",
                    ".",
                    *[f"external_ids:{k}={json.dumps(v)}" for k, v in found[host].items()],
                )
        ovn.forget_chassis(*hosts)
        ovn.forget_neutron()
        if routing:
            ovn.forget_patch_ports()


def _switch_ids(ch: Chassis) -> dict[str, str]:
    """The chassis' ``Open_vSwitch`` external ids."""
    rows = json.loads(ch.vsctl("--format=json", "--columns=external_ids", "list", "Open_vSwitch"))["data"]
    return {k: v for k, v in rows[0][0][1]} if rows else {}


def wait_until(what: str, check: Any, timeout: float, every: float = 0.01) -> float:
    """Poll ``check`` until true; the ``time.perf_counter()`` when it was."""
    deadline = time.perf_counter() + timeout
    while not check():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)
    return time.perf_counter()
