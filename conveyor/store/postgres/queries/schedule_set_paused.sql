-- Pausing a paused schedule (or resuming a running one) keeps who paused it and when it last
-- changed. Every right-hand side reads the row as it was, so the CASEs see the old state.
UPDATE {schema}.conveyor_schedules
SET paused_by = CASE WHEN paused = %(paused)s THEN paused_by WHEN %(paused)s THEN %(by)s END,
    updated_at = CASE WHEN paused = %(paused)s THEN updated_at ELSE now() END,
    paused = %(paused)s
WHERE name = %(name)s
RETURNING name
