"""Password hashing with scrypt (stdlib), stored as ``scrypt$n$r$p$salt$hash``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_N, _R, _P = 2**14, 8, 1


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    expected = base64.b64decode(digest)
    actual = hashlib.scrypt(
        password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
    )
    return hmac.compare_digest(expected, actual)


_DUMMY_SALT = b"\0" * 16


def verify_nothing(password: str) -> bool:
    """The work of :func:`verify_password` for a user who does not exist, so that an unknown user name
    answers as slowly as a known one (no enumeration by timing). Always False."""
    hashlib.scrypt(password.encode(), salt=_DUMMY_SALT, n=_N, r=_R, p=_P, dklen=32)
    return False


def generate_password() -> str:
    return secrets.token_urlsafe(18)
