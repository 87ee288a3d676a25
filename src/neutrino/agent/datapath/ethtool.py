"""A device's TX checksum offload (``ethtool -K DEV tx on|off``) through the ``SIOCETHTOOL``
ioctl, so the agent needs no ``ethtool`` binary.

The ioctl acts on the namespace of the socket it is issued on; for a named namespace the socket
is opened by a short-lived thread that first joins ``/run/netns/<name>`` (``setns`` moves only
the calling thread, and the thread ends right after).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
import threading

SIOCETHTOOL = 0x8946
ETHTOOL_GTXCSUM = 0x16
ETHTOOL_STXCSUM = 0x17
CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = "/run/netns"


def netns_socket(
    netns: str | None, family: int = socket.AF_INET, kind: int = socket.SOCK_DGRAM, proto: int = 0
) -> socket.socket:
    """A socket of the named namespace (None: the agent's own); it stays there once made."""
    if netns is None:
        return socket.socket(family, kind, proto)
    made: list[socket.socket] = []
    failed: list[OSError] = []

    def enter() -> None:
        try:
            fd = os.open(os.path.join(NETNS_RUN_DIR, netns), os.O_RDONLY | os.O_CLOEXEC)
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns {netns}: {os.strerror(err)}")
            finally:
                os.close(fd)
            made.append(socket.socket(family, kind, proto))
        except OSError as exc:
            failed.append(exc)

    thread = threading.Thread(target=enter, name=f"netns-{netns}", daemon=True)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    return made[0]


def _ethtool(netns: str | None, dev: str, cmd: int, data: int = 0) -> int:
    name = dev.encode()
    if not name or len(name) > 15:
        raise OSError(f"invalid device name {dev!r}")
    value = ctypes.create_string_buffer(struct.pack("II", cmd, data))  # struct ethtool_value
    ifreq = struct.pack("16sP16x", name, ctypes.addressof(value))  # struct ifreq, ifr_data
    with netns_socket(netns) as sock:
        fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifreq)
    return int(struct.unpack("II", value.raw[:8])[1])


def tx_checksum(dev: str, netns: str | None = None) -> bool:
    """Whether the device offloads TX checksums (``ethtool -k DEV`` ``tx-checksumming``)."""
    return _ethtool(netns, dev, ETHTOOL_GTXCSUM) != 0


def set_tx_checksum(dev: str, enabled: bool, netns: str | None = None) -> None:
    """``ethtool -K DEV tx on|off``: off makes the kernel complete TCP/UDP checksums in software
    before the device sends a frame."""
    _ethtool(netns, dev, ETHTOOL_STXCSUM, int(enabled))
