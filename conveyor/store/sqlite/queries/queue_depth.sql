-- Bounded: stops counting at :cap, so a deep backlog costs no more than a shallow one.
SELECT COUNT(*)
FROM (
    SELECT 1
    FROM conveyor_jobs
    WHERE queue = :queue
      AND (state = 'queued' OR state = 'scheduled' OR state = 'retrying')
    LIMIT :cap
)
