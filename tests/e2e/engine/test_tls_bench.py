"""The TLS-cost bench (bench/tls_cost.py) at CI size, so it cannot rot: it runs once small and each figure must
have been measured on both sides (plain HTTP and HTTPS). The 20 % target is the full-size bench's business."""

from __future__ import annotations

import argparse
import logging

from bench.tls_cost import measure, report


def test_tls_bench_at_ci_size() -> None:
    rows = measure(argparse.Namespace(creates=10, list_ports=120, vms=20, events=200, requests=2, rounds=1))
    print(report(rows))
    names = [what for what, _, _ in rows]
    assert len(names) == 7, names
    assert any("list_ports page of 100" in what for what in names)
    assert any("/vms?follow=nics, 20 VMs" in what for what in names)
    assert all(plain > 0 and tls > 0 for _, plain, tls in rows), report(rows)
    assert logging.getLogger("neutrino.access").filters == []  # the bench's silence ends with it
