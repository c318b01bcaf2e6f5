-- Newest first along the primary key; the before parameter is the previous page's last id.
SELECT id, extract(epoch FROM at)::float8, actor, action, target, details_json
FROM {schema}.conveyor_actions
WHERE id < %(before)s
ORDER BY id DESC
LIMIT %(limit)s
