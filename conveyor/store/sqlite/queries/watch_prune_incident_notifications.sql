-- The alert deliveries of incidents resolved before the cutoff go first, so an incident is
-- deleted only once none of its deliveries is left (see watch_prune_incidents.sql).
-- Incidents in the order they resolved, so a limited round clears whole incidents.
DELETE FROM conveyor_deliveries
WHERE id IN (
    SELECT d.id
    FROM conveyor_incidents AS i
    JOIN conveyor_deliveries AS d ON d.kind = 'alert' AND d.subject = i.id
    WHERE i.state = 'resolved' AND i.resolved_at < :cutoff
    ORDER BY i.resolved_at, i.id, d.id
    LIMIT :limit
)
