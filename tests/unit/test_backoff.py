"""Unit: exponential backoff with full jitter (property tests) and its validation."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor import Backoff, ConfigurationError, Retry, Snooze

bases = st.floats(min_value=0.001, max_value=1e6, allow_nan=False, allow_infinity=False)
factors = st.floats(min_value=1.0, max_value=1e12, allow_nan=False, allow_infinity=False)
retries = st.integers(min_value=-5, max_value=10**6)
huge_retries = st.integers(min_value=10**3, max_value=10**18)


@st.composite
def backoffs(draw: st.DrawFn, jitter: bool | None = None) -> Backoff:
    base = draw(bases)
    cap = base * draw(st.floats(min_value=1.0, max_value=1e6))
    factor = draw(factors)
    return Backoff(
        base=base, cap=cap, factor=factor, jitter=draw(st.booleans()) if jitter is None else jitter
    )


@given(backoffs(), retries, st.integers(min_value=0, max_value=2**32))
def test_delay_is_always_within_zero_and_the_ceiling(b: Backoff, retry: int, seed: int) -> None:
    delay = b.delay(retry, random.Random(seed))
    assert 0.0 <= delay <= b.ceiling(retry)


@given(backoffs(), st.integers(min_value=-5, max_value=500))
def test_ceiling_never_decreases_with_the_retry_number(b: Backoff, retry: int) -> None:
    assert b.ceiling(retry) <= b.ceiling(retry + 1)


@given(backoffs(), retries)
def test_ceiling_stays_between_base_and_cap(b: Backoff, retry: int) -> None:
    ceiling = b.ceiling(retry)
    assert b.base <= ceiling <= b.cap


def expected_ceiling(b: Backoff, retry: int) -> float:
    """min(cap, base * factor ** (retry - 1)), computed in log space so it cannot overflow."""
    exponent = max(0, retry - 1)
    if math.log(b.base) + exponent * math.log(b.factor) >= math.log(b.cap):
        return b.cap
    return min(b.cap, b.base * b.factor**exponent)


@given(backoffs(), retries)
def test_ceiling_is_base_times_factor_powers_capped(b: Backoff, retry: int) -> None:
    assert math.isclose(b.ceiling(retry), expected_ceiling(b, retry), rel_tol=1e-9)


@given(backoffs(), huge_retries, st.integers(min_value=0, max_value=2**32))
def test_huge_retry_numbers_do_not_overflow(b: Backoff, retry: int, seed: int) -> None:
    ceiling = b.ceiling(retry)
    assert math.isfinite(ceiling)
    assert math.isclose(ceiling, expected_ceiling(b, retry), rel_tol=1e-9)
    assert 0.0 <= b.delay(retry, random.Random(seed)) <= b.cap


@given(backoffs(jitter=False), retries)
def test_without_jitter_the_delay_is_the_ceiling(b: Backoff, retry: int) -> None:
    assert b.delay(retry) == b.ceiling(retry)


def test_a_large_factor_reaches_the_cap_without_overflow() -> None:
    # 1e10 ** 40 is beyond the range of a float: the ceiling must saturate at the cap.
    b = Backoff(base=1.0, cap=60.0, factor=1e10)
    assert b.ceiling(40) == 60.0
    assert Backoff(base=1.0, cap=60.0, factor=10**10).ceiling(40) == 60.0


def test_the_ceiling_doubles_from_the_base_by_default() -> None:
    b = Backoff(base=2.0, cap=100.0, jitter=False)
    assert [b.ceiling(n) for n in range(1, 8)] == [2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 100.0]
    assert b.ceiling(0) == 2.0
    assert b.delay(3) == 8.0


def test_jitter_spreads_delays() -> None:
    b = Backoff(base=10.0, cap=10.0)
    rng = random.Random(1)
    delays = {b.delay(1, rng) for _ in range(50)}
    assert len(delays) > 40
    assert min(delays) < 5.0 < max(delays)


def test_a_factor_of_one_is_a_constant_delay() -> None:
    b = Backoff(base=3.0, cap=10.0, factor=1.0, jitter=False)
    assert {b.delay(n) for n in (1, 2, 50, 65, 66, 10**9)} == {3.0}


def test_a_slow_growth_factor_keeps_growing_smoothly_past_many_retries() -> None:
    b = Backoff(base=1.0, cap=1000.0, factor=1.01, jitter=False)
    assert b.ceiling(66) == pytest.approx(1.01**65)
    assert b.ceiling(67) == pytest.approx(1.01**66)


def test_backoff_reads_durations() -> None:
    b = Backoff("5s", "1h", factor=3.0, jitter=False)  # type: ignore[arg-type]
    assert (b.base, b.cap, b.factor, b.jitter) == (5.0, 3600.0, 3.0, False)
    assert Backoff(0.5, "2m").cap == 120.0  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"base": 0}, "base must be positive"),
        ({"base": -1.0}, "base must be positive"),
        ({"base": 10.0, "cap": 5.0}, "cap"),
        ({"factor": 0.5}, "factor must be 1 or more"),
        ({"factor": 0}, "factor must be 1 or more"),
        ({"factor": -2.0}, "factor must be 1 or more"),
    ],
)
def test_invalid_settings_raise_configuration_error(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        Backoff(**kwargs)


@pytest.mark.parametrize("field", ["base", "cap", "factor"])
def test_nan_settings_raise_configuration_error(field: str) -> None:
    with pytest.raises(ConfigurationError, match=field):
        Backoff(**{field: math.nan})


@pytest.mark.parametrize("value", ["soon", "5 s", "-1m"])
def test_backoff_rejects_bad_durations(value: str) -> None:
    with pytest.raises(ConfigurationError, match="backoff base"):
        Backoff(value)  # type: ignore[arg-type]


def test_retry_signal_reads_its_delay() -> None:
    assert Retry(after="30s").after == 30.0
    assert Retry().after == 0.0
    signal = Retry(after=5, reason="rate limited")
    assert (signal.after, signal.reason, str(signal)) == (5.0, "rate limited", "rate limited")
    with pytest.raises(ConfigurationError, match=r"Retry\(after=\.\.\.\) 'soon' is not a duration"):
        Retry(after="soon")


def test_snooze_takes_a_duration_or_an_aware_time() -> None:
    assert Snooze("30s").after == 30.0
    signal = Snooze(timedelta(minutes=2), reason="waiting for the export")
    assert (signal.after, signal.reason, str(signal)) == (
        120.0, "waiting for the export", "waiting for the export",
    )
    soon = Snooze(until=datetime.now(UTC) + timedelta(hours=1)).after
    assert 3590 < soon <= 3600
    assert Snooze(until=datetime(2000, 1, 1, tzinfo=UTC)).after == 0.0  # past: run soon
    with pytest.raises(ConfigurationError, match="either a duration"):
        Snooze()
    with pytest.raises(ConfigurationError, match="either a duration"):
        Snooze(5, until=datetime.now(UTC))
    with pytest.raises(ConfigurationError, match="timezone-aware"):
        Snooze(until=datetime(2030, 1, 1))
    with pytest.raises(ConfigurationError, match=r"Snooze\(after\) 'later' is not a duration"):
        Snooze("later")
