"""Bench (root): a full northbound resync of 10,000 ports from an empty northbound.

Setup, not timed: ``neutrino provider`` (builtin backend) makes one network, one subnet and the
ports, with Neutron bulk creates of 500 (default security group, port security on). Then the OVN
backend (``provider/backends/ovn``) is built on that database, against the northbound of an OVN
lab's central (NB, SB and ovn-northd in a namespace, ``tests/support/ovn_lab.py``) that holds
none of it, and one maintenance pass is timed: compare everything, write the switch, the DHCP
options, every Logical_Switch_Port and the two port groups with their members (``pg_<default>``,
``neutron_pg_drop``). The result is checked with ``ovn-nbctl`` (another client), and a second
pass, which must find nothing to repair, is timed too. Target (issue 11): the resync within 30 s.

    sudo python bench/ovn_nb_resync.py [--ports 10000]
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.netlab import Lab  # noqa: E402
from tests.support.ovn_lab import OvnLab, wait_for  # noqa: E402

from bench.provider_process import admin_client, cpu_seconds, created, provider_process  # noqa: E402
from neutrino.provider.backends.ovn.backend import OvnBackend  # noqa: E402
from neutrino.provider.backends.ovn.repair import describe  # noqa: E402
from neutrino.provider.settings import ProviderSettings  # noqa: E402
from neutrino.provider.store.db import Database  # noqa: E402

TARGET = 30.0  # seconds
BULK = 500


@dataclass
class Result:
    ports: int
    resync: float  # seconds
    repaired: Counter[str]
    in_sync_pass: float  # seconds of a second pass, with nothing to repair
    cpu: dict[
        str, float
    ]  # seconds of CPU during the resync: the provider's (this process), ovn-northd's, the NB's

    def report(self) -> str:
        return "\n".join(
            [
                f"full resync of {self.ports} ports from an empty northbound: {self.resync:.2f} s "
                f"({self.ports / self.resync:.0f} ports/s; {describe(self.repaired)})",
                "CPU meanwhile (on the same cores): "
                + ", ".join(f"{k} {v:.1f} s" for k, v in self.cpu.items()),
                f"a maintenance pass with nothing to repair, {self.ports} ports: {self.in_sync_pass:.2f} s",
                f"resync / target {TARGET:.0f} s: {self.resync / TARGET:.2f} "
                f"({'met' if self.resync <= TARGET else 'NOT met'})",
            ]
        )


def _provider_database(workdir: Path, ports: int) -> tuple[str, str]:
    """A provider database with one network, one subnet and ``ports`` ports: its URL, the network id."""
    data = workdir / "provider"
    url = f"sqlite:///{data / 'provider.db'}"
    with provider_process(data, url) as base, admin_client(base) as client:
        net = created(client.post("/v2.0/networks", json={"network": {"name": "bench"}}), "network")
        subnet = {"network_id": net["id"], "cidr": "10.64.0.0/16", "ip_version": 4}
        created(client.post("/v2.0/subnets", json={"subnet": subnet}), "subnet")
        made = 0
        while made < ports:
            batch = min(BULK, ports - made)
            response = client.post("/v2.0/ports", json={"ports": [{"network_id": net["id"]}] * batch})
            if response.status_code != 201:
                raise RuntimeError(f"bulk create: {response.status_code} {response.text}")
            made += batch
    return url, str(net["id"])


def run(ovn: OvnLab, workdir: Path, ports: int = 10_000) -> Result:
    """Time the resync of ``ports`` ports into ``ovn``'s northbound (left as found)."""
    url, network_id = _provider_database(workdir, ports)
    nb = f"unix:{ovn.workdir / 'central' / 'ovnnb_db.sock'}"
    settings = ProviderSettings(
        db_url=url, data_dir=workdir / "provider", backend="ovn", ovn_nb_connection=nb, ovn_ovsdb_timeout=60
    )
    db = Database(url, pool_size=2)
    backend = OvnBackend(settings, db)
    try:
        backend.nb.connect()
        wait_for("the northbound replica", lambda: backend.nb.connected, timeout=30)
        pids = {name: int((ovn.workdir / "central" / f"{file}.pid").read_text())
                for name, file in (("ovn-northd", "ovn-northd"), ("NB ovsdb-server", "ovnnb_db"))}  # fmt: skip
        pids["provider"] = os.getpid()
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        started = time.perf_counter()
        repaired = backend.maintain()
        resync = time.perf_counter() - started
        cpu = {
            name: cpu_seconds(pid) - before[name]
            for name, pid in sorted(pids.items(), key=lambda i: i[0] != "provider")
        }
        if repaired is None:
            raise RuntimeError("the northbound went away during the resync")
        started = time.perf_counter()
        again = backend.maintain()
        in_sync = time.perf_counter() - started
        if again:
            raise RuntimeError(f"a second pass still repaired: {describe(again)}")
        # what another client sees
        lsps = len(ovn.nbctl("lsp-list", f"neutron-{network_id}").splitlines())
        drop = len(ovn.nbctl("--bare", "get", "Port_Group", "neutron_pg_drop", "ports").split())
        if lsps != ports or drop != ports:
            raise RuntimeError(
                f"the northbound holds {lsps} ports, {drop} in neutron_pg_drop; wanted {ports}"
            )
        return Result(ports, resync, repaired, in_sync, cpu)
    finally:
        backend.nb.close()
        db.dispose()
        ovn.forget_neutron()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ports", type=int, default=10_000, help="ports to resync (default 10000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ovn = OvnLab(Lab(prefix=f"nb{secrets.token_hex(2)}", workdir=Path(tmp)))
        try:
            ovn.build(chassis=0)
            result = run(ovn, Path(tmp), args.ports)
        finally:
            ovn.cleanup()
    print(result.report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
