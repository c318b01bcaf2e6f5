-- Every writer of a run's stage rows holds its run's row lock first (see run_plans.py).
SELECT id, state FROM {schema}.conveyor_runs WHERE id = %(run_id)s FOR UPDATE
