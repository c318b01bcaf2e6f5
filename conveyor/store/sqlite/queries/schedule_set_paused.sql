-- Pausing a paused schedule (or resuming a running one) keeps who paused it and when it last
-- changed. Every right-hand side reads the row as it was, so the CASEs see the old state.
UPDATE conveyor_schedules
SET paused_by = CASE WHEN paused = :paused THEN paused_by WHEN :paused THEN :by END,
    updated_at = CASE WHEN paused = :paused THEN updated_at ELSE :now END,
    paused = :paused
WHERE name = :name
