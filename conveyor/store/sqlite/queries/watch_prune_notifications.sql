-- Delivered or given-up alert deliveries older than the cutoff, whatever their incident: a
-- long incident still firing sheds its old reminders. Ids grow with time: oldest first.
DELETE FROM conveyor_deliveries
WHERE id IN (
    SELECT id FROM conveyor_deliveries
    WHERE kind = 'alert' AND (delivered_at < :cutoff OR failed_at < :cutoff)
    ORDER BY id
    LIMIT :limit
)
