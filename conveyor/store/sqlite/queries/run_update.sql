UPDATE conveyor_runs
SET state = :state,
    error = :error,
    result = :result,
    finished_at = CASE WHEN :finished THEN :now END,
    last_progress_at = CASE WHEN :progressed THEN :now ELSE last_progress_at END,
    resumes = resumes + CASE WHEN :resumed THEN 1 ELSE 0 END
WHERE id = :id
