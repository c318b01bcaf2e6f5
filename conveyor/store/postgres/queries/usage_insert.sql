-- A batch of usage rows as one statement: the rows arrive as one JSON array of arrays, in the
-- column order below. Run once per row, the insert cost the server about 9 us a row (an
-- execution each, with its probe) and the client 8 (a parameter set each); as one array of
-- arrays 6 and 1.4 (decision 140). A row of a job that is gone (deleted between the attempt's
-- end and this batch) is dropped.
INSERT INTO {schema}.conveyor_usage
    (job_id, attempt, name, queue, tenant, finished_at, wall, cpu, memory_mb, units_json)
SELECT (r ->> 0)::bigint, (r ->> 1)::integer, r ->> 2, r ->> 3, r ->> 4,
       (r ->> 5)::float8, (r ->> 6)::float8, (r ->> 7)::float8, (r ->> 8)::float8, r ->> 9
FROM jsonb_array_elements(%(rows)s::jsonb) AS r
WHERE EXISTS (SELECT 1 FROM {schema}.conveyor_jobs AS j WHERE j.id = (r ->> 0)::bigint)
