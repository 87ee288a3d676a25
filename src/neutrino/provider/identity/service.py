"""Users, projects, role assignments and authentication (Keystone's job, in one small module)."""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from neutrino.login_throttle import LoginThrottle, ThrottleLimits
from neutrino.provider import errors
from neutrino.provider.identity.passwords import (
    generate_password,
    hash_password,
    verify_nothing,
    verify_password,
)
from neutrino.provider.identity.tokens import RevocationEvent, TokenClaims, TokenIssuer
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import Database, UnitOfWork

ROLES = ("admin", "member", "reader")
ADMIN = "admin"


@dataclass(frozen=True)
class Scope:
    """What a token request names: a project by id, or by name (in the only domain, Default)."""

    project_id: str | None = None
    project_name: str | None = None

    @property
    def empty(self) -> bool:
        return self.project_id is None and self.project_name is None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def ensure_admin(uow: UnitOfWork, password: str) -> str | None:
    """Create project `admin` and user `admin` (role admin) unless they exist.

    Returns the password when a user was created (generated when ``password`` is empty)."""
    if uow.one_or_none(sa.select(t.users.c.id).where(t.users.c.name == ADMIN)) is not None:
        return None
    project = uow.one_or_none(sa.select(t.projects.c.id).where(t.projects.c.name == ADMIN))
    project_id = project.id if project else create_project(uow, ADMIN, "Bootstrap project")
    password = password or generate_password()
    create_user(uow, ADMIN, password, project_id, roles=(ADMIN, "member", "reader"))
    return password


def create_project(uow: UnitOfWork, name: str, description: str = "", *, enabled: bool = True) -> str:
    if uow.one_or_none(sa.select(t.projects.c.id).where(t.projects.c.name == name)) is not None:
        raise errors.DuplicateName(type="project", name=name)
    project_id = uuid.uuid4().hex
    uow.execute(
        sa.insert(t.projects).values(
            id=project_id, name=name, description=description, enabled=enabled, created_at=_now()
        )
    )
    return project_id


def create_user(
    uow: UnitOfWork,
    name: str,
    password: str | None,
    project_id: str | None,
    roles: tuple[str, ...] = (),
    **attributes: Any,
) -> str:
    """A user (``attributes``: ``enabled``, ``email``, ``description``), with ``roles`` on ``project_id``.

    As in Keystone, a default project grants nothing by itself: without ``roles`` the user has no access
    to it until a role is assigned. Without a password the user cannot log in (a random one is hashed)."""
    if uow.one_or_none(sa.select(t.users.c.id).where(t.users.c.name == name)) is not None:
        raise errors.DuplicateName(type="user", name=name)
    user_id = uuid.uuid4().hex
    uow.execute(
        sa.insert(t.users).values(
            id=user_id,
            name=name,
            password_hash=hash_password(password if password is not None else generate_password()),
            default_project_id=project_id,
            enabled=attributes.pop("enabled", True),
            created_at=_now(),
            **attributes,
        )
    )
    if project_id is not None:
        for role in roles:
            assign_role(uow, user_id, project_id, role)
    return user_id


def has_role(uow: UnitOfWork, user_id: str, project_id: str, role: str) -> bool:
    row = uow.one_or_none(
        sa.select(t.role_assignments.c.role).where(
            t.role_assignments.c.user_id == user_id,
            t.role_assignments.c.project_id == project_id,
            t.role_assignments.c.role == role,
        )
    )
    return row is not None


def assign_role(uow: UnitOfWork, user_id: str, project_id: str, role: str) -> None:
    if not has_role(uow, user_id, project_id, role):
        uow.execute(sa.insert(t.role_assignments).values(user_id=user_id, project_id=project_id, role=role))


def set_password(uow: UnitOfWork, user_id: str, password: str) -> None:
    result = uow.execute(
        sa.update(t.users).where(t.users.c.id == user_id).values(password_hash=hash_password(password))
    )
    if not result.rowcount:
        raise errors.UserNotFound(user=user_id)


_AUTH_FAILED = "The request you have made requires authentication."


class IdentityService:
    def __init__(
        self, db: Database, issuer: TokenIssuer, token_ttl: int, throttle: LoginThrottle | None = None
    ) -> None:
        self.db = db
        self.issuer = issuer
        self.token_ttl = token_ttl
        self.throttle = throttle or LoginThrottle(ThrottleLimits())

    def check_password(self, user: Any, named: str, password: str, source: str) -> None:
        """Raise unless ``password`` is ``user``'s (a row of ``users``, or None when ``named`` matched nobody).

        A login locked by too many failures is refused before any hashing (AccountLocked, 401 with
        Retry-After); an unknown user costs the same hash as a known one; a disabled user fails like a
        wrong password. Failures and successes feed the throttle, keyed by the user's id when it exists
        (so naming it by name or by id counts alike) and by ``source``, the client's address.
        """
        key = user.id if user is not None else named
        wait = self.throttle.retry_after(key, source)
        if wait is not None:
            # named as the client named it: an id here would tell that the name exists
            raise errors.AccountLocked(user=named, retry_after=wait)
        if user is None:
            good = verify_nothing(password)
        else:
            good = verify_password(password, user.password_hash) and bool(user.enabled)
        if not good:
            self.throttle.failed(key, source)
            raise errors.Unauthorized(msg=_AUTH_FAILED)
        self.throttle.succeeded(key, source)

    # --- revocation: Keystone revokes on these changes, in the unit of work that makes them -------

    def revoke_user_tokens(self, uow: UnitOfWork, user_id: str, project_id: str | None = None) -> None:
        """Every token of the user (scoped to ``project_id`` when given) issued until now dies when ``uow``
        commits (password changed, user disabled or deleted; a role on the project removed)."""
        now = time.time()
        event = RevocationEvent(
            issued_before=now, expires_at=now + self.token_ttl, user_id=user_id, project_id=project_id
        )
        self.issuer.revocations.record(uow, event)

    def revoke_project_tokens(self, uow: UnitOfWork, project_id: str) -> None:
        """Every token scoped to the project issued until now dies when ``uow`` commits (disabled, deleted)."""
        now = time.time()
        self.issuer.revocations.record(
            uow, RevocationEvent(issued_before=now, expires_at=now + self.token_ttl, project_id=project_id)
        )

    def revoke_token(self, claims: TokenClaims) -> None:
        """``DELETE /v3/auth/tokens``: this token dies (by its audit id; a token rescoped from it has its own)."""
        with self.db.uow() as uow:
            self.issuer.revocations.record(
                uow,
                RevocationEvent(
                    issued_before=time.time(), expires_at=claims.expires_at, audit_id=claims.audit_id
                ),
            )
            uow.commit()

    def authenticate_password(
        self,
        *,
        user_id: str | None,
        user_name: str | None,
        password: str,
        scope: Scope,
        methods: tuple[str, ...] = ("password",),
        source: str = "",
    ) -> tuple[str, TokenClaims]:
        with self.db.reader() as uow:
            where = t.users.c.id == user_id if user_id else t.users.c.name == user_name
            user = uow.one_or_none(sa.select(t.users).where(where))
            self.check_password(user, str(user_id or user_name), password, source)
            assert user is not None  # check_password refuses an unknown user
            return self._issue(uow, user.id, user.name, user.default_project_id, scope, methods)

    def authenticate_token(
        self, token: str, scope: Scope, methods: tuple[str, ...] = ("token",)
    ) -> tuple[str, TokenClaims]:
        claims = self.issuer.validate(token)
        if claims is None:
            raise errors.Unauthorized(msg=_AUTH_FAILED)
        methods = (*methods, *(m for m in claims.methods if m not in methods))
        with self.db.reader() as uow:
            if scope.empty and claims.project_id:
                scope = Scope(project_id=claims.project_id)
            return self._issue(uow, claims.user_id, claims.user_name, None, scope, methods)

    def _issue(
        self,
        uow: UnitOfWork,
        user_id: str,
        user_name: str,
        default_project: str | None,
        scope: Scope,
        methods: tuple[str, ...],
    ) -> tuple[str, TokenClaims]:
        if scope.empty and default_project:
            scope = Scope(project_id=default_project)
        project_id = project_name = None
        roles: tuple[str, ...] = ()
        if not scope.empty:
            where = (
                t.projects.c.id == scope.project_id
                if scope.project_id
                else t.projects.c.name == scope.project_name
            )
            project = uow.one_or_none(sa.select(t.projects).where(where))
            if project is None or not project.enabled:
                raise errors.Unauthorized(msg=_AUTH_FAILED)
            roles = tuple(
                sorted(
                    r.role
                    for r in uow.rows(
                        sa.select(t.role_assignments.c.role).where(
                            t.role_assignments.c.user_id == user_id,
                            t.role_assignments.c.project_id == project.id,
                        )
                    )
                )
            )
            if not roles:
                raise errors.Unauthorized(msg=f"User {user_id} has no access to project {project.id}")
            project_id, project_name = project.id, project.name
        now = time.time()
        claims = TokenClaims(
            user_id=user_id,
            user_name=user_name,
            project_id=project_id,
            project_name=project_name,
            roles=roles,
            issued_at=now,
            expires_at=now + self.token_ttl,
            audit_id=secrets.token_urlsafe(16),
            methods=methods,
        )
        return self.issuer.issue(claims), claims
