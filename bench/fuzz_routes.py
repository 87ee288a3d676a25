"""Bench: the route fuzz's long run over the three servers (tests/support/route_fuzz.py): every route of the
provider, the engine and an agent, every hostile case of each (odd ids, query strings, tokens, raw bodies, each
body member set to each hostile value), plus seeded random bodies, on SQLite or PostgreSQL.

    python bench/fuzz_routes.py [--seed 15] [--per-route 40] [--random-bodies 10] [--backend sqlite|postgresql]

``--per-route 0`` sends every case of every route (some 40,000 requests: the better part of an hour on a
loaded machine); the default, a seeded sample of 40 per route, takes minutes.

Prints the requests sent, the answers by status, the 5xx, the slow ones (over 2 s, the long poll excepted),
the answers holding a secret, and the slowest request; exits 1 on any finding. The suite runs a small sample
(tests/integration/boundary/test_route_fuzz.py).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.route_fuzz import SLOW, fuzz_world, run  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--per-route", type=int, default=40, help="cases per route, a seeded sample; 0: all")
    parser.add_argument("--random-bodies", type=int, default=10, help="seeded random bodies per body route")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a time limit still prints what was sent
    logging.getLogger("neutrino.access").disabled = True  # one line per request would drown the figures
    with (
        tempfile.TemporaryDirectory(prefix="fuzz-routes-") as tmp,
        fuzz_world(Path(tmp), args.backend) as world,
    ):
        routes = {t.name: len(t.routes) for t in world.targets}
        started = time.monotonic()
        per_route = args.per_route or None
        tally = run(
            world.targets, world.secrets, args.seed, per_route=per_route, random_bodies=args.random_bodies
        )
        took = time.monotonic() - started
    kinds = {k: sum(1 for f in tally.findings if f.problem.startswith(k)) for k in ("5xx", "slow", "leaks")}
    print(
        f"backend {args.backend}, seed {args.seed}, {args.per_route or 'all'} cases per route, routes {routes}"
    )
    stopped = " (stopped early)" if tally.interrupted else ""
    print(f"requests sent: {tally.sent} in {took:.0f} s{stopped}")
    print(f"answers by status: {dict(sorted(tally.by_status.items()))}")
    print(
        f"5xx: {kinds['5xx']}   slower than {SLOW:.0f} s: {kinds['slow']}   holding a secret: {kinds['leaks']}"
    )
    print(f"slowest request: {tally.slowest[0] * 1000:.0f} ms ({tally.slowest[1]})")
    for finding in tally.findings[:30]:
        print(f"  {finding}")
    return 1 if tally.findings else 0


if __name__ == "__main__":
    sys.exit(main())
