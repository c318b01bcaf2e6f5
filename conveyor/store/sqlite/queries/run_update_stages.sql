UPDATE conveyor_stage_runs AS s
SET state = b.value ->> 'state',
    pending_parents = b.value ->> 'pending',
    items_total = b.value ->> 'total',
    items_left = b.value ->> 'left',
    items_failed = b.value ->> 'failed',
    -- Sent only when it changed (a resume's new template): the longest value of the row.
    template = coalesce(b.value ->> 'template', s.template),
    error = b.value ->> 'error',
    input_override = b.value ->> 'override',
    started_at = CASE WHEN b.value ->> 'started' THEN :now
        WHEN b.value ->> 'cleared' THEN NULL ELSE s.started_at END,
    finished_at = CASE WHEN b.value ->> 'finished' THEN :now
        WHEN b.value ->> 'cleared' THEN NULL ELSE s.finished_at END
FROM json_each(:batch) AS b
WHERE s.id = b.value ->> 'id'
