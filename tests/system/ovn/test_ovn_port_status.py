"""A port's status from its southbound binding: with a southbound connection the provider makes a
port ACTIVE when its Port_Binding is ``up`` (what ovn-controller sets once the port's flows are
installed) without waiting for ovn-northd to copy it to the Logical_Switch_Port, and DOWN when the
binding goes down. The lab's central (NB, SB, ovn-northd); the binding's ``up`` is set by hand, on a
binding no chassis holds, so ovn-northd leaves the LSP's ``up`` false: only the southbound says."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.provider.conftest import Api
from tests.integration.provider.server import running_provider
from tests.support.databases import sqlite_url
from tests.support.ovn_lab import OvnLab, wait_for

pytestmark = pytest.mark.root


@pytest.fixture
def api(ovn_lab: OvnLab, tmp_path: Path) -> Iterator[Api]:
    central = ovn_lab.workdir / "central"
    try:
        with (
            running_provider(
                sqlite_url(tmp_path),
                tmp_path,
                backend="ovn",
                ovn_nb_connection=f"unix:{central / 'ovnnb_db.sock'}",
                ovn_sb_connection=f"unix:{central / 'ovnsb_db.sock'}",
                ovn_maintenance_interval=3600,
            ) as provider,
            provider.admin() as client,
        ):
            yield Api(client)
    finally:
        ovn_lab.forget_neutron()


def binding(ovn_lab: OvnLab, port_id: str) -> str | None:
    """The uuid of the port's Port_Binding, once ovn-northd has made it."""
    rows = ovn_lab.sbctl("--bare", "--columns=_uuid", "find", "Port_Binding", f"logical_port={port_id}")
    return rows.split()[0] if rows else None


def lsp_up(ovn_lab: OvnLab, port_id: str) -> bool:
    return json.loads(ovn_lab.nbctl("--format=json", "get", "Logical_Switch_Port", port_id, "up")) is True


def test_a_port_is_active_while_its_binding_is_up(api: Api, ovn_lab: OvnLab) -> None:
    network = api.network()
    port, other = api.port(network["id"]), api.port(network["id"])

    def status(p: dict[str, object]) -> str:
        return str(api.ok(api.c.get(f"/v2.0/ports/{p['id']}"))["port"]["status"])

    wait_for("the port's binding", lambda: binding(ovn_lab, port["id"]) is not None)
    row = binding(ovn_lab, port["id"])
    assert row is not None
    ovn_lab.sbctl("set", "Port_Binding", row, "up=true")
    wait_for("the port ACTIVE", lambda: status(port) == "ACTIVE", timeout=5)
    assert not lsp_up(ovn_lab, port["id"])  # bound by no chassis: ovn-northd does not call it up
    assert status(other) == "DOWN"
    ovn_lab.sbctl("set", "Port_Binding", row, "up=false")
    wait_for("the port DOWN", lambda: status(port) == "DOWN", timeout=5)
