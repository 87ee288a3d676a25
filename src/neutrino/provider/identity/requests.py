"""The shapes of Keystone's token requests (``POST /v3/auth/tokens``, ``POST /v2.0/tokens``), as pydantic models.

A body of another shape (``{"auth": "x"}``, a token method without its token, a password that is not text) is a
400 naming the field, in Keystone's words (``Invalid input for field 'auth.identity.token'``), before anything
is looked up. Members Keystone knows and Neutrino does not use (a domain's id, ``nocatalog``...) are ignored.

Lengths are Keystone's: ids 64 (``parameter_types.id_string``), project names 64, user names 255, passwords
4,096 (``[identity] max_password_length``), descriptions 255; a string Keystone does not bound (a name or
password in a token request, a token id) takes Neutrino's ceiling of 4,096 (:data:`Text`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from neutrino.provider import errors

#: a string with no tighter limit of Keystone's: Neutrino's ceiling
Text = Annotated[str, Field(max_length=4096)]
#: a free-form member (a scope's domain or system), read only for its presence: the same ceiling on its members
Members = Annotated[dict[str, Any], Field(max_length=4096)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class DomainRef(_Body):
    id: Text | None = None
    name: Text | None = None


class UserRef(_Body):
    id: Text | None = None
    name: Text | None = None
    domain: DomainRef | None = None
    password: Text

    @model_validator(mode="after")
    def _named(self) -> UserRef:
        if not self.id and not self.name:
            raise ValueError("Expecting to find user id or name and password")
        return self


class PasswordMethod(_Body):
    user: UserRef


class TokenMethod(_Body):
    id: Text


class Identity(_Body):
    methods: list[Text] = Field(min_length=1, max_length=4096)
    password: PasswordMethod | None = None
    token: TokenMethod | None = None

    @model_validator(mode="after")
    def _each_method_given(self) -> Identity:
        for method in ("password", "token"):
            if method in self.methods and getattr(self, method) is None:
                raise ValueError(f"the '{method}' method is listed but auth.identity.{method} is missing")
        return self


class ProjectRef(_Body):
    id: Text | None = None
    name: Text | None = None
    domain: DomainRef | None = None


class ScopeV3(_Body):
    project: ProjectRef | None = None
    domain: Members | None = None
    system: Members | None = None


class AuthV3(_Body):
    identity: Identity
    scope: ScopeV3 | Text | None = None


class TokenRequestV3(_Body):
    auth: AuthV3


class PasswordCredentials(_Body):
    username: Text | None = None
    user_id: Text | None = Field(default=None, alias="userId")
    password: Text = ""


class TokenRef(_Body):
    id: Text = ""


class AuthV2(_Body):
    password_credentials: PasswordCredentials | None = Field(default=None, alias="passwordCredentials")
    token: TokenRef | None = None
    tenant_id: Text | None = Field(default=None, alias="tenantId")
    tenant_name: Text | None = Field(default=None, alias="tenantName")


class TokenRequestV2(_Body):
    auth: AuthV2 | None = None


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], body: dict[str, Any]) -> M:
    """``body`` as ``model``, or a 400 naming the first field of the wrong shape."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        reason = str(first["msg"]).removeprefix("Value error, ")
        raise errors.HTTPBadRequest(msg=f"Invalid input for field '{field}': {reason}") from exc


# --- the administration bodies (identity/admin.py) --------------------------------------------------


#: the one domain (``default``): a body naming another is refused, as Keystone refuses an unknown domain
DomainId = Annotated[str, Field(max_length=64, pattern="^default$")]
#: Keystone's ``email``: free text of at most 255 characters (Keystone does not check its form either)
Email = Annotated[str, Field(max_length=255)]


def _no_tags(tags: list[Any]) -> list[Any]:
    if tags:
        raise ValueError("project tags are not supported")
    return tags


#: project tags are not kept: a body with some is refused rather than its tags dropped
NoTags = Annotated[list[Any], AfterValidator(_no_tags), Field(max_length=4096)]


class ProjectCreate(_Body):
    name: str = Field(min_length=1, max_length=64)
    description: str | None = Field(default=None, max_length=255)
    enabled: bool = True
    domain_id: DomainId | None = None
    #: projects are flat: a parent can only be the domain itself
    parent_id: DomainId | None = None
    is_domain: Literal[False] = False
    tags: NoTags = []


class ProjectRequest(_Body):
    project: ProjectCreate


class ProjectChange(_Body):
    name: str | None = Field(default=None, min_length=1, max_length=64)
    description: str | None = Field(default=None, max_length=255)
    enabled: bool | None = None
    tags: NoTags = []


class ProjectChangeRequest(_Body):
    project: ProjectChange


class UserCreate(_Body):
    name: str = Field(min_length=1, max_length=255)
    #: none: the user cannot log in with a password until an admin sets one
    password: str | None = Field(default=None, min_length=1, max_length=4096)
    default_project_id: str | None = Field(default=None, max_length=64)
    enabled: bool = True
    domain_id: DomainId | None = None
    email: Email | None = None
    description: str | None = Field(default=None, max_length=4096)


class UserRequest(_Body):
    user: UserCreate


class UserChange(_Body):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    password: str | None = Field(default=None, min_length=1, max_length=4096)
    enabled: bool | None = None
    default_project_id: str | None = Field(default=None, max_length=64)
    email: Email | None = None
    description: str | None = Field(default=None, max_length=4096)


class UserChangeRequest(_Body):
    user: UserChange


class PasswordChange(_Body):
    original_password: str = Field(default="", max_length=4096)
    password: str = Field(min_length=1, max_length=4096)


class PasswordChangeRequest(_Body):
    user: PasswordChange
