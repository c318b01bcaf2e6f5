-- The exactly-once write, for the slots of one schedule or of a scheduler's whole round. A slot
-- another scheduler already committed is skipped; one it wrote but has not committed yet makes
-- this insert wait for that transaction, then skip (or insert, if it rolled back). RETURNING
-- names the slots this transaction won, and only their jobs are inserted after. Rows go in
-- (schedule, slot) order so two schedulers never wait on each other in opposite orders.
INSERT INTO {schema}.conveyor_schedule_slots (schedule, slot, status, manual, fired_by, fired_at)
SELECT f.schedule, f.slot, f.status, f.manual, f.fired_by, now()
FROM unnest(%(schedules)s::text[], %(slots)s::float8[], %(statuses)s::text[],
            %(manuals)s::boolean[], %(bys)s::text[]) AS f(schedule, slot, status, manual, fired_by)
ORDER BY f.schedule, f.slot
ON CONFLICT (schedule, slot) DO NOTHING
RETURNING schedule, slot
