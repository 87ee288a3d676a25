"""Bench (root): port creates per second through the provider, OVN backend against builtin backend, in one run.

Two ``neutrino provider`` processes side by side, each with its own SQLite database: one with the
builtin backend (the baseline: nothing after the database), one with ``--backend ovn`` writing the
northbound of an OVN lab's central (NB, SB and ovn-northd in a namespace, ``tests/support/ovn_lab.py``;
ovn-northd works on every write, as in a real deployment). Each gets a network and a subnet, then the
same number of port creates (``POST /v2.0/ports``, default security group, port security on, so
every OVN port joins ``pg_<default>`` and ``neutron_pg_drop``), from ``--clients`` lean clients
(``PortCreates``: the figure is the server's, not httpx's), alternating blocks of 10 per client
between the two so both see the same machine load. Target (issue 11):
the OVN backend's creates/s at least 0.5 of the builtin's. The first and last tenth of each series
are shown too: a cost per request that grows with the number of ports shows as a falling rate.

    sudo python bench/ovn_port_creates.py [--creates 600] [--clients 1]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.netlab import Lab  # noqa: E402
from tests.support.ovn_lab import OvnLab  # noqa: E402

from bench.provider_process import (  # noqa: E402
    PortCreates,
    admin_client,
    cpu_seconds,
    created,
    pct,
    provider_process,
    token,
)

TARGET = 0.5  # OVN creates/s over builtin creates/s
BLOCK = 10  # creates per turn and client: the two alternate, so both see the same machine load


@dataclass
class Series:
    backend: str
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed

    def tenth_rate(self, last: bool) -> float:
        """Creates/s over the first (or last) tenth of the requests, one client's view."""
        n = max(1, len(self.latencies) // 10)
        part = self.latencies[-n:] if last else self.latencies[:n]
        return len(part) / sum(part)


@dataclass
class Result:
    builtin: Series
    ovn: Series
    northd_cpu: float  # seconds of CPU ovn-northd used while the OVN provider's series ran

    @property
    def ratio(self) -> float:
        return self.ovn.rate / self.builtin.rate

    def report(self) -> str:
        lines = [f"{'backend':<9}{'creates':>8}{'creates/s':>11}{'p50 ms':>9}{'p95 ms':>9}"
                 f"{'first 10% /s':>14}{'last 10% /s':>13}"]  # fmt: skip
        for s in (self.builtin, self.ovn):
            lines.append(
                f"{s.backend:<9}{len(s.latencies):>8}{s.rate:>11.1f}{pct(s.latencies, 0.5) * 1000:>9.1f}"
                f"{pct(s.latencies, 0.95) * 1000:>9.1f}{s.tenth_rate(False):>14.1f}{s.tenth_rate(True):>13.1f}"
            )
        per_port = self.northd_cpu / len(self.ovn.latencies) * 1000
        lines.append(f"ovn-northd (same cores, recomputes on each write): {per_port:.1f} ms CPU per OVN port")
        lines.append(f"ovn/builtin creates/s: {self.ratio:.3f} (target >= {TARGET}: "
                     f"{'met' if self.ratio >= TARGET else 'NOT met'})")  # fmt: skip
        return "\n".join(lines)


@dataclass
class Target:
    series: Series
    creates: PortCreates


@contextmanager
def _provider(
    backend: str, workdir: Path, args: list[str], clients: int, loop: asyncio.Runner
) -> Iterator[Target]:
    data = workdir / backend
    with provider_process(data, f"sqlite:///{data / 'provider.db'}", args) as base:
        with admin_client(base) as client:
            net = created(client.post("/v2.0/networks", json={"network": {"name": "bench"}}), "network")
            subnet = {"network_id": net["id"], "cidr": "10.128.0.0/16", "ip_version": 4}
            created(client.post("/v2.0/subnets", json={"subnet": subnet}), "subnet")
        creates = PortCreates(base, token(base), str(net["id"]), clients)
        loop.run(creates.open())
        try:
            yield Target(Series(backend), creates)
        finally:
            creates.close()


def _block(target: Target, count: int, loop: asyncio.Runner) -> None:
    """``count`` creates from the target's clients, added to its series."""
    started = time.perf_counter()
    target.series.latencies.extend(loop.run(target.creates.run(count)))
    target.series.elapsed += time.perf_counter() - started


def run(ovn: OvnLab, workdir: Path, creates: int = 600, clients: int = 1) -> Result:
    """Both providers, ``creates`` port creates each; the northbound is left as found."""
    nb = f"unix:{ovn.workdir / 'central' / 'ovnnb_db.sock'}"
    try:
        with ExitStack() as stack:
            loop = stack.enter_context(asyncio.Runner())
            builtin = stack.enter_context(_provider("builtin", workdir, [], clients, loop))
            ovn_args = ["--backend", "ovn", "--ovn-nb-connection", nb, "--ovn-maintenance-interval", "3600"]
            backend = stack.enter_context(_provider("ovn", workdir, ovn_args, clients, loop))
            block = BLOCK * clients
            for target in (builtin, backend):  # warm-up: connections, caches, the groups' first members
                _block(target, block, loop)
                target.series.latencies.clear()
                target.series.elapsed = 0.0
            northd = int((ovn.workdir / "central" / "ovn-northd.pid").read_text())
            done, northd_cpu = 0, 0.0
            while done < creates:
                count = min(block, creates - done)
                _block(builtin, count, loop)
                before = cpu_seconds(northd)
                _block(backend, count, loop)
                northd_cpu += cpu_seconds(northd) - before
                done += count
            return Result(builtin.series, backend.series, northd_cpu)
    finally:
        ovn.forget_neutron()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--creates", type=int, default=600, help="port creates per backend (default 600)")
    parser.add_argument("--clients", type=int, default=1, help="concurrent clients (default 1)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ovn = OvnLab(Lab(prefix=f"nb{secrets.token_hex(2)}", workdir=Path(tmp)))
        try:
            ovn.build(chassis=0)
            result = run(ovn, Path(tmp), args.creates, args.clients)
        finally:
            ovn.cleanup()
    print(f"port creates through the provider, {args.creates} per backend, {args.clients} client(s)")
    print(result.report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
