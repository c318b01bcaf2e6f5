UPDATE conveyor_queues
SET paused = 0, changed_at = :now, changed_by = :by
WHERE name = :name AND paused = 1
