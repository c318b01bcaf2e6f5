-- Each element of the batch is an array: [id, state, pending, total, left, failed, template,
-- error, override, started, finished, cleared] (SQLiteRunDialect.write_back).
UPDATE conveyor_stage_runs AS s
SET state = b.value ->> 1,
    pending_parents = b.value ->> 2,
    items_total = b.value ->> 3,
    items_left = b.value ->> 4,
    items_failed = b.value ->> 5,
    -- Sent only when it changed (a resume's new template): the longest value of the row.
    template = coalesce(b.value ->> 6, s.template),
    error = b.value ->> 7,
    input_override = b.value ->> 8,
    started_at = CASE WHEN b.value ->> 9 THEN :now
        WHEN b.value ->> 11 THEN NULL ELSE s.started_at END,
    finished_at = CASE WHEN b.value ->> 10 THEN :now
        WHEN b.value ->> 11 THEN NULL ELSE s.finished_at END
FROM json_each(:batch) AS b
WHERE s.id = b.value ->> 0
