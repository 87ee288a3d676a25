"""First start and later starts: what oVirt always has is created once, and stays removed once removed."""

from __future__ import annotations

from collections.abc import Callable

from neutrino.engine.bootstrap import Engine
from neutrino.engine.commands import auth, clusters, datacenters
from neutrino.engine.domain.model import BLANK_TEMPLATE_ID


def test_first_start_creates_the_defaults(make_engine: Callable[..., Engine]) -> None:
    engine = make_engine()
    with engine.ctx.reader() as uow:
        dc = uow.datacenters.first(name="Default")
        cluster = uow.clusters.first(name="Default")
        blank = uow.templates.get(BLANK_TEMPLATE_ID)
        assert dc is not None and cluster is not None and blank is not None
        assert cluster.data_center_id == dc.id
        assert blank.name == "Blank"
        assert [n.name for n in uow.networks.list(data_center_id=dc.id)] == ["ovirtmgmt"]
        assert uow.settings.get("instance_id")
    assert engine.admin_password is None  # chosen in the settings, so not generated
    assert auth.check_credentials(engine.ctx, "admin@internal", "pw")
    assert not auth.check_credentials(engine.ctx, "admin@internal", "other")


def test_restart_keeps_state_and_does_not_recreate_removed_defaults(
    make_engine: Callable[..., Engine],
) -> None:
    first = make_engine()
    with first.ctx.reader() as uow:
        dc = uow.datacenters.first(name="Default")
        cluster = uow.clusters.first(name="Default")
        instance = uow.settings.get("instance_id")
    assert dc is not None and cluster is not None
    clusters.remove_cluster(first.ctx, cluster.id)
    datacenters.remove_data_center(first.ctx, dc.id)
    first.dispose()

    again = make_engine()
    with again.ctx.reader() as uow:
        assert uow.datacenters.first(name="Default") is None
        assert uow.clusters.first(name="Default") is None
        assert uow.settings.get("instance_id") == instance
        assert uow.users.count() == 1


def test_generated_admin_password_is_returned_once(make_engine: Callable[..., Engine]) -> None:
    engine = make_engine(admin_password=None)
    assert engine.admin_password
    assert auth.check_credentials(engine.ctx, "admin@internal", engine.admin_password)
    engine.dispose()
    assert make_engine(admin_password=None).admin_password is None


def test_sessions_login_and_logout(make_engine: Callable[..., Engine]) -> None:
    engine = make_engine()
    assert auth.login(engine.ctx, "admin@internal", "wrong") is None
    token = auth.login(engine.ctx, "admin", "pw")  # a bare name is in the internal domain
    assert token
    user = auth.user_for_token(engine.ctx, token)
    assert user is not None and user.principal == "admin@internal"
    auth.logout(engine.ctx, token)
    assert auth.user_for_token(engine.ctx, token) is None
    auth.logout(engine.ctx, token)  # twice is harmless
