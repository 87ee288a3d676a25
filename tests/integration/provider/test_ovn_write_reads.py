"""The OVN backend's reads for a write (the desired rows of the ports written, their groups and
routers) run statements built once per dialect: a statement built anew for every write made
SQLAlchemy compute its cache key again, about a seventh of an OVN port create's CPU. The rows they
read are those of plain statements, on each backend."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from neutrino.provider.backends.ovn import desired, groups
from neutrino.provider.backends.ovn.backend import _routers_of_ports
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import Database, UnitOfWork
from tests.integration.provider.conftest import Api
from tests.integration.provider.server import RunningProvider


class _Recording(UnitOfWork):
    """A unit of work that notes every statement object it runs."""

    def __init__(self, db: Database) -> None:
        super().__init__(db, write=False)
        self.statements: list[Any] = []

    def execute(self, statement: Any, params: Any = None) -> sa.CursorResult[Any]:
        self.statements.append(statement)
        return super().execute(statement, params)

    def rows(self, statement: Any) -> Any:
        self.statements.append(statement)
        return super().rows(statement)


def _reads(uow: _Recording, port_ids: list[str]) -> tuple[Any, ...]:
    state = desired.load(uow, desired.Scope.only(ports=port_ids))
    return state.ports, groups.of_ports(uow, port_ids), _routers_of_ports(uow, port_ids)


def test_a_writes_reads_are_statements_built_once(provider: RunningProvider) -> None:
    with provider.admin() as client:
        api = Api(client)
        net = api.network()
        subnet = api.subnet(net["id"], "10.88.0.0/24")
        group = api.post("security-groups", "security_group", name="built-once")["id"]
        made = [
            api.port(net["id"], security_groups=[group], allowed_address_pairs=[{"ip_address": "10.88.1.0/24"}],
                     extra_dhcp_opts=[{"opt_name": "ntp-server", "opt_value": "10.88.0.5"}])["id"],
            api.port(net["id"])["id"],
        ]  # fmt: skip
        router = api.post("routers", "router", name="built-once")["id"]
        api.ok(client.put(f"/v2.0/routers/{router}/add_router_interface", json={"subnet_id": subnet["id"]}))
    db = Database(provider.settings.database_url(), pool_size=1)
    try:
        with db.engine.connect() as conn:
            router_port = conn.execute(sa.select(t.router_ports.c.port_id)).scalar_one()
        runs = []
        for ids in ([made[0]], [made[1], router_port], made):
            with _Recording(db) as uow:
                found = _reads(uow, ids)
                runs.append([id(s) for s in uow.statements])
            ports, in_groups, routers = found
            assert set(ports) == set(ids)  # a router's interface is a port of the switch too
            if made[0] in ids:
                assert group in in_groups and ports[made[0]].port_security
            assert routers == ({router} if router_port in ids else set())
        # the same statement objects, whichever ports (past the first read of each shape)
        assert set(runs[2]) <= set(runs[0]) | set(runs[1]), "a statement was built anew for a write"
    finally:
        db.dispose()
