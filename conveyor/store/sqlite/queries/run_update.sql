UPDATE conveyor_runs
SET state = :state,
    error = :error,
    result = :result,
    finished_at = CASE WHEN :finished THEN :now END,
    last_progress_at = CASE WHEN :progressed THEN :now ELSE last_progress_at END,
    resumes = resumes + CASE WHEN :resumed THEN 1 ELSE 0 END,
    -- A resume moves the deadline on by the time the run spent stopped, so the run gets back
    -- what it had left when it stopped (the right-hand side reads the row before the update).
    deadline_at = CASE WHEN :resumed AND finished_at IS NOT NULL
        THEN deadline_at + (:now - finished_at) ELSE deadline_at END
WHERE id = :id
