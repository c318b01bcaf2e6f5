"""Property-based fuzzing of the API from its own OpenAPI document (schemathesis).

Schemathesis reads ``/api/openapi.json`` from the live server, generates requests that fit
the document (positive) and requests that break it (negative), sends them with the admin
token and checks every response: never a 5xx, and each response conforms to the document
(status codes, content types, bodies). The event stream is left out: on a job that is not
final it rightly never ends.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from conveyor.store.protocol import JobFilter

from .conftest import Served

EXAMPLES = 60
"""Requests per generation mode, spread over every operation; keeps the test well under 30 s."""


def prepared(served: Served) -> int:
    """Some jobs to hit: one per job name, one of them finished. Returns a job id."""
    app = served.app
    first = app.get("add").enqueue(x=1, y=2)
    app.get("echo").enqueue(text="hello <b>world</b>")
    app.get("report").enqueue(day="monday")
    return first.id


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_never_answers_5xx_and_keeps_to_its_document(
    served: Served, mode: GenerationMode
) -> None:
    prepared(served)
    auth = {"Authorization": f"Bearer {served.admin_token}"}
    schema = schemathesis.openapi.from_url(f"{served.url}/api/openapi.json", headers=auth)
    schema = schema.exclude(path_regex=r"/events$")
    failures: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=schema.as_strategy(generation_mode=mode))
    def exercise(case: Any) -> None:
        response = case.call(base_url=served.url, headers=auth, timeout=10)
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: "
                            f"{response.text[:300]}")
        assert response.status_code < 500, failures[-1]
        if mode is GenerationMode.POSITIVE:
            case.validate_response(response, headers=auth)

    exercise()
    assert failures == []


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=8,
)
"""Any JSON value, including text with NUL characters and unpaired surrogates."""

OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "queue": st.text(max_size=70) | st.integers(),
        "priority": st.integers() | st.text(max_size=5),
        "delay": st.floats(allow_nan=False) | st.integers() | st.text(max_size=8),
        "tenant": st.text(max_size=10) | st.integers(),
        "unique_key": st.text(max_size=10),
        "notify_url": st.sampled_from(["http://127.0.0.1:9/x", "ftp://x", "", "http://a b"]),
    },
)


def test_enqueueing_known_jobs_with_any_arguments_never_fails_on_the_server(
    served: Served,
) -> None:
    """Real job names (the document's fuzz mostly meets unknown ones) with arbitrary
    arguments and options: a 2xx or a 4xx, never a 5xx, and a 4xx writes nothing."""
    client = served.admin
    arguments = st.one_of(
        st.fixed_dictionaries({"x": JSON_VALUES, "y": JSON_VALUES}),
        st.fixed_dictionaries({"text": st.text(max_size=30)}),
        st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=3),
    )

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(name=st.sampled_from(["add", "echo", "report"]), args=arguments, options=OPTIONS)
    def exercise(name: str, args: dict[str, Any], options: dict[str, Any]) -> None:
        before = served.app.store.count_jobs(JobFilter())
        # json.dumps, not httpx's json=: it writes Infinity, which the server must refuse.
        body = json.dumps({"name": name, "args": args, **options})
        response = client.post(
            "/api/jobs", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert response.json()["error"]
            assert served.app.store.count_jobs(JobFilter()) == before

    exercise()
