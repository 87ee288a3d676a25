"""The engine on OVN in the session's OVN lab: the provider with ``--backend ovn`` on the lab's NB and SB,
the engine in the central's namespace, and a ``neutrino agent`` in OVN mode on each chassis (``physnet1``
mapped onto its provider bridge), registered as hosts. Shared by the OVN system tests."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from tests.conftest import _require
from tests.support.engine_stack import HostSpec, World, stack
from tests.support.netlab import Lab
from tests.support.ovn_lab import CENTRAL_IP, OvnLab
from tests.support.provider_lab import Provider, openstack_reason


def ovn_provider(ovn_lab: OvnLab, lab: Lab, maintenance: int | None = None) -> Provider:
    """The provider with the OVN backend on the lab's NB and SB, in the central's namespace (not started);
    its northbound maintenance every ``maintenance`` seconds when given."""
    central = ovn_lab.workdir / "central"
    args = ("--backend", "ovn", "--ovn-nb-connection", f"unix:{central / 'ovnnb_db.sock'}",
            "--ovn-sb-connection", f"unix:{central / 'ovnsb_db.sock'}")  # fmt: skip
    if maintenance is not None:
        args += ("--ovn-maintenance-interval", str(maintenance))
    return Provider(lab, ovn_lab.central_ns, CENTRAL_IP, args=args)


@contextmanager
def ovn_provider_running(ovn_lab: OvnLab, lab: Lab, maintenance: int | None = None) -> Iterator[Provider]:
    """:func:`ovn_provider` started; afterwards stopped and its northbound rows removed."""
    _require(openstack_reason())
    provider = ovn_provider(ovn_lab, lab, maintenance)
    try:
        provider.start()
        yield provider
    finally:
        provider.stop()
        ovn_lab.forget_neutron()


@contextmanager
def ovn_world(ovn_lab: OvnLab, lab: Lab, maintenance: int | None = None) -> Iterator[World]:
    """The engine, the OVN-backed provider and one agent per chassis (host names unique to this world, so
    the southbound never mixes two worlds' chassis); afterwards everything stopped and the lab's central
    and chassis left as they were found."""
    tag = secrets.token_hex(2)
    hosts = {f"ovn{tag}{ch.name}": HostSpec(ch.ns, ch.ip, ovn_lab.agent_args(ch)) for ch in ovn_lab.chassis}
    try:
        with (
            ovn_provider_running(ovn_lab, lab, maintenance) as provider,
            stack(lab, ovn_lab.central_ns, f"{CENTRAL_IP}:8080", provider, hosts) as world,
        ):
            yield world
    finally:
        ovn_lab.forget_chassis(*hosts)
        ovn_lab.forget_patch_ports()
