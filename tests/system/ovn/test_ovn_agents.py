"""The provider with ``--backend ovn`` and a southbound connection lists OVN's chassis as agents: the
lab's central (NB, SB, ovn-northd) and two chassis made OVN chassis by Neutrino agents. A chassis
that acknowledges the northbound's ``nb_cfg`` is alive, one that never does is not; a chassis gone
from the southbound leaves the list; the rows are read-only; reported agents stay listed beside them."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.provider.server import running_provider
from tests.support.databases import sqlite_url
from tests.support.netlab import Lab
from tests.support.ovn_lab import OvnLab, wait_for

pytestmark = pytest.mark.root

OVN = "OVN Controller agent"


@pytest.fixture
def admin(ovn_lab: OvnLab, tmp_path: Path) -> Iterator[httpx.Client]:
    central = ovn_lab.workdir / "central"
    with (
        running_provider(
            sqlite_url(tmp_path),
            tmp_path,
            backend="ovn",
            ovn_nb_connection=f"unix:{central / 'ovnnb_db.sock'}",
            ovn_sb_connection=f"unix:{central / 'ovnsb_db.sock'}",
            ovn_chassis_interval=0.3,
            ovn_maintenance_interval=3600,
        ) as provider,
        provider.admin() as client,
    ):
        yield client


def ovn_agents(admin: httpx.Client, **params: str) -> dict[str, dict[str, Any]]:
    got = admin.get("/v2.0/agents", params={"agent_type": OVN, **params})
    assert got.status_code == 200, got.text
    return {a["host"]: a for a in got.json()["agents"]}


def test_chassis_are_listed_as_agents_alive_while_they_acknowledge(
    ovn_lab: OvnLab, lab: Lab, admin: httpx.Client
) -> None:
    tag = secrets.token_hex(2)
    hosts = {ch.name: f"agt{tag}-{ch.name}" for ch in ovn_lab.chassis}
    for ch in ovn_lab.chassis:
        lab.agent(
            ch.ns, hosts[ch.name], "--vm-backend", "netns", "--netns-prefix", f"{lab.prefix}{ch.name}-",
            "--ovn-remote", ovn_lab.sb_remote, "--ovn-encap-ip", ch.ip,
            "--ovs-rundir", str(ch.rundir), "--ovn-rundir", str(ch.rundir),
        )  # fmt: skip
    fake = f"fake{tag}"
    ovn_lab.sbctl("chassis-add", fake, "geneve", "10.213.0.99")
    try:
        # a Neutrino agent's report is listed beside the chassis
        report = {"agent_report": {"host": "builtin-host", "agent_type": "Linux bridge agent"}}
        assert admin.post("/v2.0/agent-reports", json=report).status_code == 200
        wanted = {*hosts.values(), fake}

        def listed_and_judged() -> bool:
            found = ovn_agents(admin)
            return wanted <= set(found) and all(found[h]["alive"] for h in hosts.values())

        wait_for("the chassis listed, the real ones alive", listed_and_judged, timeout=30)
        found = ovn_agents(admin)
        for ch in ovn_lab.chassis:
            agent = found[hosts[ch.name]]
            assert agent["binary"] == "ovn-controller"
            assert agent["configurations"]["chassis_name"] == hosts[ch.name]  # system-id = the host name
            assert agent["configurations"]["encaps"] == [{"type": "geneve", "ip": ch.ip}]
        # it never acknowledges the northbound's nb_cfg: not alive, although it is registered
        assert found[fake]["alive"] is False
        everyone = admin.get("/v2.0/agents").json()["agents"]
        assert {"builtin-host"} | wanted <= {a["host"] for a in everyone}
        assert ovn_agents(admin, host=hosts["ch1"]).keys() == {hosts["ch1"]}  # filters apply
        shown = admin.get(f"/v2.0/agents/{found[hosts['ch2']]['id']}")
        assert shown.json()["agent"]["host"] == hosts["ch2"]

        # read-only: the southbound is their truth
        agent_id = found[fake]["id"]
        refused = admin.delete(f"/v2.0/agents/{agent_id}")
        assert refused.status_code == 400 and "OVN chassis" in refused.text
        refused = admin.put(f"/v2.0/agents/{agent_id}", json={"agent": {"description": "x"}})
        assert refused.status_code == 400, refused.text
        report = {"agent_report": {"host": fake, "agent_type": OVN}}
        assert admin.post("/v2.0/agent-reports", json=report).status_code == 400

        # acknowledging the current nb_cfg makes it alive
        uuid = ovn_lab.sbctl("--bare", "--columns=_uuid", "find", "Chassis", f"name={fake}")
        ovn_lab.sbctl("create", "Chassis_Private", f"name={fake}", f"chassis={uuid}")

        def acknowledged() -> bool:
            nb_cfg = ovn_lab.sbctl("get", "SB_Global", ".", "nb_cfg")
            ovn_lab.sbctl("set", "Chassis_Private", fake, f"nb_cfg={nb_cfg}")
            return bool(ovn_agents(admin)[fake]["alive"])

        wait_for("the fake chassis alive once it acknowledges", acknowledged, timeout=15)

        # gone from the southbound, gone from the list
        ovn_lab.sbctl("chassis-del", fake)
        wait_for("the fake chassis unlisted", lambda: fake not in ovn_agents(admin), timeout=15)
        assert admin.get(f"/v2.0/agents/{agent_id}").status_code == 404
    finally:
        for process in lab.agents:
            process.stop()
        ovn_lab.forget_chassis(fake, *hosts.values())
