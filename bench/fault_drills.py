"""Bench: fault drills (issue 15). The engine, the provider or a host agent is SIGKILLed at a seeded random moment
of a run, a hot-plug, a migration or a removal, started again, and the whole is checked: no orphan port on the
provider, no VM stuck in a transient state, no VM that is down still on a host, every vNIC's provisioning saying
what happened (tests/e2e/lifecycle/drills.py; the CI test runs five). Engine and provider on SQLite, agents with
the in-memory host network; no root needed.

    python bench/fault_drills.py [--drills 50] [--seed N]

Prints the seed, one line per drill, and the counts; exits 1 when a drill left something behind.
"""

from __future__ import annotations

import argparse
import collections
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.lifecycle.drills import drill_stack  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--drills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=None, help="default: a random one (printed)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    # the stack's servers on 127.0.0.1 speak plain HTTP, as the suite's do (tests/conftest.py)
    os.environ.setdefault("NEUTRINO_INSECURE_HTTP", "1")
    print(f"fault drills: seed {seed}, {args.drills} drills", flush=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, drill_stack(Path(tmp), seed) as drills:
        done = []
        for n in range(1, args.drills + 1):
            done.append(drills.drill(n))
            print(done[-1].line(), flush=True)
    kinds = collections.Counter((d.operation, d.victim) for d in done)
    dirty = [d for d in done if d.problems]
    leftovers = sum(len(d.problems) for d in done)
    print(f"\nseed {seed}: {len(done)} drills in {time.monotonic() - started:.0f} s "
          f"({sum(d.during for d in done)} killed during the call), {len(dirty)} not clean, "
          f"{leftovers} leftovers; slowest drill {max(d.seconds for d in done):.1f} s")  # fmt: skip
    for (operation, victim), count in sorted(kinds.items()):
        print(f"  {operation:<9} {victim:<9} {count}")
    return 1 if dirty else 0


if __name__ == "__main__":
    sys.exit(main())
