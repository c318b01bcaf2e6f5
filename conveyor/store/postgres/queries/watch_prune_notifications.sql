-- Delivered or given-up alert deliveries older than the cutoff, whatever their incident: a
-- long incident still firing sheds its old reminders. Ids grow with time: oldest first.
-- The delivery table keeps epoch seconds.
DELETE FROM {schema}.conveyor_deliveries
WHERE id IN (
    SELECT id FROM {schema}.conveyor_deliveries
    WHERE kind = 'alert'
      AND (delivered_at < extract(epoch FROM now())::float8 - %(keep)s::float8
           OR failed_at < extract(epoch FROM now())::float8 - %(keep)s::float8)
    ORDER BY id
    LIMIT %(limit)s
)
