"""Security group rule normalization, error categories, signed tokens, password hashes."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from neutrino.provider import errors
from neutrino.provider.api.security_group_rules import SecurityGroupRuleService
from neutrino.provider.identity.passwords import hash_password, verify_password
from neutrino.provider.identity.tokens import RevocationEvent, TokenClaims, TokenIssuer


def rule(**given: Any) -> dict[str, Any]:
    base = dict(direction="ingress", ethertype="IPv4", protocol=None, port_range_min=None, port_range_max=None,
                remote_ip_prefix=None, remote_group_id=None)  # fmt: skip
    return SecurityGroupRuleService.normalize({**base, **given})


def test_rule_normalization() -> None:
    assert rule(protocol="tcp", port_range_min=22, port_range_max=22)["port_range_max"] == 22
    assert (
        rule(protocol="tcp", port_range_min=1, port_range_max=65535)["port_range_min"] is None
    )  # the whole range
    assert rule(protocol="icmpv6", ethertype="IPv6")["protocol"] == "ipv6-icmp"
    assert rule(remote_ip_prefix="10.1.2.3/8")["remote_ip_prefix"] == "10.0.0.0/8"
    assert rule(protocol="any")["protocol"] is None
    assert rule(protocol="icmp", port_range_min=8, port_range_max=0)["port_range_min"] == 8


@pytest.mark.parametrize(
    ("given", "error"),
    [
        ({"port_range_min": 1}, errors.SecurityGroupProtocolRequiredWithPorts),
        ({"protocol": "tcp", "port_range_min": 9, "port_range_max": 1}, errors.SecurityGroupInvalidPortRange),
        (
            {"protocol": "tcp", "port_range_min": 22},
            errors.SecurityGroupInvalidPortRange,
        ),  # Neutron wants both
        ({"protocol": "ipv6-icmp"}, errors.SecurityGroupEthertypeConflictWithProtocol),
        ({"protocol": "icmp", "port_range_min": 256}, errors.SecurityGroupInvalidIcmpValue),
        ({"protocol": "gre", "port_range_min": 1}, errors.InvalidInput),
        ({"protocol": "carrier-pigeon"}, errors.SecurityGroupRuleInvalidProtocol),
        ({"remote_ip_prefix": "fd00::/64"}, errors.SecurityGroupRuleParameterConflict),
        (
            {"remote_ip_prefix": "10.0.0.0/8", "remote_group_id": "g"},
            errors.SecurityGroupRemoteGroupAndRemoteIpPrefix,
        ),
    ],
)
def test_rule_errors(given: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        rule(**given)


def test_categories_map_to_statuses() -> None:
    assert errors.status_of(errors.NetworkNotFound(net_id="x")) == 404
    assert errors.status_of(errors.NetworkInUse(net_id="x")) == 409
    assert errors.status_of(errors.IpAddressGenerationFailure(net_id="x")) == 409
    assert errors.status_of(errors.InvalidAttribute(attr="a", reason="r")) == 400
    assert errors.status_of(errors.PolicyNotAuthorized(action="a")) == 403
    assert errors.status_of(errors.NoNetworkAvailable()) == 503
    body = errors.neutron_body(errors.PortNotFound(port_id="p1"))
    assert body == {
        "NeutronError": {"type": "PortNotFound", "message": "Port p1 could not be found.", "detail": ""}
    }
    assert (
        errors.neutron_body(errors.InvalidAttribute(attr="a", reason="r"))["NeutronError"]["type"]
        == "HTTPBadRequest"
    )


def _claims(ttl: float = 60) -> TokenClaims:
    now = time.time()
    return TokenClaims("u", "user", "p", "proj", ("member",), now, now + ttl, "audit")


def test_tokens() -> None:
    issuer = TokenIssuer(b"k" * 32)
    token = issuer.issue(_claims())
    claims = issuer.validate(token)
    assert claims is not None and (claims.user_id, claims.project_id, claims.roles) == ("u", "p", ("member",))
    assert TokenIssuer(b"other" * 8).validate(token) is None
    body, _, sig = token.partition(".")
    assert issuer.validate(body[:-2] + "xx." + sig) is None
    assert issuer.validate(issuer.issue(_claims(ttl=-1))) is None
    assert issuer.validate(issuer.issue(_claims(ttl=-1)), expired_window=60) is not None  # allow_expired


class _Uow:
    """What Revocations.record needs of a unit of work: a statement sink and commit callbacks."""

    def __init__(self) -> None:
        self.statements: list[object] = []
        self.callbacks: list[Callable[[], None]] = []

    def execute(self, statement: object) -> None:
        self.statements.append(statement)

    def after_commit(self, callback: Callable[[], None]) -> None:
        self.callbacks.append(callback)

    def commit(self) -> None:
        for callback in self.callbacks:
            callback()


def test_revocation_events_kill_what_they_name_issued_until_their_time() -> None:
    issuer = TokenIssuer(b"k" * 32)
    before = _claims()
    token = issuer.issue(before)
    other_user = issuer.issue(replace(before, user_id="u2", audit_id="a2"))
    cut = before.issued_at + 1
    after = issuer.issue(replace(before, issued_at=cut + 1, audit_id="later"))

    uow = _Uow()
    issuer.revocations.record(uow, RevocationEvent(issued_before=cut, expires_at=cut + 60, user_id="u"))  # type: ignore[arg-type]
    assert issuer.validate(token) is not None  # not before the unit of work commits
    uow.commit()
    assert len(uow.statements) == 1
    assert issuer.validate(token) is None
    assert issuer.validate(other_user) is not None  # another user
    assert issuer.validate(after) is not None  # issued after the event (a new password's token)

    by_project, by_audit = _Uow(), _Uow()
    issuer.revocations.record(
        by_project, RevocationEvent(issued_before=cut, expires_at=cut + 60, project_id="p")
    )  # type: ignore[arg-type]
    issuer.revocations.record(
        by_audit, RevocationEvent(issued_before=cut + 5, expires_at=cut + 60, audit_id="later")
    )  # type: ignore[arg-type]
    by_project.commit()
    assert issuer.validate(other_user) is None
    by_audit.commit()
    assert issuer.validate(after) is None


def test_passwords() -> None:
    stored = hash_password("s3cret")
    assert stored.startswith("scrypt$") and "s3cret" not in stored
    assert verify_password("s3cret", stored) and not verify_password("nope", stored)
    assert not verify_password("s3cret", "garbage")
