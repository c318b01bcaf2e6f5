"""``conveyor worker --metrics-port``: exact per-attempt counts from two worker processes."""

from __future__ import annotations

from collections import defaultdict

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conveyor.models import JobState
from conveyor.store.protocol import JobFilter
from conveyor.testing import eventually

from .conftest import Workers, load_itapp
from .test_health import DIRECT, free_port

pytestmark = pytest.mark.slow

FINAL = (JobState.SUCCEEDED, JobState.DEAD)


def scrape(port: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample of ``/metrics`` by name, then by its sorted labels."""
    with DIRECT.open(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name][tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def test_a_known_workload_gives_exact_counts(workers: Workers) -> None:
    port = free_port()
    app = load_itapp(f"metrics_{port}", "metricsapp")
    workers.start(
        "metricsapp:app", queues=["mfast", "mslow"], processes=2, concurrency=2,
        metrics_port=port, metrics_host="127.0.0.1",
    )

    def both_registered() -> bool:
        assert len(app.store.live_workers(stale_after=60)) == 2
        return True

    eventually(both_registered, timeout=30, interval=0.1)
    app.get("m_ok").enqueue_many([{"n": n} for n in range(40)])
    for _ in range(3):
        app.get("m_doomed").enqueue()
    for _ in range(2):
        app.get("m_slow").enqueue()
        app.get("m_flaky").enqueue()
    app.get("m_parent").enqueue()  # which enqueues one more m_ok from a worker

    def all_final() -> bool:
        done = app.store.count_jobs(JobFilter(states=FINAL))
        assert done == 49, done
        return True

    eventually(all_final, timeout=40, interval=0.1)

    def counted() -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
        samples = scrape(port)
        total = sum(samples["conveyor_attempts_total"].values())
        assert total == 51, samples["conveyor_attempts_total"]
        return samples

    # The last completions' metrics are recorded right after their completions are queued.
    samples = eventually(counted, timeout=10, interval=0.1)
    attempts = samples["conveyor_attempts_total"]

    def count(queue: str, job: str, outcome: str) -> float:
        return attempts.get((("job", job), ("outcome", outcome), ("queue", queue)), 0.0)

    assert count("mfast", "m_ok", "succeeded") == 41
    assert count("mfast", "m_parent", "succeeded") == 1
    # Only what the worker processes enqueued: this test's enqueues are not theirs.
    assert samples["conveyor_jobs_enqueued_total"] == {(("job", "m_ok"), ("queue", "mfast")): 1.0}
    assert count("mfast", "m_doomed", "dead") == 3
    assert count("mslow", "m_slow", "dead") == 2
    assert count("mslow", "m_flaky", "retrying") == 2
    assert count("mslow", "m_flaky", "succeeded") == 2
    timed_out = samples["conveyor_attempts_timed_out_total"]
    assert timed_out == {(("job", "m_slow"), ("queue", "mslow")): 2.0}
    durations = samples["conveyor_attempt_duration_seconds_count"]
    assert durations[(("job", "m_ok"), ("queue", "mfast"))] == 41
    assert durations[(("job", "m_flaky"), ("queue", "mslow"))] == 4
    assert sum(samples["conveyor_queue_wait_seconds_count"].values()) == 51
    slow = samples["conveyor_attempt_duration_seconds_bucket"]
    assert slow[(("job", "m_slow"), ("le", "0.1"), ("queue", "mslow"))] == 0
    assert slow[(("job", "m_slow"), ("le", "0.25"), ("queue", "mslow"))] == 2
    # Both processes ran jobs: the scrape adds up their values.
    workers_seen = {a.worker_id for j in app.store.list_jobs(JobFilter()) for a in
                    app.store.list_attempts(j.id)}
    assert len(workers_seen) == 2
    app.close()
