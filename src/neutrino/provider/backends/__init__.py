"""Where the provider's network state goes after the database: the backend seam.

The provider's database is the source of truth of the Neutron API. A backend is told, after each
committed write, which resources of a collection changed (created, updated or deleted), and may run
work for the lifetime of the app (:meth:`Backend.start` / :meth:`Backend.stop`, from the lifespan).

- ``builtin``: the host agents read the provider over the Neutron API; its L3 scheduler places
  routers on the agents (:mod:`neutrino.provider.backends.builtin`).
- ``ovn``: the changes are written to OVN's northbound database, and a maintenance task repairs
  drift between the two (see :mod:`neutrino.provider.backends.ovn`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from neutrino.provider.settings import ProviderSettings
    from neutrino.provider.store.db import Database


class Backend(Protocol):
    def start(self) -> None:
        """Begin background work (called once, when the app starts serving)."""

    def stop(self) -> None:
        """End background work and close connections (called once, when the app stops)."""

    def changed(self, collection: str, resource_ids: Sequence[str]) -> None:
        """These resources of ``collection`` were created, updated or deleted and committed.

        Called in the request's worker thread after the commit; it must not raise (the write is
        already the truth).
        """


# A backend may also have ``extensions`` (the aliases of ``api.versions.ROUTING_EXTENSIONS`` and
# ``BACKEND_EXTENSIONS`` it implements) and ``routes(services, db, context_of)``: more routes of its
# own (the builtin backend's ``l3_agent_scheduler``).


def build_backend(
    settings: ProviderSettings, db: Database, notify: Callable[[str, Sequence[str]], None]
) -> Backend:
    """The backend ``settings.backend`` names; ``notify(kind, ids)`` notes in the change feed what it
    changes on its own (the builtin L3 scheduler's router moves)."""
    if settings.backend == "ovn":
        from neutrino.provider.backends.ovn.backend import OvnBackend

        return OvnBackend(settings, db)
    from neutrino.provider.backends.builtin import BuiltinBackend

    return BuiltinBackend(settings, db, notify)
