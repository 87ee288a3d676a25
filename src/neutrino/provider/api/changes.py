"""Neutrino's change feed (extension ``neutrino-changes``): what changed in the provider, for the
host agents to wait on instead of polling.

``GET /v2.0/changes?after=CURSOR&wait=SECONDS`` (admin only, as Neutron's agent calls are) answers::

    {"changes": {"cursor": "3f9a1c2e-118",
                 "changed": {"ports": {"ids": [...], "network_ids": [...], "security_group_ids": [...]},
                             "security_group_rules": {"ids": [...], "security_group_ids": [...]},
                             "security_groups": {"ids": [...]}, ...}}}

as soon as something changed after ``CURSOR``, or after ``wait`` seconds (at most :data:`MAX_WAIT`,
a longer wait is cut to it) with the same cursor and nothing in ``changed``. Without ``after`` it
answers at once with the current cursor. ``changed`` is null when it cannot be told what changed
(no ``after``, a cursor of another provider process or of before a restart, or one so old the feed
forgot what came after it): everything may have, read it all. Per kind (the collection: ``networks``,
``subnets``, ``ports``, ``security_groups``, ``security_group_rules``, ``routers``, ``floatingips``,
``agents``, and ``l3_agents`` when the builtin backend moved routers between L3 agents), ``ids`` are
the resources created, updated or deleted (null: too many to list, any may have), and where cheap
what they belong to now, for a reader to tell whether it cares: a port's ``network_ids`` and
``security_group_ids``, a subnet's ``network_ids``, a rule's ``security_group_ids`` (null when a
rule is gone: its group cannot be told). A resource deleted since is in ``ids`` only. An answer
at once (no ``after``) also carries ``state``, a digest of what the agents read as the database
has it (:func:`database_state`): the agents' periodic resync rereads everything only when it moved.

The feed lives in the provider's memory (:class:`ChangeFeed`), an epoch per process: writes are
noted after their commit through the controllers' change listener, agents' liveness by
:class:`AgentWatch` (an agent that appeared, left, stopped or started reporting, or changed its
tunnel address). A wait holds no worker thread: it awaits an :class:`asyncio.Event` the next note
sets. Only this process's writes are in its feed: with several provider processes on one database,
an agent following one of them learns the others' writes at its periodic full resync.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import re
import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from neutrino.provider import errors
from neutrino.provider.api.resource import guarded, utcnow
from neutrino.provider.context import RequestContext
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import Database

log = logging.getLogger(__name__)

PATH = "/v2.0/changes"
#: the longest wait served; a pending wait ends early when the server shuts down (:meth:`ChangeFeed.close`)
MAX_WAIT = 300.0
#: changes remembered; a cursor older than that gets ``changed`` null
KEEP = 10_000
#: ids listed per kind at most (more: null, any of that kind may have changed)
MAX_IDS = 1_000
_CURSOR = re.compile(r"^([0-9a-f]{1,32})-([0-9]{1,18})$")


@dataclass
class _Entry:
    seq: int
    kind: str
    ids: tuple[str, ...]
    #: what the resources belong to (filled in once, when first asked: see ``ChangeFeed.resolve``)
    detail: dict[str, list[str] | None] | None = None


@dataclass
class Answer:
    cursor: str
    changed: dict[str, dict[str, list[str] | None]] | None
    #: the database's state (:func:`database_state`), in an answer at once (no ``after``)
    state: str | None = None
    _rendered: bytes | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"cursor": self.cursor, "changed": self.changed}
        if self.state is not None:
            body["state"] = self.state
        return {"changes": body}

    def body(self) -> bytes:
        """The JSON body, rendered once however many waiters get this answer."""
        if self._rendered is None:
            self._rendered = bytes(JSONResponse(self.to_json()).body)
        return self._rendered


#: (kind, ids) -> what they belong to now, per kind that has something (run in a worker thread)
Resolver = Callable[[str, Sequence[str]], dict[str, list[str] | None]]
#: () -> the database's state (run in a worker thread)
StateReader = Callable[[], str]


@dataclass
class ChangeFeed:
    """The change log of this process (see the module docstring). :meth:`note` is called from any
    thread after a commit; :meth:`answer` on the event loop."""

    resolver: Resolver | None = None
    state_reader: StateReader | None = None
    epoch: str = field(default_factory=lambda: secrets.token_hex(4))
    _seq: int = 0
    _log: deque[_Entry] = field(default_factory=lambda: deque(maxlen=KEEP))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _event: asyncio.Event | None = None
    _resolving: asyncio.Lock | None = None
    #: the last answer given, by (after, up to): the waiters of one change all get the same one
    _last: tuple[tuple[int, int], Answer] | None = None
    closed: bool = False

    @property
    def cursor(self) -> str:
        return f"{self.epoch}-{self._seq}"

    def note(self, kind: str, ids: Iterable[str]) -> None:
        """``ids`` of ``kind`` were created, updated or deleted (and committed): wake the waiters."""
        listed = tuple(dict.fromkeys(ids))
        if not listed:
            return
        with self._lock:
            self._seq += 1
            self._log.append(_Entry(self._seq, kind, listed))
            loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake)

    def close(self) -> None:
        """The server is shutting down: pending waits answer now, new ones at once."""
        self.closed = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    def parse(self, after: str | None) -> int | None:
        """The sequence number of ``after`` when it is this feed's (None: another epoch). Raises
        :class:`errors.InvalidAttribute` for a cursor no feed gives."""
        if after is None:
            return None
        match = _CURSOR.match(after)
        if match is None:
            raise errors.InvalidAttribute(
                attr="after", reason=f"{after[:64]!r} is not a cursor this feed gives (EPOCH-NUMBER)"
            )
        if match.group(1) != self.epoch:
            return None
        seq = int(match.group(2))
        if seq > self._seq:
            raise errors.InvalidAttribute(attr="after", reason=f"cursor {after!r} is ahead of the feed")
        return seq

    async def _state(self) -> str | None:
        """The database's state digest, or None when it cannot be read now: an agent then rereads everything
        (None never equals the state it kept), and the cursor still answers."""
        if self.state_reader is None:
            return None
        try:
            return await run_in_threadpool(self.state_reader)
        except Exception:  # noqa: BLE001 - the digest is an optimisation; the answer stands without it
            log.warning("cannot read the provider's state for the change feed", exc_info=True)
            return None

    async def answer(self, after: str | None, wait: float) -> Answer:
        """What changed after ``after``, once something did or ``wait`` seconds passed."""
        seq = self.parse(after)
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._resolving = asyncio.Lock()
        if seq is not None and seq == self._seq and wait > 0 and not self.closed:
            if self._event is None:
                self._event = asyncio.Event()
            event = self._event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=wait)
        cursor = self.cursor
        if after is None:
            return Answer(cursor, None, await self._state())
        if seq is None:
            return Answer(cursor, None)
        with self._lock:
            upto = self._seq
            cursor = f"{self.epoch}-{upto}"
            last = self._last
            if last is not None and last[0] == (seq, upto):
                return last[1]
            entries = _after(self._log, seq, upto)
            forgotten = self._log[0].seq > seq + 1 if self._log else upto > seq
        if forgotten:
            return Answer(cursor, None)
        await self._resolve([e for e in entries if e.detail is None])
        last = self._last
        if last is not None and last[0] == (seq, upto):  # another waiter of the change made it meanwhile
            return last[1]
        answer = Answer(cursor, _summary(entries))
        self._last = ((seq, upto), answer)
        return answer

    async def _resolve(self, entries: list[_Entry]) -> None:
        """Fill in what the entries' resources belong to, once per entry (one waiter does it for all
        the waiters of the same change, in a worker thread: database reads)."""
        if not entries or self.resolver is None:
            for entry in entries:
                entry.detail = {}
            return
        assert self._resolving is not None
        async with self._resolving:
            todo = [e for e in entries if e.detail is None]
            if todo:
                await run_in_threadpool(self._resolve_now, todo)

    def _resolve_now(self, entries: list[_Entry]) -> None:
        assert self.resolver is not None
        by_kind: dict[str, list[_Entry]] = {}
        for entry in entries:
            by_kind.setdefault(entry.kind, []).append(entry)
        for kind, group in by_kind.items():
            ids = sorted({i for e in group for i in e.ids})
            try:
                found = self.resolver(kind, ids) if len(ids) <= MAX_IDS else {}
            except Exception:  # the answer still names the ids; the reader rereads more
                log.exception("change feed: cannot tell what %s %s belong to", kind, ", ".join(ids[:5]))
                found = {}
            for entry in group:
                entry.detail = found


def _after(log: deque[_Entry], seq: int, upto: int) -> list[_Entry]:
    """The entries after ``seq`` up to ``upto``, read from the newest end (a waiter's few, not the
    whole log each)."""
    found = []
    for entry in reversed(log):
        if entry.seq <= seq:
            break
        if entry.seq <= upto:
            found.append(entry)
    found.reverse()
    return found


def _summary(entries: list[_Entry]) -> dict[str, dict[str, list[str] | None]]:
    out: dict[str, dict[str, set[str] | None]] = {}
    for entry in entries:
        kind = out.setdefault(entry.kind, {"ids": set()})
        ids = kind["ids"]
        if ids is not None:
            ids.update(entry.ids)
            if len(ids) > MAX_IDS:
                kind["ids"] = None
        for key, values in (entry.detail or {}).items():
            have = kind.setdefault(key, set())
            if values is None or have is None:
                kind[key] = None
            else:
                have.update(values)
    return {
        kind: {key: None if values is None else sorted(values) for key, values in detail.items()}
        for kind, detail in sorted(out.items())
    }


def database_resolver(db: Database) -> Resolver:
    """What ports, subnets and rules belong to, read from the database (the others: nothing)."""

    def resolve(kind: str, ids: Sequence[str]) -> dict[str, list[str] | None]:
        if kind == "ports":
            p, b = t.ports.c, t.port_security_groups.c
            with db.reader() as uow:
                networks = {r.network_id for r in uow.rows(sa.select(p.network_id).where(p.id.in_(ids)))}
                groups = {
                    r.security_group_id
                    for r in uow.rows(sa.select(b.security_group_id).where(b.port_id.in_(ids)))
                }
            return {"network_ids": sorted(networks), "security_group_ids": sorted(groups)}
        if kind == "subnets":
            s = t.subnets.c
            with db.reader() as uow:
                networks = {r.network_id for r in uow.rows(sa.select(s.network_id).where(s.id.in_(ids)))}
            return {"network_ids": sorted(networks)}
        if kind == "security_group_rules":
            r = t.security_group_rules.c
            with db.reader() as uow:
                rows = uow.rows(sa.select(r.id, r.security_group_id).where(r.id.in_(ids)))
            if len(rows) < len(set(ids)):  # a rule is gone: its group cannot be told
                return {"security_group_ids": None}
            return {"security_group_ids": sorted({row.security_group_id for row in rows})}
        return {}

    return resolve


#: the collections whose state :func:`database_state` digests: what the host agents read
STATE_TABLES = (
    t.networks,
    t.subnets,
    t.ports,
    t.security_groups,
    t.security_group_rules,
    t.routers,
    t.floating_ips,
)


def database_state(db: Database) -> StateReader:
    """The state of the resources the agents read, as a digest that changes with any write that
    reached the database, this process's or another's (what the feed cannot promise): per
    collection its number of rows, the sum of their revision numbers and the latest ``updated_at``.
    Every visible change of a resource bumps its revision, and of what belongs to it (fixed IPs,
    groups, rules) its owner's; a create raises the count or (when a delete keeps it) the latest
    ``updated_at``, a delete lowers the count, an update raises the sum. One read transaction of
    one aggregate per collection."""

    def read() -> str:
        parts = []
        with db.reader() as uow:
            for table in STATE_TABLES:
                c = table.c
                row = uow.rows(
                    sa.select(
                        sa.func.count(),
                        sa.func.coalesce(sa.func.sum(c.revision_number), 0),
                        sa.func.max(c.updated_at),
                    )
                )[0]
                latest = row[2].isoformat() if row[2] is not None else "-"
                parts.append(f"{table.name}:{row[0]}:{row[1]}:{latest}")
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]

    return read


class AgentWatch:
    """Notes ``agents`` changes the writes do not: an agent that appeared or left, stopped or
    started reporting (alive by the agents' rule), or reports another tunnel address — what the
    host agents learn their VXLAN peers from. A reader thread compares the agents every
    ``interval`` seconds (one small query)."""

    def __init__(self, db: Database, feed: ChangeFeed, down_time: float, interval: float) -> None:
        self.db = db
        self.feed = feed
        self.down_time = timedelta(seconds=down_time)
        self.interval = interval
        self._seen: dict[str, tuple[Any, ...]] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> list[str]:
        """One comparison; returns (and notes) the agents that changed."""
        a = t.agents.c
        deadline = utcnow() - self.down_time
        with self.db.reader() as uow:
            rows = uow.rows(
                sa.select(a.id, a.admin_state_up, a.configurations, a.heartbeat_timestamp, a.started_at)
            )
        now = {
            row.id: (
                row.heartbeat_timestamp >= deadline,
                bool(row.admin_state_up),
                (row.configurations or {}).get("tunneling_ip")
                if isinstance(row.configurations, dict)
                else None,
                row.started_at,
            )
            for row in rows
        }
        before, self._seen = self._seen, now
        if before is None:
            return []
        changed = sorted(i for i in now.keys() | before.keys() if now.get(i) != before.get(i))
        self.feed.note("agents", changed)
        return changed

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.check()
            except Exception:  # the thread must outlive a database outage
                log.exception("change feed: reading the agents failed")
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="change-feed-agents", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def parse_wait(raw: str | None) -> float:
    """``wait`` in seconds, cut to :data:`MAX_WAIT`; a 400 naming it for anything but a number >= 0."""
    if raw is None:
        return 0.0
    try:
        wait = float(raw)
    except ValueError:
        wait = math.nan
    if not math.isfinite(wait) or wait < 0:
        raise errors.InvalidAttribute(
            attr="wait",
            reason=f"{raw[:32]!r} is not a number of seconds from 0 (at most {MAX_WAIT:g} are waited)",
        )
    return min(wait, MAX_WAIT)


def routes(feed: ChangeFeed, context_of: Callable[[Request], RequestContext]) -> list[Route]:
    async def changes(request: Request) -> Response:
        if not context_of(request).is_admin:
            raise errors.PolicyNotAuthorized(action="get_changes")
        params = request.query_params
        for name in ("after", "wait"):
            if len(params.getlist(name)) > 1:
                raise errors.InvalidAttribute(attr=name, reason="given more than once")
        wait = parse_wait(params.get("wait"))
        answer = await feed.answer(params.get("after"), wait)
        return Response(answer.body(), media_type="application/json")

    return [Route(PATH, guarded(changes), methods=["GET"])]


def fan_out(*listeners: Callable[[str, Sequence[str]], None]) -> Callable[[str, Sequence[str]], None]:
    """One change listener calling each of ``listeners`` in turn (a failing one does not stop the others)."""

    def changed(collection: str, resource_ids: Sequence[str]) -> None:
        for listener in listeners:
            try:
                listener(collection, resource_ids)
            except Exception:  # the write is committed: it is the truth whatever a listener does
                log.exception("change listener failed for %s %s", collection, ", ".join(resource_ids))

    return changed
