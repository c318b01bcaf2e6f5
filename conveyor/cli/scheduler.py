"""``conveyor scheduler --app myapp:app``: cron that never scales away.

The scheduler and the monitor run inside every worker by default, so a fleet scaled to zero
fires no schedule and judges no slot. This command runs them (and the deliverer that sends the
monitor's alerts) as one small always-on process, beside workers started with
``--no-scheduler --no-monitor`` that may come and go with the backlog. Several copies may run:
the slot ledger writes each slot once and the monitor's lease keeps one monitor acting.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import suppress

import click

from conveyor._logformat import setup_logging
from conveyor._scaling import SCHEDULER_LEASE
from conveyor.app import Conveyor
from conveyor.cli.options import Target, target_options
from conveyor.errors import StoreUnavailableError
from conveyor.monitor.service import default_holder

log = logging.getLogger("conveyor.scheduler")

LEASE_EVERY = 10.0
"""Seconds between renewals of the scheduler's lease; it lasts three of them."""


@click.command(short_help="Run the scheduler and the monitor on their own, without workers.")
@click.option("--monitor/--no-monitor", default=True, show_default=True,
              help="Also run the monitor (missed slots, check-ins, alert rules) and send alerts.")
@target_options
def scheduler(target: Target, monitor: bool) -> None:
    """Fire your app's schedules (needs --app) until SIGINT or SIGTERM.

    Use it when workers run with --no-scheduler (for instance when they scale to zero): cron
    keeps firing and missed runs keep being judged while no worker is up. Each slot is written
    once however many schedulers run, so a second copy is a safe spare.
    """
    app = target.app()
    setup_logging("scheduler")
    monitoring = monitor and app.monitor_config.enabled
    click.echo(
        "scheduler running" + (" with the monitor" if monitoring else "")
        + f" on {target.url()}; Ctrl-C or SIGTERM stops it"
    )
    asyncio.run(_serve(app, monitoring=monitoring))
    click.echo("scheduler stopped")


async def _serve(app: Conveyor, *, monitoring: bool) -> None:
    """Run the services until a signal sets ``stop``; each finishes its round first."""
    from conveyor.worker.outbox_service import DeliveryService
    from conveyor.worker.scheduler_and_monitor import MonitorService, SchedulerService

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    services = [SchedulerService(app).run(stop), _hold_lease(app, stop)]
    if monitoring:
        services.append(MonitorService(app, default_holder()).run(stop))
        services.append(DeliveryService(app, alerts=True).run(stop))
    await asyncio.gather(*services)


async def _hold_lease(app: Conveyor, stop: asyncio.Event) -> None:
    """Hold the scheduler's lease while running, so that ``conveyor scale-hint`` knows cron
    does not need a worker; give it up on the way out."""
    holder = default_holder()
    while not stop.is_set():
        try:
            await asyncio.to_thread(app.store.set_lease, SCHEDULER_LEASE, holder, 3 * LEASE_EVERY)
        except StoreUnavailableError as exc:
            log.warning("scheduler: could not renew its lease, will retry: %s", exc)
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), LEASE_EVERY)
    with suppress(StoreUnavailableError):  # else it runs out by itself
        await asyncio.to_thread(app.store.set_lease, SCHEDULER_LEASE, holder, None)
