"""``security-groups``, and each project's ``default`` group with Neutron's default rules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from neutrino.provider import errors
from neutrino.provider.api import common, quotas
from neutrino.provider.api.resource import new_id, utcnow
from neutrino.provider.api.security_group_rules import insert_rule, rule_record
from neutrino.provider.api.tags import Taggable
from neutrino.provider.api.validators import to_boolean
from neutrino.provider.context import RequestContext
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import Database, UnitOfWork

DEFAULT = "default"

DECLARATION: common.Declaration = {
    **common.ident(),
    **common.named(),
    **common.project(),
    "security_group_rules": {"allow_post": False, "column": None},
    "stateful": {
        "allow_post": True,
        "allow_put": True,
        "default": True,
        "convert_to": to_boolean,
        "is_filter": True,
        "is_sort_key": True,
    },
    "shared": {"allow_post": False, "column": None},
    **common.standard(),
}


_DEFAULT_GROUP = sa.select(t.default_security_groups.c.security_group_id).where(
    t.default_security_groups.c.project_id == sa.bindparam("project_id")
)  # built once: every port create asks it


def default_group_id(uow: UnitOfWork, project_id: str) -> str | None:
    row = uow.execute(_DEFAULT_GROUP, {"project_id": project_id}).first()
    return None if row is None else row.security_group_id


def _insert_group(
    uow: UnitOfWork, project_id: str, name: str, description: str, stateful: bool = True
) -> str:
    group_id = new_id()
    now = utcnow()
    uow.execute(
        sa.insert(t.security_groups).values(
            id=group_id,
            project_id=project_id,
            name=name,
            description=description,
            stateful=stateful,
            created_at=now,
            updated_at=now,
            revision_number=0,
        )
    )
    for ethertype in ETHERTYPES:
        insert_rule(uow, project_id, group_id, direction="egress", ethertype=ethertype)
    return group_id


#: a new group's rules: egress anywhere, one per IP version
ETHERTYPES = ("IPv4", "IPv6")


def ensure_default_group(db: Database, project_id: str) -> str:
    """The project's ``default`` group, created (in its own committed unit) when missing:
    egress anywhere, ingress from members of the group, for IPv4 and IPv6."""
    with db.reader() as uow:
        if (found := default_group_id(uow, project_id)) is not None:
            return found
    try:
        with db.uow() as uow:
            if (found := default_group_id(uow, project_id)) is not None:
                return found
            group_id = _insert_group(uow, project_id, DEFAULT, "Default security group")
            for ethertype in ("IPv4", "IPv6"):
                insert_rule(
                    uow,
                    project_id,
                    group_id,
                    direction="ingress",
                    ethertype=ethertype,
                    remote_group_id=group_id,
                )
            uow.execute(
                sa.insert(t.default_security_groups).values(project_id=project_id, security_group_id=group_id)
            )
            uow.commit()
            return group_id
    except sa.exc.IntegrityError:
        # Another request created it first; use theirs.
        with db.reader() as uow:
            found = default_group_id(uow, project_id)
        if found is None:
            raise
        return found


def _name_not_default(data: dict[str, Any]) -> None:
    """Neutron's ``type:name_not_default``: no group is created or renamed ``default`` (in any case)."""
    if isinstance(data.get("name"), str) and data["name"].lower() == DEFAULT:
        raise errors.SecurityGroupDefaultAlreadyExists()


class SecurityGroupService(Taggable):
    collection = "security_groups"
    member = "security_group"
    path = "security-groups"
    declaration = DECLARATION
    table = t.security_groups
    tag_table = t.security_group_tags

    def not_found(self, resource_id: str) -> errors.ProviderError:
        return errors.SecurityGroupNotFound(id=resource_id)

    def before_list(self, db: Database, ctx: RequestContext) -> None:
        if ctx.project_id is not None:
            ensure_default_group(db, ctx.project_id)

    def prepare(self, db: Database, ctx: RequestContext, data: dict[str, Any]) -> None:
        ensure_default_group(db, data["project_id"])

    def expand(
        self, uow: UnitOfWork, ctx: RequestContext, rows: Sequence[sa.Row[Any]]
    ) -> list[dict[str, Any]]:
        rules: dict[str, list[dict[str, Any]]] = {r.id: [] for r in rows}
        if rows:
            for rule in uow.rows(
                sa.select(t.security_group_rules)
                .where(t.security_group_rules.c.security_group_id.in_(list(rules)))
                .order_by(t.security_group_rules.c.created_at, t.security_group_rules.c.id)
            ):
                rules[rule.security_group_id].append(rule_record(rule))
        tags = self.tags_of(uow, rows)
        out = []
        for row in rows:
            record = self.record(row)
            record.update(security_group_rules=rules[row.id], shared=False, tags=tags[row.id])
            out.append(record)
        return out

    def create(self, uow: UnitOfWork, ctx: RequestContext, data: dict[str, Any]) -> str:
        _name_not_default(data)
        # the group's own egress rules count against the project's rule quota (Neutron checks it too)
        quotas.enforce(uow, self.settings, "security_group_rule", [data] * len(ETHERTYPES))
        return _insert_group(uow, data["project_id"], data["name"], data["description"], data["stateful"])

    def update(self, uow: UnitOfWork, ctx: RequestContext, resource_id: str, data: dict[str, Any]) -> None:
        row = self.get_row(uow, ctx, resource_id)
        _name_not_default(data)
        if "name" in data and row.name == DEFAULT:
            raise errors.SecurityGroupCannotUpdateDefault()
        if "stateful" in data and data["stateful"] != row.stateful:
            # the ports' filtering would change under them (Neutron's rule)
            _refuse_if_used(uow, resource_id)
        self.touch(uow, resource_id, data)

    def delete(self, uow: UnitOfWork, ctx: RequestContext, resource_id: str) -> None:
        row = self.get_row(uow, ctx, resource_id)
        if not ctx.is_admin and default_group_id(uow, row.project_id) == resource_id:
            raise errors.SecurityGroupCannotRemoveDefault()
        _refuse_if_used(uow, resource_id)
        uow.execute(
            sa.delete(t.security_group_rules).where(t.security_group_rules.c.remote_group_id == resource_id)
        )
        uow.execute(
            sa.delete(t.security_group_rules).where(t.security_group_rules.c.security_group_id == resource_id)
        )
        uow.execute(
            sa.delete(t.default_security_groups).where(
                t.default_security_groups.c.security_group_id == resource_id
            )
        )
        uow.execute(sa.delete(t.security_groups).where(t.security_groups.c.id == resource_id))


def _refuse_if_used(uow: UnitOfWork, group_id: str) -> None:
    """Neutron's 409 ``SecurityGroupInUse`` when a port has the group."""
    c = t.port_security_groups.c
    if uow.one_or_none(sa.select(c.port_id).where(c.security_group_id == group_id).limit(1)) is not None:
        raise errors.SecurityGroupInUse(id=group_id)
