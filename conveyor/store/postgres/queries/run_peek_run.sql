-- A run's state without its lock: what a later part of a fan-out reads to decide what to
-- write before it takes the lock (run_plans.expand_stage).
SELECT id, state FROM {schema}.conveyor_runs WHERE id = %(run_id)s
