"""``rbac-policies``: who else may use a network.

A policy grants one project (or ``*``, every project) an action on a network:
``access_as_shared`` (see it, its subnets, and create ports on it) or ``access_as_external`` (see
it and use it for router gateways and floating IPs). As in Neutron, ``shared: true`` on a network
is a wildcard ``access_as_shared`` policy and ``router:external: true`` a wildcard
``access_as_external`` one, made and removed with the flag (:func:`on_network_create`,
:func:`set_shared`, :func:`set_external`); ``networks.shared`` and ``networks.router_external``
follow the policies for the code that reads the flags. A network's ``shared`` is true for a caller
the network is shared with, by a wildcard or by a policy naming its project.

Neutron's rules: only an admin or the network's owner makes policies on a network, only an admin
targets ``*``; a policy a project's ports (or, for external access, routers' gateways) depend on is
not removed or retargeted (409 ``RbacPolicyInUse``); the same policy twice is a 409
``DuplicateRbacPolicy``. A project sees only its own policies. Changing a network's policies bumps
its revision. Object types other than ``network`` (security groups, QoS policies) are not offered.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from neutrino.provider import errors
from neutrino.provider.api import common, l3, revisions
from neutrino.provider.api.resource import ResourceService, new_id
from neutrino.provider.context import RequestContext
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import UnitOfWork

SHARED = "access_as_shared"
EXTERNAL = "access_as_external"
#: Neutron's order (NetworkRBAC.get_valid_actions with external-net loaded).
NETWORK_ACTIONS = (SHARED, EXTERNAL)
WILDCARD = "*"


def _object_type(value: Any) -> str:
    normalized = str(value).strip().lower() if isinstance(value, str) else None
    if normalized != "network":
        raise errors.InvalidInput(error_message=f"'{value}' is not a valid RBAC object type")
    return normalized


def _target(value: Any) -> str:
    if value == WILDCARD:
        return WILDCARD
    try:
        text = str(value)
        ok = isinstance(value, str) and uuid.UUID(text).hex == text.lower().replace("-", "")
    except ValueError:
        ok = False
    if not ok:
        raise errors.InvalidInput(
            error_message=f"'{value}' is not a valid target project ID; expected a UUID or '*'"
        )
    return text


DECLARATION: common.Declaration = {
    **common.ident(),
    **common.project(),
    "object_type": {"allow_post": True, "convert_to": _object_type, "is_filter": True, "is_sort_key": True},
    "object_id": {
        "allow_post": True,
        "validate": {"type:uuid": None},
        "is_filter": True,
        "is_sort_key": True,
    },
    "action": {"allow_post": True, "validate": {"type:string": 255}, "is_filter": True, "is_sort_key": True},
    "target_tenant": {
        "allow_post": True,
        "allow_put": True,
        "convert_to": _target,
        "is_filter": True,
        "is_sort_key": True,
        "column": "target_project",
    },
    # the same column under its new name: a filter and sort key, not shown (Neutron answers target_tenant only)
    "target_project": {"allow_post": False, "is_filter": True, "is_sort_key": True, "is_visible": False},
}


# --- what the other resources ask ---------------------------------------------------------------


def granted(ctx: RequestContext, action: str | None = None) -> sa.Select[Any]:
    """Ids of the networks a policy opens to the caller's project (any action, or ``action``)."""
    r = t.rbac_policies.c
    stmt = sa.select(r.object_id).where(r.target_project.in_([WILDCARD, ctx.project_id or WILDCARD]))
    return stmt if action is None else stmt.where(r.action == action)


def shared_with(uow: UnitOfWork, ctx: RequestContext, network_ids: Sequence[str]) -> set[str]:
    """Of ``network_ids``, those shared with the caller (Neutron's per-caller ``shared``)."""
    if not network_ids:
        return set()
    r = t.rbac_policies.c
    stmt = granted(ctx, SHARED).where(r.object_id.in_(list(network_ids)))
    return {row.object_id for row in uow.rows(stmt)}


def may_use(uow: UnitOfWork, ctx: RequestContext, network: sa.Row[Any]) -> bool:
    """Whether the caller may put ports on ``network`` (admin, owner, or shared with it)."""
    return ctx.is_admin or network.project_id == ctx.project_id or bool(shared_with(uow, ctx, [network.id]))


def _add(uow: UnitOfWork, network_id: str, project_id: str, action: str, target: str) -> None:
    uow.execute(
        sa.insert(t.rbac_policies).values(
            id=new_id(),
            project_id=project_id,
            object_type="network",
            object_id=network_id,
            action=action,
            target_project=target,
        )
    )


def _wildcard(uow: UnitOfWork, network_id: str, action: str) -> bool:
    r = t.rbac_policies.c
    stmt = sa.select(r.id).where(r.object_id == network_id, r.action == action, r.target_project == WILDCARD)
    return uow.one_or_none(stmt) is not None


def _sync_flags(uow: UnitOfWork, network_id: str) -> None:
    r = t.rbac_policies.c
    external = sa.select(r.id).where(r.object_id == network_id, r.action == EXTERNAL).limit(1)
    uow.execute(
        sa.update(t.networks)
        .where(t.networks.c.id == network_id)
        .values(
            shared=_wildcard(uow, network_id, SHARED), router_external=uow.one_or_none(external) is not None
        )
    )


def on_network_create(
    uow: UnitOfWork, network_id: str, project_id: str, shared: bool, external: bool
) -> None:
    """A new network's ``shared`` / ``router:external`` become their wildcard policies."""
    for flag, action in ((shared, SHARED), (external, EXTERNAL)):
        if flag:
            _add(uow, network_id, project_id, action, WILDCARD)


def set_shared(uow: UnitOfWork, network: sa.Row[Any], shared: bool) -> None:
    """``PUT shared``: add or remove the wildcard ``access_as_shared`` policy; refused (409
    ``InvalidSharedSetting``) when other projects' ports or subnets depend on the wildcard."""
    present = _wildcard(uow, network.id, SHARED)
    if shared and not present:
        _add(uow, network.id, network.project_id, SHARED, WILDCARD)
    elif not shared and present:
        p, s = t.ports.c, t.subnets.c
        users = {
            row.project_id
            for row in uow.rows(
                sa.select(p.project_id).where(
                    p.network_id == network.id, ~p.device_owner.startswith("network:")
                )
            )
        } | {row.project_id for row in uow.rows(sa.select(s.project_id).where(s.network_id == network.id))}
        if users - _allowed(uow, network, SHARED):
            raise errors.InvalidSharedSetting(network=network.name)
        r = t.rbac_policies.c
        uow.execute(
            sa.delete(t.rbac_policies).where(
                r.object_id == network.id, r.action == SHARED, r.target_project == WILDCARD
            )
        )
    _sync_flags(uow, network.id)


def set_external(uow: UnitOfWork, network: sa.Row[Any], external: bool) -> None:
    """``PUT router:external``: true adds the wildcard ``access_as_external`` policy, false removes
    every ``access_as_external`` one (the caller has refused it while gateways use the network)."""
    r = t.rbac_policies.c
    if external and not network.router_external:
        _add(uow, network.id, network.project_id, EXTERNAL, WILDCARD)
    elif not external:
        uow.execute(sa.delete(t.rbac_policies).where(r.object_id == network.id, r.action == EXTERNAL))
    _sync_flags(uow, network.id)


def _allowed(uow: UnitOfWork, network: sa.Row[Any], action: str, *, besides: str | None = None) -> set[str]:
    """The owner and the projects named by ``action`` policies (the policy ``besides`` left out)."""
    r = t.rbac_policies.c
    stmt = sa.select(r.target_project).where(
        r.object_id == network.id, r.action == action, r.target_project != WILDCARD
    )
    if besides is not None:
        stmt = stmt.where(r.id != besides)
    return {row.target_project for row in uow.rows(stmt)} | {network.project_id, ""}


# --- the resource -------------------------------------------------------------------------------


class RbacPolicyService(ResourceService):
    collection = "rbac_policies"
    member = "rbac_policy"
    path = "rbac-policies"
    declaration = DECLARATION
    table = t.rbac_policies

    def not_found(self, resource_id: str) -> errors.ProviderError:
        return errors.RbacPolicyNotFound(id=resource_id, object_type="unknown")

    def expand(
        self, uow: UnitOfWork, ctx: RequestContext, rows: Sequence[sa.Row[Any]]
    ) -> list[dict[str, Any]]:
        out = []
        for row in rows:
            record = self.record(row)
            record.update(tenant_id=row.project_id, target_project=row.target_project)
            out.append(record)
        return out

    def _network(self, uow: UnitOfWork, ctx: RequestContext, network_id: str) -> sa.Row[Any]:
        from neutrino.provider.api.networks import visible

        stmt = sa.select(t.networks).where(t.networks.c.id == network_id)
        if (scope := visible(ctx)) is not None:
            stmt = stmt.where(scope)
        network = uow.one_or_none(stmt)
        if network is None:
            raise errors.InvalidInput(error_message=f"Network {network_id} could not be found")
        if not ctx.is_admin and network.project_id != ctx.project_id:
            raise errors.InvalidInput(
                error_message="Only admins can manipulate policies on networks they do not own"
            )
        return network

    def create(self, uow: UnitOfWork, ctx: RequestContext, data: dict[str, Any]) -> str:
        target = data["target_tenant"]
        if target == WILDCARD and not ctx.is_admin:
            raise errors.PolicyNotAuthorized(action="create_rbac_policy:target_tenant")
        action = data["action"]
        if action not in NETWORK_ACTIONS:
            raise errors.InvalidActionForType(
                action=action, object_type=data["object_type"], valid_actions=NETWORK_ACTIONS
            )
        uow.lock_rows(t.networks, [data["object_id"]])
        network = self._network(uow, ctx, data["object_id"])
        r = t.rbac_policies.c
        duplicate = sa.select(r.id).where(
            r.object_id == network.id, r.action == action, r.target_project == target
        )
        if uow.one_or_none(duplicate) is not None:
            raise errors.DuplicateRbacPolicy()
        policy_id = new_id()
        uow.execute(
            sa.insert(t.rbac_policies).values(
                id=policy_id,
                project_id=data["project_id"],
                object_type="network",
                object_id=network.id,
                action=action,
                target_project=target,
            )
        )
        self._changed(uow, network.id)
        return policy_id

    def update(self, uow: UnitOfWork, ctx: RequestContext, resource_id: str, data: dict[str, Any]) -> None:
        row = self.get_row(uow, ctx, resource_id)
        target = data.get("target_tenant", row.target_project)
        if target == row.target_project:
            return
        if target == WILDCARD and not ctx.is_admin:
            raise errors.PolicyNotAuthorized(action="update_rbac_policy:target_tenant")
        uow.lock_rows(t.networks, [row.object_id])
        network = self._network(uow, ctx, row.object_id)
        self._check_not_in_use(uow, row, network, new_target=target)
        r = t.rbac_policies.c
        duplicate = sa.select(r.id).where(
            r.object_id == network.id, r.action == row.action, r.target_project == target
        )
        if uow.one_or_none(duplicate) is not None:
            raise errors.DuplicateRbacPolicy()
        uow.execute(sa.update(t.rbac_policies).where(r.id == resource_id).values(target_project=target))
        self._changed(uow, network.id)

    def delete(self, uow: UnitOfWork, ctx: RequestContext, resource_id: str) -> None:
        row = self.get_row(uow, ctx, resource_id)
        uow.lock_rows(t.networks, [row.object_id])
        network = uow.rows(sa.select(t.networks).where(t.networks.c.id == row.object_id))[0]
        self._check_not_in_use(uow, row, network, new_target=None)
        uow.execute(sa.delete(t.rbac_policies).where(t.rbac_policies.c.id == resource_id))
        if row.action == EXTERNAL and not _has(uow, network.id, EXTERNAL) and _gateways(uow, network.id):
            raise errors.ExternalNetworkInUse(net_id=network.id)
        self._changed(uow, network.id)

    @staticmethod
    def _changed(uow: UnitOfWork, network_id: str) -> None:
        _sync_flags(uow, network_id)
        revisions.bump(uow, t.networks, [network_id])
        uow.note_changed("networks", [network_id])

    @staticmethod
    def _check_not_in_use(
        uow: UnitOfWork, policy: sa.Row[Any], network: sa.Row[Any], *, new_target: str | None
    ) -> None:
        """Neutron's checks before a policy stops granting ``policy.target_project`` (deleted, or
        retargeted to ``new_target``)."""
        lost = policy.target_project
        if lost == network.project_id:
            return
        if policy.action == SHARED:
            p = t.ports.c
            ports = sa.select(p.id).where(p.network_id == network.id)
            if lost == WILDCARD:
                allowed = _allowed(uow, network, SHARED, besides=policy.id)
                if new_target is not None:
                    allowed.add(new_target)
                ports = ports.where(p.project_id.not_in(sorted(allowed)))
            elif _wildcard(uow, network.id, SHARED):
                return
            else:
                ports = ports.where(p.project_id == lost)
            if uow.one_or_none(ports.limit(1)) is not None:
                detail = errors.InvalidSharedSetting(network=network.id).msg
                raise errors.RbacPolicyInUse(object_id=network.id, details=detail)
            return
        gateways = _gateways(uow, network.id)
        if lost == WILDCARD:
            allowed = _allowed(uow, network, EXTERNAL, besides=policy.id) - {network.project_id, ""}
            if new_target is not None:
                allowed.add(new_target)
            depend = [g for g in gateways if g not in allowed]
        elif _wildcard(uow, network.id, EXTERNAL):
            return
        else:
            depend = [g for g in gateways if g == lost]
        if depend:
            detail = "There are routers attached to this network that depend on this policy for access."
            raise errors.RbacPolicyInUse(object_id=network.id, details=detail)


def _has(uow: UnitOfWork, network_id: str, action: str) -> bool:
    r = t.rbac_policies.c
    return (
        uow.one_or_none(sa.select(r.id).where(r.object_id == network_id, r.action == action).limit(1))
        is not None
    )


def _gateways(uow: UnitOfWork, network_id: str) -> list[str]:
    """Projects of the routers whose gateway is on the network."""
    ro, p = t.routers.c, t.ports.c
    stmt = (
        sa.select(ro.project_id)
        .join(t.ports, p.id == ro.gw_port_id)
        .where(p.network_id == network_id, p.device_owner == l3.ROUTER_GATEWAY)
    )
    return [row.project_id for row in uow.rows(stmt)]
