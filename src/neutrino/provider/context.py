"""Who is asking: the request context every provider operation receives."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestContext:
    user_id: str | None
    project_id: str | None
    is_admin: bool
    roles: tuple[str, ...] = field(default=())
    #: no-auth mode: the admin acts on behalf of the project named in each body, if any.
    no_auth: bool = False
    #: admin-only attributes this (non-admin) caller may nevertheless set and see, by policy.
    granted: frozenset[str] = field(default=frozenset())

    def may_use(self, attribute: str) -> bool:
        return self.is_admin or attribute in self.granted

    @classmethod
    def admin(cls, project_id: str | None = None, *, no_auth: bool = False) -> RequestContext:
        return cls(user_id=None, project_id=project_id, is_admin=True, roles=("admin",), no_auth=no_auth)
