UPDATE {schema}.conveyor_schedule_slots AS s
SET verdict = v.verdict, verdict_detail = v.detail, judged_at = now()
FROM unnest(%(schedules)s::text[], %(slots)s::float8[], %(verdicts)s::text[],
            %(details)s::text[]) AS v(schedule, slot, verdict, detail)
WHERE s.schedule = v.schedule AND s.slot = v.slot
