"""Open vSwitch through one seam: :class:`OvsDb`. On a host, :class:`IdlOvsDb`: ovsdbapp (the library
os-vif and Neutron's agents use) on one long-lived OVSDB connection, reads from its replica and each
change one transaction (the agent's, in the builtin and the OVN mode). :class:`VsctlOvsDb` runs
``ovs-vsctl`` (a process, a connection and a read of the whole database per call): what the agent's
plugs did before, kept as the reference ``test_ovsdb_contract.py`` holds :class:`IdlOvsDb` to. An
in-memory model for unit tests and ``--host-net memory``."""

from __future__ import annotations

import functools
import json
import subprocess
import threading
import time
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
    def ensure_port(
        self, bridge: str, name: str, tag: int | None, external_ids: dict[str, str], interface_type: str = ""
    ) -> None:
        """The port is on the bridge with this tag and these interface external ids (other keys are
        kept); a port made here gets an interface of ``interface_type`` (``internal``: a device OVS
        makes; "": a device that exists)."""

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

    @abstractmethod
    def close(self) -> None:
        """Let go of the connection to the database, if one is kept (the agent's stop)."""


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

    def ensure_port(
        self, bridge: str, name: str, tag: int | None, external_ids: dict[str, str], interface_type: str = ""
    ) -> None:
        args = ["--may-exist", "add-port", bridge, name]
        if external_ids or interface_type:
            args += [
                "--",
                "set",
                "Interface",
                name,
                *([f"type={interface_type}"] if interface_type else []),
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

    def close(self) -> None:
        """Nothing kept open: each call is an ``ovs-vsctl`` process of its own."""


#: where Open vSwitch's database listens by default (what ``ovs-vsctl`` uses without ``--db``)
DEFAULT_OVSDB = "unix:/run/openvswitch/db.sock"

#: what :class:`IdlOvsDb` replicates: the columns it reads or writes, not the ones ovs-vswitchd keeps
#: changing (an interface's ``statistics``, ``status``, ``link_state``...)
REPLICATED = {
    "Open_vSwitch": ("bridges", "next_cfg", "cur_cfg", "external_ids"),
    "Bridge": ("name", "ports", "datapath_type", "fail_mode", "other_config"),
    "Port": ("name", "interfaces", "tag"),
    "Interface": ("name", "type", "external_ids", "ofport", "error"),
}


class IdlOvsDb(OvsDb):
    """Open vSwitch through ovsdbapp, as os-vif plugs: one connection to the OVSDB at ``db`` (made on
    first use, reconnecting by itself), reads from its replica of :data:`REPLICATED`, and each change
    one transaction. A plug is one round trip to ovsdb-server, not an ``ovs-vsctl`` process that
    connects and reads every port of the switch.

    Like ``ovs-vsctl`` (and ovsdbapp's own Open vSwitch transactions), a change returns once
    ovs-vswitchd has applied it (``cur_cfg`` caught up with the ``next_cfg`` the transaction set),
    but the caller waits for that in its own thread: ovsdbapp's waits in its connection thread, so
    every concurrent plug would queue behind the previous one's reconfiguration."""

    def __init__(self, db: str, timeout: int = 10) -> None:
        self.db = db
        self.timeout = timeout
        self._api: Any = None
        self._guard = threading.Lock()
        self._applied = threading.Condition()
        self._cur_cfg = 0  # ovs-vswitchd's cur_cfg as last seen in the replica

    def _connect(self) -> Any:
        with self._guard:
            if self._api is not None:
                return self._api
            from ovsdbapp.backend.ovs_idl import connection, idlutils
            from ovsdbapp.schema.open_vswitch import impl_idl

            try:
                helper = idlutils.get_schema_helper(self.db, "Open_vSwitch")
            except Exception as exc:
                raise HostNetError(f"ovsdb {self.db}: {exc}") from exc
            for table, columns in REPLICATED.items():
                helper.register_columns(table, list(columns))
            seen = self._seen

            class SwitchIdl(connection.OvsdbIdl):
                def notify(self, event: str, row: Any, updates: Any = None) -> None:
                    # the connection thread, holding the replica's lock: note cur_cfg, take no other lock
                    # than the condition's (a caller waiting on it never holds the replica's)
                    if row._table.name == "Open_vSwitch" and event != "delete":
                        seen(int(row.cur_cfg))

                def cooperative_yield(self) -> None:
                    """No ``time.sleep(0)`` per row (ovsdbapp's, for eventlet): with OS threads it gives
                    the CPU away once per row of each update."""

            # ovsdbapp keeps the connection on the API class: a class of our own per connection
            class SwitchApi(impl_idl.OvsdbIdl):
                def create_transaction(
                    self, check_error: bool = False, log_errors: bool = True, **kw: Any
                ) -> Any:
                    return _AppliedTransaction(self, self.ovsdb_connection, check_error=check_error,
                                               log_errors=log_errors)  # fmt: skip

            idl = SwitchIdl(self.db, helper)
            try:
                self._api = SwitchApi(connection.Connection(idl, self.timeout))
            except Exception as exc:
                raise HostNetError(f"ovsdb {self.db}: {exc}") from exc
            return self._api

    def close(self) -> None:
        with self._guard:
            if self._api is not None:
                self._api.ovsdb_connection.stop(timeout=5)
                self._api = None

    def _commit(self, *commands: Any) -> None:
        """One transaction of ``commands``; returns once ovs-vswitchd has applied it."""
        api = self._connect()
        try:
            with api.transaction(check_error=True, log_errors=False) as txn:
                for command in commands:
                    txn.add(command)
        except Exception as exc:
            raise HostNetError(f"ovsdb {self.db}: {exc}") from exc
        wanted = txn.next_cfg
        if wanted is None:  # nothing to write
            return
        deadline = time.monotonic() + self.timeout
        with self._applied:
            while self._cur_cfg < wanted:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise HostNetError(
                        f"ovsdb {self.db}: ovs-vswitchd did not apply the change in {self.timeout} s"
                    )
                self._applied.wait(left)

    def _seen(self, cur_cfg: int) -> None:
        with self._applied:
            self._cur_cfg = cur_cfg
            self._applied.notify_all()

    def _bridge(self, api: Any, name: str) -> Any:
        return next((b for b in api.tables["Bridge"].rows.values() if b.name == name), None)

    def ensure_bridge(self, name: str, datapath_type: str | None = None) -> None:
        api = self._connect()
        with api.ovsdb_connection.lock:
            br = self._bridge(api, name)
            if br is not None and (not datapath_type or br.datapath_type == datapath_type):
                return
        self._commit(api.add_br(name, may_exist=True, datapath_type=datapath_type))

    def ports(self, bridge: str) -> list[OvsPort]:
        api = self._connect()
        with api.ovsdb_connection.lock:
            br = self._bridge(api, bridge)
            if br is None:
                return []
            out = []
            for port in br.ports:
                if port.name == bridge:  # the bridge's own port (``ovs-vsctl list-ports`` leaves it out too)
                    continue
                ids: dict[str, str] = {}
                for iface in port.interfaces:
                    ids.update(iface.external_ids)
                out.append(OvsPort(port.name, bridge, port.tag[0] if port.tag else None, ids))
        return sorted(out, key=lambda p: p.name)

    def ensure_port(
        self, bridge: str, name: str, tag: int | None, external_ids: dict[str, str], interface_type: str = ""
    ) -> None:
        api = self._connect()
        self._commit(_ensure_port_command()(api, bridge, name, tag, external_ids, interface_type))

    def delete_port(self, bridge: str, name: str) -> None:
        api = self._connect()
        self._commit(api.del_port(name, bridge=bridge, if_exists=True))

    def interface_external_ids(self, name: str) -> dict[str, str] | None:
        api = self._connect()
        with api.ovsdb_connection.lock:
            for iface in api.tables["Interface"].rows.values():
                if iface.name == name:
                    return dict(iface.external_ids)
        return None

    def secure_bridge(self, name: str) -> None:
        api = self._connect()
        with api.ovsdb_connection.lock:
            br = self._bridge(api, name)
            if br is None:
                raise HostNetError(f"ovsdb {self.db}: no bridge named {name}")
            if br.fail_mode == ["secure"] and br.other_config.get("disable-in-band") == "true":
                return
        self._commit(
            api.db_set("Bridge", name, ("fail_mode", "secure"), ("other_config", {"disable-in-band": "true"}))
        )

    def switch_external_ids(self) -> dict[str, str]:
        api = self._connect()
        with api.ovsdb_connection.lock:
            rows = list(api.tables["Open_vSwitch"].rows.values())
            return dict(rows[0].external_ids) if rows else {}

    def set_switch_external_ids(self, external_ids: dict[str, str]) -> None:
        if external_ids:
            api = self._connect()
            self._commit(api.db_set("Open_vSwitch", ".", ("external_ids", dict(external_ids))))


@functools.cache
def _applied_transaction() -> type:
    from ovsdbapp.backend.ovs_idl import transaction

    class AppliedTransaction(transaction.Transaction):
        """Sets ``next_cfg`` one higher, as ``ovs-vsctl`` does, and keeps the value it wrote
        (:attr:`next_cfg`) for the caller to wait on."""

        next_cfg: int | None = None

        def pre_commit(self, txn: Any) -> None:
            self.api._ovs.increment("next_cfg")
            txn.expected_ifaces = set()  # ovsdbapp's add_port notes its interfaces there

        def post_commit(self, txn: Any) -> None:
            super().post_commit(txn)
            self.next_cfg = txn.get_increment_new_value()

    return AppliedTransaction


def _AppliedTransaction(*args: Any, **kwargs: Any) -> Any:  # noqa: N802 (a class, made on first use)
    return _applied_transaction()(*args, **kwargs)


@functools.cache
def _ensure_port_command() -> type:
    from ovsdbapp.backend.ovs_idl import command

    class EnsurePort(command.BaseCommand):
        """``--may-exist add-port`` with the interface's type and external ids merged and the port's
        tag set or cleared, in one command: the port and the bridge found once in the replica."""

        def __init__(
            self, api: Any, bridge: str, name: str, tag: int | None, ids: dict[str, str], kind: str
        ) -> None:
            super().__init__(api)
            self.bridge, self.name, self.tag, self.ids, self.kind = bridge, name, tag, ids, kind

        def run_idl(self, txn: Any) -> None:
            tables = self.api.tables
            br = next((b for b in tables["Bridge"].rows.values() if b.name == self.bridge), None)
            if br is None:
                raise HostNetError(f"no bridge named {self.bridge}")
            port = next((p for p in tables["Port"].rows.values() if p.name == self.name), None)
            if port is None:
                port = txn.insert(tables["Port"])
                port.name = self.name
                br.addvalue("ports", port)
                iface = txn.insert(tables["Interface"])
                iface.name = self.name
                if self.kind:
                    iface.type = self.kind
                port.interfaces = [iface]
                ifaces = [iface]
            else:
                if self.tag is None and port.tag:
                    port.tag = []
                if port not in br.ports:
                    owner = next((b.name for b in tables["Bridge"].rows.values() if port in b.ports), "?")
                    raise HostNetError(f"cannot add port {self.name} to {self.bridge}: it is on {owner}")
                ifaces = list(port.interfaces)
            for iface in ifaces:
                for key, value in self.ids.items():
                    iface.setkey("external_ids", key, value)
            if self.tag is not None:
                port.tag = [self.tag]

    return EnsurePort


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

    def ensure_port(
        self, bridge: str, name: str, tag: int | None, external_ids: dict[str, str], interface_type: str = ""
    ) -> None:
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

    def close(self) -> None:
        """Nothing to let go of."""
