-- A run's state without its lock: what a later part of a fan-out reads to decide what to
-- write before it takes the lock (run_plans.expand_stage). On SQLite the write transaction
-- is every run's lock already.
SELECT id, state FROM conveyor_runs WHERE id = :run_id
