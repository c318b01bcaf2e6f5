UPDATE conveyor_schedule_slots
SET verdict = :verdict, verdict_detail = :detail, judged_at = :now
WHERE schedule = :schedule AND slot = :slot
