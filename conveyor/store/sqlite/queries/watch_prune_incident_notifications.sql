-- The notifications of incidents resolved before the cutoff go first, so an incident is
-- deleted only once none of its notifications is left (see watch_prune_incidents.sql).
-- Incidents in the order they resolved, so a limited round clears whole incidents.
DELETE FROM conveyor_notifications
WHERE id IN (
    SELECT n.id
    FROM conveyor_incidents AS i
    JOIN conveyor_notifications AS n ON n.incident_id = i.id
    WHERE i.state = 'resolved' AND i.resolved_at < :cutoff
    ORDER BY i.resolved_at, i.id, n.id
    LIMIT :limit
)
