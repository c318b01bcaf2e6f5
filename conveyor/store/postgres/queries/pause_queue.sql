-- Pausing an already paused queue keeps the original time and author.
INSERT INTO {schema}.conveyor_queues AS q (name, paused, changed_at, changed_by)
VALUES (%(name)s, true, now(), %(by)s)
ON CONFLICT (name) DO UPDATE
SET paused = true, changed_at = now(), changed_by = EXCLUDED.changed_by
WHERE NOT q.paused
RETURNING q.name
