-- Every attempt counts, the successful one too. A failure keeps its error and is due again
-- at :next_try_at, or is given up (failed_at) when there is none. A row already delivered
-- or given up is final and stays as it is.
UPDATE conveyor_notifications
SET attempts = attempts + 1,
    delivered_at = CASE WHEN :error IS NULL THEN :now END,
    last_error = COALESCE(:error, last_error),
    next_try_at = CASE
        WHEN :error IS NOT NULL AND :next_try_at IS NOT NULL THEN :next_try_at
        ELSE next_try_at
    END,
    failed_at = CASE WHEN :error IS NOT NULL AND :next_try_at IS NULL THEN :now END
WHERE id = :id AND delivered_at IS NULL AND failed_at IS NULL
