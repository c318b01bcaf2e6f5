-- Each run of the batch (the advance writes every run a completion batch moved at once).
UPDATE conveyor_runs AS r
SET state = b.value ->> 'state',
    error = b.value ->> 'error',
    result = b.value ->> 'result',
    finished_at = CASE WHEN b.value ->> 'finished' THEN :now END,
    last_progress_at = CASE WHEN b.value ->> 'progressed' THEN :now ELSE r.last_progress_at END,
    resumes = r.resumes + CASE WHEN b.value ->> 'resumed' THEN 1 ELSE 0 END,
    -- A resume moves the deadline on by the time the run spent stopped, so the run gets back
    -- what it had left when it stopped (the right-hand side reads the row before the update).
    deadline_at = CASE WHEN b.value ->> 'resumed' AND r.finished_at IS NOT NULL
        THEN r.deadline_at + (:now - r.finished_at) ELSE r.deadline_at END
FROM json_each(:runs) AS b
WHERE r.id = b.value ->> 'id'
