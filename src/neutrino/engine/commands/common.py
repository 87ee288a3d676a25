"""What every command shares: references by id or name, look-ups that fail with a clear NotFound, the
"not specified" sentinel of change objects, and the context the composition root hands to every handler."""

from __future__ import annotations

import dataclasses
import enum
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Protocol, TypeVar

from neutrino.engine.commands.listings import AgentListings, NetworkListings, NetworkReads
from neutrino.engine.commands.passwords import PasswordChecks
from neutrino.engine.domain import model
from neutrino.engine.domain.errors import BadRequest, NotFound
from neutrino.engine.domain.macpool import MacRange
from neutrino.engine.hosts.agent_client import HostAgent
from neutrino.engine.provider_clients.base import NetworkProvider
from neutrino.engine.store.repository import Placed, Repository
from neutrino.engine.store.uow import UnitOfWork

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T")


@dataclass(frozen=True)
class Ref:
    """A reference to another entity as a client sends it: by id, or by name."""

    id: str | None = None
    name: str | None = None

    def __bool__(self) -> bool:
        return bool(self.id or self.name)


class Secrets(Protocol):
    """Encrypts what the store keeps secret (provider passwords, agent tokens): ``store.secrets.SecretBox``."""

    def encrypt(self, plaintext: str) -> str: ...
    def decrypt(self, token: str) -> str: ...


class ProviderClients(Protocol):
    """A provider's client, its password decrypted unless ``password`` (being tested) is given:
    ``provider_clients.factory.ProviderClients``."""

    def __call__(self, provider: model.ExternalProvider, password: str | None = None) -> NetworkProvider: ...


class AgentClients(Protocol):
    """A host's agent client: ``hosts.agent_client.AgentClients``."""

    def __call__(self, host: model.Host) -> HostAgent: ...


class AgentEnroller(Protocol):
    """Have the engine's CA certify a host's agent (``hosts.enrollment.AgentEnroller``); ``renew``: again,
    even if it is certified already. A HostFailure says why not."""

    def __call__(self, host: model.Host, renew: bool = False) -> None: ...


def no_enrollment(host: model.Host, renew: bool = False) -> None:
    """Agents over plain HTTP (or a context built without a PKI): nothing to certify."""


def _no_providers(provider: model.ExternalProvider, password: str | None = None) -> NetworkProvider:
    raise RuntimeError("this engine context was built without provider clients")


def _no_agents(host: model.Host) -> HostAgent:
    raise RuntimeError("this engine context was built without agent clients")


@dataclass
class EngineContext:
    """The collaborators commands need; built once by the composition root."""

    uow: Callable[[], UnitOfWork]
    reader: Callable[[], UnitOfWork]  # for reads only: never commits, never waits for writers
    mac_pool: MacRange
    secrets: Secrets
    provider_client: ProviderClients = _no_providers
    agent_client: AgentClients = _no_agents
    enroll_agent: AgentEnroller = no_enrollment
    # seconds an SSO bearer token stays valid after login (EngineSettings.sso_token_lifetime)
    sso_token_lifetime: float = 36_000.0
    # seconds between two tries at renewing a host agent's certificate (EngineSettings.cert_renewal_retry)
    cert_renewal_retry: float = 3600.0
    # every password check: failed-login throttling, recently verified HTTP Basic credentials
    passwords: PasswordChecks = field(default_factory=PasswordChecks)
    # the operations this process is performing now (commands.operations.perform): not for convergence
    active_operations: set[str] = field(default_factory=set)
    operations_lock: threading.Lock = field(default_factory=threading.Lock)
    # each provider's last network listing, for a short while (commands.listings): imports read it
    listings: NetworkListings = field(default_factory=NetworkListings)
    # this engine's stable id (the store's ``instance_id``, made at first start): the tag on the provider ports
    # it creates, so its janitor deletes no other engine's ports ("" : none, ports untagged)
    instance_id: str = ""
    # each provider's agent list, for a couple of seconds (commands.placement): runs started together share it
    agent_listings: AgentListings = field(default_factory=AgentListings)
    # the provider networks runs read, for a couple of seconds (commands.placement): runs started together share
    # one read
    network_reads: NetworkReads = field(default_factory=NetworkReads)


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


def placed_or_404(uow: UnitOfWork, vm_id: str) -> Placed:
    """The VM locked with its host, cluster and data center (``VmRepository.lock_placed``), else NotFound."""
    found = uow.vms.lock_placed(vm_id)
    if found is None:
        raise NotFound(f"VM '{vm_id}' was not found.")
    return found


class Unset(enum.Enum):
    """The type of ``UNSET``: a change object's field the client did not send, distinct from None (which may
    be a value: no VLAN, no profile, no default provider)."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET


def or_current(value: T | Unset, current: T) -> T:
    """What a change object sets, or else the current value."""
    return current if value is UNSET else value


def specified(changes: DataclassInstance) -> dict[str, object]:
    """The fields a change object sets, by name."""
    found = {f.name: getattr(changes, f.name) for f in dataclasses.fields(changes)}
    return {name: value for name, value in found.items() if value is not UNSET}


def apply_specified(entity: object, changes: DataclassInstance, skip: Collection[str] = ()) -> None:
    """Copy the fields a change object sets onto the entity, but those in ``skip`` (references and secrets the
    command resolves itself). Every other field of a change class must be an attribute of the entity."""
    for name, value in specified(changes).items():
        if name in skip:
            continue
        if not hasattr(entity, name):
            raise TypeError(f"{type(changes).__name__}.{name} is not an attribute of {type(entity).__name__}")
        setattr(entity, name, value)
