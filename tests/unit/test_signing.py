"""Webhook signatures: what a receiver accepts and what it must refuse."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from conveyor.monitor.signing import sign, verify

SECRET = "s3cret"
BODY = b'{"incident_id": 7, "kind": "firing"}'
AT = 1_700_000_000


def test_header_has_timestamp_and_hmac_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{AT}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY, AT) == f"t={AT},v1={expected}"


def test_a_fresh_signature_verifies() -> None:
    header = sign(SECRET, BODY, AT)
    assert verify(SECRET, header, BODY, now=AT + 5)


def test_clock_skew_within_tolerance_is_accepted_either_way() -> None:
    header = sign(SECRET, BODY, AT)
    assert verify(SECRET, header, BODY, now=AT - 299)
    assert verify(SECRET, header, BODY, now=AT + 300)
    assert verify(SECRET, header, BODY, now=AT + 30, tolerance=30)


@pytest.mark.parametrize("now", [AT + 301, AT - 301, AT + 86_400])
def test_a_stale_or_future_timestamp_is_refused(now: float) -> None:
    header = sign(SECRET, BODY, AT)
    assert not verify(SECRET, header, BODY, now=now)


def test_a_wrong_secret_is_refused() -> None:
    header = sign("other secret", BODY, AT)
    assert not verify(SECRET, header, BODY, now=AT)


def test_a_changed_body_is_refused() -> None:
    header = sign(SECRET, BODY, AT)
    assert not verify(SECRET, header, BODY + b" ", now=AT)


def test_a_replayed_digest_with_a_new_timestamp_is_refused() -> None:
    # Moving t forward to dodge the staleness check breaks the digest, which covers t.
    digest = sign(SECRET, BODY, AT).partition("v1=")[2]
    assert not verify(SECRET, f"t={AT + 1000},v1={digest}", BODY, now=AT + 1000)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        f"t={AT}",
        "v1=" + "0" * 64,
        f"t=abc,v1={'0' * 64}",
        f"t=-{AT},v1={'0' * 64}",
        f"t={AT},v1=xyz",
        f"t={AT},v1={'A' * 64}",
        f"t={AT},v1={'0' * 63}",
        f"t={AT},t={AT},v1={'0' * 64}",
        f"t={AT};v1={'0' * 64}",
    ],
)
def test_malformed_headers_are_refused(header: str) -> None:
    assert not verify(SECRET, header, BODY, now=AT)


def test_any_of_several_v1_digests_may_match_during_secret_rotation() -> None:
    old = sign("old secret", BODY, AT).partition("v1=")[2]
    new = sign(SECRET, BODY, AT).partition("v1=")[2]
    header = f"t={AT},v1={old},v1={new}"
    assert verify(SECRET, header, BODY, now=AT)
    assert verify("old secret", header, BODY, now=AT)
    assert not verify("third secret", header, BODY, now=AT)


def test_unknown_schemes_are_ignored_next_to_v1() -> None:
    header = sign(SECRET, BODY, AT) + ",v2=whatever"
    assert verify(SECRET, header, BODY, now=AT)
