-- Workers idle on LISTEN; the NOTIFY makes them claim the resumed queue's jobs at once.
WITH resumed AS (
    UPDATE {schema}.conveyor_queues
    SET paused = false, changed_at = now(), changed_by = %(by)s
    WHERE name = %(name)s AND paused
    RETURNING name
)
SELECT name, pg_notify(%(channel)s, name) FROM resumed
