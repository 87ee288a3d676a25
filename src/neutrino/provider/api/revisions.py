"""``revision-if-match`` and the revision numbers it compares (``standard-attr-revisions``).

A client that read a resource at revision N sends ``If-Match: revision_number=N`` with its PUT or
DELETE; the change happens only if the resource is still at N, else 412
``RevisionNumberConstraintFailed`` and nothing changes. As in Neutron, entity tags that do not
start with ``revision_number=`` are not ours and are ignored; a ``revision_number=`` tag that is
not an integer, or two of them, is a 400.

Every change bumps the resource's ``revision_number`` (``ResourceService.touch``), and so do
changes of what belongs to it: its tags, a security group's rules (:func:`bump`). A PUT that
changes nothing a client can see leaves both ``revision_number`` and ``updated_at`` as they were,
as Neutron's (its revision plugin bumps only objects the flush modified): the controller compares
the resource before and after the service's update (:func:`unchanged`) and puts the two back
(:func:`restore`) rather than every service tracking what its update touched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from neutrino.provider import errors
from neutrino.provider.store.db import UnitOfWork

PREFIX = "revision_number="
#: One entity tag of an If-Match list: quoted (optionally weak, ``W/"..."``) or a bare token.
_ETAG = re.compile(r'\s*(?:W/)?(?:"((?:\\.|[^"])*)"|([^",\s]+))\s*(?:,|$)')


def _etags(header: str) -> list[str]:
    found = []
    position = 0
    while position < len(header):
        match = _ETAG.match(header, position)
        if match is None or match.end() == position:
            break
        found.append(match.group(1) if match.group(1) is not None else match.group(2))
        position = match.end()
    return found


def constraint(headers: Mapping[str, str]) -> int | None:
    """The revision number ``If-Match`` requires, or None when it names none."""
    header = headers.get("if-match")
    if not header:
        return None
    wanted: int | None = None
    for etag in _etags(header):
        if not etag.startswith(PREFIX):
            continue
        if wanted is not None:
            raise errors.BadRequest(
                resource="if-match", msg="Multiple revision_number etags are not supported"
            )
        try:
            wanted = int(etag[len(PREFIX) :])
        except ValueError as exc:
            raise errors.BadRequest(
                resource="if-match", msg="Revision number etag must be in the format of revision_number=<int>"
            ) from exc
    return wanted


def enforce(uow: UnitOfWork, table: sa.Table, resource_id: str, expected: int | None) -> None:
    """Hold the resource's row for the rest of the unit (so no other writer moves its revision
    between this check and the change) and refuse the change unless it is at ``expected``."""
    if expected is None:
        return
    uow.lock_rows(table, [resource_id])
    row = uow.one_or_none(sa.select(table.c.revision_number).where(table.c.id == resource_id))
    if row is not None and row.revision_number != expected:
        raise errors.RevisionNumberConstraintFailed(expected=expected, current=row.revision_number)


def bump(uow: UnitOfWork, table: sa.Table, ids: Iterable[str]) -> None:
    """A change to what belongs to these resources (tags, rules) is a change of theirs."""
    from neutrino.provider.api.resource import utcnow

    wanted = sorted(set(ids))
    if wanted:
        uow.execute(
            sa.update(table)
            .where(table.c.id.in_(wanted))
            .values(updated_at=utcnow(), revision_number=table.c.revision_number + 1)
        )


#: What a change moves by itself; the rest of a resource is what a change is seen by.
_BOOKKEEPING = frozenset({"revision_number", "updated_at"})


def unchanged(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether an update left every attribute but the bookkeeping as it was, as the API writes it: by
    their JSON, since Python's ``==`` takes ``1``, ``1.0`` and ``true`` (in a port's ``binding:profile``)
    for one value, and a change from one to another would keep its revision and a list send the old."""
    keys = (before.keys() | after.keys()) - _BOOKKEEPING
    return all(json.dumps(before.get(k)) == json.dumps(after.get(k)) for k in keys)


def mark(uow: UnitOfWork, table: sa.Table, resource_id: str) -> sa.Row[Any] | None:
    """The resource's revision and update time now, for :func:`restore`; the row is held so no
    other writer moves them before this unit ends. None for a resource without revisions."""
    if "revision_number" not in table.c:
        return None
    uow.lock_rows(table, [resource_id])
    stmt = sa.select(table.c.id, table.c.revision_number, table.c.updated_at).where(table.c.id == resource_id)
    return uow.rows(stmt)[0]


def restore(uow: UnitOfWork, table: sa.Table, mark: sa.Row[Any] | None) -> None:
    """Put back the revision and update time :func:`mark` read before an update that changed
    nothing."""
    if mark is None:
        return
    uow.execute(
        sa.update(table)
        .where(table.c.id == mark.id)
        .values(revision_number=mark.revision_number, updated_at=mark.updated_at)
    )
