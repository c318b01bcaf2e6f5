-- Delivered or given-up notifications older than the cutoff, whatever their incident: a
-- long incident still firing sheds its old reminders. Ids grow with time: oldest first.
DELETE FROM {schema}.conveyor_notifications
WHERE id IN (
    SELECT id FROM {schema}.conveyor_notifications
    WHERE delivered_at < now() - make_interval(secs => %(keep)s)
       OR failed_at < now() - make_interval(secs => %(keep)s)
    ORDER BY id
    LIMIT %(limit)s
)
