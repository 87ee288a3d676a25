"""/users: the engine's users (read-only), where the audit log's ``user`` links point."""

from __future__ import annotations

from neutrino.engine.api.fields import Field
from neutrino.engine.api.resource import Collection


class Users(Collection):
    path, plural, element, type_name, repo = "users", "users", "user", "User", "users"
    fields = (
        Field("name", writable=False),
        Field("principal", attr="name", writable=False),
        Field("user_name", render_fn=lambda u: u.principal, writable=False),
        Field("namespace", attr="domain", writable=False),
    )
    searchable = True
