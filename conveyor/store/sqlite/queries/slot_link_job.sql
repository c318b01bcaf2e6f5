UPDATE conveyor_schedule_slots
SET job_id = :job_id
WHERE schedule = :schedule AND slot = :slot
