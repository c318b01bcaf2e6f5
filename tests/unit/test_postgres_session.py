"""Conveyor's PostgreSQL connections start with ``jit=off`` (issue 14), keeping the URL's own
options, and fall back to connecting without it when a pooler refuses the option."""

from __future__ import annotations

from conveyor.store.postgres.session import JIT_OFF, connect_kwargs, refused_options


def test_the_startup_option_turns_jit_off() -> None:
    kwargs = connect_kwargs("postgresql://u@127.0.0.1/db", autocommit=True)
    assert kwargs == {"autocommit": True, "options": JIT_OFF}


def test_the_urls_own_options_are_kept() -> None:
    url = "postgresql://u@127.0.0.1/db?options=-c%20statement_timeout%3D5000"
    assert connect_kwargs(url)["options"] == f"-c statement_timeout=5000 {JIT_OFF}"


def test_a_url_that_already_turns_jit_off_is_left_alone() -> None:
    assert connect_kwargs("postgresql://u@127.0.0.1/db?options=-c%20jit%3Doff") == {}


def test_a_poolers_refusal_is_recognised() -> None:
    # PgBouncer before 1.20, and 1.20+ for a parameter it does not track.
    assert refused_options(Exception("FATAL: unsupported startup parameter: options"))
    assert refused_options(
        Exception("unsupported options startup parameter: parameter 'jit' is not supported")
    )
    assert not refused_options(Exception('FATAL: password authentication failed for user "u"'))
