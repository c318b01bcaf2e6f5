UPDATE conveyor_schedule_slots
SET run_id = :run_id
WHERE schedule = :schedule AND slot = :slot
