"""Declaration pieces every Neutron resource shares (id, project, name, standard attributes)."""

from __future__ import annotations

from typing import Any

from neutrino.provider.api.attributes import ATTR_NOT_SPECIFIED
from neutrino.provider.api.validators import to_int

Declaration = dict[str, dict[str, Any]]


def ident() -> Declaration:
    return {
        "id": {"allow_post": False, "validate": {"type:uuid": None}, "is_filter": True, "is_sort_key": True},
    }


def project() -> Declaration:
    spec = {
        "allow_post": True,
        "default": ATTR_NOT_SPECIFIED,
        "validate": {"type:string_or_none": 255},
        "is_filter": True,
        "is_sort_key": True,
        "column": "project_id",
    }
    return {"project_id": dict(spec), "tenant_id": dict(spec)}


def named() -> Declaration:
    return {
        "name": {
            "allow_post": True,
            "allow_put": True,
            "default": "",
            "validate": {"type:string": 255},
            "is_filter": True,
            "is_sort_key": True,
        },
        "description": {
            "allow_post": True,
            "allow_put": True,
            "default": "",
            "validate": {"type:string": 255},
            "is_filter": True,
            "is_sort_key": True,
        },
    }


def standard() -> Declaration:
    """standard-attr-timestamp and standard-attr-revisions."""
    return {
        "created_at": {"allow_post": False, "is_filter": True, "is_sort_key": True},
        "updated_at": {"allow_post": False, "is_filter": True, "is_sort_key": True},
        "revision_number": {
            "allow_post": False,
            "convert_to": to_int,
            "is_filter": True,
            "is_sort_key": True,
        },
        "tags": {"allow_post": False, "column": None},
    }
