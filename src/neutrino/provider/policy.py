"""Neutron's default policies, the part that depends on the caller's roles alone.

Neutron (2023.2 onwards, ``enforce_new_defaults``) lets a project ``reader`` read what its project may
see and change nothing; ``member`` (or ``admin``) may write. The rest of the policies (owner or admin for
a change, admin-only attributes such as ``binding:*`` and ``provider:*``) depend on the resource and are
enforced where it is read (:mod:`neutrino.provider.api.attributes`, each service's ``scope``).

This check runs before the resource is looked up, so a reader is refused a change with 403 even on a
resource that does not exist (Neutron looks first and answers 404 there).
"""

from __future__ import annotations

from collections.abc import Mapping

from neutrino.provider.context import RequestContext

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: roles that may change resources (besides admin, which may change anything)
WRITER_ROLES = frozenset({"member"})
_VERBS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}


def may_write(ctx: RequestContext) -> bool:
    return ctx.is_admin or not WRITER_ROLES.isdisjoint(ctx.roles)


def action_of(method: str, path: str, members: Mapping[str, str]) -> str:
    """Neutron's policy rule for a write: ``create_network``, ``update_port``, ``add_router_interface``,
    ``update_networks_tags``... ``members`` maps a collection's path (``security-groups``) to its member
    (``security_group``)."""
    verb = _VERBS.get(method, method.lower())
    parts = [p for p in path.split("/") if p][1:]  # without "v2.0"
    if not parts:
        return f"{verb}_resource"
    collection = parts[0]
    member = members.get(collection) or collection.removesuffix("s").replace("-", "_")
    if len(parts) <= 2:
        return f"{verb}_{member}"
    sub = parts[2]
    if sub == "tags":  # Neutron's tag rules: PUT .../tags replaces all, PUT .../tags/{tag} adds one
        verb = "create" if method == "PUT" and len(parts) > 3 else verb
        return f"{verb}_{collection.replace('-', '_')}_tags"
    if method == "PUT" and len(parts) == 3:  # a member action: add_router_interface, ...
        return sub
    return f"{verb}_{member}:{sub}"
