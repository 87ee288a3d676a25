"""Resource declarations: one attribute map per resource drives parsing, defaults, validation,
filtering, sorting and rendering (the shape of neutron-lib's ``RESOURCE_ATTRIBUTE_MAP``).

Keywords an attribute may use are :data:`KEYWORDS`; :func:`define` refuses any other, so a typo
in a declaration fails loudly instead of silently doing nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from neutrino.provider import errors
from neutrino.provider.context import RequestContext


class _NotSpecified:
    """The "not specified" sentinel, distinct from None (which is a value clients may send)."""

    _instance: _NotSpecified | None = None

    def __new__(cls) -> _NotSpecified:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ATTR_NOT_SPECIFIED"

    def __bool__(self) -> bool:
        return False


ATTR_NOT_SPECIFIED: Any = _NotSpecified()

#: The ceiling of every attribute that declares no tighter limit (a free-form dict such as binding:profile
#: or an agent's configurations, a list): no string, and no list or dict, longer than this.
MAX_LENGTH = 4096

KEYWORDS = frozenset(
    {
        "allow_post",  # may be given on create
        "allow_put",  # may be given on update
        "default",  # value on create when absent; no default + allow_post = required
        "convert_to",  # callable applied to input before validation (wire -> stored type)
        "validate",  # {"type:...": argument} checked after conversion
        "is_visible",  # rendered in responses
        "is_filter",  # usable as ?name=value
        "is_sort_key",  # usable as ?sort_key=name
        "admin_only",  # only admins may set it, and only admins see it
        "column",  # the table column behind it (None: computed by the resource)
    }
)


class DeclarationError(Exception):
    pass


@dataclass(frozen=True)
class Attribute:
    name: str
    allow_post: bool
    allow_put: bool
    default: Any
    convert_to: Callable[[Any], Any] | None
    validate: Mapping[str, Any]
    is_visible: bool
    is_filter: bool
    is_sort_key: bool
    admin_only: bool
    column: str | None
    #: allow_post without a "default" key: the client must give it (neutron-lib's convention).
    required: bool

    def convert(self, value: Any) -> Any:
        from neutrino.provider.api.validators import InvalidValue, validate

        if (reason := oversized(value)) is not None:
            raise errors.InvalidAttribute(attr=self.name, reason=reason)
        if self.convert_to is not None and value is not ATTR_NOT_SPECIFIED:
            try:
                value = self.convert_to(value)
            except InvalidValue as exc:
                raise errors.InvalidAttribute(attr=self.name, reason=str(exc)) from exc
        if (reason := validate(value, dict(self.validate))) is not None:
            raise errors.InvalidAttribute(attr=self.name, reason=reason)
        return value


def oversized(value: Any, path: str = "") -> str | None:
    """Why ``value`` (or a string, list or dict within it, or a dict's key) is over :data:`MAX_LENGTH`; None
    when nothing is. ``path`` locates it within the attribute (``['key'][0]``)."""
    at = f" (at {path})" if path else ""
    if isinstance(value, str):
        if len(value) > MAX_LENGTH:
            return f"'{value[:32]}...'{at} exceeds maximum length of {MAX_LENGTH}"
        return None
    if not isinstance(value, list | dict):
        return None
    if len(value) > MAX_LENGTH:
        return f"{len(value)} items{at} exceed the maximum of {MAX_LENGTH}"
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        if (reason := oversized(key, f"{path}[<key>]")) or (reason := oversized(item, f"{path}[{key!r}]")):
            return reason
    return None


@dataclass(frozen=True)
class ResourceDefinition:
    collection: str  # "security_groups" (the body key)
    member: str  # "security_group"
    path: str  # "security-groups" (the URL segment)
    attributes: Mapping[str, Attribute]

    def attribute(self, name: str) -> Attribute | None:
        return self.attributes.get(name)

    def visible(self, admin: bool) -> tuple[str, ...]:
        """Names rendered for an admin, or for anyone else (computed once)."""
        key = "_visible_admin" if admin else "_visible_user"
        names: tuple[str, ...] | None = self.__dict__.get(key)
        if names is None:
            names = tuple(
                n for n, a in self.attributes.items() if a.is_visible and (admin or not a.admin_only)
            )
            object.__setattr__(self, key, names)
        return names


def define(
    collection: str, member: str, declaration: Mapping[str, Mapping[str, Any]], path: str = ""
) -> ResourceDefinition:
    """Compile a declaration, refusing unknown keywords."""
    from neutrino.provider.api.validators import VALIDATORS

    compiled: dict[str, Attribute] = {}
    for name, spec in declaration.items():
        unknown = set(spec) - KEYWORDS
        if unknown:
            raise DeclarationError(f"{collection}.{name}: unknown keyword(s) {sorted(unknown)}")
        rules = dict(spec.get("validate") or {})
        if bad := [rule for rule in rules if rule not in VALIDATORS]:
            raise DeclarationError(f"{collection}.{name}: unknown validator(s) {bad}")
        compiled[name] = Attribute(
            name=name,
            allow_post=bool(spec.get("allow_post", False)),
            allow_put=bool(spec.get("allow_put", False)),
            default=spec.get("default", ATTR_NOT_SPECIFIED),
            convert_to=spec.get("convert_to"),
            validate=rules,
            is_visible=bool(spec.get("is_visible", True)),
            is_filter=bool(spec.get("is_filter", False)),
            is_sort_key=bool(spec.get("is_sort_key", False)),
            admin_only=bool(spec.get("admin_only", False)),
            column=spec.get("column", name if ":" not in name else None),
            required=bool(spec.get("allow_post", False)) and "default" not in spec,
        )
    return ResourceDefinition(collection, member, path or collection, compiled)


def _body_of(defn: ResourceDefinition, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get(defn.member), dict):
        raise errors.HTTPBadRequest(msg=f"Unable to find '{defn.member}' in request body")
    return body[defn.member]


def parse_create(defn: ResourceDefinition, body: Any, ctx: RequestContext) -> dict[str, Any]:
    """Validated create data: every allow_post attribute present, defaults applied, the
    project resolved into ``project_id``; missing optional values stay ATTR_NOT_SPECIFIED."""
    given = _body_of(defn, body)
    _refuse_unknown(defn, given)
    data: dict[str, Any] = {}
    for name, attr in defn.attributes.items():
        if not attr.allow_post:
            if name in given:
                raise errors.HTTPBadRequest(msg=f"Attribute '{name}' not allowed in POST")
            continue
        if name in given:
            if attr.admin_only and not ctx.may_use(name):
                raise errors.PolicyNotAuthorized(action=f"create_{defn.member}:{name}")
            data[name] = attr.convert(given[name])
        elif attr.required and name not in ("tenant_id", "project_id"):
            raise errors.HTTPBadRequest(
                msg=f"Failed to parse request. Required attribute '{name}' not specified"
            )
        else:
            data[name] = attr.default
    if "project_id" in defn.attributes:
        data["project_id"] = _resolve_project(data, ctx)
        data.pop("tenant_id", None)
    return data


def parse_update(defn: ResourceDefinition, body: Any, ctx: RequestContext) -> dict[str, Any]:
    given = _body_of(defn, body)
    _refuse_unknown(defn, given)
    data: dict[str, Any] = {}
    for name, value in given.items():
        attr = defn.attributes[name]
        if not attr.allow_put:
            raise errors.HTTPBadRequest(msg=f"Cannot update read-only attribute {name}")
        if attr.admin_only and not ctx.may_use(name):
            raise errors.PolicyNotAuthorized(action=f"update_{defn.member}:{name}")
        data[name] = attr.convert(value)
    return data


def _refuse_unknown(defn: ResourceDefinition, given: Mapping[str, Any]) -> None:
    unknown = [name for name in given if name not in defn.attributes]
    if unknown:
        raise errors.HTTPBadRequest(msg=f"Unrecognized attribute(s) '{', '.join(unknown)}'")


def _resolve_project(data: dict[str, Any], ctx: RequestContext) -> str:
    tenant = data.get("tenant_id", ATTR_NOT_SPECIFIED)
    project = data.get("project_id", ATTR_NOT_SPECIFIED)
    if tenant is not ATTR_NOT_SPECIFIED and project is not ATTR_NOT_SPECIFIED and tenant != project:
        raise errors.HTTPBadRequest(msg="'project_id' and 'tenant_id' do not match")
    wanted = project if project is not ATTR_NOT_SPECIFIED else tenant
    if wanted is ATTR_NOT_SPECIFIED or wanted is None:
        if ctx.project_id is None:
            raise errors.HTTPBadRequest(
                msg="Failed to parse request. Required attribute 'project_id' not specified"
            )
        return ctx.project_id
    if wanted != ctx.project_id and not ctx.is_admin:
        # neutron-lib's check of the body, before any policy: a 400, whatever the resource
        raise errors.HTTPBadRequest(
            msg="Specifying 'project_id' or 'tenant_id' other than the authenticated project in request "
            "requires admin privileges"
        )
    return str(wanted)


def render(
    defn: ResourceDefinition, record: Mapping[str, Any], ctx: RequestContext, fields: list[str] | None = None
) -> dict[str, Any]:
    """The wire form of one resource: visible attributes (admin-only ones for admins only)."""
    names = defn.visible(ctx.is_admin)
    if ctx.granted and not ctx.is_admin:
        names = tuple(n for n in defn.visible(True) if n in names or n in ctx.granted)
    if fields:
        names = tuple(name for name in names if name in fields)
    return {name: record.get(name) for name in names}


def render_all(
    defn: ResourceDefinition,
    records: list[dict[str, Any]],
    ctx: RequestContext,
    fields: list[str] | None = None,
) -> list[dict[str, Any]]:
    """:func:`render` of many records: a record that holds exactly what this caller sees (an admin's
    full record, the common case of a list) is its own wire form and is not copied."""
    if not records:
        return []
    names = defn.visible(ctx.is_admin)
    if ctx.granted and not ctx.is_admin:
        names = tuple(n for n in defn.visible(True) if n in names or n in ctx.granted)
    if fields:
        names = tuple(name for name in names if name in fields)
    wanted = frozenset(names)
    return [
        record if record.keys() == wanted else {name: record.get(name) for name in names}
        for record in records
    ]
