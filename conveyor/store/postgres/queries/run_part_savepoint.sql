-- Before a later part of a fan-out writes its rows without the run's lock: the point its
-- check under the lock rolls back to, should the run have stopped (run_plans.expand_stage).
SAVEPOINT conveyor_fan_out_part
