-- progress_at moves only when the value or message does: a worker repeating the same
-- fraction is not progress, so a stalled job stays stalled.
UPDATE conveyor_jobs
SET progress_at = CASE
        WHEN progress IS NOT :fraction OR progress_message IS NOT :message
        THEN :now ELSE progress_at END,
    progress = :fraction, progress_message = :message
WHERE id = :id AND state = 'running' AND token = :token
