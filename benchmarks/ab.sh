#!/bin/bash
# Interleaved A/B of bench.py between two exported trees, N rounds:
#   git archive BASE | tar -x -C /tmp/ab-base; git archive NEW | tar -x -C /tmp/ab-new
#   benchmarks/ab.sh 2 --quick --only process_async,process_sync,latency
# AB_SCRIPT names another benchmark that prints bench.py's JSON lines (store, metric, value),
# e.g. AB_SCRIPT=benchmarks/pipelines.py benchmarks/ab.sh 3 --stores sqlite --only fan_throughput --runs 1
# AB_ROOT=/tmp/mine- reads /tmp/mine-base and /tmp/mine-new instead (several people may be
# running A/Bs on one box); AB_SIDES="a b c" compares more than two trees.
# Each run imports its own tree (PYTHONPATH) and prints "side round store metric value unit",
# then the run's CPU per job where the benchmark measured it.
set -uo pipefail
VENV_PY="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python"
ROOT="${AB_ROOT:-/tmp/ab-}"
N=$1; shift
for i in $(seq 1 "$N"); do
  for side in ${AB_SIDES:-base new}; do
    cd "$ROOT$side" || exit 1
    PYTHONPATH="$ROOT$side" "$VENV_PY" "${AB_SCRIPT:-benchmarks/bench.py}" "$@" 2>/dev/null |
      grep '^{' |
      "$VENV_PY" -c "
import json, sys
for line in sys.stdin:
    d = json.loads(line)
    cpu = [r.get('bench_cpu_us_per_job') for r in d.get('runs_detail', [])]
    cpu = [c for c in cpu if c is not None]
    print('$side', $i, d['store'], d['metric'], round(d['value'], 2), d.get('unit', ''),
          f'cpu_us_per_job={cpu[0]}' if cpu else '')
"
  done
done
