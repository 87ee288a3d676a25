"""First start and every start: migrate the schema, then make sure what oVirt always has exists.

On first start: the ``admin@internal`` user (password from settings or generated and returned once), the
``Default`` data center and cluster, the ``Blank`` template, and the MAC pool range.
"""

from __future__ import annotations

import secrets
import ssl
from dataclasses import dataclass

import sqlalchemy as sa

from neutrino.engine import pki as engine_pki
from neutrino.engine.commands import auth, nics
from neutrino.engine.commands.clusters import add_cluster
from neutrino.engine.commands.common import EngineContext, Ref, no_enrollment
from neutrino.engine.commands.datacenters import add_data_center
from neutrino.engine.commands.passwords import PasswordChecks
from neutrino.engine.domain import model
from neutrino.engine.domain.macpool import MacRange
from neutrino.engine.hosts.agent_client import AgentClients
from neutrino.engine.hosts.enrollment import AgentEnroller
from neutrino.engine.provider_clients.factory import ProviderClients
from neutrino.engine.settings import EngineSettings
from neutrino.engine.store import migrate
from neutrino.engine.store.database import create_engine
from neutrino.engine.store.secrets import SecretBox
from neutrino.engine.store.uow import SqlUnitOfWork, session_factory
from neutrino.login_throttle import ThrottleLimits
from neutrino.private_files import private_dir, private_sqlite

MAC_POOL_KEY = nics.MAC_POOL_KEY
INITIALIZED_KEY = "initialized"


@dataclass
class Engine:
    """Everything the engine process is made of, built by ``build``."""

    settings: EngineSettings
    db: sa.Engine
    read_db: sa.Engine
    ctx: EngineContext
    admin_password: str | None  # set only when this start created the admin user with a generated password
    pki: engine_pki.EnginePki

    def dispose(self) -> None:
        self.db.dispose()
        if self.read_db is not self.db:
            self.read_db.dispose()


def build(settings: EngineSettings) -> Engine:
    private_dir(settings.data_dir)  # it holds the secrets key and the database: 0700
    private_sqlite(settings.db_url)  # created 0600 before SQLite creates it with the umask's mode
    db = create_engine(settings.db_url)
    read_db = create_engine(settings.db_url, readonly=True) if settings.db_url.startswith("sqlite") else db
    migrate.upgrade(db)
    pki = engine_pki.ensure(settings.data_dir / "pki", engine_pki.host_names(settings.host_port[0]))
    pool = _mac_pool(db, settings)
    trust = agent_trust(settings, pki)
    secrets = SecretBox.from_data_dir(settings.data_dir, settings.secret_key)
    writes, reads = session_factory(db), session_factory(read_db)
    ctx = EngineContext(
        uow=lambda: SqlUnitOfWork(writes),
        reader=lambda: SqlUnitOfWork(reads),
        mac_pool=pool,
        secrets=secrets,
        provider_client=ProviderClients(
            secrets,
            settings.data_dir / "provider-ca",
            settings.provider_connect_timeout,
            settings.provider_timeout,
        ),
        agent_client=AgentClients(secrets, settings.agent_timeout, tls=trust),
        enroll_agent=AgentEnroller(secrets, pki, trust, settings.agent_timeout) if trust else no_enrollment,
        sso_token_lifetime=settings.sso_token_lifetime,
        cert_renewal_retry=settings.cert_renewal_retry,
        instance_id=_instance_id(db),
        passwords=PasswordChecks(
            ThrottleLimits(
                max_failures_per_user=settings.login_max_failures_per_user,
                max_failures_per_address=settings.login_max_failures_per_address,
                window_seconds=settings.login_failure_window,
            )
        ),
    )
    password = _first_start(ctx, settings)
    return Engine(settings, db, read_db, ctx, password, pki)


def agent_trust(settings: EngineSettings, pki: engine_pki.EnginePki) -> ssl.SSLContext | None:
    """How the engine checks its host agents' HTTPS: their certificate signed by the engine's CA (or one in
    ``agent_ca_file``) and naming the host's address. None with ``insecure_http``: agents over plain HTTP."""
    if settings.insecure_http:
        return None
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    if settings.agent_ca_file is not None:
        context.load_verify_locations(cafile=str(settings.agent_ca_file))
    # the engine's certificate is its client certificate: enrolled agents let in only what its CA certified
    context.load_cert_chain(pki.server_cert, pki.server_key)
    return context


def _mac_pool(db: sa.Engine, settings: EngineSettings) -> MacRange:
    with SqlUnitOfWork(db) as uow:
        stored = uow.settings.get(MAC_POOL_KEY)
        if settings.mac_pool_range:
            pool = MacRange.parse(settings.mac_pool_range)
            if stored != str(pool):
                uow.settings.put(MAC_POOL_KEY, str(pool))
        elif stored:
            pool = MacRange.parse(stored)
        else:
            pool = MacRange.ovirt_default()
            uow.settings.put(MAC_POOL_KEY, str(pool))
        if uow.settings.get("instance_id") is None:
            uow.settings.put("instance_id", model.new_id())
        uow.commit()
    return pool


def _instance_id(db: sa.Engine) -> str:
    """The id ``_mac_pool`` made at first start (kept in the store's settings, never changed)."""
    with SqlUnitOfWork(db) as uow:
        return uow.settings.get("instance_id") or ""


def _first_start(ctx: EngineContext, settings: EngineSettings) -> str | None:
    generated = None
    with ctx.uow() as uow:
        if uow.users.first(name="admin", domain="internal") is None:
            password = settings.admin_password
            if not password:
                password = generated = secrets.token_urlsafe(12)
            uow.users.add(
                model.User(name="admin", domain="internal", password_hash=auth.hash_password(password))
            )
        if uow.templates.get(model.BLANK_TEMPLATE_ID) is None:
            uow.templates.add(
                model.Template(id=model.BLANK_TEMPLATE_ID, name="Blank", description="Blank template")
            )
        fresh = uow.settings.get(INITIALIZED_KEY) is None
        uow.settings.put(INITIALIZED_KEY, "1")
        uow.commit()
    if fresh:  # once: a user may remove the defaults later, and they stay removed
        dc = add_data_center(ctx, "Default", description="The default Data Center")
        add_cluster(ctx, "Default", Ref(id=dc.id), description="The default server cluster")
    return generated
