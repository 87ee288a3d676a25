"""``ports``: addresses from the IPAM, MACs unique per network, security groups, port binding.

``status`` starts DOWN; ``binding:*`` is what a host agent will later report and update.
Routers and floating IPs create their own ports here (:func:`insert_service_port`); the port API
may not delete those (``l3.check_port_deletion``).
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine.interfaces import BindTyping

from neutrino.provider import errors
from neutrino.provider.api import address_pairs, attributes, common, dns, extra_dhcp_opts, l3, rbac, tags
from neutrino.provider.api.attributes import ATTR_NOT_SPECIFIED
from neutrino.provider.api.networks import visible as network_visible
from neutrino.provider.api.port_binding import vif_binding
from neutrino.provider.api.query import ListQuery, select_page
from neutrino.provider.api.rendered import RenderCache
from neutrino.provider.api.resource import Unprepared, new_id, utcnow
from neutrino.provider.api.security_groups import default_group_id, ensure_default_group
from neutrino.provider.api.tags import Taggable
from neutrino.provider.api.validators import to_boolean, to_list, to_lower
from neutrino.provider.context import RequestContext
from neutrino.provider.ipam import allocator
from neutrino.provider.store import rows as rows_
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import Database, UnitOfWork

BASE_MAC = "fa:16:3e"
VNIC_TYPES = (
    "normal",
    "direct",
    "macvtap",
    "baremetal",
    "direct-physical",
    "virtio-forwarder",
    "smart-nic",
    "vdpa",
    "remote-managed",
)
UNBOUND = "unbound"

DECLARATION: common.Declaration = {
    **common.ident(),
    **common.named(),
    **common.project(),
    "network_id": {
        "allow_post": True,
        "validate": {"type:uuid": None},
        "is_filter": True,
        "is_sort_key": True,
    },
    "admin_state_up": {
        "allow_post": True,
        "allow_put": True,
        "default": True,
        "convert_to": to_boolean,
        "is_filter": True,
        "is_sort_key": True,
    },
    "mac_address": {
        "allow_post": True,
        "allow_put": True,
        "default": ATTR_NOT_SPECIFIED,
        "convert_to": to_lower,
        "validate": {"type:mac_address": None},
        "is_filter": True,
        "is_sort_key": True,
    },
    "fixed_ips": {
        "allow_post": True,
        "allow_put": True,
        "default": ATTR_NOT_SPECIFIED,
        "convert_to": to_list,
        "validate": {"type:fixed_ips": None},
        "column": None,
    },
    "device_id": {
        "allow_post": True,
        "allow_put": True,
        "default": "",
        "validate": {"type:string": 255},
        "is_filter": True,
        "is_sort_key": True,
    },
    "device_owner": {
        "allow_post": True,
        "allow_put": True,
        "default": "",
        "validate": {"type:string": 255},
        "is_filter": True,
        "is_sort_key": True,
    },
    "status": {"allow_post": False, "is_filter": True, "is_sort_key": True},
    "security_groups": {
        "allow_post": True,
        "allow_put": True,
        "default": ATTR_NOT_SPECIFIED,
        "convert_to": to_list,
        "validate": {"type:uuid_list": None},
        "column": None,
    },
    "port_security_enabled": {
        "allow_post": True,
        "allow_put": True,
        "default": ATTR_NOT_SPECIFIED,
        "convert_to": to_boolean,
        "is_filter": True,
    },
    "binding:host_id": {
        "allow_post": True,
        "allow_put": True,
        "default": "",
        "validate": {"type:string": 255},
        "is_filter": True,
        "admin_only": True,
        "column": "binding_host_id",
    },
    "binding:profile": {
        "allow_post": True,
        "allow_put": True,
        "default": {},
        "validate": {"type:dict_or_empty": None},
        "admin_only": True,
        "column": "binding_profile",
    },
    "binding:vnic_type": {
        "allow_post": True,
        "allow_put": True,
        "default": "normal",
        "validate": {"type:values": VNIC_TYPES},
        "is_filter": True,
        "column": "binding_vnic_type",
    },
    "binding:vif_type": {"allow_post": False, "admin_only": True, "column": "binding_vif_type"},
    "binding:vif_details": {"allow_post": False, "admin_only": True, "column": "binding_vif_details"},
    "allowed_address_pairs": {
        "allow_post": True,
        "allow_put": True,
        "default": ATTR_NOT_SPECIFIED,
        "convert_to": address_pairs.convert,
        "column": None,
    },
    "extra_dhcp_opts": {
        "allow_post": True,
        "allow_put": True,
        "default": [],
        "convert_to": extra_dhcp_opts.convert,
        "column": None,
    },
    **dns.PORT_ATTRIBUTES,
    **common.standard(),
    # tag-ports-during-bulk-creation: tags in the POST itself
    "tags": {"allow_post": True, "default": [], "convert_to": tags.to_tags, "column": None},
}


def _ip_order(item: dict[str, str]) -> tuple[bool, str, str]:
    return ":" in item["ip_address"], item["subnet_id"], item["ip_address"]


def _pair_order(pair: dict[str, str]) -> tuple[bool, str, str]:
    return ":" in pair["ip_address"], pair["ip_address"], pair["mac_address"]


def _opt_order(opt: dict[str, Any]) -> tuple[int, str]:
    return opt["ip_version"], opt["opt_name"]


#: A port's list attributes kept in child tables, in the order its record holds them; a list (or
#: show) reads each with one statement (``store.rows``).
CHILDREN: dict[str, rows_.ChildList] = {
    # IPv4 first, then by subnet and address
    "fixed_ips": rows_.ChildList(t.ip_allocations, "port_id", ("subnet_id", "ip_address"), _ip_order),
    "security_groups": rows_.ChildList(t.port_security_groups, "port_id", "security_group_id"),
    "tags": rows_.ChildList(t.port_tags, "resource_id", "tag"),
    # IPv4 first, then by address and MAC (as address_pairs.store returns them)
    "allowed_address_pairs": rows_.ChildList(
        t.port_allowed_address_pairs, "port_id", ("ip_address", "mac_address"), _pair_order
    ),
    # by IP version, then name (as extra_dhcp_opts.create returns them)
    "extra_dhcp_opts": rows_.ChildList(
        t.port_extra_dhcp_opts, "port_id", ("opt_name", "opt_value", "ip_version"), _opt_order
    ),
}


def _fixed_ips_filter(values: list[str]) -> sa.ColumnElement[bool]:
    """``?fixed_ips=ip_address=A&fixed_ips=subnet_id=S``: one allocation matching every key given."""
    wanted: dict[str, list[str]] = {}
    for value in values:
        key, _, wanted_value = value.partition("=")
        if key not in ("ip_address", "subnet_id") or not wanted_value:
            raise errors.HTTPBadRequest(msg=f"Invalid fixed_ips filter: {value}")
        wanted.setdefault(key, []).append(wanted_value)
    ips = t.ip_allocations.c
    sub = sa.select(ips.port_id).where(*[ips[key].in_(vals) for key, vals in wanted.items()])
    return t.ports.c.id.in_(sub)


# The create path's statements, built once (SQLAlchemy then finds them compiled in its cache).
_MAC_HOLDER = sa.select(t.ports.c.id).where(
    t.ports.c.network_id == sa.bindparam("network_id"), t.ports.c.mac_address == sa.bindparam("mac")
)
_NETWORK = sa.select(t.networks).where(t.networks.c.id == sa.bindparam("network_id"))
_INSERT_PORT = sa.insert(t.ports)
#: The port's insert that does nothing when its network already has its MAC (the unique key decides,
#: so a create asks no question before it): one statement where a look and an insert were two.
_UNLESS_MAC_TAKEN: dict[str, Any] = {"sqlite": sqlite_insert, "postgresql": pg_insert}
#: ... as text, by dialect and inserted columns (:func:`_insert_unless_mac_taken`)
_INSERTS_UNLESS_MAC_TAKEN: dict[tuple[str, tuple[str, ...]], sa.TextClause] = {}


def _insert_unless_mac_taken(dialect: sa.Dialect, columns: tuple[str, ...]) -> sa.TextClause | None:
    """The insert of a port's ``columns`` that does nothing when the MAC is taken, as its SQL text with
    the columns' types on its parameters; None where the dialect has no ``ON CONFLICT``. SQLAlchemy's
    dialect inserts (those with ``ON CONFLICT``) have no cache key, so it compiled the statement again
    for every port created (about a seventh of a create's CPU); a text is compiled once and cached."""
    key = (dialect.name, columns)
    found = _INSERTS_UNLESS_MAC_TAKEN.get(key)
    if found is None:
        insert = _UNLESS_MAC_TAKEN.get(dialect.name)
        if insert is None:
            return None
        statement = (
            insert(t.ports)
            .values({name: sa.bindparam(name) for name in columns})
            .on_conflict_do_nothing(index_elements=["network_id", "mac_address"])
            # RETURNING says whether the row went in (the drivers' rowcount does not, on PostgreSQL)
            .returning(t.ports.c.id)
        )
        dialect_class: Any = type(dialect)
        named = dialect_class(paramstyle="named")
        named.bind_typing = BindTyping.NONE  # no casts: the dialect adds its own to the text's parameters
        found = sa.text(str(statement.compile(dialect=named))).bindparams(
            *(sa.bindparam(name, type_=t.ports.c[name].type) for name in columns)
        )
        _INSERTS_UNLESS_MAC_TAKEN[key] = found
    return found


_INSERT_PORT_GROUP = sa.insert(t.port_security_groups)


def _sorted_ips(ips: list[dict[str, str]]) -> list[dict[str, str]]:
    """A port's fixed IPs in their wire order: IPv4 first, then by subnet, then by address (two of one
    subnet in one order whichever way they were read: a kept render and a show agree)."""
    ips.sort(key=_ip_order)
    return ips


def mac_taken(uow: UnitOfWork, network_id: str, mac: str) -> bool:
    return uow.execute(_MAC_HOLDER, {"network_id": network_id, "mac": mac}).first() is not None


def random_mac() -> str:
    return BASE_MAC + "".join(f":{b:02x}" for b in secrets.token_bytes(3))


#: How many random MACs a port may draw before its create gives up (a network holds 2**24).
MAC_DRAWS = 16


def new_mac(uow: UnitOfWork, network_id: str) -> str:
    for _ in range(MAC_DRAWS):
        mac = random_mac()
        if not mac_taken(uow, network_id, mac):
            return mac
    raise errors.Conflict()


def _insert_port(uow: UnitOfWork, values: dict[str, Any], mac: Any) -> None:
    """Insert the port with ``mac`` (ATTR_NOT_SPECIFIED: a random one) into ``values``; a MAC its
    network already has is ``MacAddressInUse`` when given, drawn again when random."""
    given = mac is not ATTR_NOT_SPECIFIED
    insert = _insert_unless_mac_taken(uow.conn.dialect, tuple(values))
    for _ in range(1 if given else MAC_DRAWS):
        values["mac_address"] = mac if given else random_mac()
        if insert is None:  # no ON CONFLICT here: look first
            if mac_taken(uow, values["network_id"], values["mac_address"]):
                continue
            uow.execute(_INSERT_PORT, values)
            return
        if uow.execute(insert, values).first() is not None:
            return
    if given:
        raise errors.MacAddressInUse(net_id=values["network_id"], mac=mac)
    raise errors.Conflict()


def insert_service_port(
    uow: UnitOfWork,
    network: sa.Row[Any],
    *,
    project_id: str,
    device_id: str,
    device_owner: str,
    requested: list[dict[str, Any]] | None,
    status: str = "DOWN",
    ip_version: int | None = None,
    allow_gateway: bool = False,
) -> tuple[str, list[tuple[str, str]]]:
    """A port a router or a floating IP owns: unbound, in no security group (Neutron trusts
    ``network:*`` ports), addresses as ``allocator.allocate`` gives them. Returns its id and
    its (subnet_id, ip_address) allocations."""
    port_id = new_id()
    now = utcnow()
    mac = new_mac(uow, network.id)
    uow.execute(
        sa.insert(t.ports).values(
            id=port_id,
            project_id=project_id,
            network_id=network.id,
            name="",
            description="",
            mac_address=mac,
            admin_state_up=True,
            status=status,
            device_id=device_id,
            device_owner=device_owner,
            port_security_enabled=network.port_security_enabled,
            binding_host_id="",
            binding_profile={},
            binding_vnic_type="normal",
            binding_vif_type=UNBOUND,
            binding_vif_details={},
            created_at=now,
            updated_at=now,
            revision_number=0,
        )
    )
    allocations = allocator.allocate(
        uow,
        network_id=network.id,
        port_id=port_id,
        mac_address=mac,
        requested=requested,
        ip_version=ip_version,
        allow_gateway=allow_gateway,
    )
    return port_id, allocations


def _address(value: Any) -> str:
    """An address as the store keeps it ("2001:DB8::5" is "2001:db8::5"); what is no address, as given."""
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        return str(value)


def reallocate(
    uow: UnitOfWork, row: Any, wanted: list[dict[str, Any]], mac: str, *, allow_gateway: bool = False
) -> None:
    """Give a port the addresses ``wanted`` (a port update's ``fixed_ips``)."""
    current = [
        (a.subnet_id, a.ip_address)
        for a in uow.rows(sa.select(t.ip_allocations).where(t.ip_allocations.c.port_id == row.id))
    ]
    # {"subnet_id": S} alone keeps an address the port already has on S, one not named by another entry
    # (so [{S, A}, {S}] on a port holding A adds a second address from S).
    claimed = {_address(i["ip_address"]) for i in wanted if "ip_address" in i}
    unclaimed = [c for c in current if c[1] not in claimed]
    requested = []
    for item in wanted:
        if "ip_address" not in item:
            match = next((c for c in unclaimed if c[0] == item.get("subnet_id")), None)
            if match is not None:
                unclaimed.remove(match)
                item = {"subnet_id": match[0], "ip_address": match[1]}
        requested.append(item)
    result = allocator.allocate(
        uow,
        network_id=row.network_id,
        port_id=row.id,
        mac_address=mac,
        requested=requested,
        keep=current,
        allow_gateway=allow_gateway,
    )
    allocator.release(uow, row.id, [c for c in current if c not in result])


#: What only an admin or the network's owner may set on a port (Neutron's default policy:
#: ``create_port:allowed_address_pairs`` and ``..:port_security_enabled`` are ``admin_or_network_owner``,
#: so a project cannot open a hole in a network shared with it).
NETWORK_OWNER_ONLY = frozenset({"allowed_address_pairs", "port_security_enabled"})


def visible(ctx: RequestContext) -> sa.ColumnElement[bool] | None:
    """The ports a caller may see, show, update and delete: an admin all, others their project's and
    every port on a network their project owns (Neutron's ``admin_or_network_owner`` in its port
    policies: a network's owner manages what other projects plug into it)."""
    if ctx.is_admin:
        return None
    own_networks = sa.select(t.networks.c.id).where(t.networks.c.project_id == ctx.project_id)
    return sa.or_(t.ports.c.project_id == ctx.project_id, t.ports.c.network_id.in_(own_networks))


def _network_owner_only(ctx: RequestContext, verb: str, owner: str | None, data: dict[str, Any]) -> None:
    if ctx.is_admin or owner == ctx.project_id:
        return
    for name in sorted(NETWORK_OWNER_ONLY):
        if data.get(name, ATTR_NOT_SPECIFIED) is not ATTR_NOT_SPECIFIED:
            raise errors.PolicyNotAuthorized(action=f"{verb}_port:{name}")


def _security_groups_filter(values: list[str]) -> sa.ColumnElement[bool]:
    psg = t.port_security_groups.c
    return t.ports.c.id.in_(sa.select(psg.port_id).where(psg.security_group_id.in_(values)))


class PortService(Taggable):
    collection = "ports"
    member = "port"
    declaration = DECLARATION
    table = t.ports
    tag_table = t.port_tags

    def scope(self, ctx: RequestContext) -> sa.ColumnElement[bool] | None:
        return visible(ctx)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: the backend's own check of an extra DHCP option (OVN serves fewer than dnsmasq), set by the app
        self.dhcp_option_problem: extra_dhcp_opts.Problem | None = None
        self.special_filters = {
            **self.special_filters,
            "fixed_ips": _fixed_ips_filter,
            "security_groups": _security_groups_filter,
        }
        self._raw_plans: dict[str, rows_.RecordPlan] = {}
        #: whole ports rendered, by version (see :meth:`list_rendered`)
        self.rendered = RenderCache()
        #: projects whose default security group this process has seen (see :meth:`prepare`)
        self._with_default_group: set[str] = set()

    def not_found(self, resource_id: str) -> errors.ProviderError:
        return errors.PortNotFound(port_id=resource_id)

    def expand(
        self, uow: UnitOfWork, ctx: RequestContext, rows: Sequence[sa.Row[Any]]
    ) -> list[dict[str, Any]]:
        return self._completed(uow, self.records(rows))

    def _completed(self, uow: UnitOfWork, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Records of port rows made whole: their child lists (``CHILDREN``, read together) and each
        one's ``dns_assignment`` (dns-integration), made from its fixed IPs and name."""
        rows_.expand(uow, records, CHILDREN)
        assign = dns.assigner(self.settings.dns_domain)
        for record in records:
            record["dns_assignment"] = assign(record["fixed_ips"], record.get("dns_name", ""))
        return records

    def list_records(
        self, uow: UnitOfWork, ctx: RequestContext, q: ListQuery
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """A page of ports from the DBAPI's tuples (``store.rows``: no ``Row`` per port, no
        ``datetime`` per timestamp); the same records :meth:`expand` gives. (The controller holds
        the garbage collector off meanwhile.)"""
        plan = self._raw_plan(uow)
        rows = self._page(uow, ctx, q, plan.columns)
        records = self._completed(uow, plan.records(rows))
        return records, [r["id"] for r in records]

    def _page(
        self, uow: UnitOfWork, ctx: RequestContext, q: ListQuery, columns: Sequence[Any]
    ) -> Sequence[Any]:
        """The DBAPI's tuples of ``columns`` of the ports of one page of a list this caller may see."""
        return select_page(
            uow.conn,
            self.definition,
            self.table,
            q,
            self.scope(ctx),
            self.special_filters,
            raw=True,
            columns=columns,
        )

    def _raw_plan(self, uow: UnitOfWork) -> rows_.RecordPlan:
        plan = self._raw_plans.get(uow.conn.dialect.name)
        if plan is None:
            plan = rows_.RecordPlan.of(self.table, self._columns, uow.conn.dialect)
            self._raw_plans[uow.conn.dialect.name] = plan
        return plan

    def list_rendered(
        self, uow: UnitOfWork, ctx: RequestContext, q: ListQuery
    ) -> tuple[list[Any], list[str]] | None:
        """An admin's list of whole ports from :attr:`rendered` (``api.rendered``): the page's versions
        (id, revision, status) are read, the ports not kept at that version are read and rendered as
        :meth:`list_records` does, and kept. (A port changed between the two reads is sent as it is
        now; one deleted meanwhile is left out.) Others' lists, and lists of some fields, are rendered
        from :meth:`list_records`."""
        if not ctx.is_admin or q.fields:
            return None
        c = self.table.c
        versions = self._page(uow, ctx, q, (c.id, c.revision_number, c.status))
        kept = self.rendered
        items = [kept.get(version) for version in versions]
        missing = [version[0] for version, item in zip(versions, items, strict=True) if item is None]
        if missing:
            fresh: dict[str, Any] = {}
            if 2 * len(missing) > len(versions):  # most are not kept: read the page as a list does
                fresh = self._keep(ctx, self.list_records(uow, ctx, q)[0])
            # by id: the few not kept, and any the page read did not return (the page shifted meanwhile)
            gaps = [port_id for port_id in missing if port_id not in fresh]
            if gaps:
                plan = self._raw_plan(uow)
                rows: list[Any] = []
                for clause in uow.where_in(c.id, gaps):
                    rows += rows_.fetch(uow, sa.select(*plan.columns).where(clause))[1]
                fresh.update(self._keep(ctx, self._completed(uow, plan.records(rows))))
            items = [
                item if item is not None else fresh.get(version[0])
                for version, item in zip(versions, items, strict=True)
            ]
        present = [
            (version[0], item) for version, item in zip(versions, items, strict=True) if item is not None
        ]
        return [item for _, item in present], [port_id for port_id, _ in present]

    def written(self, records: Sequence[dict[str, Any]]) -> None:
        """Ports just created or updated are kept rendered as an admin's list sends them: the list
        that follows (the engine's status poll, an agent's resync) renders none of them again."""
        self._keep(RequestContext.admin(), list(records))

    def _keep(self, ctx: RequestContext, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Render whole ports and keep them (:attr:`rendered`) at their versions; their renders by id."""
        made = self.rendered.keep(
            ((r["id"], r["revision_number"], r["status"]), orjson.dumps(r))
            for r in attributes.render_all(self.definition, records, ctx)
        )
        return {version[0]: fragment for version, fragment in made.items()}

    # --- create --------------------------------------------------------------------------------

    def prepare(self, db: Database, ctx: RequestContext, data: dict[str, Any]) -> None:
        """The project's default group, made if missing; once seen, this process skips the look (a
        unit of work of its own) and the create checks it in its own unit (:meth:`_groups`)."""
        project_id = data["project_id"]
        if data["security_groups"] is ATTR_NOT_SPECIFIED and project_id not in self._with_default_group:
            ensure_default_group(db, project_id)
            self._with_default_group.add(project_id)

    def create(self, uow: UnitOfWork, ctx: RequestContext, data: dict[str, Any]) -> str:
        return str(self.create_record(uow, ctx, data)["id"])

    def create_record(self, uow: UnitOfWork, ctx: RequestContext, data: dict[str, Any]) -> dict[str, Any]:
        """Store the port and return its record as :meth:`expand` would read it back, built from what
        was written (no read after the write). The addresses come last, just before the caller's
        commit: on PostgreSQL that holds the subnet lock for the fewest statements."""
        network = self._network(uow, ctx, data["network_id"])
        if not rbac.may_use(uow, ctx, network):  # seen (external) but not shared with the caller
            raise errors.PolicyNotAuthorized(action="create_port")
        _network_owner_only(ctx, "create", network.project_id, data)
        port_security = data["port_security_enabled"]
        if port_security is ATTR_NOT_SPECIFIED:
            port_security = network.port_security_enabled
        groups = self._groups(uow, data["project_id"], data["security_groups"], port_security)
        pairs = data["allowed_address_pairs"] or []
        if pairs and not port_security:
            raise errors.AddressPairAndPortSecurityRequired()
        port_id = new_id()
        now = utcnow()
        host = data["binding:host_id"]
        values = {
            "id": port_id,
            "project_id": data["project_id"],
            "network_id": network.id,
            "name": data["name"],
            "description": data["description"],
            "mac_address": None,  # set by _insert_port
            "admin_state_up": data["admin_state_up"],
            "status": "DOWN",
            "device_id": data["device_id"],
            "device_owner": data["device_owner"],
            "port_security_enabled": port_security,
            "binding_host_id": host,
            "binding_profile": data["binding:profile"],
            "binding_vnic_type": data["binding:vnic_type"],
            **self._binding(host, data["network_id"]),
            "dns_name": data.get("dns_name", ""),  # absent: the backend offers no DNS extension
            "dns_domain": data.get("dns_domain", ""),
            "created_at": now,
            "updated_at": now,
            "revision_number": 0,
        }
        _insert_port(uow, values, data["mac_address"])
        mac = values["mac_address"]
        if groups:
            uow.execute(_INSERT_PORT_GROUP, [{"port_id": port_id, "security_group_id": g} for g in groups])
        stored_pairs = address_pairs.store(uow, port_id, mac, pairs, replace=False)
        extra_dhcp_opts.check_served(data.get("extra_dhcp_opts") or [], self.dhcp_option_problem)
        stored_opts = extra_dhcp_opts.create(uow, port_id, data.get("extra_dhcp_opts") or [])
        tags.insert(uow, self.tag_table, port_id, data["tags"])
        requested = None if data["fixed_ips"] is ATTR_NOT_SPECIFIED else data["fixed_ips"]
        allocations = allocator.allocate(
            uow, network_id=network.id, port_id=port_id, mac_address=mac, requested=requested
        )
        record = self.record_of(values)
        fixed_ips = _sorted_ips([{"subnet_id": s, "ip_address": a} for s, a in allocations])
        record.update(
            fixed_ips=fixed_ips,
            security_groups=sorted(groups),
            tags=sorted(data["tags"]),
            allowed_address_pairs=stored_pairs,
            extra_dhcp_opts=stored_opts,
            dns_assignment=dns.assignment(fixed_ips, values["dns_name"], self.settings.dns_domain),
        )
        return record

    def _binding(self, host: str, network_id: str) -> dict[str, Any]:
        return vif_binding(self.settings, host, network_id)

    @staticmethod
    def _network(uow: UnitOfWork, ctx: RequestContext, network_id: str) -> sa.Row[Any]:
        stmt = _NETWORK
        if (scope := network_visible(ctx)) is not None:
            stmt = stmt.where(scope)
        network = uow.execute(stmt, {"network_id": network_id}).one_or_none()
        if network is None:
            raise errors.NetworkNotFound(net_id=network_id)
        return network

    def _groups(self, uow: UnitOfWork, project_id: str, requested: Any, port_security: bool) -> list[str]:
        if requested is ATTR_NOT_SPECIFIED:
            if not port_security:
                return []
            default = default_group_id(uow, project_id)
            if default is None and project_id in self._with_default_group:
                # deleted since prepare() saw it: prepare again, and make it
                self._with_default_group.discard(project_id)
                raise Unprepared()
            return [default] if default else []
        if requested and not port_security:
            raise errors.PortSecurityAndIPRequiredForSecurityGroups()
        if requested:
            found = {
                r.id: r.stateful
                for r in uow.rows(
                    sa.select(t.security_groups.c.id, t.security_groups.c.stateful).where(
                        t.security_groups.c.id.in_(requested), t.security_groups.c.project_id == project_id
                    )
                )
            }
            for group_id in requested:
                if group_id not in found:
                    raise errors.SecurityGroupNotFound(id=group_id)
            if len(set(found.values())) > 1:
                raise errors.SecurityGroupConflict(
                    reason="Cannot apply both stateful and stateless security groups on the same port at the "
                    "same time"
                )
        return list(requested)

    # --- update / delete -----------------------------------------------------------------------

    def update(self, uow: UnitOfWork, ctx: RequestContext, resource_id: str, data: dict[str, Any]) -> None:
        row = self.get_row(uow, ctx, resource_id)
        if not ctx.is_admin and NETWORK_OWNER_ONLY & data.keys():
            owner = uow.one_or_none(
                sa.select(t.networks.c.project_id).where(t.networks.c.id == row.network_id)
            )
            _network_owner_only(ctx, "update", owner.project_id if owner else None, data)
        if "mac_address" in data and data["mac_address"] != row.mac_address:
            if not ctx.is_admin:
                raise errors.PolicyNotAuthorized(action="update_port:mac_address")
            if mac_taken(uow, row.network_id, data["mac_address"]):
                raise errors.MacAddressInUse(net_id=row.network_id, mac=data["mac_address"])
        port_security = data.get("port_security_enabled", row.port_security_enabled)
        if "security_groups" in data:
            groups = self._groups(uow, row.project_id, data["security_groups"], port_security)
            uow.execute(
                sa.delete(t.port_security_groups).where(t.port_security_groups.c.port_id == resource_id)
            )
            if groups:
                uow.execute(
                    sa.insert(t.port_security_groups),
                    [{"port_id": resource_id, "security_group_id": g} for g in groups],
                )
        elif not port_security and uow.one_or_none(
            sa.select(t.port_security_groups.c.port_id)
            .where(t.port_security_groups.c.port_id == resource_id)
            .limit(1)
        ):
            raise errors.PortSecurityPortHasSecurityGroup()
        self._update_pairs(uow, row, data, port_security)
        extra_dhcp_opts.check_served(data.get("extra_dhcp_opts") or [], self.dhcp_option_problem)
        extra_dhcp_opts.update(uow, resource_id, data.get("extra_dhcp_opts") or [])
        if "fixed_ips" in data:
            reallocate(
                uow,
                row,
                data["fixed_ips"],
                data.get("mac_address", row.mac_address),
                allow_gateway=row.device_owner == l3.ROUTER_INTERFACE,
            )
            l3.check_floating_ip_addresses(uow, resource_id)
        if "binding:host_id" in data:
            data.update(
                {
                    k.replace("binding_", "binding:"): v
                    for k, v in self._binding(data["binding:host_id"], row.network_id).items()
                }
            )
        self.touch(uow, resource_id, data)

    @staticmethod
    def _update_pairs(uow: UnitOfWork, row: Any, data: dict[str, Any], port_security: bool) -> None:
        """Neutron's rule: a port with allowed address pairs keeps port security on (turning it
        off in the same request as clearing them is fine)."""
        if "allowed_address_pairs" in data:
            pairs = data["allowed_address_pairs"] or []
            if pairs and not port_security:
                raise errors.AddressPairAndPortSecurityRequired()
            address_pairs.store(uow, row.id, data.get("mac_address", row.mac_address), pairs)
        elif not port_security and address_pairs.has_pairs(uow, row.id):
            raise errors.AddressPairAndPortSecurityRequired()

    def delete(self, uow: UnitOfWork, ctx: RequestContext, resource_id: str) -> None:
        row = self.get_row(uow, ctx, resource_id)
        l3.check_port_deletion(uow, row)
        l3.disassociate_floating_ips(uow, resource_id)
        l3.drop_port(uow, resource_id)
