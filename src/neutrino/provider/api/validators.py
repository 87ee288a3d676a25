"""Converters and validators named by the resource declarations (neutron-lib's ``type:*`` names).

A converter turns wire input into the stored type or raises :class:`InvalidValue`; a validator
returns an error message (the "Reason" clients see) or None.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Callable
from typing import Any

from neutrino.provider.api.attributes import ATTR_NOT_SPECIFIED


class InvalidValue(ValueError):
    """Raised by converters; the message is the reason shown to the client."""


# --- converters --------------------------------------------------------------------------------


def to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "false", "0"):
        return value.lower() in ("true", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise InvalidValue(f"'{value}' cannot be converted to boolean")


INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def to_int(value: Any) -> int:
    """An integer (Neutron's ``convert_to_int``) that a database column holds: 64 bits."""
    if isinstance(value, bool):
        raise InvalidValue(f"'{value}' is not an integer")
    try:
        number = int(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidValue(f"'{value}' is not an integer") from exc
    if not INT64_MIN <= number <= INT64_MAX:
        raise InvalidValue(f"'{value}' is outside the 64-bit integer range")
    return number


def to_int_or_none(value: Any) -> int | None:
    return None if value is None else to_int(value)


def to_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def to_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def to_protocol(value: Any) -> str | None:
    """Protocol names are lower-cased; numbers in 0..255 kept as their decimal string."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidValue(f"'{value}' is not a valid protocol")
    if value.isdigit():
        number = int(value)
        if not 0 <= number <= 255:
            raise InvalidValue(f"Protocol number {value} is not in the range 0 to 255")
        return str(number)
    return value.lower()


def to_port_number(value: Any) -> int | None:
    if value is None:
        return None
    number = to_int(value)
    if not 0 <= number <= 65535:
        raise InvalidValue(f"Invalid port '{value}'")
    return number


# --- validators --------------------------------------------------------------------------------

_MAC = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")


def _string(value: Any, max_len: int | None) -> str | None:
    if not isinstance(value, str):
        return f"'{value}' is not a valid string"
    if max_len is not None and len(value) > max_len:
        return f"'{value}' exceeds maximum length of {max_len}"
    return None


def _string_or_none(value: Any, max_len: int | None) -> str | None:
    return None if value is None else _string(value, max_len)


def _not_empty_string(value: Any, max_len: int | None) -> str | None:
    if (msg := _string(value, max_len)) is not None:
        return msg
    return f"'{value}' Blank strings are not permitted" if not value.strip() else None


def _non_negative(value: Any, _arg: Any) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return f"'{value}' is not an integer"
    return f"'{value}' should be non-negative" if value < 0 else None


def _boolean(value: Any, _arg: Any) -> str | None:
    return None if isinstance(value, bool) else f"'{value}' is not a valid boolean value"


def _uuid(value: Any, _arg: Any) -> str | None:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return f"'{value}' is not a valid UUID"
    return None


def _uuid_or_none(value: Any, arg: Any) -> str | None:
    return None if value is None else _uuid(value, arg)


def _uuid_list(value: Any, arg: Any) -> str | None:
    if not isinstance(value, list):
        return f"'{value}' is not a list"
    for item in value:
        if (msg := _uuid(item, arg)) is not None:
            return msg
    if len(set(value)) != len(value):
        return f"Duplicate items in the list: '{', '.join(value)}'"
    return None


def _ip_address(value: Any, _arg: Any) -> str | None:
    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        return f"'{value}' is not a valid IP address"
    return None


def _ip_address_or_none(value: Any, arg: Any) -> str | None:
    return None if value is None else _ip_address(value, arg)


def _subnet(value: Any, _arg: Any) -> str | None:
    try:
        net = ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        return f"'{value}' is not a valid IP subnet"
    if "/" not in str(value) or str(net) != str(value):
        return f"'{value}' isn't a recognized IP subnet cidr, '{net}' is recommended"
    return None


def _subnet_or_none(value: Any, arg: Any) -> str | None:
    if value is None:
        return None
    try:
        ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        return f"'{value}' is not a valid IP subnet"
    return None


def _subnet_list(value: Any, _arg: Any) -> str | None:
    """neutron-lib's ``type:subnet_list``: a list of distinct CIDRs (host bits allowed: they are compacted
    away), each with its prefix length."""
    if not isinstance(value, list):
        return f"'{value}' is not a list"
    if duplicates := sorted({str(v) for v in value if value.count(v) > 1}):
        return f"Duplicate items in the list: '{', '.join(duplicates)}'"
    for item in value:
        if not isinstance(item, str) or "/" not in item or _subnet_or_none(item, None) is not None:
            return f"'{item}' is not a valid IP subnet"
    return None


def _mac_address(value: Any, _arg: Any) -> str | None:
    if not isinstance(value, str) or not _MAC.match(value.lower()):
        return f"'{value}' is not a valid MAC address"
    if int(value.split(":")[0], 16) & 1:
        return f"'{value}' is a multicast MAC address"
    return None


def _values(value: Any, allowed: Any) -> str | None:
    return None if value in allowed else f"'{value}' is not in {list(allowed)}"


def _range(value: Any, bounds: Any) -> str | None:
    low, high = bounds
    if not isinstance(value, int) or isinstance(value, bool):
        return f"'{value}' is not an integer"
    if not low <= value <= high:
        return f"'{value}' is not in range {low} through {high}"
    return None


def _range_or_none(value: Any, bounds: Any) -> str | None:
    return None if value is None else _range(value, bounds)


def _dict_or_empty(value: Any, _arg: Any) -> str | None:
    return None if isinstance(value, dict) else f"'{value}' is not a dictionary"


def _list_of_dicts(value: Any, keys: Any) -> str | None:
    """Each item a dict whose keys are among ``keys[0]`` (allowed) and include ``keys[1]`` (required)."""
    if not isinstance(value, list):
        return f"'{value}' is not a list"
    allowed, required = keys
    for item in value:
        if not isinstance(item, dict):
            return f"'{item}' is not a dictionary"
        if extra := set(item) - set(allowed):
            return f"Unexpected keys supplied: {', '.join(sorted(extra))}"
        if set(required) - set(item):
            return f"Validation of dictionary's keys failed. Expected keys: {set(required)} Provided keys: {set(item)}"
    return None


def _nameservers(value: Any, _arg: Any) -> str | None:
    if not isinstance(value, list):
        return f"'{value}' is not a list"
    for ns in value:
        if (msg := _ip_address(ns, None)) is not None:
            return msg
    if len(set(value)) != len(value):
        return f"Duplicate nameserver '{value}'"
    return None


def _hostroutes(value: Any, _arg: Any) -> str | None:
    if msg := _list_of_dicts(value, (("destination", "nexthop"), ("destination", "nexthop"))):
        return msg
    seen = []
    for route in value:
        if msg := _subnet_or_none(route["destination"], None) or _ip_address(route["nexthop"], None):
            return msg
        if route in seen:
            return f"Duplicate hostroute '{route}'"
        seen.append(route)
    return None


def _ip_pools(value: Any, _arg: Any) -> str | None:
    if msg := _list_of_dicts(value, (("start", "end"), ("start", "end"))):
        return msg
    for pool in value:
        if msg := _ip_address(pool["start"], None) or _ip_address(pool["end"], None):
            return msg
    return None


def _text_dicts(value: Any, keys: Any) -> str | None:
    """``type:list_of_dicts`` whose values are all text (an agent's report of port or floating IP statuses)."""
    if msg := _list_of_dicts(value, keys):
        return msg
    for item in value:
        for key, text in item.items():
            if not isinstance(text, str):
                return f"'{key}' of '{item}' is not a string"
    return None


def _fixed_ips(value: Any, _arg: Any) -> str | None:
    if msg := _list_of_dicts(value, (("subnet_id", "ip_address"), ())):
        return msg
    for item in value:
        if not item:  # Neutron's IPAM: an entry must say where the address comes from
            return "IP allocation requires subnet_id or ip_address"
        if "ip_address" in item and (msg := _ip_address(item["ip_address"], None)):
            return msg
        if "subnet_id" in item and (msg := _uuid(item["subnet_id"], None)):
            return msg
    return None


VALIDATORS: dict[str, Callable[[Any, Any], str | None]] = {
    "type:string": _string,
    "type:string_or_none": _string_or_none,
    "type:not_empty_string": _not_empty_string,
    "type:non_negative": _non_negative,
    "type:subnet_list": _subnet_list,
    "type:boolean": _boolean,
    "type:uuid": _uuid,
    "type:uuid_or_none": _uuid_or_none,
    "type:uuid_list": _uuid_list,
    "type:ip_address": _ip_address,
    "type:ip_address_or_none": _ip_address_or_none,
    "type:subnet": _subnet,
    "type:subnet_or_none": _subnet_or_none,
    "type:mac_address": _mac_address,
    "type:values": _values,
    "type:range": _range,
    "type:range_or_none": _range_or_none,
    "type:dict_or_empty": _dict_or_empty,
    "type:list_of_dicts": _list_of_dicts,
    "type:list_of_text_dicts": _text_dicts,
    "type:nameservers": _nameservers,
    "type:hostroutes": _hostroutes,
    "type:ip_pools": _ip_pools,
    "type:fixed_ips": _fixed_ips,
}


def validate(value: Any, rules: dict[str, Any]) -> str | None:
    if value is ATTR_NOT_SPECIFIED:
        return None
    for name, arg in rules.items():
        if (msg := VALIDATORS[name](value, arg)) is not None:
            return msg
    return None
