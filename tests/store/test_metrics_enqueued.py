"""``AttemptMetrics`` counts the jobs a process enqueues (sync and async), labelled by queue
and job name, and by tenant only when asked; read from a scrape of its registry, on both
stores."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from conveyor import Conveyor
from conveyor.middleware import MiddlewareChain
from conveyor.testing import drain
from conveyor.worker.metrics import AttemptMetrics

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def scrape(registry: CollectorRegistry) -> Samples:
    """Every sample of the registry's exposition text, by name and sorted labels."""
    samples: Samples = defaultdict(dict)
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            samples[sample.name][tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def declare(app: Conveyor) -> tuple[Any, Any]:
    @app.job(name="mail", queue="emails")
    def mail(ctx: Any, to: str) -> None: ...

    @app.job(name="export", queue="exports")
    async def export(ctx: Any, account: int) -> None: ...

    return mail, export


def test_enqueued_jobs_are_counted_by_queue_and_name(store_url: str) -> None:
    registry = CollectorRegistry()
    app = Conveyor(store_url, middleware=[AttemptMetrics(registry)])
    try:
        mail, export = declare(app)
        for n in range(3):
            mail.enqueue(to=f"u{n}@example.com", tenant="acme" if n else None)

        async def produce() -> None:
            await export.enqueue_async(account=1)
            await export.enqueue_async(account=2, tenant="acme")

        asyncio.run(produce())
        drain(app)
        samples = scrape(registry)
        assert samples["conveyor_jobs_enqueued_total"] == {
            (("job", "mail"), ("queue", "emails")): 3.0,
            (("job", "export"), ("queue", "exports")): 2.0,
        }
        assert sum(samples["conveyor_attempts_total"].values()) == 5
    finally:
        app.close()


def test_tenant_labels_are_opt_in(store_url: str) -> None:
    registry = CollectorRegistry()
    app = Conveyor(store_url, middleware=[AttemptMetrics(registry, tenant=True)])
    try:
        mail, _ = declare(app)
        mail.enqueue(to="a@example.com", tenant="acme")
        mail.enqueue(to="b@example.com", tenant="acme")
        mail.enqueue(to="c@example.com")
        drain(app)
        samples = scrape(registry)
        assert samples["conveyor_jobs_enqueued_total"] == {
            (("job", "mail"), ("queue", "emails"), ("tenant", "acme")): 2.0,
            (("job", "mail"), ("queue", "emails"), ("tenant", "")): 1.0,
        }
        attempts = samples["conveyor_attempts_total"]
        assert attempts[
            (("job", "mail"), ("outcome", "succeeded"), ("queue", "emails"), ("tenant", "acme"))
        ] == 2.0
    finally:
        app.close()


def test_a_worker_observes_enqueues_without_counting_attempts_twice() -> None:
    registry = CollectorRegistry()
    metrics = AttemptMetrics(registry)
    chain = MiddlewareChain()
    assert not chain
    chain.observe_enqueues(metrics)
    chain.observe_enqueues(metrics)  # once only
    assert chain and chain.enqueue_first == (metrics,) and chain.items == ()
