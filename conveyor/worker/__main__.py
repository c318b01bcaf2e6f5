"""``python -m conveyor.worker APP_SPEC WORKER_ID CONFIG_JSON``: one supervised worker process."""

import sys

from conveyor.worker.child import exit_process, main

exit_process(main(sys.argv[1:]))
