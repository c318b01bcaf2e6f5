-- The exactly-once write. A slot another scheduler already committed is skipped; one it wrote
-- but has not committed yet makes this insert wait for that transaction, then skip (or insert,
-- if it rolled back). RETURNING names the slots this transaction won, and only their jobs are
-- inserted after. Rows go in slot order so two schedulers never wait on each other in opposite
-- orders.
INSERT INTO {schema}.conveyor_schedule_slots (schedule, slot, status, manual, fired_by, fired_at)
SELECT %(schedule)s, f.slot, f.status, f.manual, f.fired_by, now()
FROM unnest(%(slots)s::float8[], %(statuses)s::text[], %(manuals)s::boolean[],
            %(bys)s::text[]) AS f(slot, status, manual, fired_by)
ORDER BY f.slot
ON CONFLICT (schedule, slot) DO NOTHING
RETURNING slot
