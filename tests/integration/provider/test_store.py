"""The store on a real database: migrations both ways, unit of work commit and rollback."""

from __future__ import annotations

import stat
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from neutrino.provider.identity.keyfile import load_signing_key
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import Database, UnitOfWork
from neutrino.provider.store.migrate import current_revision, downgrade, upgrade


def _project(uow: UnitOfWork, name: str) -> None:
    uow.execute(sa.insert(t.projects).values(id=name, name=name, created_at=datetime(2026, 1, 1)))


def _names(db: Database) -> list[str]:
    with db.reader() as uow:
        return [r.name for r in uow.rows(sa.select(t.projects.c.name).order_by(t.projects.c.name))]


def test_migrations_up_and_down(database_url: str) -> None:
    upgrade(database_url)
    assert current_revision(database_url) == "0010"
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    assert {"networks", "subnets", "ports", "ip_allocations", "alembic_version_provider"} <= tables
    assert {"port_tags", "port_allowed_address_pairs"} <= tables  # schema 0006
    assert {"quotas", "rbac_policies"} <= tables  # schema 0007
    assert {"subnetpools", "subnetpool_prefixes", "subnetpool_tags"} <= tables  # schema 0009
    downgrade(database_url)
    assert current_revision(database_url) is None
    with engine.connect() as conn:
        assert "networks" not in sa.inspect(conn).get_table_names()
    engine.dispose()


def test_shared_and_external_networks_get_their_wildcard_policies(database_url: str) -> None:
    """0007: what ``shared`` and ``router:external`` said becomes Neutron's wildcard policies."""
    upgrade(database_url, "0006")
    engine = sa.create_engine(database_url)
    now = datetime(2026, 1, 1)
    common = {"admin_state_up": True, "status": "ACTIVE", "mtu": 1450, "port_security_enabled": True}
    common |= {"network_type": "vxlan", "created_at": now, "updated_at": now, "revision_number": 0}
    with engine.begin() as conn:
        for name, shared, external in (("plain", False, False), ("sh", True, False), ("both", True, True)):
            conn.execute(
                sa.insert(t.networks).values(
                    id=name, project_id="p", shared=shared, router_external=external, **common
                )
            )
    try:
        upgrade(database_url)
        with engine.connect() as conn:
            got = conn.execute(
                sa.select(
                    t.rbac_policies.c.object_id, t.rbac_policies.c.action, t.rbac_policies.c.target_project
                )
            ).all()
        assert sorted(tuple(r) for r in got) == [
            ("both", "access_as_external", "*"),
            ("both", "access_as_shared", "*"),
            ("sh", "access_as_shared", "*"),
        ]
    finally:
        downgrade(database_url)
        engine.dispose()


def test_the_signing_key_moves_out_of_the_database_into_a_0600_file(
    database_url: str, tmp_path: Path
) -> None:
    upgrade(database_url, "0004")
    engine = sa.create_engine(database_url)
    key = "ab" * 32
    with engine.begin() as conn:
        conn.execute(sa.insert(t.provider_meta).values(key="token_secret", value=key))
    key_file = tmp_path / "keys" / "keystone-signing.key"
    try:
        upgrade(database_url, token_key_file=key_file)
        assert key_file.read_text().strip() == key
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
        with engine.connect() as conn:
            assert conn.execute(sa.select(t.provider_meta.c.key)).all() == []
        assert load_signing_key(key_file) == bytes.fromhex(key)

        downgrade(database_url, "0004", token_key_file=key_file)
        with engine.connect() as conn:
            assert conn.execute(sa.select(t.provider_meta.c.value)).scalar_one() == key
        key_file.write_text("cd" * 32)  # another key where the database's must go: refused, nothing lost
        with pytest.raises(RuntimeError, match="holds another key"):
            upgrade(database_url, token_key_file=key_file)
        with engine.connect() as conn:
            assert conn.execute(sa.select(t.provider_meta.c.value)).scalar_one() == key
    finally:
        engine.dispose()


def test_unit_of_work_commits_only_when_told(database_url: str) -> None:
    upgrade(database_url)
    db = Database(database_url, pool_size=2)
    try:
        with db.uow() as uow:
            _project(uow, "kept")
            uow.commit()
        with db.uow() as uow:
            _project(uow, "forgotten")  # no commit: rolled back
        with pytest.raises(RuntimeError), db.uow() as uow:
            _project(uow, "failed")
            raise RuntimeError("boom")
        assert _names(db) == ["kept"]
        with pytest.raises(RuntimeError), db.reader() as uow:
            uow.commit()
    finally:
        db.dispose()


def test_one_address_per_subnet_is_a_constraint(database_url: str) -> None:
    upgrade(database_url)
    db = Database(database_url, pool_size=2)
    now = datetime(2026, 1, 1)
    common = {"created_at": now, "updated_at": now, "revision_number": 0}
    try:
        with db.uow() as uow:
            uow.execute(sa.insert(t.networks).values(id="n", project_id="p", admin_state_up=True, status="ACTIVE", shared=False, mtu=1450, port_security_enabled=True, network_type="vxlan", **common))  # fmt: skip
            uow.execute(sa.insert(t.subnets).values(id="s", project_id="p", network_id="n", ip_version=4, cidr="10.0.0.0/24", allocation_pools=[], dns_nameservers=[], host_routes=[], enable_dhcp=True, **common))  # fmt: skip
            for port, mac in (("a", "fa:16:3e:00:00:01"), ("b", "fa:16:3e:00:00:02")):
                uow.execute(sa.insert(t.ports).values(id=port, project_id="p", network_id="n", mac_address=mac, admin_state_up=True, status="DOWN", port_security_enabled=True, binding_profile={}, binding_vif_type="unbound", binding_vif_details={}, binding_vnic_type="normal", **common))  # fmt: skip
            uow.execute(sa.insert(t.ip_allocations).values(subnet_id="s", ip_address="10.0.0.2", port_id="a", network_id="n"))  # fmt: skip
            uow.commit()
        with pytest.raises(sa.exc.IntegrityError), db.uow() as uow:
            uow.execute(sa.insert(t.ip_allocations).values(subnet_id="s", ip_address="10.0.0.2", port_id="b", network_id="n"))  # fmt: skip
    finally:
        db.dispose()


def test_migrations_match_the_tables(database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    upgrade(database_url)
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), t.metadata)
    finally:
        engine.dispose()
    assert [d for d in diff if not (d[0] == "remove_table" and d[1].name == "alembic_version_provider")] == []


def test_0009_keeps_subnets_and_what_refers_to_them(database_url: str) -> None:
    """0009 rebuilds ``subnets`` on SQLite to add its pool's foreign key: rows and references survive."""
    upgrade(database_url, "0008")
    engine = sa.create_engine(database_url)
    now = datetime(2026, 1, 1)
    standard = {"created_at": now, "updated_at": now, "revision_number": 0}
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO networks (id, project_id, name, description, admin_state_up, status, shared, mtu, "
                "port_security_enabled, network_type, created_at, updated_at) VALUES ('n', 'p', '', '', true, "
                "'ACTIVE', false, 1450, true, 'vxlan', :now, :now)"
            ),
            {"now": now},
        )
        conn.execute(
            sa.insert(
                sa.table(
                    "subnets",
                    *[
                        sa.column(c)
                        for c in (
                            "id",
                            "project_id",
                            "network_id",
                            "ip_version",
                            "cidr",
                            "allocation_pools",
                            "dns_nameservers",
                            "host_routes",
                            "enable_dhcp",
                            "created_at",
                            "updated_at",
                            "revision_number",
                        )
                    ],
                )
            ).values(  # fmt: skip
                id="s",
                project_id="p",
                network_id="n",
                ip_version=4,
                cidr="10.0.0.0/24",
                allocation_pools="[]",
                dns_nameservers="[]",
                host_routes="[]",
                enable_dhcp=True,
                **standard,
            )  # fmt: skip
        )
        conn.execute(sa.text("INSERT INTO subnet_tags (resource_id, tag) VALUES ('s', 'kept')"))
    engine.dispose()
    upgrade(database_url)
    db = Database(database_url, pool_size=1)
    try:
        with db.uow() as uow:
            assert uow.one_or_none(sa.select(t.subnets.c.cidr, t.subnets.c.subnetpool_id)) == (
                "10.0.0.0/24",
                None,
            )
            assert [r.tag for r in uow.rows(sa.select(t.subnet_tags.c.tag))] == ["kept"]
            with pytest.raises(sa.exc.IntegrityError):  # the new foreign key holds
                uow.execute(sa.update(t.subnets).values(subnetpool_id="missing"))
        with db.uow() as uow, pytest.raises(sa.exc.IntegrityError):  # the old ones refer to the new table
            uow.execute(sa.insert(t.subnet_tags).values(resource_id="gone", tag="x"))
    finally:
        db.dispose()
    downgrade(database_url)
