"""Links, addresses and flood entries of the agent's own namespace over netlink (pyroute2), and its
sysctls through ``/proc/sys``: what :class:`~neutrino.agent.datapath.iproute.IpRouteNet` does in
that namespace without starting an ``ip``, ``bridge`` or ``sysctl`` process per call (plugging a vNIC
takes some thirty such calls; each process costs 5-20 ms on a loaded host, a netlink message well
under one).

One ``IPRoute`` socket per thread (the agent's API verbs and its follower run in several), opened on
first use. :func:`in_netns` runs the same functions in a named namespace (a guest's, a DHCP server's):
in a short-lived thread that joins it (``setns`` moves only the calling thread) and opens its own
socket there, so its ``/proc/sys`` is that namespace's too. (pyroute2's own ``netns=`` forks a child
per socket, slower than the ``ip -n`` call it would replace.)
"""

from __future__ import annotations

import ctypes
import errno
import ipaddress
import os
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from neutrino.agent.datapath.hostnet import HostNetError, LinkChange, LinkInfo, VxlanSpec

FLOOD_MAC = "00:00:00:00:00:00"
_IFF_UP = 0x1
_RT_SCOPE_LINK = 253
_CLONE_NEWNET = 0x40000000
_local = threading.local()
_T = TypeVar("_T")


def in_netns(netns: str, fn: Callable[[], _T]) -> _T:
    """``fn()`` run in the named namespace ``netns`` (its netlink socket and ``/proc/sys`` there)."""
    result: list[_T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
        except OSError as exc:
            error.append(HostNetError(f'Cannot open network namespace "{netns}": {exc.strerror}'))
            return
        try:
            if ctypes.CDLL(None, use_errno=True).setns(fd, _CLONE_NEWNET) != 0:
                code = ctypes.get_errno()
                error.append(HostNetError(f'setting the network namespace "{netns}": {os.strerror(code)}'))
                return
        finally:
            os.close(fd)
        _local.ipr = None  # opened there on first use
        try:
            result.append(fn())
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)
        finally:
            if _local.ipr is not None:
                _local.ipr.close()
            _local.ipr = None

    thread = threading.Thread(target=run, name=f"netns-{netns}"[:32], daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def popen_in(netns: str, argv: list[str], **options: Any) -> subprocess.Popen[bytes]:
    """``argv`` started in the named namespace ``netns`` (``subprocess.Popen`` ``options``): forked
    from a thread that joined it, so without the ``ip netns exec`` process in between (which also
    gives the child a mount namespace of its own with that namespace's ``/sys``: nothing our daemons
    and guests' clients read)."""
    return in_netns(netns, lambda: subprocess.Popen(argv, **options))


def run_in(netns: str, argv: list[str], *, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """``argv`` run to its end in the named namespace ``netns`` (as :func:`popen_in`), its output
    captured as text."""
    return in_netns(netns, lambda: subprocess.run(argv, capture_output=True, text=True, timeout=timeout))


_NETNS_RUN_DIR = "/run/netns"
_MS_BIND, _MS_REC, _MS_SHARED, _MNT_DETACH = 0x1000, 0x4000, 0x100000, 0x2


def _libc_call(what: str, result: int) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise HostNetError(f"{what}: {os.strerror(code)}")


def add_netns(name: str) -> None:
    """A new named network namespace with its loopback up, made as ``ip netns add`` makes one (a
    ``/run/netns/<name>`` file bound to the namespace, that directory a shared mount so the binding
    reaches other mount namespaces), then ``ip link set lo up`` in it: no process started."""
    libc = ctypes.CDLL(None, use_errno=True)
    os.makedirs(_NETNS_RUN_DIR, mode=0o755, exist_ok=True)
    run_dir = _NETNS_RUN_DIR.encode()
    if libc.mount(b"", run_dir, b"none", _MS_SHARED | _MS_REC, None) != 0:
        if ctypes.get_errno() != errno.EINVAL:  # EINVAL: not a mount point yet; make it one
            _libc_call(f"mount --make-rshared {_NETNS_RUN_DIR}", -1)
        _libc_call(
            f"mount --rbind {_NETNS_RUN_DIR}", libc.mount(run_dir, run_dir, b"none", _MS_BIND | _MS_REC, None)
        )
        _libc_call(
            f"mount --make-rshared {_NETNS_RUN_DIR}",
            libc.mount(b"", run_dir, b"none", _MS_SHARED | _MS_REC, None),
        )
    path = f"{_NETNS_RUN_DIR}/{name}"
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
    except OSError as exc:
        raise HostNetError(f'Cannot create namespace file "{path}": {exc.strerror}') from exc
    error: list[BaseException] = []

    def make() -> None:  # in a thread of its own: unshare moves only the calling thread
        try:
            _libc_call("unshare(CLONE_NEWNET)", libc.unshare(_CLONE_NEWNET))
            own = f"/proc/self/task/{threading.get_native_id()}/ns/net".encode()
            _libc_call(f"mount --bind {path}", libc.mount(own, path.encode(), b"none", _MS_BIND, None))
            with IPRoute() as ipr:
                ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    thread = threading.Thread(target=make, name=f"netns-add-{name}"[:32], daemon=True)
    thread.start()
    thread.join()
    if error:
        libc.umount2(path.encode(), _MNT_DETACH)
        Path(path).unlink(missing_ok=True)
        if isinstance(error[0], NetlinkError):
            raise _fail(f"ip -n {name} link set lo up", error[0]) from error[0]
        raise error[0]


def netns_names() -> set[str]:
    """The named namespaces (``ip netns list`` reads the same directory)."""
    try:
        return set(os.listdir("/run/netns"))
    except FileNotFoundError:
        return set()


def _ipr() -> Any:
    ipr = getattr(_local, "ipr", None)
    if ipr is None:
        ipr = _local.ipr = IPRoute()
    return ipr


def _fail(what: str, exc: NetlinkError) -> HostNetError:
    return HostNetError(f"{what}: {exc.args[1] if len(exc.args) > 1 else exc}")


def _index(name: str) -> int:
    found = _ipr().link_lookup(ifname=name)
    if not found:
        raise HostNetError(f'Device "{name}" does not exist.')
    return int(found[0])


def _name_of(index: int | None) -> str | None:
    if not index:
        return None
    try:
        return str(_ipr().link("get", index=index)[0].get("IFLA_IFNAME"))
    except NetlinkError:
        return None


def _parse(msg: Any, names: dict[int, str] | None = None) -> LinkInfo:
    info = msg.get("IFLA_LINKINFO")
    kind = (info.get("IFLA_INFO_KIND") if info else None) or ""
    data = info.get("IFLA_INFO_DATA") if info else None
    master = msg.get("IFLA_MASTER")
    return LinkInfo(
        name=str(msg.get("IFLA_IFNAME")),
        kind=str(kind),
        mtu=int(msg.get("IFLA_MTU") or 0),
        address=str(msg.get("IFLA_ADDRESS") or ""),
        up=bool(msg["flags"] & _IFF_UP),
        master=(names.get(master) if names is not None else _name_of(master)) if master else None,
        vxlan_id=data.get("IFLA_VXLAN_ID") if kind == "vxlan" and data else None,
        vxlan_local=data.get("IFLA_VXLAN_LOCAL") if kind == "vxlan" and data else None,
        alias=msg.get("IFLA_IFALIAS") or None,
    )


def link(name: str) -> LinkInfo | None:
    try:
        found = _ipr().link("get", ifname=name)
    except NetlinkError as exc:
        if exc.code == errno.ENODEV:
            return None
        raise _fail(f"ip link show dev {name}", exc) from exc
    return _parse(found[0]) if found else None


def links() -> list[LinkInfo]:
    try:
        found = list(_ipr().get_links())
    except NetlinkError as exc:
        raise _fail("ip link show", exc) from exc
    names = {int(m["index"]): str(m.get("IFLA_IFNAME")) for m in found}
    return [_parse(m, names) for m in found]


def _call(what: str, *args: Any, **kwargs: Any) -> Any:
    try:
        return _ipr().link(*args, **kwargs)
    except NetlinkError as exc:
        raise _fail(what, exc) from exc


def add_bridge(name: str, mtu: int | None) -> None:
    _call(
        f"ip link add {name} type bridge", "add", ifname=name, kind="bridge", **({"mtu": mtu} if mtu else {})
    )


def add_vxlan(name: str, spec: VxlanSpec) -> None:
    args: dict[str, Any] = {"vxlan_id": spec.vni, "vxlan_port": spec.port, "vxlan_learning": 0}
    if spec.mtu:
        args["mtu"] = spec.mtu
    if spec.local:
        args["vxlan_local"] = spec.local
    if spec.dev:
        args["vxlan_link"] = _index(spec.dev)
    _call(f"ip link add {name} type vxlan id {spec.vni}", "add", ifname=name, kind="vxlan", **args)


def add_veth(name: str, peer: str, peer_netns: str | None) -> None:
    peer_args: dict[str, Any] = {"ifname": peer}
    if peer_netns:
        peer_args["net_ns_fd"] = peer_netns
    _call(f"ip link add {name} type veth peer name {peer}", "add", ifname=name, kind="veth", peer=peer_args)


def set_link(name: str, change: LinkChange) -> None:
    """The attributes of ``change`` but ``extra`` (the caller runs ``ip`` for those)."""
    args: dict[str, Any] = {}
    if change.nomaster:
        args["master"] = 0
    elif change.master:
        args["master"] = _index(change.master)
    if change.mtu:
        args["mtu"] = change.mtu
    if change.address:
        args["address"] = change.address
    if change.alias:
        args["ifalias"] = change.alias
    if change.up is not None:
        args["state"] = "up" if change.up else "down"
    if args:
        _call(f"ip link set dev {name}", "set", index=_index(name), **args)


def delete_link(name: str) -> None:
    _call(f"ip link del dev {name}", "del", index=_index(name))


def addresses(name: str) -> set[str]:
    try:
        found = _ipr().get_addr(index=_index(name))
    except NetlinkError as exc:
        raise _fail(f"ip addr show dev {name}", exc) from exc
    return {
        f"{a.get('IFA_ADDRESS')}/{a['prefixlen']}"
        for a in found
        if a["scope"] != _RT_SCOPE_LINK and a.get("IFA_ADDRESS")
    }


def _address(what: str, command: str, name: str, cidr: str) -> None:
    iface = ipaddress.ip_interface(cidr)
    try:
        _ipr().addr(command, index=_index(name), address=str(iface.ip), prefixlen=iface.network.prefixlen)
    except NetlinkError as exc:
        raise _fail(f"ip addr {what} {cidr} dev {name}", exc) from exc


def add_address(name: str, cidr: str) -> None:
    _address("add", "add", name, cidr)


def delete_address(name: str, cidr: str) -> None:
    _address("del", "del", name, cidr)


def flood_entries(dev: str) -> set[str]:
    index = _index(dev)
    try:
        found = _ipr().fdb("dump", ifindex=index)
    except NetlinkError as exc:
        raise _fail(f"bridge fdb show dev {dev}", exc) from exc
    return {
        str(e.get("NDA_DST"))
        for e in found
        if e["ifindex"] == index and e.get("NDA_LLADDR") == FLOOD_MAC and e.get("NDA_DST")
    }


def _fdb(command: str, dev: str, dst: str) -> None:
    try:
        _ipr().fdb(command, ifindex=_index(dev), lladdr=FLOOD_MAC, dst=dst)
    except NetlinkError as exc:
        raise _fail(f"bridge fdb {command} {FLOOD_MAC} dev {dev} dst {dst}", exc) from exc


def add_flood_entry(dev: str, dst: str) -> None:
    _fdb("append", dev, dst)


def delete_flood_entry(dev: str, dst: str) -> None:
    _fdb("del", dev, dst)


def sysctl(key: str, value: str | None = None) -> str:
    """A sysctl of the agent's namespace by its file under ``/proc/sys`` (``a.b.c`` or ``a/b/c``)."""
    # NOTE: in the dotted form a dot separates levels; device names (which may hold dots) come slashed
    path = Path("/proc/sys") / (key if "/" in key else key.replace(".", "/"))
    try:
        if value is not None:
            path.write_text(value)
        return path.read_text().strip()
    except OSError as exc:
        raise HostNetError(f"sysctl {key}: {exc.strerror or exc}") from exc
