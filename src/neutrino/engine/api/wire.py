"""The oVirt v4 wire formats: one neutral tree, rendered as XML or JSON, and parsed back from either.

A tree is a dict whose values are text (a leaf element), a dict (a nested element) or a list of dicts or
texts (repeated elements of that name). In XML the keys ``id``, ``href`` and ``rel`` of a dict are
attributes, as the real engine writes them (``<vm href="..." id="...">``, ``<link href rel/>``,
``<vlan id="10"/>``); in JSON every key is a member, as the real engine's JSON is.
"""

from __future__ import annotations

import json
from typing import Any

from lxml import etree

from neutrino.engine.domain.errors import BadRequest
from neutrino.http_input import InputError, parse_json

ATTRIBUTES = ("href", "id", "rel")
Tree = dict[str, Any]


def to_xml(root: str, tree: Tree) -> bytes:
    """Serialise a tree as the real engine's XML (written as text: lists of thousands of VMs stay fast)."""
    out = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n']
    _write(out, root, tree)
    return "".join(out).encode()


_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})


def _write(out: list[str], tag: str, tree: Tree) -> None:
    attrs = "".join(
        f' {key}="{value.translate(_ESCAPES)}"'
        for key in ATTRIBUTES
        if isinstance(value := tree.get(key), str)
    )
    children = [
        (key, value)
        for key, value in tree.items()
        if value is not None and not (key in ATTRIBUTES and isinstance(value, str))
    ]
    if not children:
        out.append(f"<{tag}{attrs}/>")
        return
    out.append(f"<{tag}{attrs}>")
    for key, value in children:
        for item in value if isinstance(value, list) else (value,):
            if isinstance(item, dict):
                _write(out, key, item)
            else:
                out.append(f"<{key}>{_text(item).translate(_ESCAPES)}</{key}>")
    out.append(f"</{tag}>")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_json(tree: Tree) -> bytes:
    """Serialise a tree as the real engine's JSON, in one pass (what ``jsonable`` then ``json.dumps`` give):
    texts stay texts, booleans become "true"/"false", numbers their decimal text, None is left out."""
    out: list[str] = []
    _write_json(out, tree)
    return "".join(out).encode()


_json_text = json.encoder.encode_basestring  # the C escaper, quotes included


def _json_leaf(value: Any) -> str:
    return _json_text(value) if type(value) is str else _json_text(_text(value))


def _write_json(out: list[str], value: Any) -> None:
    kind = type(value)
    if kind is dict:
        sep = "{"
        for key, item in value.items():
            if item is None:
                continue
            out.append(f"{sep}{_json_text(key)}:")
            sep = ","
            if type(item) is dict or type(item) is list:
                _write_json(out, item)
            else:
                out.append(_json_leaf(item))
        out.append("}" if sep == "," else "{}")
    elif kind is list:
        sep = "["
        for item in value:
            out.append(sep)
            sep = ","
            if type(item) is dict or type(item) is list:
                _write_json(out, item)
            else:
                out.append(_json_leaf(item))
        out.append("]" if sep == "," else "[]")
    else:
        out.append(_json_leaf(value))


def jsonable(tree: Any) -> Any:
    """Texts stay texts, booleans become 'true'/'false', numbers their decimal text, as the real engine's JSON."""
    if isinstance(tree, dict):
        return {k: jsonable(v) for k, v in tree.items() if v is not None}
    if isinstance(tree, list):
        return [jsonable(v) for v in tree]
    return _text(tree)


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def from_xml(body: bytes) -> tuple[str, Tree]:
    """(root element name, tree); BadRequest for malformed XML."""
    try:
        root = etree.fromstring(body, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise BadRequest(f"Malformed XML in the request body: {exc}") from exc
    return str(root.tag), _tree(root)


def _tree(element: etree._Element) -> Any:
    children = [c for c in element if isinstance(c.tag, str)]
    tree: Tree = {k: v for k, v in element.attrib.items() if k in ATTRIBUTES}
    if not children and not tree:  # a leaf; attributes we do not know are ignored, as unknown elements are
        return element.text or ""
    for child in children:
        value = _tree(child)
        tag = str(child.tag)
        if tag in tree and tag not in ATTRIBUTES:
            existing = tree[tag]
            tree[tag] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            tree[tag] = value
    return tree


def from_json(body: bytes) -> Tree:
    """The tree of a JSON body; BadRequest naming the field for what the input boundary refuses (malformed,
    too deep, a NUL or lone surrogate in a text, an integer beyond 64 bits)."""
    try:
        value = parse_json(body)
    except InputError as exc:
        raise BadRequest(str(exc)) from exc
    if not isinstance(value, dict):
        raise BadRequest("Malformed JSON in the request body: expected an object.")
    return value


def as_list(value: Any) -> list[Any]:
    """A repeated element's values, whether it came once, several times, or not at all."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
