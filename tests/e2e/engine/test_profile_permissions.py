"""A vNIC profile's "public" choice as oVirt makes it: the Everyone group's VnicProfileUser permission."""

from __future__ import annotations

from typing import Any

import ovirtsdk4 as sdk
import ovirtsdk4.types as types
import pytest

from tests.e2e.engine.helpers import make_site, make_vm_network


def test_everyone_permission_is_the_profiles_public_flag(system: Any) -> None:
    site = make_site(system)
    _, profile = make_vm_network(system, site)
    permissions = system.vnic_profiles_service().profile_service(profile.id).permissions_service()
    [everyone] = permissions.list()  # new profiles are public, as the engine makes them
    assert (everyone.role.name, everyone.group.name) == ("VnicProfileUser", "Everyone")
    permissions.permission_service(everyone.id).remove()
    assert permissions.list() == []
    added = permissions.add(
        types.Permission(role=types.Role(name="VnicProfileUser"), group=types.Group(name="Everyone"))
    )
    assert added.group.id == everyone.group.id
    assert [p.id for p in permissions.list()] == [everyone.id]
    with pytest.raises(sdk.Error) as err:
        permissions.add(types.Permission(role=types.Role(name="SuperUser"), user=types.User(name="bob")))
    assert err.value.code == 400 and "only permission on a vNIC profile is role 'VnicProfileUser'" in str(
        err.value
    )
