"""How long a test waits for a job that fails three times, then succeeds: ``drain`` following
the real backoff (the old behaviour, still ``skip_backoff=False``), ``drain`` skipping it, and
inline mode (each enqueue runs its job). SQLite in a temporary folder, in this process.

    .venv/bin/python benchmarks/test_modes.py [--runs 7]

Prints one JSON line per variant: the median, min and max seconds of ``--runs`` interleaved
runs (one of each variant per round, so the box's noise hits them alike).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conveyor import Backoff, Conveyor
from conveyor.testing import drain

FAILURES = 3


def _app(folder: Path, name: str) -> tuple[Conveyor, Any]:
    app = Conveyor(f"sqlite:///{folder / (name + '.db')}")
    left = {"n": FAILURES}

    # The default backoff's first waits (about 1, 2 and 4 seconds, jittered), capped at 1s so
    # the following variant stays within drain's 5-second horizon.
    @app.job(name="flaky", retries=FAILURES, backoff=Backoff(base=0.5, cap=1.0))
    def flaky(ctx: Any) -> int:
        if left["n"] > 0:
            left["n"] -= 1
            raise RuntimeError("not yet")
        return int(ctx.attempt)

    return app, flaky


def following(folder: Path) -> float:
    app, flaky = _app(folder, f"follow{time.monotonic_ns()}")
    flaky.enqueue()
    started = time.perf_counter()
    assert drain(app).succeeded == 1
    elapsed = time.perf_counter() - started
    app.close()
    return elapsed


def skipping(folder: Path) -> float:
    app, flaky = _app(folder, f"skip{time.monotonic_ns()}")
    flaky.enqueue()
    started = time.perf_counter()
    assert drain(app, skip_backoff=True).succeeded == 1
    elapsed = time.perf_counter() - started
    app.close()
    return elapsed


def inline(folder: Path) -> float:
    app, flaky = _app(folder, f"inline{time.monotonic_ns()}")
    app.store  # noqa: B018 - open and migrate before timing, as the others do
    with app.testing(mode="inline"):
        started = time.perf_counter()
        handle = flaky.enqueue()
        elapsed = time.perf_counter() - started
    assert handle.result(timeout=0) == FAILURES + 1
    app.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    variants: dict[str, Callable[[Path], float]] = {
        "drain, following backoff": following,
        "drain(skip_backoff=True)": skipping,
        "inline mode (enqueue returns after the job)": inline,
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(runs):
            for name, variant in variants.items():
                times[name].append(variant(Path(folder)))
    for name, values in times.items():
        print(json.dumps({
            "variant": name, "runs": runs, "median_s": round(statistics.median(values), 4),
            "min_s": round(min(values), 4), "max_s": round(max(values), 4),
        }))


if __name__ == "__main__":
    main()
