"""The engine renews an agent's certificate when the agent asks (``certificate.renewal_due`` in its
capabilities) on a monitoring pass; a renewal that fails leaves the host as it is (the agent keeps serving the
old, still valid certificate), and both outcomes are in the audit log. Real database, the agent and the
enrollment faked at the engine's own seams (the real exchange: ``tests/e2e/engine/test_cert_renewal.py``)."""

from __future__ import annotations

import datetime

from neutrino.engine.commands import hosts
from neutrino.engine.commands.common import EngineContext, Ref
from neutrino.engine.commands.monitoring import monitor_all
from neutrino.engine.domain import model
from neutrino.engine.domain.audit import AuditType
from neutrino.engine.domain.errors import HostFailure
from neutrino.engine.domain.model import EventSeverity, HostStatus
from tests.integration.engine.conftest import BuildEngine
from tests.support.fakes import FakeAgent

NOT_AFTER = datetime.datetime(2027, 1, 2, 3, 4, tzinfo=datetime.UTC)


def _setup(make_engine: BuildEngine) -> tuple[EngineContext, FakeAgent, list[bool], model.Host]:
    ctx = make_engine().ctx
    agent = FakeAgent("h1")
    renewals: list[bool] = []
    ctx.agent_client = lambda host: agent
    ctx.enroll_agent = lambda host, renew=False: renewals.append(renew)
    with ctx.reader() as uow:
        cluster = uow.clusters.first(name="Default")
        assert cluster is not None
    host = hosts.add_host(ctx, "h1", "127.0.0.1", Ref(id=cluster.id), root_password="token")
    assert host.status == HostStatus.UP and renewals == [False]  # the enrollment of add host
    renewals.clear()
    return ctx, agent, renewals, host


def _events(ctx: EngineContext, *codes: AuditType) -> list[model.Event]:
    with ctx.reader() as uow:
        return [e for e in uow.events.list(order_by="id") if e.code in codes]


def _certificate(due: bool) -> dict[str, object]:
    return {"serial_number": "1f", "not_after": NOT_AFTER.isoformat(), "renewal_due": due}


def test_a_certificate_the_agent_asks_to_renew_is_renewed(make_engine: BuildEngine) -> None:
    ctx, agent, renewals, host = _setup(make_engine)
    agent.certificate = _certificate(due=False)
    monitor_all(ctx)
    assert renewals == [] and _events(ctx, AuditType.HOST_CERTIFICATE_RENEWED) == []

    agent.certificate = _certificate(due=True)
    monitor_all(ctx)
    assert renewals == [True]
    (event,) = _events(ctx, AuditType.HOST_CERTIFICATE_RENEWED)
    assert event.host_id == host.id and event.severity == EventSeverity.NORMAL
    assert (
        event.description
        == "The certificate of host h1 was renewed (the old one expires 2027-01-02 03:04 UTC)."
    )


def test_a_failed_renewal_keeps_the_host_up_and_says_why(make_engine: BuildEngine) -> None:
    ctx, agent, renewals, host = _setup(make_engine)

    def refuse(host: model.Host, renew: bool = False) -> None:
        renewals.append(renew)
        raise HostFailure("Host h1: the agent refused the certificate enrollment: not for this agent's key.")

    ctx.enroll_agent = refuse
    agent.certificate = _certificate(due=True)
    monitor_all(ctx)
    monitor_all(ctx)  # the next pass, right after: not tried again yet
    assert renewals == [True]
    assert ctx.cert_renewal_retry == 3600  # the default: an hour
    ctx.cert_renewal_retry = 600  # NEUTRINO_CERT_RENEWAL_RETRY
    with ctx.uow() as uow:  # ten minutes on, it is
        (event,) = [
            e for e in uow.events.list(order_by="id") if e.code == AuditType.HOST_CERTIFICATE_RENEWAL_FAILED
        ]
        event.time -= datetime.timedelta(seconds=601)
        uow.commit()
    monitor_all(ctx)
    assert renewals == [True, True]
    with ctx.reader() as uow:
        again = uow.hosts.get(host.id)
        assert again is not None and again.status == HostStatus.UP
    failed = _events(ctx, AuditType.HOST_CERTIFICATE_RENEWAL_FAILED)
    assert len(failed) == 2 and failed[0].severity == EventSeverity.WARNING
    assert failed[0].description == (
        "Failed to renew the certificate of host h1 (it expires 2027-01-02 03:04 UTC): "
        "Host h1: the agent refused the certificate enrollment: not for this agent's key."
    )
    assert _events(ctx, AuditType.HOST_CERTIFICATE_RENEWED) == []
