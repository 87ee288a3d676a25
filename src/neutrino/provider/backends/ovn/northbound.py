"""OVN's northbound database through ovsdbapp: read the rows this backend owns, write them.

One :class:`Northbound` per provider. The ovsdbapp connection keeps an in-memory replica of the
database (ovs.db.idl) and reconnects by itself after an outage; :attr:`Northbound.connected` says
whether the replica is live. Rows are written with ovsdbapp's OVN northbound API commands, one
transaction per row, except ports: up to :data:`BATCH` of them per transaction (a resync writes
thousands), each with its joins and leaves of port groups; a batch that fails is written again
port by port, so a bad row costs only itself (the maintenance finishes the rest).

A port group's members are a set column as large as the group (``neutron_pg_drop`` holds every
port with port security): the replica turns it into a list of rows on each read, so only the
maintenance reads members (:attr:`~.desired.Scope.group_members`); a port joins or leaves with a
``mutate`` (ovsdbapp's ``pg_add_ports`` / ``pg_del_ports``), whose size is the port's, not the group's.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from neutrino.provider.backends.ovn import commands, fastjson, router_rows
from neutrino.provider.backends.ovn import model as m
from neutrino.provider.backends.ovn.desired import Scope

log = logging.getLogger(__name__)

SCHEMA = "OVN_Northbound"
#: ports written per transaction
BATCH = 200

T = TypeVar("T")


@dataclass(frozen=True)
class TlsFiles:
    private_key: str
    certificate: str
    ca_cert: str


@dataclass
class Snapshot:
    """The owned rows as :mod:`.model` values, plus the uuids writing needs."""

    state: m.State = field(default_factory=m.State)
    #: DHCP_Options rows by subnet id, a port's own by (port id, subnet id)
    dhcp_uuids: dict[m.DhcpKey, uuid.UUID] = field(default_factory=dict)
    #: DHCP_Options rows for a subnet (or a port on a subnet) that already has one (deleted by the repair)
    extra_dhcp: list[uuid.UUID] = field(default_factory=list)
    #: each port group's ACL rows
    acl_uuids: dict[str, dict[m.Acl, uuid.UUID]] = field(default_factory=dict)
    #: each router's NAT and route rows
    router_rows: dict[str, router_rows.RouterRows] = field(default_factory=dict)


@dataclass(frozen=True)
class PortWrite:
    """A port's Logical_Switch_Port created (``have`` is None) or updated in place to ``want``, and,
    in the same transaction, the port groups (names) it joins and leaves."""

    want: m.Port
    have: m.Port | None = None
    join: Collection[str] = ()
    leave: Collection[str] = ()


#: Told a port's ``up`` as OVN reports it (ovn-northd sets it once a chassis has bound the port).
PortUpListener = Callable[[str, bool], None]


def ignore_port_up(port_id: str, up: bool) -> None:
    pass


class Northbound:
    def __init__(
        self,
        remote: str,
        *,
        timeout: float,
        tls: TlsFiles | None = None,
        on_port_up: PortUpListener = ignore_port_up,
    ) -> None:
        self.remote = remote
        self.timeout = timeout
        self.tls = tls
        self.on_port_up = on_port_up
        self._api: Any = None
        self._events: Any = None
        self._guard = threading.Lock()

    # --- connection ----------------------------------------------------------------------------

    def connect(self) -> None:
        """Connect if not yet connected (raises when the server cannot be reached)."""
        with self._guard:
            if self._api is not None:
                return
            from ovsdbapp.backend.ovs_idl import connection
            from ovsdbapp.schema.ovn_northbound import impl_idl

            fastjson.use_c_parser()

            if self.tls is not None:
                from ovs.stream import Stream

                Stream.ssl_set_private_key_file(self.tls.private_key)
                Stream.ssl_set_certificate_file(self.tls.certificate)
                Stream.ssl_set_ca_cert_file(self.tls.ca_cert)
            events = self._events = _port_up_events(self.on_port_up)

            class NorthboundIdl(connection.OvsdbIdl):
                def notify(self, event: str, row: Any, updates: Any = None) -> None:
                    events.notify(event, row, updates)

                def cooperative_yield(self) -> None:
                    """No ``time.sleep(0)`` per row update (ovsdbapp's, for eventlet's green threads):
                    with OS threads each one gives the CPU away, and on a busy machine the
                    transaction a request waits for comes back a scheduler slice later per row."""

            idl = NorthboundIdl.from_server(self.remote, SCHEMA)

            # ovsdbapp keeps the connection on the API *class* (set once, shared by every instance):
            # a class of our own per connection, or a second provider in this process would use
            # the first one's (stopped) connection.
            class NorthboundApi(impl_idl.OvnNbApiIdlImpl):
                pass

            self._api = NorthboundApi(connection.Connection(idl, self.timeout))

    @property
    def connected(self) -> bool:
        api = self._api
        if api is None:
            return False
        idl = api.ovsdb_connection.idl
        return bool(idl._session.is_connected()) and idl.state == idl.IDL_S_MONITORING

    def close(self) -> None:
        with self._guard:
            if self._api is not None:
                self._api.ovsdb_connection.stop(timeout=5)
                self._api = None
            if self._events is not None:
                self._events.shutdown()
                self._events = None

    # --- reading -------------------------------------------------------------------------------

    def read(self, scope: Scope | None = None) -> Snapshot:
        """The rows this backend owns, from the replica: all of them, or (cheaper, by index) those
        in ``scope``. A port read by index takes its network from its ``external_ids``; only a full
        read sees a port on a switch not its own."""
        api = self._api
        snap = Snapshot()
        scope = scope or Scope()
        with api.ovsdb_connection.lock:
            tables = api.tables
            subnet_of = self._read_dhcp(tables, snap, scope.ports)
            if scope.networks is None or scope.ports is None:
                for ls in tables["Logical_Switch"].rows.values():
                    network_id = m.network_of(ls.name)
                    if network_id is not None and (scope.networks is None or network_id in scope.networks):
                        snap.state.switches[network_id] = _switch(network_id, ls, api)
                    for lsp in _cell(ls, "ports"):
                        if _owned(lsp) and (scope.ports is None or lsp.name in scope.ports):
                            snap.state.ports[lsp.name] = _port(lsp, network_id or "", subnet_of)
            else:
                for network_id in scope.networks:
                    ls = api.lookup("Logical_Switch", m.switch_name(network_id), default=None)
                    if ls is not None:
                        snap.state.switches[network_id] = _switch(network_id, ls, api)
                for port_id in scope.ports:
                    lsp = api.lookup("Logical_Switch_Port", port_id, default=None)
                    if lsp is not None and _owned(lsp):
                        network = m.network_of(lsp.external_ids.get("neutron:network_name", "")) or ""
                        snap.state.ports[port_id] = _port(lsp, network, subnet_of)
            if scope.port_groups is None:
                groups = list(tables["Port_Group"].rows.values())
            else:
                names = [
                    m.DROP_GROUP if g == m.DROP_GROUP else m.port_group_name(g) for g in scope.port_groups
                ]
                groups = [
                    g for g in (api.lookup("Port_Group", n, default=None) for n in names) if g is not None
                ]
            for pg in groups:
                self._read_port_group(pg, snap, scope.group_members, scope.compare_groups)
            snap.state.routers, snap.router_rows = router_rows.read(api, scope.routers, _cell)
        return snap

    def routers_of(self, floating_ips: Collection[str]) -> set[str]:
        """The routers whose Logical_Router has a NAT row of one of these floating IPs: what a
        request must rewrite once they are disassociated or gone from the database."""
        api, fips, found = self._api, set(floating_ips), set()
        with api.ovsdb_connection.lock:
            for lr in api.tables["Logical_Router"].rows.values():
                router_id = m.router_of(lr.name)
                if router_id and any(
                    _cell(n, "external_ids").get(m.FIP_ID) in fips for n in _cell(lr, "nat")
                ):
                    found.add(router_id)
        return found

    @staticmethod
    def _read_dhcp(
        tables: Any, snap: Snapshot, ports: Collection[str] | None
    ) -> dict[uuid.UUID, tuple[str, str]]:
        """The subnets' DHCP_Options rows and the own rows of the ``ports`` (None: every port's);
        returns each row's (subnet id, port id or "") by uuid, for the LSPs' references."""
        subnet_of: dict[uuid.UUID, tuple[str, str]] = {}
        for row in tables["DHCP_Options"].rows.values():
            ext = dict(row.external_ids)
            subnet_id = ext.get(m.SUBNET_ID)
            if subnet_id is None:
                continue
            port_id = ext.get(m.PORT_ID, "")
            key: m.DhcpKey = (port_id, subnet_id) if port_id else subnet_id
            if key in snap.dhcp_uuids:
                snap.extra_dhcp.append(row.uuid)
                continue
            subnet_of[row.uuid] = (subnet_id, port_id)
            if not port_id:
                snap.dhcp_uuids[subnet_id] = row.uuid
                snap.state.dhcp[subnet_id] = m.Dhcp(subnet_id, row.cidr, dict(row.options), ext)
            elif ports is None or port_id in ports:
                snap.dhcp_uuids[key] = row.uuid
                dhcp = m.Dhcp(subnet_id, row.cidr, dict(row.options), ext, port_id=port_id)
                snap.state.port_dhcp[(port_id, subnet_id)] = dhcp
        return subnet_of

    @staticmethod
    def _read_port_group(pg: Any, snap: Snapshot, members: bool, contents: bool) -> None:
        """``pg`` into ``snap``: with ``contents`` its ACLs (and with ``members`` its ports), else
        only that it exists."""
        group_id = m.DROP_GROUP if pg.name == m.DROP_GROUP else _cell(pg, "external_ids").get(m.GROUP_ID)
        if group_id is None:
            return
        acls = {_acl(row): row.uuid for row in _cell(pg, "acls")} if contents else {}
        snap.acl_uuids[group_id] = acls
        ports = frozenset(lsp.name for lsp in _cell(pg, "ports")) if members else frozenset()
        snap.state.port_groups[group_id] = m.PortGroup(group_id, ports, frozenset(acls))

    def nb_cfg(self) -> int | None:
        """``NB_Global.nb_cfg`` (what the chassis acknowledge), or None when not connected."""
        if not self.connected:
            return None
        api = self._api
        with api.ovsdb_connection.lock:
            rows = list(api.tables["NB_Global"].rows.values())
        return int(rows[0].nb_cfg) if rows else None

    # --- writing -------------------------------------------------------------------------------

    def _commit(self, *commands: Any) -> list[Any]:
        with self._api.transaction(check_error=True) as txn:
            for command in commands:
                txn.add(command)
        return [c.result for c in commands]

    def bump_nb_cfg(self) -> None:
        """Ask every chassis to acknowledge a new configuration number (their liveness check)."""
        api = self._api
        with api.ovsdb_connection.lock:
            rows = list(api.tables["NB_Global"].rows.values())
        if rows:
            self._commit(api.db_set("NB_Global", rows[0].uuid, ("nb_cfg", int(rows[0].nb_cfg) + 1)))

    def create_switch(self, switch: m.Switch) -> None:
        name = m.switch_name(switch.network_id)
        self._commit(
            self._api.ls_add(
                name,
                may_exist=True,
                external_ids=dict(switch.external_ids),
                other_config=dict(switch.other_config),
            )
        )
        if switch.localnet is not None:
            self._add_localnet(switch.network_id, switch.localnet)

    def update_switch(self, switch: m.Switch, actual: m.Switch) -> None:
        name = m.switch_name(switch.network_id)
        self._commit(
            *self._set_exactly(
                "Logical_Switch",
                name,
                {"external_ids": switch.external_ids, "other_config": switch.other_config},
            )
        )
        if switch.localnet != actual.localnet:
            self._commit(self._api.lsp_del(m.localnet_name(switch.network_id), if_exists=True))
            if switch.localnet is not None:
                self._add_localnet(switch.network_id, switch.localnet)

    def _add_localnet(self, network_id: str, localnet: m.Localnet) -> None:
        port = m.localnet_name(network_id)
        self._commit(
            self._api.lsp_add(
                m.switch_name(network_id),
                port,
                may_exist=True,
                type=m.LOCALNET,
                addresses=["unknown"],
                options={"network_name": localnet.physnet},
            )
        )
        if localnet.tag is not None:
            # ovsdbapp's lsp_add takes a tag only with a parent port (a container's)
            self._commit(self._api.db_set("Logical_Switch_Port", port, ("tag", localnet.tag)))

    def create_router(self, router: m.Router) -> None:
        """The Logical_Router, then its ports, NAT and routes (a second transaction)."""
        self._commit(*router_rows.create_commands(self._api, router))
        made = m.Router(router.router_id, router.enabled, router.external_ids, {}, frozenset(), frozenset())
        self.update_router(router, made, router_rows.RouterRows())

    def update_router(self, router: m.Router, actual: m.Router, rows: router_rows.RouterRows) -> None:
        todo = router_rows.update_commands(self._api, router, actual, rows, self._set_exactly)
        if todo:
            self._commit(*todo)

    def delete_router(self, router_id: str) -> None:
        """The Logical_Router and everything in it (its ports, NAT and routes are not root rows)."""
        self._commit(self._api.lr_del(m.router_name(router_id), if_exists=True))

    def delete_switch(self, network_id: str) -> None:
        self._commit(self._api.ls_del(m.switch_name(network_id), if_exists=True))

    def create_dhcp(self, dhcp: m.Dhcp) -> uuid.UUID:
        (result,) = self._commit(
            self._api.db_create(
                "DHCP_Options",
                cidr=dhcp.cidr,
                options=dict(dhcp.options),
                external_ids=dict(dhcp.external_ids),
            )
        )
        return result

    def update_dhcp(self, row: uuid.UUID, dhcp: m.Dhcp) -> None:
        """Options and external_ids to exactly ``dhcp``'s (a subnet's row or a port's own)."""
        self._commit(
            self._api.db_set("DHCP_Options", row, ("cidr", dhcp.cidr)),
            *self._set_exactly(
                "DHCP_Options", row, {"options": dhcp.options, "external_ids": dhcp.external_ids}
            ),
        )

    def delete_dhcp(self, row: uuid.UUID) -> None:
        self._commit(self._api.db_destroy("DHCP_Options", row))

    def write_ports(self, writes: Sequence[PortWrite], dhcp_uuids: Mapping[m.DhcpKey, uuid.UUID]) -> None:
        """Create or update these ports, each with its joins and leaves of port groups (which exist)."""
        self._commit_batched(writes, lambda chunk: self._port_commands(chunk, dhcp_uuids))

    def _port_commands(
        self, writes: Sequence[PortWrite], dhcp_uuids: Mapping[m.DhcpKey, uuid.UUID]
    ) -> list[Any]:
        api, todo = self._api, []
        new: dict[str, list[PortWrite]] = {}  # by switch
        for write in writes:
            if write.have is None:
                new.setdefault(m.switch_name(write.want.network_id), []).append(write)
                continue
            lsp = write.want.port_id
            todo += self._set_exactly("Logical_Switch_Port", lsp, _port_columns(write.want, dhcp_uuids))
            todo += [api.pg_add_ports(name, [lsp]) for name in sorted(write.join)]
            todo += [api.pg_del_ports(name, [lsp], if_exists=True) for name in sorted(write.leave)]
        insert = commands.lsps_add()
        for switch, creates in new.items():
            ports = [(w.want.port_id, _port_columns(w.want, dhcp_uuids)) for w in creates]
            todo.append(insert(api, switch, ports, {w.want.port_id: sorted(w.join) for w in creates}))
        return todo

    def delete_ports(self, ports: Sequence[m.Port]) -> None:
        """Delete these ports' LSPs from their switches (their port groups forget them: the
        references are weak)."""
        delete = commands.lsp_del()
        self._commit_batched(
            ports, lambda chunk: [delete(self._api, m.switch_name(p.network_id), p.port_id) for p in chunk]
        )

    def _commit_batched(self, items: Sequence[T], commands: Callable[[Sequence[T]], list[Any]]) -> None:
        """The commands of :data:`BATCH` items per transaction. A transaction that fails while the
        connection is up is tried again item by item: every item that can be written is, and the
        first error then raises."""
        failed: Exception | None = None
        for start in range(0, len(items), BATCH):
            chunk = items[start : start + BATCH]
            try:
                self._commit(*commands(chunk))
                continue
            except Exception as exc:
                if len(chunk) == 1 or not self.connected:
                    raise
                log.warning(
                    "OVN northbound: a transaction of %d rows failed (%s); one by one", len(chunk), exc
                )
            for item in chunk:
                try:
                    self._commit(*commands([item]))
                except Exception as exc:
                    if not self.connected:
                        raise
                    failed = failed or exc
        if failed is not None:
            raise failed

    def create_port_group(self, group: m.PortGroup) -> None:
        ext = {} if group.group_id == m.DROP_GROUP else {m.GROUP_ID: group.group_id}
        self._commit(self._api.pg_add(group.name, may_exist=True, external_ids=ext))

    def update_port_group(
        self,
        group: m.PortGroup,
        actual: m.PortGroup,
        acl_uuids: Mapping[m.Acl, uuid.UUID],
        existing_ports: Collection[str],
    ) -> None:
        """Members and ACLs to what ``group`` says (members only among the LSPs that exist)."""
        commands = []
        added = sorted(p for p in group.ports - actual.ports if p in existing_ports)
        removed = sorted(actual.ports - group.ports)
        if added:
            commands.append(self._api.pg_add_ports(group.name, added))
        if removed:
            commands.append(self._api.pg_del_ports(group.name, removed, if_exists=True))
        for acl in actual.acls - group.acls:
            commands.append(self._api.db_remove("Port_Group", group.name, "acls", acl_uuids[acl]))
        for acl in sorted(group.acls - actual.acls, key=lambda a: (a.rule_id, a.match)):
            ext = {m.RULE_ID: acl.rule_id} if acl.rule_id else {}
            commands.append(
                self._api.pg_acl_add(group.name, acl.direction, acl.priority, acl.match, acl.action, **ext)
            )
        if commands:
            self._commit(*commands)

    def delete_port_group(self, group_id: str) -> None:
        name = m.DROP_GROUP if group_id == m.DROP_GROUP else m.port_group_name(group_id)
        self._commit(self._api.pg_del(name, if_exists=True))

    def _set_exactly(self, table: str, record: Any, columns: Mapping[str, Any]) -> list[Any]:
        """Commands setting each column to exactly this value (db_set alone merges map columns)."""
        commands = []
        for column, value in columns.items():
            if isinstance(value, Mapping):
                commands.append(self._api.db_clear(table, record, column))
                if value:
                    commands.append(self._api.db_set(table, record, (column, dict(value))))
            else:
                commands.append(self._api.db_set(table, record, (column, value)))
        return commands


def _port_columns(port: m.Port, dhcp_uuids: Mapping[m.DhcpKey, uuid.UUID]) -> dict[str, Any]:
    def ref(subnet_id: str | None, own: bool) -> list[uuid.UUID]:
        if subnet_id is None:
            return []
        key: m.DhcpKey = (port.port_id, subnet_id) if own else subnet_id
        return [dhcp_uuids[key]] if key in dhcp_uuids else []

    return {
        "addresses": list(port.addresses),
        "port_security": list(port.port_security),
        "enabled": port.enabled,
        "options": dict(port.options),
        "external_ids": dict(port.external_ids),
        "dhcpv4_options": ref(port.dhcpv4_subnet, port.dhcpv4_own),
        "dhcpv6_options": ref(port.dhcpv6_subnet, port.dhcpv6_own),
        "type": port.type,
    }


def _port_up_events(listener: PortUpListener) -> Any:
    """An ovsdbapp event handler (its own thread) calling ``listener`` when a port's ``up`` changes."""
    return up_events(
        "Logical_Switch_Port",
        "NeutrinoPortUp",
        listener,
        port_of=lambda row: row.name,
        # every LSP written reaches this test (a resync writes thousands): it comes after the cheap ones
        watched=lambda row: row.type in m.PORT_TYPES and m.REVISION in row.external_ids,
    )


def up_events(
    table: str,
    name: str,
    listener: PortUpListener,
    *,
    port_of: Callable[[Any], str],
    watched: Callable[[Any], bool],
) -> Any:
    """An ovsdbapp event handler (its own thread) calling ``listener(port_of(row), up)`` when the ``up`` of
    a ``watched`` row of ``table`` changes: created up, or updated with another ``up`` (unset → false,
    ovn-northd's first word on a new port, changes no status)."""
    from ovsdbapp.backend.ovs_idl import event as row_event

    class UpChanged(row_event.RowEvent):
        def __init__(self) -> None:
            super().__init__((self.ROW_CREATE, self.ROW_UPDATE), table, None)
            self.event_name = name

        def matches(self, event: str, row: Any, old: Any = None) -> bool:
            """ovsdbapp's, without its debug line: that one renders both rows whole (every
            column) for each match, logged or not."""
            return event in self.events and row._table.name == self.table and self.match_fn(event, row, old)

        def match_fn(self, event: str, row: Any, old: Any) -> bool:
            if event == self.ROW_UPDATE:
                if not hasattr(old, "up") or is_up(old.up) == is_up(row.up):
                    return False
            elif not is_up(row.up):
                return False
            return watched(row)

        def run(self, event: str, row: Any, old: Any) -> None:
            listener(port_of(row), is_up(row.up))

    handler = row_event.RowEventHandler()
    handler.watch_event(UpChanged())
    return handler


def is_up(up: Any) -> bool:
    """A Logical_Switch_Port's ``up`` (an optional boolean: a list of zero or one) as a boolean."""
    return bool(up[0]) if isinstance(up, list | tuple) and up else up is True


def _cell(row: Any, column: str) -> Any:
    """A replica row's column as Python, as ``getattr`` gives it. ``Row.__getattr__`` (ovs.db.idl)
    first rebuilds a set or map column from its values, to merge changes a transaction may have
    pending on the row, which is most of the time a full read takes (a switch's ports, a group's
    members: thousands). A row with nothing pending is read directly; any other takes that way."""
    data = row.__dict__.get("_data")
    if data is None or row._changes or row._mutations or column not in data:
        return getattr(row, column)
    return data[column].to_python(row._uuid_to_row)


def _owned(lsp: Any) -> bool:
    """A port of ours: a VM's or a router's LSP carrying our revision number (not a localnet port)."""
    return lsp.type in m.PORT_TYPES and m.REVISION in _cell(lsp, "external_ids")


def _acl(row: Any) -> m.Acl:
    external_ids = _cell(row, "external_ids")
    return m.Acl(row.direction, row.priority, row.match, row.action, external_ids.get(m.RULE_ID, ""))


def _switch(network_id: str, ls: Any, api: Any) -> m.Switch:
    localnet = None
    lsp = api.lookup("Logical_Switch_Port", m.localnet_name(network_id), default=None)
    if lsp is not None and lsp.type == m.LOCALNET:
        tag = _cell(lsp, "tag")
        localnet = m.Localnet(_cell(lsp, "options").get("network_name", ""), tag[0] if tag else None)
    return m.Switch(network_id, dict(_cell(ls, "external_ids")), dict(_cell(ls, "other_config")), localnet)


def _port(lsp: Any, network_id: str, subnet_of: Mapping[uuid.UUID, tuple[str, str]]) -> m.Port:
    def subnet(refs: list[Any]) -> tuple[str | None, bool]:
        """The subnet of the row referred to, and whether it is the port's own (another port's
        row reads as none: the repair rewrites the reference)."""
        subnet_id, owner = subnet_of.get(refs[0].uuid, (None, "")) if refs else (None, "")
        return (subnet_id, bool(owner)) if owner in ("", lsp.name) else (None, False)

    v4, v4_own = subnet(_cell(lsp, "dhcpv4_options"))
    v6, v6_own = subnet(_cell(lsp, "dhcpv6_options"))

    enabled = _cell(lsp, "enabled")
    return m.Port(
        port_id=lsp.name,
        network_id=network_id,
        addresses=tuple(_cell(lsp, "addresses")),
        port_security=tuple(_cell(lsp, "port_security")),
        enabled=bool(enabled[0]) if enabled else True,
        options=dict(_cell(lsp, "options")),
        external_ids=dict(_cell(lsp, "external_ids")),
        dhcpv4_subnet=v4,
        dhcpv6_subnet=v6,
        dhcpv4_own=v4_own,
        dhcpv6_own=v6_own,
        type=lsp.type,
    )
