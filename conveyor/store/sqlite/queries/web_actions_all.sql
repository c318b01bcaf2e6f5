-- Newest first along the primary key; :before is the previous page's last id.
SELECT id, at, actor, action, target, details_json
FROM conveyor_actions
WHERE id < :before
ORDER BY id DESC
LIMIT :limit
