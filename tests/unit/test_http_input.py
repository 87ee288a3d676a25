"""Property tests of the input boundary's parsers and validators (hypothesis, the suite's derandomized profile):
whatever bytes or JSON values come in, each either gives a value or refuses with its own error naming a field,
never another exception."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neutrino.engine.api import fields as engine_fields
from neutrino.engine.api import wire
from neutrino.engine.domain.errors import BadRequest
from neutrino.http_input import INT64_MAX, InputError, check_value, parse_json
from neutrino.provider.api.validators import (
    VALIDATORS,
    InvalidValue,
    to_boolean,
    to_int,
    to_port_number,
    to_protocol,
)

# JSON values as a hostile client builds them: any text (lone surrogates and NUL included), any size of integer
leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def encoded(value: Any) -> bytes:
    return json.dumps(value).encode()


@given(st.binary(max_size=200))
def test_any_bytes_parse_or_are_refused_as_input(raw: bytes) -> None:
    try:
        parse_json(raw)
    except InputError as exc:
        assert exc.field and exc.reason


@given(values)
def test_a_json_value_is_taken_exactly_when_every_part_is_storable(value: Any) -> None:
    try:
        parsed = parse_json(encoded(value))
    except InputError as exc:
        assert exc.field and exc.reason
        return
    assert parsed == value
    for text in _texts(parsed):
        assert "\x00" not in text
        text.encode("utf-8")  # no lone surrogate
    assert all(abs(n) <= INT64_MAX + 1 for n in _ints(parsed))


@given(st.integers(min_value=1, max_value=300))
def test_depth_is_refused_past_the_limit_and_only_there(depth: int) -> None:
    raw = b"[" * depth + b"]" * depth
    if depth <= 64:
        assert parse_json(raw) is not None
    else:
        with pytest.raises(InputError, match="nested deeper than 64"):
            parse_json(raw)


def test_a_hundred_thousand_brackets_are_refused_not_a_recursion_error() -> None:
    with pytest.raises(InputError, match="nested deeper"):
        parse_json(b"[" * 100_000)


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"network": {"name": "\ud800"}}, "network.name"),
        ({"port": {"fixed_ips": [{"ip_address": "a\x00"}]}}, "port.fixed_ips[0].ip_address"),
        ({"vm": {"memory": 2**64}}, "vm.memory"),
        ([1, float("inf")], "[1]"),
    ],
)
def test_a_refusal_names_the_field(value: Any, field: str) -> None:
    with pytest.raises(InputError) as caught:
        check_value(value)
    assert caught.value.field == field


@given(values)
def test_engine_json_bodies_are_a_tree_or_a_bad_request(value: Any) -> None:
    with contextlib.suppress(BadRequest):
        wire.from_json(encoded(value))


@given(
    st.binary(max_size=120)
    | st.text(max_size=40).map(lambda t: f"<vm><name>{t}</name></vm>".encode("utf-8", "surrogatepass"))
)
def test_engine_xml_bodies_are_a_tree_or_a_bad_request(raw: bytes) -> None:
    with contextlib.suppress(BadRequest):
        wire.from_xml(raw)


@given(values)
def test_engine_codecs_parse_or_refuse_naming_the_element(value: Any) -> None:
    for codec in (
        engine_fields.TEXT,
        engine_fields.INT,
        engine_fields.BOOL,
        engine_fields.DATE,
        engine_fields.RefTo("vms"),
    ):
        try:
            parsed = codec.parse(value, "element")
        except BadRequest as exc:
            assert "element" in exc.message
            continue
        if codec is engine_fields.INT:
            assert abs(parsed) <= INT64_MAX + 1


@given(values)
def test_provider_converters_convert_or_raise_invalid_value(value: Any) -> None:
    for convert in (to_int, to_boolean, to_port_number, to_protocol):
        try:
            converted = convert(value)
        except InvalidValue:
            continue
        if convert is to_int:
            assert abs(converted) <= INT64_MAX + 1


ARGS = {
    "type:string": 255, "type:string_or_none": 255, "type:values": ("a", "b"), "type:range": (0, 10),
    "type:range_or_none": (0, 10), "type:list_of_dicts": (("a", "b"), ("a",)),
    "type:list_of_text_dicts": (("id", "status"), ("id", "status")),
}  # fmt: skip


@given(values)
def test_provider_validators_answer_a_reason_or_none(value: Any) -> None:
    for name, check in VALIDATORS.items():
        reason = check(value, ARGS.get(name))
        assert reason is None or isinstance(reason, str), name


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [*value.keys(), *(t for v in value.values() for t in _texts(v))]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


def _ints(value: Any) -> list[int]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _ints(v)]
    if isinstance(value, list):
        return [n for v in value for n in _ints(v)]
    return []
