"""Gratuitous ARP (what ``arping -U`` sends), from a raw socket in a named namespace: neighbours
update their caches and switches learn the port of an address that moved (a router's gateway
or floating IP now on another host). No ``arping`` process: it would linger a second."""

from __future__ import annotations

import ipaddress
import socket
import struct

from neutrino.agent.datapath.ethtool import netns_socket

ETH_P_ARP = 0x0806
BROADCAST = b"\xff" * 6


def gratuitous_arp(mac: str, address: str) -> bytes:
    """The Ethernet frame of a gratuitous ARP request for ``address`` from ``mac``."""
    hw = bytes.fromhex(mac.replace(":", ""))
    ip = ipaddress.IPv4Address(address).packed
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, hw, ip, b"\x00" * 6, ip)
    return BROADCAST + hw + struct.pack("!H", ETH_P_ARP) + arp


def send_gratuitous_arp(netns: str | None, device: str, mac: str, address: str) -> None:
    """Send one gratuitous ARP for ``address`` out of ``device`` (its MAC ``mac``); raises OSError."""
    with netns_socket(netns, socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP)) as sock:
        sock.bind((device, ETH_P_ARP))
        sock.send(gratuitous_arp(mac, address))
