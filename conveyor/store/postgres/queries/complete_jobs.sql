-- complete_and_claim (postgres/claim_round.py) reuses the parts marked below.
-- @part ctes
WITH c AS (
    SELECT *
    FROM jsonb_to_recordset(%(batch)s::jsonb) AS t(
        id bigint, token bigint, kind text, state text, final boolean, attempt_delta integer,
        result text, delay float8, error_type text, error_message text, traceback text,
        outcome text
    )
),
done AS (
    UPDATE {schema}.conveyor_jobs AS j
    -- The target state, its history outcome and the attempt change are decided in Python
    -- (conveyor._lifecycle) and arrive as data; the CASEs below only pick which columns a
    -- kind of completion writes.
    SET state = c.state,
        attempt = j.attempt + c.attempt_delta,
        run_at = CASE WHEN c.kind IN ('retry', 'snoozed')
                      THEN now() + make_interval(secs => c.delay)
                      ELSE j.run_at END,
        finished_at = CASE WHEN c.final THEN now() END,
        lease_until = NULL,
        worker_id = CASE WHEN c.final THEN j.worker_id END,
        result = CASE WHEN c.kind IN ('released', 'snoozed') THEN j.result
                      ELSE c.result::jsonb END,
        -- A snooze is no failure: the job keeps its last error; the history has the reason.
        error_type = CASE WHEN c.kind IN ('released', 'snoozed') THEN j.error_type
                          ELSE c.error_type END,
        error_message = CASE WHEN c.kind IN ('released', 'snoozed') THEN j.error_message
                             ELSE c.error_message END,
        meta = CASE WHEN c.kind = 'snoozed'
                    THEN j.meta || jsonb_build_object(
                        'snoozes', coalesce((j.meta ->> 'snoozes')::integer, 0) + 1)
                    ELSE j.meta END
    FROM c, {schema}.conveyor_jobs AS before
    -- The rows are found by primary key whatever the statistics say, as the claim's lock
    -- step finds its candidates (decision 119): the id list is the only index condition and
    -- the state test an IS TRUE that proves no partial index's predicate. Written as a plain
    -- j.state = 'running', a table never analyzed had the planner hash-join the batch with a
    -- bitmap scan of every running entry of conveyor_jobs_state_queue, where each finished
    -- job leaves a dead one that a bitmap scan never marks: 7 of a 15 ms round after 100,000
    -- jobs (decision 126).
    WHERE j.id = ANY(ARRAY(SELECT id FROM c)) AND j.id = c.id AND before.id = c.id
      AND (j.state = 'running') IS TRUE AND j.token = c.token
    RETURNING j.id, before.attempt, before.worker_id, before.started_at, j.queue, j.limit_key
),
history AS (
    INSERT INTO {schema}.conveyor_attempts (
        job_id, attempt, token, worker_id, started_at, finished_at, outcome,
        error_type, error_message, traceback
    )
    SELECT done.id, done.attempt, c.token, done.worker_id, done.started_at, now(),
           c.outcome,
           c.error_type, c.error_message, c.traceback
    FROM done JOIN c ON c.id = done.id
),
-- A finished limited job frees room that workers elsewhere may be waiting for: wake them.
woken AS (
    SELECT pg_notify(%(channel)s, q.queue)
    FROM (SELECT DISTINCT queue FROM done WHERE limit_key IS NOT NULL) AS q
)
-- @part answer
SELECT done.id FROM done, (SELECT COUNT(*) FROM woken) AS notified
