"""Conveyor on PostgreSQL beside PgQueuer, interleaved in one run, with the ratio of each figure.

Run from the repository root, after ``pip install -e '.[peers]'`` (a benchmark-only extra)::

    .venv/bin/python benchmarks/versus_pgqueuer.py --runs 3
    .venv/bin/python benchmarks/versus_pgqueuer.py --runs 3 --only processed,single
    .venv/bin/python benchmarks/versus_pgqueuer.py --quick            # smoke run

Every figure runs once per system per round, each on a fresh database, the two systems in
alternating order (Conveyor first in odd rounds, PgQueuer first in even ones), so drift in
the box's load falls on both. A ratio is Conveyor / PgQueuer within one round (for latency,
PgQueuer / Conveyor: above 1 means Conveyor is ahead); the table gives medians of the values
and of the per-round ratios.

Conveyor's side is ``bench.py``'s measurement, unchanged; PgQueuer's is ``pgqueuer_peer.py``
(same no-op ``async`` job body, same two worker processes, the same counts and pacing).
Every processing run checks that each job succeeded exactly once on both sides.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import bench
import pgqueuer_peer as peer

FIGURES = ("processed", "single", "bulk", "latency")
LOWER_IS_BETTER = frozenset({"latency_p50_ms", "latency_p99_ms"})


# -- PgQueuer's side ----------------------------------------------------------------------------


@contextlib.contextmanager
def peer_workers(
    url: str, processes: int, mode: str, logs: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``processes`` PgQueuer worker processes, each its own process group; stopped on exit."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for k in range(processes):
            log = (logs / f"pgqueuer-{mode}-{k}-{time.monotonic_ns()}.log").open("wb")
            procs.append(
                subprocess.Popen(
                    [sys.executable, str(bench.HERE / "pgqueuer_peer.py"), "worker", url, mode],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            log.close()
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def peer_single(url: str, settings: bench.Settings) -> dict[str, float]:
    asyncio.run(peer.install(url))
    n = settings.sizes.single
    seconds = asyncio.run(peer.enqueue_single(url, n, bench.WARM_UP))
    return {"single_enqueue_per_s": n / seconds}


def peer_bulk(url: str, settings: bench.Settings, batch: int) -> dict[str, float]:
    asyncio.run(peer.install(url))
    batches = max(1, settings.sizes.bulk_total // batch)
    seconds = asyncio.run(peer.enqueue_bulk(url, batch, batches, bench.WARM_UP))
    return {"bulk_enqueue_per_s": batches * batch / seconds}


def peer_processed(url: str, settings: bench.Settings) -> dict[str, float]:
    asyncio.run(peer.install(url))
    n = settings.sizes.process
    asyncio.run(peer.prefill(url, n))
    t0 = asyncio.run(peer.server_now(url))
    with peer_workers(url, settings.processes, "drain", settings.logs) as procs:
        deadline = time.monotonic() + settings.timeout
        for proc in procs:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        codes = [p.returncode for p in procs]
    if any(codes):
        raise bench.BenchError(f"a PgQueuer worker exited with {codes} (logs in {settings.logs})")
    seen = asyncio.run(peer.outcome(url))
    if (seen["succeeded"], seen["succeeded_distinct"], seen["left_in_queue"]) != (n, n, 0):
        raise bench.BenchError(f"PgQueuer lost or repeated jobs: {n} expected once each: {seen}")
    last, first = seen["last_success"], seen["first_pick"]
    return {"processed_wall_per_s": n / (last - t0), "processed_active_per_s": n / (last - first)}


def peer_latency(url: str, settings: bench.Settings) -> dict[str, float]:
    asyncio.run(peer.install(url))
    n = max(1, round(settings.sizes.latency_seconds / bench.LATENCY_INTERVAL))
    with peer_workers(url, settings.processes, "continuous", settings.logs):
        time.sleep(1.0)  # both processes connected and listening
        warm, _ = asyncio.run(peer.enqueue_paced(url, n, bench.LATENCY_INTERVAL))
        deadline = time.monotonic() + settings.timeout
        while asyncio.run(peer.count_succeeded(url)) < n + 1:
            if time.monotonic() > deadline:
                raise bench.BenchError("PgQueuer did not run every latency job in time")
            time.sleep(bench.POLL)
    waits = asyncio.run(peer.pick_latencies_ms(url, warm))
    if len(waits) != n:
        raise bench.BenchError(f"PgQueuer: {len(waits)} timed jobs picked, expected {n}")
    return {
        "latency_p50_ms": bench.percentile(waits, 0.5),
        "latency_p99_ms": bench.percentile(waits, 0.99),
    }


# -- Conveyor's side (bench.py's measurements) --------------------------------------------------


def _values(samples: list[bench.Sample]) -> dict[str, float]:
    return {s.metric: s.value for s in samples}


def conveyor_single(url: str, settings: bench.Settings) -> dict[str, float]:
    return {"single_enqueue_per_s": _values(bench.measure_single(url, settings))["enqueue_single"]}


def conveyor_bulk(url: str, settings: bench.Settings, batch: int) -> dict[str, float]:
    found = _values(bench.measure_bulk(url, settings, batch))
    return {"bulk_enqueue_per_s": found[f"enqueue_bulk_{batch}"]}


def conveyor_processed(url: str, settings: bench.Settings) -> dict[str, float]:
    # measure_processing raises unless every job succeeded exactly once (succeeded_jobs).
    found = _values(bench.measure_processing(url, settings, "async"))
    return {
        "processed_wall_per_s": found["process_async_wall"],
        "processed_active_per_s": found["process_async_active"],
    }


def conveyor_latency(url: str, settings: bench.Settings) -> dict[str, float]:
    found = _values(bench.measure_latency(url, settings))
    return {"latency_p50_ms": found["latency_p50"], "latency_p99_ms": found["latency_p99"]}


# -- the run ------------------------------------------------------------------------------------


Measure = Callable[[str, bench.Settings], dict[str, float]]


def measures(figure: str, batch: int) -> dict[str, Measure]:
    """Conveyor's and PgQueuer's measurement of ``figure``."""
    if figure == "processed":
        return {"conveyor": conveyor_processed, "pgqueuer": peer_processed}
    if figure == "single":
        return {"conveyor": conveyor_single, "pgqueuer": peer_single}
    if figure == "bulk":
        return {
            "conveyor": lambda u, s: conveyor_bulk(u, s, batch),
            "pgqueuer": lambda u, s: peer_bulk(u, s, batch),
        }
    return {"conveyor": conveyor_latency, "pgqueuer": peer_latency}


def ratio(metric: str, conveyor: float, pgqueuer: float) -> float:
    """How far ahead Conveyor is: above 1 means ahead, whichever way the metric points."""
    return pgqueuer / conveyor if metric in LOWER_IS_BETTER else conveyor / pgqueuer


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds (medians over them)")
    parser.add_argument("--only", default=",".join(FIGURES), help=f"comma list of {FIGURES}")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--bulk-batch", type=int, default=1_000, help="jobs per bulk call")
    parser.add_argument("--processes", type=int, default=2, help="worker processes, both systems")
    parser.add_argument("--concurrency", type=int, default=50, help="Conveyor's per process")
    parser.add_argument("--idle-wait", type=float, default=None, help="see bench.py")
    parser.add_argument("--pg-url", default=bench.DEFAULT_PG_URL)
    args = parser.parse_args(argv)
    args.only = [f.strip() for f in args.only.split(",") if f.strip()]
    unknown = sorted(set(args.only) - set(FIGURES))
    if unknown:
        parser.error(f"--only: unknown figures {unknown}; choose from {', '.join(FIGURES)}")
    return args


@dataclass
class Tally:
    """What the rounds measured: each system's values and each round's ratio, per metric."""

    values: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    ratios: dict[str, list[float]] = field(default_factory=dict)
    loads: list[float] = field(default_factory=list)
    errors: int = 0

    def add(self, round_: int, got: dict[str, dict[str, float]]) -> None:
        """Record one round of one figure and print its lines."""
        for metric, mine in got["conveyor"].items():
            theirs = got["pgqueuer"][metric]
            self.values.setdefault(("conveyor", metric), []).append(mine)
            self.values.setdefault(("pgqueuer", metric), []).append(theirs)
            self.ratios.setdefault(metric, []).append(ratio(metric, mine, theirs))
            line = {"round": round_ + 1, "metric": metric, "conveyor": round(mine, 2),
                    "pgqueuer": round(theirs, 2), "ratio": round(self.ratios[metric][-1], 3)}
            print(json.dumps(line), flush=True)

    def summary(self) -> None:
        """Print the load seen, then each metric's medians and per-round ratios."""
        loads = self.loads
        print(f"\n# load average (1 min) at each measurement: min {min(loads, default=0):.2f}, "
              f"median {statistics.median(loads) if loads else 0:.2f}, "
              f"max {max(loads, default=0):.2f}")
        print(f"{'metric':<26}{'conveyor':>12}{'pgqueuer':>12}{'ratio':>8}   ratios per round")
        for metric, rs in self.ratios.items():
            mine = statistics.median(self.values[("conveyor", metric)])
            theirs = statistics.median(self.values[("pgqueuer", metric)])
            per = ", ".join(f"{r:.2f}" for r in rs)
            print(f"{metric:<26}{mine:>12.1f}{theirs:>12.1f}{statistics.median(rs):>8.2f}   {per}")
        print(
            "(ratio: Conveyor / PgQueuer for rates, PgQueuer / Conveyor for latencies; "
            "> 1 = Conveyor ahead)"
        )


def run_rounds(
    args: argparse.Namespace, target: bench.PostgresTarget, settings: bench.Settings, tally: Tally
) -> None:
    """Each round runs every figure on both systems, which one goes first alternating."""
    for round_ in range(args.runs):
        for figure in args.only:
            pair = measures(figure, args.bulk_batch)
            order = ["conveyor", "pgqueuer"] if round_ % 2 == 0 else ["pgqueuer", "conveyor"]
            got: dict[str, dict[str, float]] = {}
            try:
                for system in order:
                    bench.wait_for_idle(settings.idle_wait)
                    tally.loads.append(os.getloadavg()[0])
                    with target.fresh(f"{figure}-{system}") as url:
                        got[system] = pair[system](url, settings)
            except Exception as exc:  # one failed figure (a server restart) skips only itself
                tally.errors += 1
                print(json.dumps({"round": round_ + 1, "figure": figure, "error": repr(exc)}))
                continue
            tally.add(round_, got)


def main(argv: list[str]) -> int:
    """Run every figure ``--runs`` times per system, interleaved; print runs, medians, ratios."""
    args = parse_args(argv)
    try:
        import pgqueuer  # noqa: F401
    except ImportError:
        raise SystemExit("PgQueuer is not installed: pip install -e '.[peers]'") from None
    signal.signal(signal.SIGTERM, bench._interrupt)
    logs = Path(tempfile.mkdtemp(prefix="conveyor-versus-logs-"))
    settings = bench.Settings(
        sizes=bench.QUICK if args.quick else bench.FULL,
        processes=args.processes,
        concurrency=args.concurrency,
        timeout=60.0 if args.quick else 300.0,
        logs=logs,
        idle_wait=args.idle_wait if args.idle_wait is not None else (0.0 if args.quick else 30.0),
    )
    target = bench.PostgresTarget(args.pg_url)
    from importlib.metadata import version

    bench.print_header(argv, [target], settings, args.runs)
    print(
        f"# pgqueuer {version('pgqueuer')}, asyncpg {version('asyncpg')}, "
        f"bulk batch {args.bulk_batch}"
    )
    tally = Tally()
    try:
        run_rounds(args, target, settings, tally)
    except KeyboardInterrupt:
        bench.progress("interrupted; cleaning up")
    finally:
        try:
            target.cleanup()
        except Exception as exc:
            bench.progress(f"dropping this run's databases failed: {exc}")
    tally.summary()
    if tally.errors:
        print(f"# {tally.errors} figure(s) failed in some round; worker logs are in {logs}")
        return 1
    shutil.rmtree(logs, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
