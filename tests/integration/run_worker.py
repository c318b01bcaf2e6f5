"""Start a supervised worker with any WorkerConfig: ``python run_worker.py APP CONFIG_JSON``."""

import json
import sys

from conveyor.worker import WorkerConfig, run_worker

if __name__ == "__main__":
    raw = json.loads(sys.argv[2])
    raw["queues"] = tuple(raw.get("queues", ()))
    sys.exit(run_worker(sys.argv[1], WorkerConfig(**raw)))
