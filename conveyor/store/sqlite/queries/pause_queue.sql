-- Pausing an already paused queue keeps the original time and author.
INSERT INTO conveyor_queues (name, paused, changed_at, changed_by)
VALUES (:name, 1, :now, :by)
ON CONFLICT (name) DO UPDATE
SET paused = 1, changed_at = excluded.changed_at, changed_by = excluded.changed_by
WHERE conveyor_queues.paused = 0
