"""How an agent's ovn-controller ends, and a southbound over TLS, on the session's OVN lab.

A deliberate stop of the agent makes ovn-controller exit gracefully (``ovn-appctl exit``): its chassis
leaves the southbound when the stop returns, not ~75 s later when its heartbeat is too old. A restart
keeps the chassis: an ovn-controller that died is restarted by the agent, one left by a killed agent
is replaced by the next agent's, and both take over the same ``Chassis`` row. With an ``ssl:`` remote
the agent gives ovn-controller the chassis' key, certificate and the CA (``-p``, ``-c``, ``-C``), and it
registers on a southbound that accepts only TLS (``pssl:``)."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support import processes
from tests.support.netlab import AgentProcess, Lab, sh
from tests.support.ovn_lab import CENTRAL_IP, SB_SCHEMA, Chassis, OvnLab, wait_for
from tests.support.pki import make_pki

pytestmark = pytest.mark.root


def controller(agent: AgentProcess) -> processes.Proc | None:
    """The one live ovn-controller the agent's data dir names (None if there is none)."""
    found = [
        p
        for p in processes.naming(agent.lab.workdir / agent.name, processes.running())
        if p.argv[0].endswith("ovn-controller")
    ]
    assert len(found) <= 1, found
    return found[0] if found else None


def connected(agent: AgentProcess, proc: processes.Proc) -> bool:
    """Whether that ovn-controller is connected to its southbound."""
    ctl = agent.lab.workdir / agent.name / "ovn" / f"ovn-controller.{proc.pid}.ctl"
    done = sh("ovn-appctl", "-t", str(ctl), "connection-status", check=False)
    return done.stdout.strip() == "connected"


def chassis_row(ovn_lab: OvnLab, name: str) -> str:
    return ovn_lab.sbctl("--bare", "--columns=_uuid", "find", "Chassis", f"name={name}")


def ovn_agent(lab: Lab, ch: Chassis, name: str, remote: str, *extra: str) -> AgentProcess:
    return lab.agent(
        ch.ns, name, "--ovn-remote", remote, "--ovn-encap-ip", ch.ip,
        "--ovs-rundir", str(ch.rundir), "--ovn-rundir", str(ch.rundir), *extra,
    )  # fmt: skip


def test_a_stopped_agent_takes_its_chassis_out_of_the_southbound_a_restart_keeps_it(
    ovn_lab: OvnLab, lab: Lab
) -> None:
    name = f"exit{secrets.token_hex(2)}"
    agent = ovn_agent(lab, ovn_lab.chassis[1], name, ovn_lab.sb_remote)
    try:
        wait_for("the chassis in the SB", lambda: name in ovn_lab.sb_chassis())
        row = chassis_row(ovn_lab, name)

        # ovn-controller dies: the agent starts another, which takes over the same chassis row
        first = controller(agent)
        assert first is not None
        os.kill(first.pid, signal.SIGKILL)
        wait_for(
            "ovn-controller restarted", lambda: (p := controller(agent)) is not None and p.pid != first.pid
        )
        second = controller(agent)
        assert second is not None
        wait_for("the new ovn-controller connected", lambda: connected(agent, second))
        assert chassis_row(ovn_lab, name) == row

        # the agent is killed (no stop): the next one replaces the left ovn-controller, chassis kept
        assert agent.proc is not None
        agent.proc.kill()
        agent.proc.wait(5)
        assert controller(agent) == second  # nobody stopped it
        agent.start()
        wait_for("the left ovn-controller replaced", lambda: controller(agent) not in (None, second))
        third = controller(agent)
        assert third is not None
        wait_for("the replacement connected", lambda: connected(agent, third))
        assert chassis_row(ovn_lab, name) == row

        # a deliberate stop: ovn-controller exits gracefully and its chassis is gone when the stop returns
        started = time.monotonic()
        agent.stop()
        took = time.monotonic() - started
        assert controller(agent) is None
        assert name not in ovn_lab.sb_chassis()
        assert ovn_lab.sbctl("--bare", "--columns=name", "find", "Chassis_Private", f"name={name}") == ""
        assert took < 10, f"the agent took {took:.1f} s to stop"
    finally:
        agent.stop()
        ovn_lab.forget_chassis(name)


def test_the_agent_registers_its_chassis_on_a_southbound_that_takes_only_tls(
    ovn_lab: OvnLab, lab: Lab, tmp_path: Path
) -> None:
    (tmp_path / "pki").mkdir()
    (tmp_path / "sb").mkdir()
    pki = make_pki(tmp_path / "pki", client_auth=True)  # one CA; the server and the chassis present its cert
    run = tmp_path / "sb"
    sh("ovsdb-tool", "create", str(run / "sb.db"), str(SB_SCHEMA))
    port = 6643
    server = subprocess.Popen(
        ["nsenter", f"--net=/run/netns/{ovn_lab.central_ns}", "ovsdb-server", str(run / "sb.db"),
         f"--remote=pssl:{port}:{CENTRAL_IP}", f"--remote=punix:{run / 'sb.sock'}",
         f"--private-key={pki.key_file}", f"--certificate={pki.chain_file}", f"--ca-cert={pki.ca_file}",
         f"--unixctl={run / 'sb.ctl'}", f"--log-file={run / 'sb.log'}", "-vconsole:off", "--no-chdir"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def sbctl(*args: str) -> str:
        return sh("ovn-sbctl", "--timeout=10", f"--db=unix:{run / 'sb.sock'}", *args).stdout.strip()

    name = f"tls{secrets.token_hex(2)}"
    agent: AgentProcess | None = None
    try:
        wait_for("the TLS southbound", lambda: (run / "sb.sock").exists(), timeout=10)
        sbctl("init")  # SB_Global, as ovn-northd makes it: ovn-controller 23.03 dies without one
        agent = ovn_agent(
            lab, ovn_lab.chassis[0], name, f"ssl:{CENTRAL_IP}:{port}",
            "--ovn-private-key", str(pki.key_file), "--ovn-certificate", str(pki.chain_file),
            "--ovn-ca-cert", str(pki.ca_file),
        )  # fmt: skip
        wait_for(
            "the chassis in the TLS SB", lambda: name in sbctl("--bare", "--columns=name", "list", "Chassis")
        )
        proc = controller(agent)
        assert proc is not None
        assert connected(agent, proc)
        assert f"--ca-cert={pki.ca_file}" in proc.argv and f"--private-key={pki.key_file}" in proc.argv
        assert name not in ovn_lab.sb_chassis()  # only on the TLS one
        encaps = sbctl("--bare", "--columns=ip", "find", "Encap", f"chassis_name={name}")
        assert encaps == ovn_lab.chassis[0].ip
        agent.stop()
        assert sbctl("--bare", "--columns=name", "list", "Chassis") == ""  # a graceful exit over TLS too
    finally:
        if agent is not None:
            agent.stop()
        server.terminate()
        server.wait(10)
