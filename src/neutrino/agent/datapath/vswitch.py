"""Open vSwitch through one seam: :class:`OvsDb` (``ovs-vsctl`` on the kernel side, an in-memory
model for unit tests and ``--host-net memory``)."""

from __future__ import annotations

import json
import subprocess
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from neutrino.agent.datapath.hostnet import HostNetError


@dataclass(frozen=True)
class OvsPort:
    """A port of an OVS bridge: its access VLAN tag and its interface's external ids."""

    name: str
    bridge: str
    tag: int | None
    external_ids: dict[str, str]


class OvsDb(ABC):
    """The OVSDB operations the agent needs."""

    @abstractmethod
    def ensure_bridge(self, name: str, datapath_type: str | None = None) -> None:
        """The bridge exists (``--may-exist add-br``), with this datapath type when given."""

    @abstractmethod
    def ports(self, bridge: str) -> list[OvsPort]:
        """Every port of the bridge (none when it does not exist)."""

    @abstractmethod
    def ensure_port(self, bridge: str, name: str, tag: int | None, external_ids: dict[str, str]) -> None:
        """The port is on the bridge with this tag and these interface external ids."""

    @abstractmethod
    def delete_port(self, bridge: str, name: str) -> None:
        """The port is not on the bridge (``--if-exists del-port``)."""

    @abstractmethod
    def interface_external_ids(self, name: str) -> dict[str, str] | None:
        """The ``external_ids`` of the interface ``name``; None when there is no such interface."""

    @abstractmethod
    def secure_bridge(self, name: str) -> None:
        """The bridge forwards nothing until a controller's flows say so (``fail_mode=secure``,
        no in-band control): what OVN's integration bridge needs before ovn-controller runs."""

    @abstractmethod
    def switch_external_ids(self) -> dict[str, str]:
        """The ``external_ids`` of the switch itself (the ``Open_vSwitch`` record)."""

    @abstractmethod
    def set_switch_external_ids(self, external_ids: dict[str, str]) -> None:
        """Set these keys of the switch's ``external_ids`` (others are kept)."""


def _ovs_map(value: Any) -> dict[str, str]:
    if isinstance(value, list) and value and value[0] == "map":
        return {k: v for k, v in value[1]}
    return {}


def _ovs_int(value: Any) -> int | None:
    return value if isinstance(value, int) else None


class VsctlOvsDb(OvsDb):
    """``ovs-vsctl`` against the OVSDB at ``db`` (e.g. ``unix:/run/openvswitch/db.sock``)."""

    def __init__(self, db: str | None = None, timeout: int = 10) -> None:
        self.db = db
        self.timeout = timeout

    def vsctl(self, *args: str) -> str:
        argv = ["ovs-vsctl", f"--timeout={self.timeout}", *([f"--db={self.db}"] if self.db else []), *args]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout + 5)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise HostNetError(f"ovs-vsctl: {exc}") from exc
        if proc.returncode != 0:
            raise HostNetError(f"ovs-vsctl {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout

    def _table(self, table: str, columns: str) -> list[dict[str, Any]]:
        out = json.loads(self.vsctl("--format=json", f"--columns={columns}", "list", table))
        return [dict(zip(out["headings"], row, strict=True)) for row in out["data"]]

    def ensure_bridge(self, name: str, datapath_type: str | None = None) -> None:
        args = ["--may-exist", "add-br", name]
        if datapath_type:
            args += ["--", "set", "Bridge", name, f"datapath_type={datapath_type}"]
        self.vsctl(*args)

    def ports(self, bridge: str) -> list[OvsPort]:
        if bridge not in self.vsctl("list-br").split():
            return []
        names = set(self.vsctl("list-ports", bridge).split())
        tags = {row["name"]: _ovs_int(row["tag"]) for row in self._table("Port", "name,tag")}
        ids = {
            row["name"]: _ovs_map(row["external_ids"])
            for row in self._table("Interface", "name,external_ids")
        }
        return [OvsPort(n, bridge, tags.get(n), ids.get(n, {})) for n in sorted(names)]

    def ensure_port(self, bridge: str, name: str, tag: int | None, external_ids: dict[str, str]) -> None:
        args = ["--may-exist", "add-port", bridge, name]
        if external_ids:
            args += [
                "--",
                "set",
                "Interface",
                name,
                *[f"external-ids:{k}={v}" for k, v in external_ids.items()],
            ]
        args += (
            ["--", "set", "Port", name, f"tag={tag}"]
            if tag is not None
            else ["--", "clear", "Port", name, "tag"]
        )
        self.vsctl(*args)

    def delete_port(self, bridge: str, name: str) -> None:
        self.vsctl("--if-exists", "del-port", bridge, name)

    def interface_external_ids(self, name: str) -> dict[str, str] | None:
        out = json.loads(
            self.vsctl(
                "--format=json", "--columns=external_ids", "find", "Interface", f"name={json.dumps(name)}"
            )
        )
        return _ovs_map(out["data"][0][0]) if out["data"] else None

    def secure_bridge(self, name: str) -> None:
        self.vsctl("set", "Bridge", name, "fail_mode=secure", "other_config:disable-in-band=true")

    def switch_external_ids(self) -> dict[str, str]:
        rows = self._table("Open_vSwitch", "external_ids")
        return _ovs_map(rows[0]["external_ids"]) if rows else {}

    def set_switch_external_ids(self, external_ids: dict[str, str]) -> None:
        if external_ids:
            self.vsctl(
                "set",
                "Open_vSwitch",
                ".",
                *[f"external_ids:{k}={json.dumps(v)}" for k, v in external_ids.items()],
            )


@dataclass
class MemoryOvsDb(OvsDb):
    """An in-memory OVSDB: bridges and their ports."""

    bridges: dict[str, dict[str, OvsPort]] = field(default_factory=dict)
    datapath_types: dict[str, str | None] = field(default_factory=dict)
    secure: set[str] = field(default_factory=set)
    external_ids: dict[str, str] = field(default_factory=dict)
    calls: int = 0

    def ensure_bridge(self, name: str, datapath_type: str | None = None) -> None:
        if name not in self.bridges or (datapath_type and self.datapath_types.get(name) != datapath_type):
            self.calls += 1
            self.bridges.setdefault(name, {})
            self.datapath_types[name] = datapath_type

    def ports(self, bridge: str) -> list[OvsPort]:
        return sorted(self.bridges.get(bridge, {}).values(), key=lambda p: p.name)

    def ensure_port(self, bridge: str, name: str, tag: int | None, external_ids: dict[str, str]) -> None:
        if bridge not in self.bridges:
            raise HostNetError(f"ovs-vsctl: no bridge named {bridge}")
        old = self.bridges[bridge].get(name)
        merged = {**(old.external_ids if old else {}), **external_ids}
        new = OvsPort(name, bridge, tag, merged)
        if old != new:
            self.calls += 1
            self.bridges[bridge][name] = new

    def delete_port(self, bridge: str, name: str) -> None:
        if name in self.bridges.get(bridge, {}):
            self.calls += 1
            del self.bridges[bridge][name]

    def interface_external_ids(self, name: str) -> dict[str, str] | None:
        for ports in self.bridges.values():
            if name in ports:
                return dict(ports[name].external_ids)
        return None

    def secure_bridge(self, name: str) -> None:
        if name not in self.bridges:
            raise HostNetError(f"ovs-vsctl: no bridge named {name}")
        self.secure.add(name)

    def switch_external_ids(self) -> dict[str, str]:
        return dict(self.external_ids)

    def set_switch_external_ids(self, external_ids: dict[str, str]) -> None:
        if any(self.external_ids.get(k) != v for k, v in external_ids.items()):
            self.calls += 1
            self.external_ids.update(external_ids)
