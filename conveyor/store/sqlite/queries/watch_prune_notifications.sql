-- Delivered or given-up notifications older than the cutoff, whatever their incident: a
-- long incident still firing sheds its old reminders. Ids grow with time: oldest first.
DELETE FROM conveyor_notifications
WHERE id IN (
    SELECT id FROM conveyor_notifications
    WHERE delivered_at < :cutoff OR failed_at < :cutoff
    ORDER BY id
    LIMIT :limit
)
