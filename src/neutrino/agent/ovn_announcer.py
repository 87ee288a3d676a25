"""NAT addresses announced at once from the chassis that holds them (OVN mode).

ovn-controller announces a router's NAT addresses (floating IPs, the gateway's own address) by
gratuitous ARP from the gateway chassis, as the ``nat_addresses`` of the southbound
``Port_Binding`` of the external switch's router port say (``options:nat-addresses=router`` in the
northbound; entries ``MAC IP... is_chassis_resident("cr-lrp-<id>")``). But it schedules the first
announcement of an address one second after it learns of it (``pinctrl.c``: ``announce_time =
time_msec() + 1000``, then 1, 2, 4, 8, 16 s apart; no option shortens the first wait), and an
outside router that asked for a new floating IP before OVN's flows answered for it waits for its
own ARP retry, a second later too. So a floating IP became reachable about a second after its
association, where a legacy L3 agent announces it as soon as it is configured (Neutron's
``arping -U``; our builtin backend's ``qrouter`` namespaces likewise).

:class:`NatAnnouncer` closes that gap: it watches the southbound (``Chassis``, ``Port_Binding``)
and, for each IPv4 NAT address that becomes resident on this chassis (its chassisredirect port
bound here), sends one gratuitous ARP (a request, sender = target = the address, from the router
port's MAC) out of the provider bridge the localnet port's physical network maps to, onto its
physical ports only (not back into ``br-int``), tagged with the localnet port's VLAN if it has one.
ovn-controller's own announcements follow as before. Sending it is ``ovs-ofctl packet-out``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import subprocess
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from neutrino.agent.ovn_chassis import OvnConfig

log = logging.getLogger(__name__)

SCHEMA = "OVN_Southbound"
#: Interface types of a provider bridge's ports to the physical network ("": a kernel device)
PHYSICAL = ("", "system", "dpdk", "afxdp", "afxdp-nonpmd")
_RESIDENT = re.compile(r'^is_chassis_resident\("([^"]+)"\)$')


@dataclass(frozen=True, order=True)
class Announcement:
    """One gratuitous ARP to send: ``ip`` is at ``mac``, on ``bridge`` (VLAN ``tag`` or None)."""

    bridge: str
    tag: int | None
    mac: str
    ip: str


def parse_nat_addresses(entry: str) -> tuple[str, list[str], str | None]:
    """One ``Port_Binding.nat_addresses`` entry: (MAC, its IPv4 addresses, the chassisredirect
    port it is conditioned on, or None). ovn-sb(5): ``MAC IP...`` optionally followed by
    ``is_chassis_resident("PORT")``."""
    words = entry.split()
    if not words:
        raise ValueError("an empty nat_addresses entry")
    resident = None
    if words and _RESIDENT.match(words[-1]):
        match = _RESIDENT.match(words.pop())
        assert match is not None
        resident = match.group(1)
    mac, addresses = words[0], []
    for word in words[1:]:
        address = ipaddress.ip_address(word.split("/", 1)[0])
        if address.version == 4:
            addresses.append(str(address))
    return mac, addresses, resident


@dataclass(frozen=True)
class BindingView:
    """The columns of one ``Port_Binding`` the announcer reads (the replica's row, made plain)."""

    logical_port: str
    type: str
    chassis: str | None  # the chassis' name
    datapath: str  # the datapath's uuid
    nat_addresses: tuple[str, ...] = ()
    network_name: str | None = None  # a localnet port's options:network_name
    tag: int | None = None


def resident_announcements(
    system_id: str, bindings: Iterable[BindingView], bridge_mappings: dict[str, str]
) -> set[Announcement]:
    """The IPv4 NAT addresses this chassis (``system_id``) holds: entries conditioned on a
    chassisredirect port bound here, on a datapath whose localnet port's physical network this
    chassis maps onto a bridge."""
    rows = list(bindings)
    resident = {b.logical_port for b in rows if b.type == "chassisredirect" and b.chassis == system_id}
    localnet = {b.datapath: b for b in rows if b.type == "localnet" and b.network_name}
    out: set[Announcement] = set()
    for b in rows:
        if not b.nat_addresses:
            continue
        wire = localnet.get(b.datapath)
        bridge = bridge_mappings.get(wire.network_name or "") if wire is not None else None
        if wire is None or bridge is None:
            continue
        for entry in b.nat_addresses:
            try:
                mac, addresses, port = parse_nat_addresses(entry)
            except ValueError as exc:
                log.warning("ovn announcer: %s: nat_addresses %r: %s", b.logical_port, entry, exc)
                continue
            if port is not None and port in resident:
                out.update(Announcement(bridge, wire.tag, mac, ip) for ip in addresses)
    return out


def garp_frame(mac: str, ip: str) -> bytes:
    """A gratuitous ARP request (RFC 5227's announcement: sender = target = ``ip``), broadcast,
    padded to Ethernet's minimum."""
    hw = bytes.fromhex(mac.replace(":", ""))
    if len(hw) != 6:
        raise ValueError(f"mac {mac!r}: not an Ethernet address")
    addr = ipaddress.IPv4Address(ip).packed
    arp = b"\x00\x01\x08\x00\x06\x04\x00\x01" + hw + addr + b"\x00" * 6 + addr
    return (b"\xff" * 6 + hw + b"\x08\x06" + arp).ljust(60, b"\x00")


class OfctlSender:
    """Sends an :class:`Announcement` with ``ovs-ofctl packet-out`` on its bridge, out of the
    bridge's physical ports (:data:`PHYSICAL` interface types: not the patch ports to ``br-int``,
    the bridge's own internal port or tunnels)."""

    def __init__(self, config: OvnConfig, timeout: float = 5) -> None:
        self.config, self.timeout = config, timeout

    def _run(self, *argv: str) -> str:
        return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=self.timeout).stdout

    def physical_ports(self, bridge: str) -> list[int]:
        db = f"--db={self.config.ovs_db}"
        names = set(self._run("ovs-vsctl", db, "list-ports", bridge).split())
        rows = json.loads(self._run("ovs-vsctl", db, "--format=json", "--columns=name,type,ofport", "list",
                                    "Interface"))["data"]  # fmt: skip
        return sorted(
            ofport
            for name, kind, ofport in rows
            if name in names and kind in PHYSICAL and isinstance(ofport, int) and ofport > 0
        )

    def __call__(self, todo: Iterable[Announcement]) -> None:
        by_bridge: dict[str, list[Announcement]] = {}
        for a in todo:
            by_bridge.setdefault(a.bridge, []).append(a)
        for bridge, announcements in sorted(by_bridge.items()):
            ports = self.physical_ports(bridge)
            if not ports:
                log.warning("ovn announcer: bridge %s has no physical port to announce on", bridge)
                continue
            target = f"unix:{self.config.ovs_rundir / (bridge + '.mgmt')}"
            for a in sorted(announcements):
                vlan = f"mod_vlan_vid:{a.tag}," if a.tag is not None else ""
                actions = vlan + ",".join(f"output:{p}" for p in ports)
                packet = garp_frame(a.mac, a.ip).hex()
                self._run(
                    "ovs-ofctl", "packet-out", target, f"in_port=LOCAL packet={packet} actions={actions}"
                )
                log.info("ovn announcer: %s is at %s (on %s)", a.ip, a.mac, bridge)


def _cell(row: Any, column: str) -> Any:
    try:
        return getattr(row, column)
    except AttributeError:  # ovs.db.idl: a column with no datum yet
        return None


def _binding(row: Any) -> BindingView:
    chassis = _cell(row, "chassis") or []
    datapath = _cell(row, "datapath")
    tag = _cell(row, "tag") or []
    options = _cell(row, "options") or {}
    return BindingView(
        logical_port=row.logical_port,
        type=row.type,
        chassis=chassis[0].name if chassis else None,
        datapath=str(datapath.uuid) if datapath is not None else "",
        nat_addresses=tuple(_cell(row, "nat_addresses") or ()),
        network_name=options.get("network_name"),
        tag=int(tag[0]) if tag else None,
    )


class NatAnnouncer:
    """A thread following the southbound; each IPv4 NAT address that becomes resident on this
    chassis is announced once, at once (see the module's docstring). Start with :meth:`start`,
    end with :meth:`stop`."""

    def __init__(
        self,
        config: OvnConfig,
        send: Callable[[Iterable[Announcement]], None] | None = None,
        retry: float = 2.0,
    ) -> None:
        self.config = config
        self.send = send or OfctlSender(config)
        self.retry = retry
        self.announced: set[Announcement] = set()
        self._stopping = threading.Event()
        self._wake_r, self._wake_w = -1, -1
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="ovn-announcer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._wake_w >= 0:
            os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r, self._wake_w = -1, -1

    def update(self, now: set[Announcement]) -> None:
        """Announce what is new in ``now``; forget what is gone (announced again if it returns)."""
        new = now - self.announced
        if new:
            try:
                self.send(sorted(new))
            except (OSError, subprocess.SubprocessError, ValueError) as exc:
                log.error("ovn announcer: cannot announce %s: %s", ", ".join(a.ip for a in sorted(new)), exc)
                now = now - new  # tried again at the next change of the southbound
        self.announced = now

    def _ssl(self) -> None:
        import ovs.stream

        cfg = self.config
        if cfg.private_key is not None:
            ovs.stream.Stream.ssl_set_private_key_file(str(cfg.private_key))
        if cfg.certificate is not None:
            ovs.stream.Stream.ssl_set_certificate_file(str(cfg.certificate))
        if cfg.ca_cert is not None:
            ovs.stream.Stream.ssl_set_ca_cert_file(str(cfg.ca_cert))

    def _idl(self) -> Any:
        """A replica of the columns read, its schema fetched from the server (the connection
        attempt bounded, so :meth:`stop` is not held up by an unreachable southbound)."""
        import ovs.db.idl
        import ovs.jsonrpc
        import ovs.stream

        error, stream = ovs.stream.Stream.open_block(ovs.stream.Stream.open(self.config.remote), timeout=2000)
        if error:
            raise OSError(error, os.strerror(error))
        rpc = ovs.jsonrpc.Connection(stream)
        try:
            error, reply = rpc.transact_block(ovs.jsonrpc.Message.create_request("get_schema", [SCHEMA]))
        finally:
            rpc.close()
        if error:
            raise OSError(error, os.strerror(error))
        if reply.error:
            raise OSError(f"get_schema: {reply.error}")
        helper = ovs.db.idl.SchemaHelper(schema_json=reply.result)
        helper.register_columns(
            "Port_Binding", ["logical_port", "type", "chassis", "datapath", "nat_addresses", "options", "tag"]
        )
        helper.register_columns("Chassis", ["name"])
        helper.register_columns("Datapath_Binding", ["tunnel_key"])
        idl = ovs.db.idl.Idl(self.config.remote, helper)
        # Not the VMs' bindings (type ""): they carry no NAT addresses and are nearly every row. With
        # them, each binding's change (made, claimed, up: three per port) had this thread rebuild
        # its view of every binding, CPU as the square of the ports, beside the chassis' own work.
        idl.cond_change("Port_Binding", [["type", "!=", ""]])
        return idl

    def _run(self) -> None:
        import ovs.poller

        if self.config.remote.startswith("ssl:"):
            self._ssl()
        idl = None
        while idl is None and not self._stopping.is_set():
            try:
                idl = self._idl()
            except OSError as exc:  # the southbound not reachable yet
                log.warning("ovn announcer: southbound %s: %s; retrying", self.config.remote, exc)
                self._stopping.wait(self.retry)
        if idl is None:
            return
        seen = None
        try:
            while not self._stopping.is_set():
                idl.run()
                if idl.change_seqno != seen:
                    seen = idl.change_seqno
                    rows = [_binding(r) for r in idl.tables["Port_Binding"].rows.values()]
                    self.update(
                        resident_announcements(self.config.system_id, rows, self.config.bridge_mappings)
                    )
                poller = ovs.poller.Poller()
                idl.wait(poller)
                poller.fd_wait(self._wake_r, ovs.poller.POLLIN)
                poller.block()
        finally:
            idl.close()
