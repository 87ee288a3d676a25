"""Fault drills: the engine, the provider or a host agent SIGKILLed at a seeded random moment of a run, a
hot-plug, a migration or a removal, started again, and then the whole checked for what a crash must never leave
(issue 15): an orphan port on the provider, a VM stuck in a transient state, a VM that is down still on a host,
a vNIC whose provisioning does not say what happened.

The processes are those of the lifecycle e2e tests (``conftest.engine_and_provider``: `neutrino engine` and
`neutrino provider` apart, agents with the in-memory host network, all restartable on the same port, data
directory and database); two agents are hosts of one cluster, so a VM can migrate. Each drill prepares the VM its
operation needs without faults, starts the operation from a thread with its own SDK session, kills the victim
after a random delay (the operation may have finished by then: a kill after it is a drill point too), starts
the victim again and waits until the checks pass or the time is up. The seed fixes what is done, to whom and
when; the processes' own timing still varies, so replaying a seed comes close to a drill without repeating it
exactly. Used by ``test_fault_drills.py`` (a few
drills in CI) and ``bench/fault_drills.py`` (many).
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ovirtsdk4.types as types

from tests.e2e.lifecycle.conftest import Agent, Process, Stack, engine_and_provider
from tests.e2e.lifecycle.helpers import (
    EngineSession,
    ExternalNet,
    Neutron,
    Site,
    add_host,
    add_vm,
    agent_vms,
    external_network,
    make_site,
    provisioning,
    register_provider,
    settled,
    unique,
)

OPERATIONS = ("run", "hot-plug", "migrate", "remove")
VICTIMS = ("engine", "provider", "agent")
MAX_DELAY = 0.35  # seconds after the call starts: most of these calls return within 0.1-0.4 s here
SETTLE = 20.0  # seconds a drill's aftermath may take to converge (janitor and host monitor every second)
SETTLED_STATES = {"none", "unplugged", "failed"}  # what a down VM's vNIC may say


@dataclass
class Drill:
    """One drill: what was done, to whom, when, and what was left."""

    number: int
    operation: str
    victim: str
    delay: float
    outcome: str = ""
    during: bool = False  # the victim died while the call was still running
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        left = "clean" if not self.problems else "; ".join(self.problems)
        return (
            f"drill {self.number}: {self.operation}, {self.victim} killed after {self.delay:.3f} s "
            f"({self.outcome}) -> {left} [{self.seconds:.1f} s]"
        )


class Drills(EngineSession):
    """The stack, the site and the VM the drills work on."""

    def __init__(self, stack: Stack, seed: int) -> None:
        self.stack, self.seed, self.rng = stack, seed, random.Random(seed)
        self.neutron = Neutron(stack.provider_url)
        provider_id = register_provider(self.system, stack)
        self.site: Site = make_site(self.system, provider_id)
        self.net: ExternalNet = external_network(self.system, self.site)
        self.agents: dict[str, Agent] = {}  # host id -> its agent
        for name in ("drill-a", "drill-b"):
            agent = stack.agent(unique(name))
            self.agents[add_host(self.system, self.site, agent).id] = agent
        self.vm_id: str | None = None

    def vm(self) -> Any:
        assert self.vm_id is not None
        return self.system.vms_service().vm_service(self.vm_id)

    # -- one drill ---------------------------------------------------------------------------------------
    def drill(self, number: int) -> Drill:
        drill = Drill(
            number, self.rng.choice(OPERATIONS), self.rng.choice(VICTIMS), self.rng.uniform(0, MAX_DELAY)
        )
        started = time.monotonic()
        try:
            call = self._prepare(drill.operation)
            victim = self._victim(drill.victim)
            drill.during, drill.outcome = self._kill_during(call, victim, drill.delay)
            victim.start()
            if victim is self.stack.engine:
                self.reconnect()
            drill.problems = settled(self.problems, [], timeout=SETTLE)
        except Exception as exc:  # a drill that cannot even be set up or restarted is a finding too
            drill.problems = [f"drill broke: {type(exc).__name__}: {exc}"]
            self._restart_all()
        drill.seconds = time.monotonic() - started
        return drill

    def _prepare(self, operation: str) -> Any:
        """Bring the VM to where ``operation`` starts (without faults); the call that does it, on its own SDK
        session (``conn`` argument)."""
        if operation in ("run", "remove"):
            self._vm_down()
        else:
            self._vm_up()
        vm_id = self.vm_id
        if operation == "run":
            return lambda conn: conn.system_service().vms_service().vm_service(vm_id).start()
        if operation == "remove":
            self.vm_id = None  # gone, or to be replaced if the removal failed (the checks still see it)
            return lambda conn: conn.system_service().vms_service().vm_service(vm_id).remove()
        if operation == "migrate":
            return lambda conn: conn.system_service().vms_service().vm_service(vm_id).migrate()
        nic = types.Nic(
            name=unique("nic"), vnic_profile=types.VnicProfile(id=self.net.profile.id), plugged=True
        )
        return lambda conn: conn.system_service().vms_service().vm_service(vm_id).nics_service().add(nic)

    def _vm_down(self) -> None:
        if self.vm_id is None or len(self.vm().nics_service().list()) >= 4:
            self.vm_id = add_vm(self.system, self.site, [self.net.profile])[0].id
        if self.vm().get().status != types.VmStatus.DOWN:
            self.vm().stop()

    def _vm_up(self) -> None:
        self._vm_down()
        self.vm().start()

    def _victim(self, kind: str) -> Process:
        if kind == "engine":
            return self.stack.engine
        if kind == "provider":
            assert self.stack.provider is not None
            return self.stack.provider
        host = self.vm().get().host if self.vm_id is not None else None
        if host is not None and host.id in self.agents and self.rng.random() < 0.75:
            return self.agents[
                host.id
            ]  # mostly the VM's own host; sometimes the other (a migration's target)
        return self.rng.choice(list(self.agents.values()))

    def _kill_during(self, call: Any, victim: Process, delay: float) -> tuple[bool, str]:
        """Run ``call`` from a thread, SIGKILL ``victim`` ``delay`` seconds in; whether the call was still
        running then, and how it ended."""
        outcome: list[str] = []

        def work() -> None:
            conn = self.stack.connection()
            try:
                call(conn)
                outcome.append("the call succeeded")
            except Exception as exc:
                fault = getattr(exc, "fault", None)
                why = (getattr(fault, "detail", None) or str(exc)).strip().replace("\n", " ")
                outcome.append(f"the call failed: {why[:100]}")
            finally:
                with contextlib.suppress(Exception):
                    conn.close()

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        time.sleep(delay)
        finished = not thread.is_alive()
        victim.kill()
        thread.join(120)
        when = "after it returned" if finished else "during it"
        return not finished, f"killed {when}; {outcome[0] if outcome else 'the call did not return'}"

    def _restart_all(self) -> None:
        processes: list[Process] = [self.stack.engine, *self.agents.values()]
        if self.stack.provider is not None:
            processes.insert(0, self.stack.provider)
        for process in processes:
            if not process.running:
                with contextlib.suppress(Exception):
                    process.start()
        self.reconnect()

    # -- what a crash must never leave ------------------------------------------------------------------
    def problems(self) -> list[str]:
        """Everything wrong now (empty: clean)."""
        found: list[str] = []
        vms = self.system.vms_service().list()
        nics = {vm.id: self.system.vms_service().vm_service(vm.id).nics_service().list() for vm in vms}
        known = {n.id for listed in nics.values() for n in listed}
        ports = self.neutron.engine_ports()
        found += [
            f"orphan port {p['id']} (vNIC {p['device_id']} does not exist)"
            for p in ports
            if p["device_id"] not in known
        ]
        per_nic: dict[str, list[str]] = {}
        for port in ports:
            per_nic.setdefault(port["device_id"], []).append(port["id"])
        found += [f"vNIC {n} has {len(ids)} ports" for n, ids in per_nic.items() if len(ids) > 1]
        running = {host_id: agent_vms(agent) for host_id, agent in self.agents.items()}
        engine_vms = {vm.id for vm in vms}
        for host_id, listed in running.items():
            name = self.agents[host_id].host_name
            found += [
                f"host {name} still runs VM {v}, which the engine removed"
                for v in listed
                if v not in engine_vms
            ]
        for vm in vms:
            if vm.status not in (types.VmStatus.UP, types.VmStatus.DOWN):
                found.append(f"VM {vm.id} stuck {vm.status.value}")
                continue
            up = vm.status == types.VmStatus.UP
            for host_id, listed in running.items():
                on_it = up and vm.host is not None and vm.host.id == host_id
                if (vm.id in listed) != on_it:
                    where = "does not run it" if on_it else "still runs it"
                    found.append(
                        f"VM {vm.id} is {vm.status.value}; host {self.agents[host_id].host_name} {where}"
                    )
            found += self._provisioning_problems(vm, nics[vm.id], per_nic, up)
        return found

    def _provisioning_problems(
        self, vm: Any, nics: list[Any], ports: dict[str, list[str]], up: bool
    ) -> list[str]:
        found = []
        for nic in nics:
            # a vNIC never provisioned shows no record: its state is "none"
            record = provisioning(self.stack, vm.id, nic.id)
            state = record.get("state", "none")
            recorded = [record["port_id"]] if record.get("port_id") else []
            orphans = sorted(set(ports.get(nic.id, [])) - set(recorded))
            if orphans:
                found.append(
                    f"orphan port(s) {', '.join(orphans)} of vNIC {nic.id}: the engine records {recorded}"
                )
            if state == "failed" and not record.get("last_error"):
                found.append(f"vNIC {nic.id} failed without saying why")
            if up and nic.plugged:
                if state != "plugged" or [record.get("port_id")] != ports.get(nic.id):
                    found.append(
                        f"vNIC {nic.id} of up VM {vm.id}: provisioning {state}, port {record.get('port_id')}"
                    )
            elif not up and state not in SETTLED_STATES:
                found.append(f"vNIC {nic.id} of down VM {vm.id}: provisioning says {state}")
        return found


@contextmanager
def drill_stack(directory: Path, seed: int) -> Iterator[Drills]:
    """The engine and the provider apart on SQLite, two agents in one cluster, ready to drill."""
    with engine_and_provider(
        "sqlite", directory, janitor_interval=1.0, host_monitor_interval=1.0, agent_timeout=5.0
    ) as stack:
        drills = Drills(stack, seed)
        try:
            yield drills
        finally:
            drills.reconnect()
