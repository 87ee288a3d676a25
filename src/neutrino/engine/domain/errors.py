"""Domain errors, grouped by category.

    EngineError
     ├── NotFound        a referenced entity does not exist          -> 404
     ├── BadRequest      the request itself is invalid               -> 400
     ├── Conflict        it collides with existing state (names...)  -> 409
     │    └── InUse      the entity is still used by others          -> 409
     ├── ProviderFailure the external network provider failed        -> 400 (oVirt answers 400 here)
     └── HostFailure     a host agent failed                         -> 400

Messages follow oVirt's form ``Cannot <action> <Type>. <reason>``; the API layer maps categories to
HTTP statuses with one table (``neutrino.engine.api.faults``).
"""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine reports to a user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(EngineError):
    pass


class BadRequest(EngineError):
    pass


class Conflict(EngineError):
    pass


class InUse(Conflict):
    pass


class ProviderFailure(EngineError):
    pass


class HostFailure(EngineError):
    pass


CATEGORIES: tuple[type[EngineError], ...] = (
    InUse,
    NotFound,
    BadRequest,
    Conflict,
    ProviderFailure,
    HostFailure,
)


def reworded(exc: EngineError, message: str) -> EngineError:
    """The same category of error with a message that says more (e.g. which vNIC failed); chain it with ``from``."""
    category = next((c for c in CATEGORIES if isinstance(exc, c)), EngineError)
    return category(message)


def cannot(action: str, type_: str, reason: str) -> str:
    """oVirt's message form: ``Cannot add Network. <reason>``."""
    return f"Cannot {action} {type_}. {reason}"


def name_in_use(action: str, type_: str) -> Conflict:
    return Conflict(
        cannot(
            action, type_, f"The {type_} name is already in use, please choose a unique name and try again."
        )
    )


def used_by(action: str, type_: str, what: str, users: list[str], noun: str = "virtual machine") -> InUse:
    """oVirt's "is used by" family: one user names it, several are counted."""
    names = sorted(set(users))
    if len(names) == 1:
        return InUse(
            cannot(
                action,
                type_,
                f"This {what} is used by {noun}: {names[0]}\n - Please remove it from this {noun} and try again.",
            )
        )
    return InUse(
        cannot(
            action,
            type_,
            f"This {what} is used by {noun}s: ({len(names)}): {', '.join(names)}\n"
            f" - Please detach {noun}s using this {what} and try again.",
        )
    )


def not_found(type_: str, key: str) -> NotFound:
    return NotFound(f"{type_} '{key}' was not found.")
