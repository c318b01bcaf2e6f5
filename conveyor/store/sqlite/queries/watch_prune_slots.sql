-- Judged slots only: a slot without a verdict is still waiting for its run or its grace.
-- Oldest judgements first, along conveyor_schedule_slots_judged.
DELETE FROM conveyor_schedule_slots
WHERE (schedule, slot) IN (
    SELECT schedule, slot FROM conveyor_schedule_slots
    WHERE verdict IS NOT NULL AND judged_at < :cutoff
    ORDER BY judged_at
    LIMIT :limit
)
