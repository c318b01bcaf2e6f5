UPDATE {schema}.conveyor_stage_runs AS s
SET state = b.state,
    pending_parents = b.pending,
    items_total = b.total,
    items_left = b."left",
    items_failed = b.failed,
    -- Sent only when it changed (a resume's new template): the longest value of the row.
    template = coalesce(b.template, s.template),
    error = b.error,
    input_override = b.override,
    started_at = CASE WHEN b.started THEN extract(epoch FROM now())::float8
        WHEN b.cleared THEN NULL ELSE s.started_at END,
    finished_at = CASE WHEN b.finished THEN extract(epoch FROM now())::float8
        WHEN b.cleared THEN NULL ELSE s.finished_at END
FROM jsonb_to_recordset(%(batch)s::jsonb) AS b(
    id bigint, state text, pending int, total int, "left" int, failed int, template text,
    error text, override text, started boolean, finished boolean, cleared boolean
)
WHERE s.id = b.id
