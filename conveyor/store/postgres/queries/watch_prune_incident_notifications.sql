-- The notifications of incidents resolved before the cutoff go first, so an incident is
-- deleted only once none of its notifications is left (see watch_prune_incidents.sql).
-- Incidents in the order they resolved, so a limited round clears whole incidents.
DELETE FROM {schema}.conveyor_notifications
WHERE id IN (
    SELECT n.id
    FROM {schema}.conveyor_incidents AS i
    JOIN {schema}.conveyor_notifications AS n ON n.incident_id = i.id
    WHERE i.state = 'resolved' AND i.resolved_at < now() - make_interval(secs => %(keep)s)
    ORDER BY i.resolved_at, i.id, n.id
    LIMIT %(limit)s
)
