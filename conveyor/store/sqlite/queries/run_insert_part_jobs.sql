-- A fan-out part's jobs (decision 136): the stage's template bound once, each job's arguments
-- made here from its item's JSON text, as run_graph.stage_args and given_json make them in
-- Python ({"run_id": R, "stage_run_id": S, "item": I, "given": {"item_input": X}}, without
-- "given" where that would be over :inline_max characters). :items is a JSON array of the
-- part's item texts; the Python that built each job's arguments held the write lock as long
-- as the insert itself. Ids in item order (ORDER BY key).
INSERT INTO conveyor_jobs (
    queue, name, args, state, priority, max_attempts, run_at, created_at, timeout, tenant, meta,
    limit_key, limit_max, rate_key, rate_max, rate_per
)
SELECT :queue, :name,
    '{"run_id": ' || :run_id || ', "stage_run_id": ' || :stage_run_id || ', "item": '
        || (:first + j.key)
        || CASE WHEN length(j.value) + 16 <= :inline_max
            THEN ', "given": {"item_input": ' || j.value || '}}' ELSE '}' END,
    :due_state, :priority, :max_attempts, :now, :now, :timeout, :tenant, :meta, :limit_key,
    :limit_max, :rate_key, :rate_max, :rate_per
FROM json_each(:items) AS j
ORDER BY j.key
RETURNING id
