"""The southbound's chassis mirrored into the agents table (``backends/ovn/chassis.mirror``) on a real
database: rows follow the chassis, the heartbeat only moves for a chassis caught up with ``nb_cfg``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from neutrino.provider.backends.ovn.chassis import AGENT_TYPE, NEVER, ChassisInfo, agent_id, mirror
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import Database
from neutrino.provider.store.migrate import upgrade
from tests.support.databases import sqlite_url


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    url = sqlite_url(tmp_path)
    upgrade(url)
    database = Database(url, pool_size=2)
    try:
        yield database
    finally:
        database.dispose()


def chassis(name: str, nb_cfg: int, hostname: str = "", ip: str = "192.0.2.1") -> ChassisInfo:
    other = (("datapath-type", "netdev"), ("ovn-bridge-mappings", "physnet1:br-phy"))
    return ChassisInfo(name, hostname or name, nb_cfg, (("geneve", ip),), other)


def rows(db: Database) -> dict[str, sa.Row[Any]]:
    with db.reader() as uow:
        return {r.host: r for r in uow.rows(sa.select(t.agents).where(t.agents.c.agent_type == AGENT_TYPE))}


def test_rows_follow_the_chassis_and_only_the_caught_up_get_a_heartbeat(db: Database) -> None:
    with db.uow() as uow:  # a reported agent: never touched by the mirror
        now = datetime(2026, 1, 1)
        uow.execute(sa.insert(t.agents).values(id="reported", agent_type="Linux bridge agent", binary="b",
                    host="h1", configurations={}, created_at=now, started_at=now, heartbeat_timestamp=now))  # fmt: skip
        uow.commit()
    mirror(db, [chassis("h1", 7), chassis("h2", 6), chassis("twin", 7, hostname="h1")], nb_cfg=7)
    got = rows(db)
    assert set(got) == {"h1", "h2"}  # one chassis per host: the second claiming h1 is skipped
    assert got["h1"].id == agent_id("h1") and got["h1"].binary == "ovn-controller"
    assert got["h1"].configurations == {
        "chassis_name": "h1", "bridge-mappings": "physnet1:br-phy", "datapath-type": "netdev", "ovn-cms-options": "",
        "encaps": [{"type": "geneve", "ip": "192.0.2.1"}],
    }  # fmt: skip
    assert datetime.now() - got["h1"].heartbeat_timestamp < timedelta(seconds=60)
    assert got["h2"].heartbeat_timestamp == NEVER  # behind the northbound: never seen alive

    stamped = got["h1"].heartbeat_timestamp
    mirror(db, [chassis("h1", 7, ip="192.0.2.9"), chassis("h2", 8)], nb_cfg=8)
    got = rows(db)
    assert got["h1"].heartbeat_timestamp == stamped  # behind now: its heartbeat stays where it was
    assert got["h1"].configurations["encaps"] == [{"type": "geneve", "ip": "192.0.2.9"}]
    assert got["h2"].heartbeat_timestamp > NEVER

    mirror(db, [chassis("h2", 8)], nb_cfg=8)
    assert set(rows(db)) == {"h2"}  # gone from the southbound, gone from the list
    with db.reader() as uow:
        assert uow.one_or_none(sa.select(t.agents.c.id).where(t.agents.c.id == "reported")) is not None
