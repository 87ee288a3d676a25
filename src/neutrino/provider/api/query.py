"""Neutron's collection query conventions: filters, ``fields``, ``sort_key``/``sort_dir``,
``limit``/``marker``/``page_reverse`` pagination and the ``<collection>_links`` they produce."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from starlette.datastructures import QueryParams

from neutrino.provider import errors
from neutrino.provider.api.attributes import ResourceDefinition

RESERVED = frozenset({"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse"})
#: The largest page a client may ask for: SQL's LIMIT is a 64-bit integer.
MAX_LIMIT = (1 << 63) - 1

#: A filter the table cannot express as ``column IN (...)``: values -> WHERE clause.
SpecialFilter = Callable[[list[str]], sa.ColumnElement[bool]]


@dataclass
class ListQuery:
    filters: dict[str, list[Any]] = field(default_factory=dict)
    special: dict[str, list[str]] = field(default_factory=dict)
    fields: list[str] | None = None
    sorts: list[tuple[str, bool]] = field(default_factory=list)  # (attribute, descending)
    limit: int | None = None
    marker: str | None = None
    page_reverse: bool = False


def parse_query(
    defn: ResourceDefinition, params: QueryParams, special: Mapping[str, SpecialFilter]
) -> ListQuery:
    q = ListQuery()
    for key in dict.fromkeys(params.keys()):
        values = params.getlist(key)
        if key in RESERVED:
            continue
        if key in special:
            q.special[key] = values
            continue
        attr = defn.attribute(key)
        if attr is None or not attr.is_filter or attr.column is None:
            raise errors.HTTPBadRequest(msg=f"[{key}] is invalid attribute for filtering")
        q.filters[key] = [_filter_value(attr.convert_to, key, v) for v in values]
    fields = [f for value in params.getlist("fields") for f in value.split(",") if f]
    q.fields = fields or None
    keys, dirs = params.getlist("sort_key"), params.getlist("sort_dir")
    if dirs and len(dirs) != len(keys):
        raise errors.HTTPBadRequest(msg="The number of sort_keys and sort_dirs must be same")
    for i, key in enumerate(keys):
        attr = defn.attribute(key)
        if attr is None or not attr.is_sort_key or attr.column is None:
            raise errors.HTTPBadRequest(msg=f"{key} is invalid attribute for sort_keys")
        direction = dirs[i] if dirs else "asc"
        if direction not in ("asc", "desc"):
            raise errors.HTTPBadRequest(msg=f"{direction} is invalid attribute for sort_dirs")
        q.sorts.append((key, direction == "desc"))
    if "limit" in params:
        try:
            limit = int(params["limit"])
        except ValueError as exc:
            raise errors.HTTPBadRequest(
                msg=f"Limit must be an integer 0 or greater and not '{params['limit']}'"
            ) from exc
        if not 0 <= limit <= MAX_LIMIT:
            raise errors.HTTPBadRequest(
                msg=f"Limit must be an integer from 0 to {MAX_LIMIT} and not '{params['limit']}'"
            )
        q.limit = limit or None
    q.marker = params.get("marker") or None
    q.page_reverse = params.get("page_reverse", "").lower() == "true"
    return q


def _filter_value(convert: Callable[[Any], Any] | None, key: str, value: str) -> Any:
    from neutrino.provider.api.validators import InvalidValue

    if convert is None:
        return value
    try:
        return convert(value)
    except InvalidValue as exc:
        raise errors.HTTPBadRequest(msg=f"Invalid input for {key}. Reason: {exc}.") from exc


def select_page(
    conn: sa.Connection,
    defn: ResourceDefinition,
    table: sa.Table,
    q: ListQuery,
    scope: sa.ColumnElement[bool] | None,
    special: Mapping[str, SpecialFilter],
    *,
    raw: bool = False,
    columns: Sequence[Any] | None = None,
) -> Sequence[Any]:
    """The rows of one page (its links are Neutron's, by the page's size: :func:`links`). ``raw``: the DBAPI's tuples (no
    result processing: see ``store.rows``) instead of ``Row`` objects. ``columns``: what to select
    (the table's columns by default)."""
    stmt = sa.select(*columns) if columns is not None else sa.select(table)
    if scope is not None:
        stmt = stmt.where(scope)
    for name, values in q.filters.items():
        column = table.c[defn.attributes[name].column or name]
        present = [v for v in values if v is not None]
        clause: sa.ColumnElement[bool] = column.in_(present)
        if None in values:
            clause = sa.or_(clause, column.is_(None))
        stmt = stmt.where(clause)
    for name, values in q.special.items():
        stmt = stmt.where(special[name](values))
    order = [(table.c[defn.attributes[name].column or name], desc) for name, desc in q.sorts]
    if not any(col is table.c.id for col, _ in order):
        order.append((table.c.id, False))
    if q.page_reverse:
        order = [(col, not desc) for col, desc in order]
    if q.marker:
        marker = conn.execute(
            sa.select(*[col for col, _ in order]).where(table.c.id == q.marker)
        ).one_or_none()
        if marker is None:
            raise errors.HTTPBadRequest(msg=f"marker {q.marker} is not found")
        stmt = stmt.where(_after(order, list(marker)))
    stmt = stmt.order_by(*[col.desc() if desc else col.asc() for col, desc in order])
    if q.limit:
        stmt = stmt.limit(q.limit)
    result = conn.execute(stmt)
    rows: list[Any] = list(result.cursor.fetchall()) if raw else list(result.all())
    result.close()
    if q.page_reverse:
        rows.reverse()
    return rows


def _after(order: list[tuple[Any, bool]], values: list[Any]) -> sa.ColumnElement[bool]:
    """Keyset condition: rows strictly after the marker in this ordering."""
    alternatives = []
    for i, (col, desc) in enumerate(order):
        equal = [order[j][0] == values[j] for j in range(i)]
        alternatives.append(sa.and_(*equal, col < values[i] if desc else col > values[i]))
    return sa.or_(*alternatives)


def links(url: Any, params: QueryParams, collection: str, q: ListQuery, ids: list[str]) -> dict[str, Any]:
    """``<collection>_links`` with ``next`` / ``previous`` hrefs, by Neutron's rules (its
    ``get_pagination_links``), which tempest checks: walking forward, ``next`` whenever the page is
    full (a full last page is followed by an empty one, the walk's end) and ``previous`` always;
    walking back (``page_reverse``) the other way round. A link's marker is the page's last (next) or
    first (previous) row; an empty page's links carry none, so its ``previous`` is the collection's
    last page."""
    if not q.limit:
        return {}
    base = [(k, v) for k, v in params.multi_items() if k not in ("marker", "page_reverse", "limit")]
    base.append(("limit", str(q.limit)))
    href = str(url.replace(query=""))
    full = len(ids) >= q.limit
    out = []
    if full or q.page_reverse:
        marker = [("marker", ids[-1])] if ids else []
        out.append({"rel": "next", "href": f"{href}?{urlencode([*base, *marker])}"})
    if full or not q.page_reverse:
        marker = [("marker", ids[0])] if ids else []
        out.append(
            {"rel": "previous", "href": f"{href}?{urlencode([*base, *marker, ('page_reverse', 'True')])}"}
        )
    return {f"{collection}_links": out}
