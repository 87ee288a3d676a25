"""Users, projects, role assignments and authentication (Keystone's job, in one small module)."""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from neutrino.provider import errors
from neutrino.provider.identity.passwords import generate_password, hash_password, verify_password
from neutrino.provider.identity.tokens import TokenClaims, TokenIssuer
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


def load_token_secret(uow: UnitOfWork) -> bytes:
    """The token-signing secret, created on first use."""
    row = uow.one_or_none(sa.select(t.provider_meta.c.value).where(t.provider_meta.c.key == "token_secret"))
    if row is not None:
        return bytes.fromhex(row.value)
    secret = secrets.token_bytes(32)
    uow.execute(sa.insert(t.provider_meta).values(key="token_secret", value=secret.hex()))
    return secret


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


def create_project(uow: UnitOfWork, name: str, description: str = "") -> str:
    if uow.one_or_none(sa.select(t.projects.c.id).where(t.projects.c.name == name)) is not None:
        raise errors.DuplicateName(type="project", name=name)
    project_id = uuid.uuid4().hex
    uow.execute(
        sa.insert(t.projects).values(
            id=project_id, name=name, description=description, enabled=True, created_at=_now()
        )
    )
    return project_id


def create_user(
    uow: UnitOfWork, name: str, password: str, project_id: str | None, roles: tuple[str, ...] = ("member",)
) -> str:
    if uow.one_or_none(sa.select(t.users.c.id).where(t.users.c.name == name)) is not None:
        raise errors.DuplicateName(type="user", name=name)
    user_id = uuid.uuid4().hex
    uow.execute(
        sa.insert(t.users).values(
            id=user_id,
            name=name,
            password_hash=hash_password(password),
            default_project_id=project_id,
            enabled=True,
            created_at=_now(),
        )
    )
    if project_id is not None:
        for role in roles:
            assign_role(uow, user_id, project_id, role)
    return user_id


def assign_role(uow: UnitOfWork, user_id: str, project_id: str, role: str) -> None:
    exists = uow.one_or_none(
        sa.select(t.role_assignments.c.role).where(
            t.role_assignments.c.user_id == user_id,
            t.role_assignments.c.project_id == project_id,
            t.role_assignments.c.role == role,
        )
    )
    if exists is None:
        uow.execute(sa.insert(t.role_assignments).values(user_id=user_id, project_id=project_id, role=role))


def set_password(uow: UnitOfWork, user_id: str, password: str) -> None:
    result = uow.execute(
        sa.update(t.users).where(t.users.c.id == user_id).values(password_hash=hash_password(password))
    )
    if not result.rowcount:
        raise errors.UserNotFound(user=user_id)


class IdentityService:
    def __init__(self, db: Database, issuer: TokenIssuer, token_ttl: int) -> None:
        self.db = db
        self.issuer = issuer
        self.token_ttl = token_ttl

    def authenticate_password(
        self, *, user_id: str | None, user_name: str | None, password: str, scope: Scope
    ) -> tuple[str, TokenClaims]:
        with self.db.reader() as uow:
            where = t.users.c.id == user_id if user_id else t.users.c.name == user_name
            user = uow.one_or_none(sa.select(t.users).where(where))
            if user is None or not user.enabled or not verify_password(password, user.password_hash):
                raise errors.Unauthorized(msg="The request you have made requires authentication.")
            return self._issue(uow, user.id, user.name, user.default_project_id, scope)

    def authenticate_token(self, token: str, scope: Scope) -> tuple[str, TokenClaims]:
        claims = self.issuer.validate(token)
        if claims is None:
            raise errors.Unauthorized(msg="The request you have made requires authentication.")
        with self.db.reader() as uow:
            if scope.empty and claims.project_id:
                scope = Scope(project_id=claims.project_id)
            return self._issue(uow, claims.user_id, claims.user_name, None, scope)

    def _issue(
        self, uow: UnitOfWork, user_id: str, user_name: str, default_project: str | None, scope: Scope
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
                raise errors.Unauthorized(msg="The request you have made requires authentication.")
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
        )
        return self.issuer.issue(claims), claims
