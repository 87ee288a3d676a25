"""Field declarations: one per wire element of a resource, driving both parsing and rendering.

A resource lists its fields once; ``render`` turns an entity into a wire tree, ``parse`` turns a request
tree into the keyword arguments a command takes, holding only what the client sent (absent means "not
specified", which is how PUT leaves the rest alone; ``changes_of`` makes them a command's change object).
An invalid value is a 400 naming the element. Unknown elements are ignored, as the real engine ignores them.

Text lengths are oVirt's (``BusinessEntitiesDefinitions``: a data center's or cluster's name 40, a VM's name and
description 255, a network's name 256, a vNIC's or vNIC profile's name 50, a description 4,000, a provider's
password 200...), declared on each field (``Text(40)``); a text with no limit of oVirt's takes Neutrino's
ceiling of 4,096 (:data:`MAX_TEXT`).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import datetime
from typing import Any, TypeVar

from neutrino.engine.api.wire import Tree, as_list
from neutrino.engine.commands.common import Ref
from neutrino.engine.domain.errors import BadRequest

API = "/ovirt-engine/api"
C = TypeVar("C")


#: the longest text an element takes when oVirt sets no limit of its own
MAX_TEXT = 4096
#: oVirt's BusinessEntitiesDefinitions: GENERAL_NAME_SIZE, GENERAL_MAX_SIZE
NAME_SIZE, DESCRIPTION_SIZE = 255, 4000


def invalid(element: str, raw: Any, expected: str) -> BadRequest:
    shown = str(raw)
    shown = shown if len(shown) <= 100 else f"{shown[:100]}..."
    return BadRequest(f"Invalid value for '{element}': '{shown}' is not {expected}.")


class Codec:
    expected = "a value"

    def parse(self, raw: Any, element: str) -> Any:
        raise NotImplementedError

    def render(self, value: Any) -> Any:
        return value


# what XML 1.0 cannot carry: stored once (e.g. through JSON), it would break every XML answer that shows it
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def text_of(raw: Any, element: str, max_length: int = MAX_TEXT) -> str:
    """A text value, refused (naming the element) when longer than ``max_length`` or holding characters XML
    cannot represent."""
    if isinstance(raw, dict | list):
        raise invalid(element, raw, "text")
    text = "" if raw is None else str(raw)
    if len(text) > max_length:
        raise BadRequest(f"Invalid value for '{element}': longer than {max_length} characters.")
    if _NOT_XML.search(text):
        raise BadRequest(f"Invalid value for '{element}': it contains control characters.")
    return text


class Text(Codec):
    def __init__(self, max_length: int = MAX_TEXT) -> None:
        self.max_length = max_length

    def parse(self, raw: Any, element: str) -> Any:
        return text_of(raw, element, self.max_length)


class Bool(Codec):
    def parse(self, raw: Any, element: str) -> Any:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("true", "false"):
            return text == "true"
        raise invalid(element, raw, "a boolean (true or false)")


# what the database's BIGINT columns hold
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


class Int(Codec):
    def parse(self, raw: Any, element: str) -> Any:
        if isinstance(raw, bool | dict | list):
            raise invalid(element, raw, "an integer")
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise invalid(element, raw, "an integer") from None
        if not INT64_MIN <= value <= INT64_MAX:
            raise invalid(element, raw, "an integer within 64 bits")
        return value


class Enum(Codec):
    def __init__(self, cls: type[enum.Enum]) -> None:
        self.cls = cls

    def parse(self, raw: Any, element: str) -> Any:
        try:
            return self.cls(str(raw).strip())
        except ValueError:
            allowed = ", ".join(str(m.value) for m in self.cls)
            raise invalid(element, raw, f"one of: {allowed}") from None

    def render(self, value: Any) -> Any:
        return value.value if isinstance(value, enum.Enum) else value


class Date(Codec):
    def parse(self, raw: Any, element: str) -> Any:
        try:
            return datetime.fromisoformat(str(raw))
        except ValueError:
            raise invalid(element, raw, "a date") from None

    def render(self, value: Any) -> Any:
        return value.isoformat(timespec="milliseconds") if value else None


def ref_of(raw: Any, element: str) -> Ref | None:
    """The reference a client sent as ``<element><id>..</id></element>`` or ``{"id": ..}`` (or by name); None
    when it names neither. An id or a name that is not text (an element, an object, a list) is a 400 naming it."""
    if not isinstance(raw, dict):
        return None
    ref = Ref(
        id=text_of(raw.get("id"), f"{element}.id") or None,
        name=text_of(raw.get("name"), f"{element}.name") or None,
    )
    return ref or None


class RefTo(Codec):
    """A reference to another entity: rendered as ``<x href id/>``, parsed by id or name."""

    def __init__(self, path: str) -> None:
        self.path = path

    def parse(self, raw: Any, element: str) -> Any:
        if not isinstance(raw, dict):
            raise invalid(element, raw, "a reference (id or name)")
        ref = ref_of(raw, element)
        if ref is None:
            raise BadRequest(f"Incomplete parameters: '{element}' needs an id or a name.")
        return ref

    def render(self, value: Any) -> Any:
        return {"href": f"{API}/{self.path}/{value}", "id": value} if value else None


TEXT, BOOL, INT, DATE = Text(), Bool(), Int(), Date()


@dataclass(frozen=True)
class Field:
    element: str
    attr: str | None = None  # entity attribute and command keyword; defaults to the element name
    codec: Codec = TEXT
    writable: bool = True
    # custom shapes (e.g. <vlan id="10"/>): get the wire value from an entity, or keywords from a wire value
    render_fn: Callable[[Any], Any] | None = None
    parse_fn: Callable[[Any, str], dict[str, Any]] | None = None

    @property
    def key(self) -> str:
        return self.attr or self.element

    def render(self, entity: Any) -> Any:
        if self.render_fn is not None:
            return self.render_fn(entity)
        return self.codec.render(getattr(entity, self.key, None))

    def parse(self, raw: Any) -> dict[str, Any]:
        if self.parse_fn is not None:
            return self.parse_fn(raw, self.element)
        # a reference reaches the command as a Ref under the element's name (``cluster=Ref(...)``)
        key = self.element if isinstance(self.codec, RefTo) else self.key
        return {key: self.codec.parse(raw, self.element)}


def render_fields(fields: tuple[Field, ...], entity: Any) -> Tree:
    out: Tree = {}
    for f in fields:
        value = f.render(entity)
        if value is not None and value != "":
            out[f.element] = value
    return out


def parse_fields(fields: tuple[Field, ...], tree: Tree) -> dict[str, Any]:
    """Keyword arguments for what the client sent; read-only and unknown elements are ignored."""
    out: dict[str, Any] = {}
    for f in fields:
        if f.writable and f.element in tree:
            out.update(f.parse(tree[f.element]))
    return out


def changes_of(cls: Callable[..., C], parsed: dict[str, Any], ignore: Collection[str] = ()) -> C:
    """A command's change object (``ClusterChanges``...) from what ``parse_fields`` found: what the client
    did not send stays UNSET. ``ignore``: elements an update accepts and leaves alone, as the real engine does
    (a cluster's data center, a VM's template)."""
    return cls(**{key: value for key, value in parsed.items() if key not in ignore})


# --- shapes shared by several resources ----------------------------------------------------------


def version_field() -> Field:
    def render(entity: Any) -> Any:
        return {"major": entity.version_major, "minor": entity.version_minor}

    def parse(raw: Any, element: str) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise invalid(element, raw, "a version (major, minor)")
        out = {}
        if "major" in raw:
            out["version_major"] = INT.parse(raw["major"], "version.major")
        if "minor" in raw:
            out["version_minor"] = INT.parse(raw["minor"], "version.minor")
        return out

    return Field("version", render_fn=render, parse_fn=parse)


def custom_properties_field(element: str = "custom_properties", item: str = "custom_property") -> Field:
    def render(entity: Any) -> Any:
        props = entity.custom_properties or {}
        return {item: [{"name": k, "value": v} for k, v in sorted(props.items())]} if props else None

    def parse(raw: Any, el: str) -> dict[str, Any]:
        if raw in ("", None):
            return {"custom_properties": {}}
        if not isinstance(raw, dict):
            raise invalid(el, raw, f"a list of {item}")
        props: dict[str, str] = {}
        for entry in as_list(raw.get(item)):
            if not isinstance(entry, dict) or not entry.get("name"):
                raise BadRequest(f"Invalid value for '{el}': each {item} needs a name.")
            value = entry.get("value")
            props[text_of(entry["name"], el)] = "" if value is None or value == {} else text_of(value, el)
        return {"custom_properties": props}

    return Field(element, render_fn=render, parse_fn=parse)


def common_fields(name: int = NAME_SIZE, description: int = DESCRIPTION_SIZE) -> tuple[Field, ...]:
    """``name``, ``description`` and ``comment``, with the entity's limits of oVirt's (the comment's is
    GENERAL_MAX_SIZE, as the description's unless the entity has its own)."""
    return (
        Field("name", codec=Text(name)),
        Field("description", codec=Text(description)),
        Field("comment", codec=Text(DESCRIPTION_SIZE)),
    )


# --- settings kept in an entity's options value (domain.options), nested as oVirt nests them ------------


@dataclass(frozen=True)
class Opt:
    """One setting of an entity's ``options``: where it sits on the wire (``ksm.enabled``), the option it is,
    and its codec; ``item`` names the repeated element of a list (``required_rng_source``). ``value`` computes
    what is shown when the stored value is derived (a VM's guaranteed memory defaults to its memory)."""

    path: str
    attr: str
    codec: Codec = TEXT
    item: str | None = None
    value: Callable[[Any], Any] | None = None
    writable: bool = True

    def shown(self, entity: Any) -> Any:
        raw = self.value(entity) if self.value is not None else getattr(entity.options, self.attr)
        if raw is None:
            return None
        if self.item is not None:
            return {self.item: [self.codec.render(v) for v in raw]}
        return self.codec.render(raw)

    def parse(self, raw: Any) -> Any:
        if self.item is None:
            return self.codec.parse(raw, self.path)
        if raw in ("", None):
            return ()
        if not isinstance(raw, dict):
            raise invalid(self.path, raw, f"a list of {self.item}")
        return tuple(self.codec.parse(v, f"{self.path}.{self.item}") for v in as_list(raw.get(self.item)))


def option_fields(*opts: Opt) -> tuple[Field, ...]:
    """One Field per top-level element the options occupy, rendering and parsing the nested shape."""
    groups: dict[str, list[Opt]] = {}
    for opt in opts:
        groups.setdefault(opt.path.split(".")[0], []).append(opt)
    return tuple(_option_field(head, tuple(group)) for head, group in groups.items())


def _option_field(head: str, group: tuple[Opt, ...]) -> Field:
    def render(entity: Any) -> Any:
        out: Tree = {}
        for opt in group:
            value = opt.shown(entity)
            if value is None:
                continue
            rest = opt.path.split(".")[1:]
            if not rest:
                return value
            node = out
            for part in rest[:-1]:
                node = node.setdefault(part, {})
            node[rest[-1]] = value
        return out or None

    def parse(raw: Any, element: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for opt in group:
            found = _below(raw, head, opt.path.split(".")[1:]) if opt.writable else _ABSENT
            if found is not _ABSENT:
                out[opt.attr] = opt.parse(found)
        return out

    return Field(head, render_fn=render, parse_fn=parse)


_ABSENT = object()


def _below(raw: Any, head: str, rest: list[str]) -> Any:
    """The value at ``rest`` below an element the client sent, or _ABSENT (an empty element sets nothing)."""
    node, walked = raw, [head]
    for part in rest:
        if node in ("", None):
            return _ABSENT
        if not isinstance(node, dict):
            raise invalid(".".join(walked), node, f"an element with '{part}'")
        if part not in node:
            return _ABSENT
        node, walked = node[part], [*walked, part]
    return node


def split_options(parsed: dict[str, Any], cls: type) -> dict[str, Any]:
    """Move the parsed keywords that are options of ``cls`` (a ``domain.options`` value) out of ``parsed``."""
    names = {f.name for f in dataclass_fields(cls)}
    return {key: parsed.pop(key) for key in list(parsed) if key in names}
