-- Judged slots only: a slot without a verdict is still waiting for its run or its grace.
-- Oldest judgements first, along conveyor_schedule_slots_judged.
DELETE FROM {schema}.conveyor_schedule_slots
WHERE (schedule, slot) IN (
    SELECT schedule, slot FROM {schema}.conveyor_schedule_slots
    WHERE verdict IS NOT NULL AND judged_at < now() - make_interval(secs => %(keep)s)
    ORDER BY judged_at
    LIMIT %(limit)s
)
