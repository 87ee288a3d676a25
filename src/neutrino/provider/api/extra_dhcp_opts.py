"""``extra_dhcp_opt``: DHCP options a port's guest gets besides its subnet's (a static route, an
NTP server, a boot file), each ``{opt_name, opt_value, ip_version}``.

Checked as neutron-lib's key specs check them (``opt_name`` and ``opt_value`` required, no other
key than ``ip_version``, 4 or 6, default 4; a value may be blank for ``router`` and
``classless-static-route`` only), and as the datapath can serve them
(:mod:`neutrino.agent_api.dhcp_options`: dnsmasq's option names or a number, values of the
option's type): anything else is a 400 naming ``extra_dhcp_opts``, and nothing is written.

Neutron's semantics: a create stores the options whose value is not null; an update merges by
(``opt_name``, ``ip_version``): a given value replaces or adds, a null value removes that option,
options not named stay.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from neutrino.agent_api import dhcp_options
from neutrino.provider import errors
from neutrino.provider.api.validators import InvalidValue
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import UnitOfWork

ATTRIBUTE = "extra_dhcp_opts"
_REQUIRED = {"opt_name", "opt_value"}
_KEYS = _REQUIRED | {"ip_version"}

#: a backend's check of one option (name, value, ip_version): why it cannot serve it, or None
Problem = Callable[[str, str, int], "str | None"]


def convert(value: Any) -> list[dict[str, Any]]:
    """The options of a port's POST or PUT, validated: ``opt_value`` None means "remove" (PUT)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidValue(f"'{value}' is not a list")
    seen: set[tuple[str, int]] = set()
    out = []
    for item in value:
        if not isinstance(item, dict):
            raise InvalidValue(f"'{item}' is not a dictionary")
        if unknown := sorted(set(item) - _KEYS):
            raise InvalidValue(f"Unexpected keys supplied: {', '.join(unknown)}")
        if missing := sorted(_REQUIRED - set(item)):
            raise InvalidValue(
                f"Validation of dictionary's keys failed. Expected keys: {sorted(_REQUIRED)} "
                f"Provided keys: {sorted(item)}; missing: {', '.join(missing)}"
            )
        name, opt_value = item["opt_name"], item["opt_value"]
        if not isinstance(name, str) or not name.strip():
            raise InvalidValue(f"'{name}' Blank strings are not permitted")
        if opt_value is not None and not isinstance(opt_value, str):
            raise InvalidValue(f"'{opt_value}' is not a valid string")
        version = _ip_version(item.get("ip_version", 4))
        if opt_value is not None and (problem := dhcp_options.refusal(name, opt_value, version)) is not None:
            raise InvalidValue(problem)
        if (name, version) in seen:
            raise InvalidValue(f"Duplicate option {name} for IP version {version}")
        seen.add((name, version))
        out.append({"opt_name": name, "opt_value": opt_value, "ip_version": version})
    return out


def check_served(opts: Sequence[dict[str, Any]], problem: Problem | None) -> None:
    """Refuse the options (with a value) the backend's DHCP cannot serve, as Neutron's OVN driver
    words it: a 400 naming ``extra_dhcp_opts`` and the options per IP version, each with its reason."""
    if problem is None:
        return
    failed: dict[int, list[str]] = {4: [], 6: []}
    reasons: list[str] = []
    for opt in opts:
        if opt["opt_value"] is None:
            continue
        reason = problem(opt["opt_name"], opt["opt_value"], opt["ip_version"])
        if reason is not None:
            failed[opt["ip_version"]].append(opt["opt_name"])
            reasons.append(reason)
    if reasons:
        raise errors.InvalidAttribute(
            attr=ATTRIBUTE,
            reason=(
                f'The following extra DHCP options are not supported by OVN. IPv4: "{", ".join(failed[4])}" '
                f'and IPv6: "{", ".join(failed[6])}" ({"; ".join(reasons)})'
            ),
        )


def _ip_version(value: Any) -> int:
    if value is None:
        return 4
    try:
        version = int(value)
    except (TypeError, ValueError):
        raise InvalidValue(f"'{value}' is not an integer") from None
    if isinstance(value, bool) or version not in (4, 6):
        raise InvalidValue(f"{value} is not in [4, 6]")
    return version


def _sorted(opts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    opts.sort(key=lambda o: (o["ip_version"], o["opt_name"]))
    return opts


def create(uow: UnitOfWork, port_id: str, opts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """A new port's options (those with a value); returns them as a port's record holds them (by IP version, then name)."""
    rows = [{"port_id": port_id, **o} for o in opts if o["opt_value"] is not None]
    if rows:
        uow.execute(sa.insert(t.port_extra_dhcp_opts), rows)
    return _sorted([{k: r[k] for k in ("opt_name", "opt_value", "ip_version")} for r in rows])


def update(uow: UnitOfWork, port_id: str, opts: Sequence[dict[str, Any]]) -> None:
    """Merge ``opts`` into the port's options (Neutron's update semantics, see the module)."""
    c = t.port_extra_dhcp_opts.c
    for opt in opts:
        match = sa.and_(
            c.port_id == port_id, c.opt_name == opt["opt_name"], c.ip_version == opt["ip_version"]
        )
        uow.execute(sa.delete(t.port_extra_dhcp_opts).where(match))
        if opt["opt_value"] is not None:
            uow.execute(sa.insert(t.port_extra_dhcp_opts).values(port_id=port_id, **opt))
