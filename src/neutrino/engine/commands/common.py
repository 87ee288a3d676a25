"""What every command shares: references by id or name, look-ups that fail with a clear NotFound, and the
context the composition root hands to every handler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from neutrino.engine.domain.errors import BadRequest, NotFound
from neutrino.engine.domain.macpool import MacRange
from neutrino.engine.store.repository import Repository
from neutrino.engine.store.uow import UnitOfWork

T = TypeVar("T")


@dataclass(frozen=True)
class Ref:
    """A reference to another entity as a client sends it: by id, or by name."""

    id: str | None = None
    name: str | None = None

    def __bool__(self) -> bool:
        return bool(self.id or self.name)


@dataclass
class EngineContext:
    """The collaborators commands need; built once by the composition root."""

    uow: Callable[[], UnitOfWork]
    reader: Callable[[], UnitOfWork]  # for reads only: never commits, never waits for writers
    mac_pool: MacRange
    secrets: Any  # neutrino.engine.store.secrets.SecretBox
    # provider_client(provider, password=None) -> NetworkProvider (neutrino.engine.providers.factory)
    provider_client: Any = None
    # agent_client(host) -> AgentClient (neutrino.engine.hosts.monitor.AgentClients)
    agent_client: Any = None
    # seconds an SSO bearer token stays valid after login (EngineSettings.sso_token_lifetime)
    sso_token_lifetime: float = 36_000.0


def require(repo: Repository[T], ref: Ref | str | None, type_: str, field: str) -> T:
    """The entity a reference names; BadRequest when missing, NotFound when it names nothing."""
    if isinstance(ref, str):
        ref = Ref(id=ref)
    if not ref:
        raise BadRequest(f"Incomplete parameters: '{field}' (id or name) is required.")
    found = repo.get(ref.id) if ref.id else repo.first(name=ref.name)
    if found is None:
        raise NotFound(f"{type_} '{ref.id or ref.name}' was not found ({field}).")
    return found


def get_or_404(repo: Repository[T], id_: str, type_: str) -> T:
    found = repo.get(id_)
    if found is None:
        raise NotFound(f"{type_} '{id_}' was not found.")
    return found


def apply_changes(entity: object, changes: dict[str, Any], allowed: set[str]) -> None:
    """Set the given attributes; callers decide which ones a user may change."""
    for key, value in changes.items():
        if key in allowed:
            setattr(entity, key, value)
