"""Permissions, as far as Neutrino has them: a vNIC profile's "public" choice, which oVirt makes as a permission
(role VnicProfileUser for the built-in group Everyone), and the role and group that permission names, served
read-only at /roles and /groups so its references answer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from neutrino.engine.api.fields import API, Field
from neutrino.engine.api.resource import Call, Collection
from neutrino.engine.api.wire import Tree
from neutrino.engine.commands import vnic_profiles as profiles_cmd
from neutrino.engine.domain.errors import BadRequest, NotFound

# oVirt grants "everyone may use this vNIC profile" as a permission: role VnicProfileUser for the built-in group
# Everyone. Neutrino has no other users or groups, so that permission is the profile's ``public`` flag.
EVERYONE_GROUP_ID = "eee00000-0000-0000-0000-123456789eee"
VNIC_PROFILE_USER = "VnicProfileUser"
VNIC_PROFILE_USER_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "neutrino:role:VnicProfileUser"))


@dataclass(frozen=True)
class _Permission:
    profile_id: str

    @property
    def id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"neutrino:permission:everyone:{self.profile_id}"))


class VnicProfilePermissions(Collection):
    """/vnicprofiles/{id}/permissions: whether every user may use the profile (oVirt's "public" profile)."""

    path, plural, element, type_name = "permissions", "permissions", "permission", "Permission"

    def _profile(self, call: Call) -> Any:
        profile = call.uow.profiles.get(call.parents[-1])
        if profile is None:
            raise NotFound(f"VM network interface profile '{call.parents[-1]}' was not found.")
        return profile

    def list(self, call: Call) -> Any:
        profile = self._profile(call)
        return [_Permission(profile.id)] if profile.public else []

    def get(self, call: Call, id_: str) -> Any:
        for permission in self.list(call):
            if permission.id == id_:
                return permission
        raise NotFound(f"Permission '{id_}' was not found.")

    def href(self, call: Call, entity: Any) -> str:
        return f"{API}/vnicprofiles/{entity.profile_id}/permissions/{entity.id}"

    def render_extra(self, call: Call, entity: Any) -> Tree:
        return {
            "role": {
                "href": f"{API}/roles/{VNIC_PROFILE_USER_ID}",
                "id": VNIC_PROFILE_USER_ID,
                "name": VNIC_PROFILE_USER,
            },
            "group": {
                "href": f"{API}/groups/{EVERYONE_GROUP_ID}",
                "id": EVERYONE_GROUP_ID,
                "name": "Everyone",
            },
            "vnic_profile": {"href": f"{API}/vnicprofiles/{entity.profile_id}", "id": entity.profile_id},
        }

    def add(self, call: Call, body: Tree) -> Any:
        role, group = body.get("role"), body.get("group")
        role_ok = isinstance(role, dict) and (
            role.get("name") == VNIC_PROFILE_USER or role.get("id") == VNIC_PROFILE_USER_ID
        )
        group_ok = isinstance(group, dict) and (
            group.get("name") == "Everyone" or group.get("id") == EVERYONE_GROUP_ID
        )
        if not (role_ok and group_ok):
            raise BadRequest(
                "Cannot add Permission. Neutrino has no users or groups besides admin@internal: the "
                f"only permission on a vNIC profile is role '{VNIC_PROFILE_USER}' for group "
                "'Everyone' (role.name and group.name)."
            )
        profile = profiles_cmd.set_public(call.ctx, call.parents[-1], True)
        return _Permission(profile.id)

    def remove(self, call: Call, id_: str) -> None:
        self.get(call, id_)
        profiles_cmd.set_public(call.ctx, call.parents[-1], False)


@dataclass(frozen=True)
class _Named:
    id: str
    name: str
    description: str


ROLES = (_Named(VNIC_PROFILE_USER_ID, VNIC_PROFILE_USER, "User role, allowing to use vNIC profiles"),)
GROUPS = (_Named(EVERYONE_GROUP_ID, "Everyone", "Every user"),)


class _Static(Collection):
    items: tuple[_Named, ...] = ()
    fields = (Field("name", writable=False), Field("description", writable=False))

    def list(self, call: Call) -> Any:
        return list(self.items)

    def get(self, call: Call, id_: str) -> Any:
        for item in self.items:
            if item.id == id_:
                return item
        raise NotFound(f"{self.type_name} '{id_}' was not found.")


class Roles(_Static):
    path, plural, element, type_name = "roles", "roles", "role", "Role"
    items = ROLES

    def render_extra(self, call: Call, entity: Any) -> Tree:
        return {"administrative": False, "mutable": False}


class Groups(_Static):
    path, plural, element, type_name = "groups", "groups", "group", "Group"
    items = GROUPS
