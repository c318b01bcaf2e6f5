SELECT id, rule, subject, state, summary, details_json, opened_at, updated_at, resolved_at,
       last_notified_at, notify_count
FROM conveyor_incidents
WHERE state = 'firing' OR :include_resolved
ORDER BY id DESC
LIMIT coalesce(:limit, -1)
