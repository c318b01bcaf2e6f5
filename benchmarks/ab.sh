#!/bin/bash
# Interleaved A/B of bench.py between two exported trees, N rounds:
#   git archive BASE | tar -x -C /tmp/ab-base; git archive NEW | tar -x -C /tmp/ab-new
#   benchmarks/ab.sh 2 --quick --only process_async,process_sync,latency
# Each run imports its own tree (PYTHONPATH) and prints "side round store metric value unit".
set -uo pipefail
VENV_PY="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python"
N=$1; shift
for i in $(seq 1 "$N"); do
  for side in base new; do
    cd "/tmp/ab-$side" || exit 1
    PYTHONPATH="/tmp/ab-$side" "$VENV_PY" benchmarks/bench.py "$@" 2>/dev/null | grep '^{' |
      "$VENV_PY" -c "
import json, sys
for line in sys.stdin:
    d = json.loads(line)
    print('$side', $i, d['store'], d['metric'], round(d['value'], 2), d['unit'])
"
  done
done
