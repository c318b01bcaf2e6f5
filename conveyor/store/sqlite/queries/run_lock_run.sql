-- SQLite has one writer at a time: the write transaction is the run's lock.
SELECT id, state FROM conveyor_runs WHERE id = :run_id
